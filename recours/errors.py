"""Exceptions that carry what a user needs to act, never a value read from a file."""

from __future__ import annotations


class RecoursError(Exception):
    """Base class: every error the pipeline raises on purpose, with a French message."""


class DeliveryRefused(RecoursError):
    """A delivery breaks a delivery-level rule: it goes to quarantine, intact.

    ``rule`` is a stable identifier (for the audit log and tests); ``message`` is the French
    sentence for the data team, naming the file and, where it applies, the line and column.
    """

    def __init__(
        self, rule: str, message: str, line: int | None = None, column: str | None = None
    ) -> None:
        super().__init__(message)
        self.rule, self.message, self.line, self.column = rule, message, line, column
