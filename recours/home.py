"""The home folder: one place that knows where each zone lives (DESIGN.md, "Contracts")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("var")


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def landing_for(self, convention_id: str) -> Path:
        return self.landing / convention_id

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def pseudonymized(self) -> Path:
        return self.root / "pseudonymized"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def audit(self) -> Path:
        return self.root / "audit"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    def ensure(self) -> Home:
        for path in (self.landing, self.quarantine, self.pseudonymized, self.published, self.audit):
            path.mkdir(parents=True, exist_ok=True)
        return self
