"""Where the pipeline finds the files retention is about, and when each was received.

Two zones hold personal data under a convention's retention clause: the raw files (nominative:
``landing/<convention>/`` while they wait or once ingested, ``quarantine/<convention>/`` once
refused) and the pseudonymized deliveries (``pseudonymized/<convention>/<jeu>/<AAAAMMJJ>/``).
A raw file's clock starts at the earliest evidence of its receipt (its modification time, or the
date the pipeline recorded when it accepted or refused it, whichever is older), so copying a home
folder, which resets modification times, can never extend a retention. A pseudonymized delivery's
clock starts on the day it was ingested (``recue_le`` in its manifest), which key rotation keeps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from recours.home import REASON, REASON_TEXT, Home, reason_file

# Files that travel with a raw file and go with it; ``.part`` uploads are never touched.
SIDECARS = (".sha256", REASON_TEXT, REASON)
IN_PROGRESS = ".part"


@dataclass(frozen=True)
class RawFile:
    """A nominative file in ``landing/`` or ``quarantine/``."""

    convention: str
    path: Path  # absolute
    received_on: date
    # "en_attente" (not yet processed), "acceptee" (a manifest records it), "refusee" (quarantine)
    state: str
    sha256: str | None = None  # known without hashing only for refused files

    def sidecars(self) -> list[Path]:
        return [
            self.path.with_name(self.path.name + suffix)
            for suffix in SIDECARS
            if self.path.with_name(self.path.name + suffix).exists()
        ]


@dataclass(frozen=True)
class Delivery:
    """An accepted, pseudonymized delivery: one folder with its Parquet and manifest."""

    convention: str
    folder: Path  # absolute
    ingested_on: date
    manifest: dict

    @property
    def period(self) -> str:
        """AAAA-MM of the extraction: the crossing's period."""
        return self.manifest["extraction"][:7]


def _day(stamp: str) -> date:
    return datetime.fromisoformat(stamp).astimezone(UTC).date()


def _mtime_day(path: Path) -> date:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()


def deliveries(home: Home, convention_id: str) -> list[Delivery]:
    """Every accepted delivery of a convention, oldest ingestion first."""
    found = []
    for manifest in home.manifests(convention_id):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        found.append(Delivery(convention_id, manifest.parent, _day(data["recue_le"]), data))
    return sorted(found, key=lambda d: (d.ingested_on, str(d.folder)))


def accepted_records(home: Home, convention_id: str) -> dict[tuple[str, str], date]:
    """(file name, SHA-256) → ingestion date of every accepted delivery of a convention."""
    return {
        (d.manifest["fichier"], d.manifest["sha256"]): d.ingested_on
        for d in deliveries(home, convention_id)
    }


def _is_raw(path: Path) -> bool:
    return path.is_file() and not path.name.endswith((*SIDECARS, IN_PROGRESS))


def raw_files(home: Home, convention_id: str) -> list[RawFile]:
    """Every raw file of a convention, oldest receipt first.

    A landing file is "acceptee" when some manifest names it; whether the bytes are the same
    (SHA-256) is checked by the purge itself before deleting, not here, to keep this cheap.
    """
    accepted_names: dict[str, date] = {}
    for (name, _), day in accepted_records(home, convention_id).items():
        accepted_names[name] = min(day, accepted_names.get(name, day))
    found = []
    landing = home.landing_for(convention_id)
    if landing.is_dir():
        for path in filter(_is_raw, landing.iterdir()):
            received = _mtime_day(path)
            if path.name in accepted_names:
                received = min(received, accepted_names[path.name])
                found.append(RawFile(convention_id, path, received, "acceptee"))
            else:
                found.append(RawFile(convention_id, path, received, "en_attente"))
    quarantine = home.quarantine_for(convention_id)
    if quarantine.is_dir():
        for path in filter(_is_raw, quarantine.iterdir()):
            received, checksum = _mtime_day(path), None
            reason = reason_file(path)
            if reason.exists():
                data = json.loads(reason.read_text(encoding="utf-8"))
                received = min(received, _day(data["refusee_le"]))
                checksum = data.get("sha256")
            found.append(RawFile(convention_id, path, received, "refusee", checksum))
    return sorted(found, key=lambda f: (f.received_on, str(f.path)))
