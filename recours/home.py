"""The home folder: one place that knows where each zone lives, how the pseudonymized zone and
the quarantine are laid out, and what a writer killed half-way leaves in them.

The pseudonymized zone is ``pseudonymized/<convention>/<jeu>/<AAAAMMJJ>/``: one folder per
accepted delivery, named after its extraction date, holding ``<schema>.parquet`` and
``manifest.json``. The quarantine is ``quarantine/<convention>/<file>`` with the reason beside
it (``<file>.motif.txt`` for a person, ``<file>.motif.json`` for the tools). Ingest, crossing,
retention, key rotation and the DPO report all read this layout: it is spelled here only, so a
stage can never see a delivery another stage does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

DEFAULT_HOME = Path("var")

MANIFEST = "manifest.json"
REASON = ".motif.json"  # appended to a refused file's name: its reason, for the tools
REASON_TEXT = ".motif.txt"  # the same reason, for the person who reads the quarantine
# A delivery folder is its extraction day, so its name starts with a digit; the folder a writer
# builds it in (``.AAAAMMJJ.en-cours``) does not, and is never taken for a delivery.
_DELIVERY = "[0-9]*"


def parquet(folder: Path, schema_id: str) -> Path:
    """The delivery's Parquet: named after its schema, so the folder alone says what it holds."""
    return folder / f"{schema_id}.parquet"


def reason_file(quarantined: Path) -> Path:
    """Where the reason of a refused file lies: beside it, so moving or purging the file by
    name finds its reason too (retention deletes both together)."""
    return quarantined.with_name(quarantined.name + REASON)


def quarantined_file(reason: Path) -> Path:
    """The refused file a reason explains (the reverse of ``reason_file``): the DPO report
    names it, so the DPO knows where the file lies intact."""
    return reason.with_name(reason.name.removesuffix(REASON))


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

    def quarantine_for(self, convention_id: str) -> Path:
        """One folder per convention, like ``landing/``: its retention clause governs both."""
        return self.quarantine / convention_id

    def quarantine_reasons(self, convention_id: str | None = None) -> list[Path]:
        """The reason files (``.motif.json``) of the quarantine, of every convention or of one,
        sorted: each stands for one refused file, and says when and why it was refused."""
        if convention_id is None:
            return sorted(self.quarantine.glob(f"*/*{REASON}"))
        return sorted(self.quarantine_for(convention_id).glob(f"*{REASON}"))

    @property
    def pseudonymized(self) -> Path:
        return self.root / "pseudonymized"

    def delivery(self, convention_id: str, dataset: str, extraction: date) -> Path:
        """The folder of one accepted delivery: one per extraction day of a dataset, so a
        corrected redelivery of the same extraction replaces it whole."""
        return self.pseudonymized / convention_id / dataset / f"{extraction:%Y%m%d}"

    def delivery_staging(self, convention_id: str, dataset: str, extraction: date) -> Path:
        """Where a delivery is written before being renamed into place: a reader never sees
        half a delivery, and ``manifests`` never lists this folder, even left by a crash."""
        return self.pseudonymized / convention_id / dataset / f".{extraction:%Y%m%d}.en-cours"

    def manifests(self, convention_id: str | None = None, dataset: str | None = None) -> list[Path]:
        """The manifest of every accepted delivery, of the zone, of one convention or of one
        dataset, sorted by path (convention, dataset, extraction day). Only delivery folders
        count: a staging folder a killed writer left is no accepted delivery."""
        if convention_id is None:
            if dataset is not None:
                raise ValueError("un jeu de données n'a de sens que dans une convention")
            return sorted(self.pseudonymized.glob(f"*/*/{_DELIVERY}/{MANIFEST}"))
        folder = self.pseudonymized / convention_id
        if dataset is None:
            return sorted(folder.glob(f"*/{_DELIVERY}/{MANIFEST}"))
        return sorted((folder / dataset).glob(f"{_DELIVERY}/{MANIFEST}"))

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
