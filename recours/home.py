"""The home folder: one place that knows where each zone lives, and what a writer killed
half-way leaves in it (DESIGN.md, "Contracts")."""

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
    def warehouse_staging(self) -> Path:
        """The copy the warehouse is rebuilt in, moved over ``warehouse`` once complete."""
        return self.root / "warehouse.duckdb.en-cours"

    @property
    def published(self) -> Path:
        return self.root / "published"

    def publication_debris(self) -> list[Path]:
        """Temporaries a publication killed half-way left in ``published/`` (every file is
        written as ``.<name>.<random>.tmp`` beside its final name, recours/atomic.py). The
        analysts' report, which takes no lock, names its own ``.rapport_…`` and keeps them: a
        report may be being written while a publication starts."""
        found = [*self.published.glob(".*.tmp"), *self.published.glob(".*.tmp.wal")]
        return sorted(path for path in found if not path.name.startswith(".rapport_"))

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
