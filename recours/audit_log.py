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
from dataclasses import dataclass
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
            handle.write(_serialized(event) + "\n")
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return event


def read_events(audit_dir: Path) -> list[dict[str, Any]]:
    path = journal_path(audit_dir)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass(frozen=True)
class ChainStatus:
    """What ``recours audit verify`` and the DPO report say about the journal.

    ``line`` is the first line that does not hold (1-based), or, when events are missing at the
    end, the line where the next one should have been. ``last_seq`` and ``last_hash`` are the
    head of the chain as far as it holds: the "seal" the DPO copies outside the machine, since a
    chain nobody keeps a copy of can be rewritten whole by whoever can write the file.
    """

    intact: bool
    line: int | None
    message: str
    events: int
    last_seq: int | None = None
    last_hash: str | None = None

    @property
    def reason(self) -> str:
        """The message without its ``ligne N : `` prefix, for sentences that name the line."""
        prefix = f"ligne {self.line} : "
        return self.message.removeprefix(prefix)


@dataclass(frozen=True)
class Anchor:
    """A head recorded earlier (the previous DPO report): the journal must still contain it."""

    seq: int
    hash: str
    source: str  # said in the message after "le": e.g. "rapport DPO du 2026-11-27"


def _serialized(event: dict[str, Any]) -> str:
    """The exact bytes append_event writes, so that any change of form is caught as well."""
    return json.dumps(event, ensure_ascii=False, sort_keys=True)


def _chaining_message(number: int, event: dict[str, Any], expected_seq: int) -> str:
    seq = event.get("seq")
    if isinstance(seq, int) and seq != expected_seq:
        return (
            f"ligne {number} : le chaînage est rompu : l'événement n° {seq} se trouve là où "
            f"le n° {expected_seq} était attendu (événements supprimés, insérés ou déplacés)"
        )
    return f"ligne {number} : le chaînage avec la ligne précédente est rompu"


def _line_problem(
    number: int, raw: bytes, previous: str, expected_seq: int
) -> tuple[str | None, dict[str, Any] | None]:
    """(French explanation or None, event): the checks of one line, strictest first."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"ligne {number} : octets illisibles (ce n'est plus de l'UTF-8)", None
    try:
        event = json.loads(line)
        stated = event["hash"]
        content = {key: value for key, value in event.items() if key != "hash"}
        if not isinstance(event["seq"], int):
            raise TypeError("seq")
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"ligne {number} : ligne illisible, sans empreinte ou sans numéro", None
    if not isinstance(stated, str) or _digest(content) != stated:
        return f"ligne {number} : le contenu a été modifié après écriture", event
    if line != _serialized(event):
        return (
            f"ligne {number} : la forme de la ligne a été modifiée après écriture "
            "(espaces, échappements ou ordre des clés)"
        ), event
    if content.get("precedent") != previous:
        return _chaining_message(number, content, expected_seq), event
    return None, event


def check_chain(audit_dir: Path, anchor: Anchor | None = None) -> ChainStatus:
    """Check every byte of the journal, and that it still holds ``anchor`` when one is given.

    The file is read as bytes and each line compared with what append_event would have written
    for its content: a change of one byte anywhere (value, spacing, escaping, line ending, a
    missing final newline) breaks the chain at its line. A deleted, inserted or moved line
    breaks the chaining of the line that follows it. Lines deleted at the very end leave a
    shorter chain that is still whole: only a head recorded earlier (``anchor``) shows that.
    """
    path = journal_path(audit_dir)
    data = path.read_bytes() if path.exists() else b""
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    previous, seq = GENESIS, 0
    for number, raw in enumerate(chunks, start=1):
        problem, event = _line_problem(number, raw, previous, seq + 1)
        if problem is None and number == len(chunks) and not data.endswith(b"\n"):
            problem = f"ligne {number} : la dernière ligne n'a pas de fin de ligne (tronquée ?)"
        if problem is not None:
            return ChainStatus(False, number, problem, number - 1, seq or None, _head(previous))
        assert event is not None
        previous, seq = event["hash"], event["seq"]
    return _against_anchor(len(chunks), previous, seq, data, anchor)


def _head(previous: str) -> str | None:
    return None if previous == GENESIS else previous


def _against_anchor(
    count: int, head: str, seq: int, data: bytes, anchor: Anchor | None
) -> ChainStatus:
    """The whole chain holds; does it still contain the head recorded in ``anchor``?"""
    last_seq, last_hash = (seq or None), _head(head)
    if anchor is not None:
        if seq < anchor.seq:
            return ChainStatus(
                False,
                count + 1,
                f"ligne {count + 1} : le journal s'arrête à l'événement n° {seq} alors que "
                f"le {anchor.source} en comptait {anchor.seq} : des événements ont été supprimés "
                "à la fin",
                count,
                last_seq,
                last_hash,
            )
        for number, raw in enumerate(data.split(b"\n"), start=1):
            event = json.loads(raw) if raw else {}
            if event.get("seq") == anchor.seq and event.get("hash") != anchor.hash:
                return ChainStatus(
                    False,
                    number,
                    f"ligne {number} : l'événement n° {anchor.seq} n'est plus celui que "
                    f"le {anchor.source} a scellé : le journal a été réécrit",
                    count,
                    last_seq,
                    last_hash,
                )
    if count == 0:
        return ChainStatus(True, None, "journal vide", 0)
    return ChainStatus(
        True, None, f"chaîne intacte ({count} événements)", count, last_seq, last_hash
    )


def verify_chain(audit_dir: Path) -> tuple[bool, int | None, str]:
    """(intact, first broken line, French explanation): check_chain without an anchor."""
    status = check_chain(audit_dir)
    return status.intact, status.line, status.message
