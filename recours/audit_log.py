"""The audit log: append-only JSON lines, each chained to the previous one by a hash.

The DPO must be able to tell whether anybody rewrote the record of what was received, kept,
refused and published. Each event carries the SHA-256 of the previous line, so changing any
byte breaks the chain from that line on. Events hold counts, rules, column names, checksums
and the key's fingerprint: never a value read from a partner file, never the key.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOURNAL = "journal.jsonl"
GENESIS = "0" * 64


def journal_path(audit_dir: Path) -> Path:
    return audit_dir / JOURNAL


def _digest(event: dict[str, Any]) -> str:
    canonical = json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append_event(audit_dir: Path, kind: str, **fields: Any) -> dict[str, Any]:
    """Append one event; a file lock keeps concurrent Airflow tasks from interleaving."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    path = journal_path(audit_dir)
    with path.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            previous, sequence = GENESIS, 0
            for line in handle:
                if line.strip():
                    last = json.loads(line)
                    previous, sequence = last["hash"], last["seq"]
            event = {
                "seq": sequence + 1,
                "horodatage": datetime.now(UTC).isoformat(timespec="seconds"),
                "evenement": kind,
                **fields,
                "precedent": previous,
            }
            event["hash"] = _digest(event)
            handle.seek(0, 2)
            handle.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return event


def read_events(audit_dir: Path) -> list[dict[str, Any]]:
    path = journal_path(audit_dir)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def verify_chain(audit_dir: Path) -> tuple[bool, int | None, str]:
    """(intact, first broken line, French explanation)."""
    path = journal_path(audit_dir)
    if not path.exists():
        return True, None, "journal vide"
    previous = GENESIS
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        try:
            event = json.loads(line)
            stated = event.pop("hash")
        except (ValueError, KeyError, AttributeError):
            return False, number, f"ligne {number} : ligne illisible ou sans empreinte"
        if event.get("precedent") != previous:
            return False, number, f"ligne {number} : le chaînage avec la ligne précédente est rompu"
        if _digest(event) != stated:
            return False, number, f"ligne {number} : le contenu a été modifié après écriture"
        previous = stated
    return True, None, f"chaîne intacte ({len(lines)} événements)"
