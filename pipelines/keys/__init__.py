"""Key management: rotation of the pseudonymization key over the whole pseudonymized zone."""

from pipelines.keys.rotate import (
    KeyRotationError,
    MissingRaw,
    RawFilesMissing,
    ReingestRefused,
    RotationReport,
    SameKeyError,
    rotate,
)

__all__ = [
    "KeyRotationError",
    "MissingRaw",
    "RawFilesMissing",
    "ReingestRefused",
    "RotationReport",
    "SameKeyError",
    "rotate",
]
