"""recours — pseudonymized crossings against the non-take-up of social rights."""
