"""Convention events: the audit log records when a convention appears, changes or expires.

The DPO must be able to tell, from the journal alone, under which version of each convention
every delivery was received and every crossing ran. The pipeline cannot be told when somebody
edits a YAML file, so it looks each time it runs (``ingest_all``, the ingest DAG, the crossing):
a convention file whose SHA-256 differs from the last one recorded is ``convention_ajoutee``
(never seen) or ``convention_modifiee``; a convention whose validity ended before ``today`` and
whose expiry is not recorded yet (for its current version) is ``convention_expiree``. Running
again records nothing new. A lock file keeps two concurrent Airflow tasks from both recording
the same change.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from recours import audit_log
from recours.conventions import REPO_CONVENTIONS, Convention

ADDED, AMENDED, EXPIRED = "convention_ajoutee", "convention_modifiee", "convention_expiree"
LOCK = ".conventions.lock"


@contextmanager
def _locked(audit_dir: Path) -> Iterator[None]:
    audit_dir.mkdir(parents=True, exist_ok=True)
    with (audit_dir / LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _last_seen(events: list[dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    """Convention id → (SHA-256 last recorded, whether that version's expiry is recorded)."""
    seen: dict[str, tuple[str, bool]] = {}
    for event in events:
        kind, convention = event.get("evenement"), event.get("convention")
        # Only events about a convention carry its id; anything else can never be looked up.
        if not isinstance(convention, str):
            continue
        if kind in (ADDED, AMENDED):
            seen[convention] = (event["sha256"], False)
        elif kind == EXPIRED and convention in seen:
            seen[convention] = (seen[convention][0], True)
    return seen


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_convention_changes(
    audit_dir: Path,
    conventions: dict[str, Convention],
    conventions_dir: Path | None,
    today: date,
) -> list[dict[str, Any]]:
    """Append the events for what changed since the journal last saw the conventions.

    ``conventions`` are the loaded (valid) conventions of ``conventions_dir``; the file of
    convention ``x`` is ``<conventions_dir>/x.yaml``. Returns the events appended.
    """
    folder = conventions_dir or REPO_CONVENTIONS
    appended = []
    with _locked(audit_dir):
        seen = _last_seen(audit_log.read_events(audit_dir))
        for convention_id in sorted(conventions):
            convention = conventions[convention_id]
            path = folder / f"{convention_id}.yaml"
            if not path.is_file():
                continue
            checksum = _sha256(path)
            facts = {
                "convention": convention_id,
                "fichier": path.name,
                "sha256": checksum,
                "valide_du": convention.valid_from.isoformat(),
                "valide_au": convention.valid_to.isoformat(),
            }
            previous = seen.get(convention_id)
            expiry_recorded = False
            if previous is None:
                appended.append(audit_log.append_event(audit_dir, ADDED, **facts))
            elif previous[0] != checksum:
                appended.append(
                    audit_log.append_event(
                        audit_dir, AMENDED, **facts, sha256_precedent=previous[0]
                    )
                )
            else:
                expiry_recorded = previous[1]
            if today > convention.valid_to and not expiry_recorded:
                appended.append(
                    audit_log.append_event(
                        audit_dir,
                        EXPIRED,
                        convention=convention_id,
                        sha256=checksum,
                        valide_au=convention.valid_to.isoformat(),
                        constatee_le=today.isoformat(),
                    )
                )
    return appended
