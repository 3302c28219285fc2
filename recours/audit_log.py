"""The audit log: append-only JSON lines, each chained to the previous one by a hash.

The DPO must be able to tell whether anybody rewrote the record of what was received, kept,
refused and published. Each event carries the SHA-256 of the previous line, so changing any
byte breaks the chain from that line on. Events hold counts, rules, column names, checksums
and the key's fingerprint: never a value read from a partner file, never the key.

A chain alone cannot show that its last lines were cut off, or that the whole file was emptied
or deleted: a shorter chain is still a chain. So each append also rewrites an anchor beside the
journal (``journal.ancre``: number, sequence and hash of the last event, with its own checksum),
and the check compares the two. A loss found when appending is written into the chain itself
(``rupture_detectee``) before the new event, so that appending more events cannot hide it; it
stays reported until a person acknowledges it (``rupture_acquittee``, also in the chain).

What the anchor does not stop: someone who can write ``audit/`` rewriting both files
consistently. Only a head copied outside the machine (the seal of an archived DPO report)
shows that; docs/dpo.md says so.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from recours.atomic import fsync
from recours.errors import RecoursError

JOURNAL = "journal.jsonl"
ANCHOR = "journal.ancre"
GENESIS = "0" * 64
ANCHOR_FORMAT = 1
DETECTED = "rupture_detectee"
ACKNOWLEDGED = "rupture_acquittee"
ANCHOR_SOURCE = f"fichier d'ancrage {ANCHOR}"


class JournalError(RecoursError):
    """The journal or its anchor cannot be read or written, or an acknowledgement lacks who or
    why: nothing was recorded."""


def journal_path(audit_dir: Path) -> Path:
    return audit_dir / JOURNAL


def anchor_path(audit_dir: Path) -> Path:
    return audit_dir / ANCHOR


def _digest(event: dict[str, Any]) -> str:
    canonical = json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _serialized(event: dict[str, Any]) -> str:
    """The exact bytes append_event writes, so that any change of form is caught as well."""
    return json.dumps(event, ensure_ascii=False, sort_keys=True)


# --- errors ---------------------------------------------------------------------------------

_WHY = {
    errno.ENOSPC: "disque plein",
    errno.EDQUOT: "quota disque atteint",
    errno.EACCES: "droits insuffisants",
    errno.EPERM: "opération non permise",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.EISDIR: "un dossier porte ce nom",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EEXIST: "un fichier porte le nom du dossier",
    errno.EIO: "erreur d'entrée-sortie du disque",
}


def _why(exc: OSError) -> str:
    return _WHY.get(exc.errno or 0, type(exc).__name__)


def _cannot_write(path: Path, exc: OSError, state: str = "rien n'a été enregistré") -> JournalError:
    return JournalError(
        f"impossible d'écrire dans {path} ({_why(exc)}) : {state}. Libérer de la place ou "
        f"rendre {path.parent} inscriptible par le compte qui exécute recours, puis relancer."
    )


def _cannot_read(path: Path, exc: OSError) -> JournalError:
    return JournalError(
        f"impossible de lire {path} ({_why(exc)}) : vérifier les droits de {path.parent} "
        "(le compte qui vérifie doit pouvoir le lire), puis relancer."
    )


# --- reading the chain ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """One line of the journal as the check sees it; ``seq``/``hash`` are the head after it."""

    number: int
    raw: bytes
    event: dict[str, Any] | None
    problem: str | None
    seq: int
    hash: str

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


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


def _scan(data: bytes) -> list[_Line]:
    """Every line with its first problem; after a broken line the check goes on from it.

    Going on (rather than stopping at the first break) lets a break a person acknowledged be
    passed over while any later one is still found. A line that still states a number and a
    hash becomes the link the next line must chain to, which is also what append_event does.
    """
    chunks = data.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    previous, seq = GENESIS, 0
    lines: list[_Line] = []
    for number, raw in enumerate(chunks, start=1):
        problem, event = _line_problem(number, raw, previous, seq + 1)
        if problem is None and number == len(chunks) and not data.endswith(b"\n"):
            problem = f"ligne {number} : la dernière ligne n'a pas de fin de ligne (tronquée ?)"
        if event is not None and isinstance(event.get("hash"), str):
            previous, seq = event["hash"], event["seq"]
        lines.append(_Line(number, raw, event, problem, seq, previous))
    return lines


def read_events(audit_dir: Path) -> list[dict[str, Any]]:
    """The events that can still be read; a damaged line is skipped (the check reports it)."""
    path = journal_path(audit_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _cannot_read(path, exc) from None
    return [line.event for line in _scan(data) if line.event is not None]


# --- the anchor -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A head recorded earlier (a DPO report's seal, or the anchor file): the journal must
    still contain it."""

    seq: int
    hash: str
    source: str  # said in the message after "le": e.g. "rapport DPO du 2026-11-27"
    date: str | None = None  # when it was recorded (the report's date), if known


def _read_anchor(audit_dir: Path) -> Anchor | str:
    """The anchor file, or ``"absent"`` / ``"illisible"``."""
    path = anchor_path(audit_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return "absent"
    except IsADirectoryError:
        return "illisible"
    except OSError as exc:
        raise _cannot_read(path, exc) from None
    try:
        content = json.loads(raw.decode("utf-8"))
        stated = content.pop("empreinte")
        if _digest(content) != stated:
            return "illisible"
        seq, head = content["seq"], content["hash"]
        if not isinstance(seq, int) or not isinstance(head, str):
            return "illisible"
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return "illisible"
    return Anchor(seq, head, ANCHOR_SOURCE, content.get("mis_a_jour"))


def _write_anchor(audit_dir: Path, events: int, seq: int, head: str) -> None:
    """Written aside, synced, renamed over the old one, folder synced: never half an anchor."""
    content: dict[str, Any] = {
        "format": ANCHOR_FORMAT,
        "journal": JOURNAL,
        "evenements": events,
        "seq": seq,
        "hash": head,
        "mis_a_jour": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    content["empreinte"] = _digest(content)
    path = anchor_path(audit_dir)
    for debris in audit_dir.glob(f".{ANCHOR}.*.tmp"):  # a writer killed mid-way; we hold the lock
        debris.unlink(missing_ok=True)
    temporary = audit_dir / f".{ANCHOR}.{uuid.uuid4().hex}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write((json.dumps(content, ensure_ascii=False, sort_keys=True) + "\n").encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fsync(audit_dir)
    finally:
        temporary.unlink(missing_ok=True)


def _head_problem(lines: list[_Line], existed: bool, expected: Anchor) -> tuple[int, str] | None:
    """(line, message) when the journal no longer holds the head ``expected`` recorded."""
    if any(
        line.event is not None
        and line.event.get("seq") == expected.seq
        and line.event.get("hash") == expected.hash
        for line in lines
    ):
        return None
    count = len(lines)
    if count == 0:
        what = (
            "le journal est vide alors que le {source} en comptait {n} : tous ses événements "
            "ont été supprimés"
            if existed
            else "le journal a disparu alors que le {source} en comptait {n} : il a été "
            "supprimé ou déplacé"
        )
        return 1, "ligne 1 : " + what.format(source=expected.source, n=expected.seq)
    head = lines[-1].seq
    if head < expected.seq:
        return count + 1, (
            f"ligne {count + 1} : le journal s'arrête à l'événement n° {head} alors que "
            f"le {expected.source} en comptait {expected.seq} : des événements ont été supprimés "
            "à la fin"
        )
    for line in lines:
        if line.event is not None and line.event.get("seq") == expected.seq:
            return line.number, (
                f"ligne {line.number} : l'événement n° {expected.seq} n'est plus celui que "
                f"le {expected.source} a scellé : le journal a été réécrit"
            )
    return count + 1, (
        f"ligne {count + 1} : l'événement n° {expected.seq} que le {expected.source} a scellé "
        "ne figure plus dans le journal : le journal a été réécrit"
    )


# --- breaks and acknowledgements --------------------------------------------------------------


@dataclass(frozen=True)
class Acknowledgement:
    """A ``rupture_acquittee`` event: who acknowledged which breaks, when and why."""

    line: int
    date: str
    by: str
    reason: str
    breaks: tuple[str, ...]

    @property
    def when(self) -> str:
        return _when(self.date)


@dataclass(frozen=True)
class _Break:
    line: int
    message: str  # starts with "ligne N : "
    item: dict[str, Any]  # what an acknowledgement records to cover this break
    order: int  # at the same line: the chain, a recorded loss, a report's seal, the anchor
    reason: str | None = None  # what the acknowledgement says it covers (default: message)


@dataclass
class _Acknowledged:
    """Everything the journal's ``rupture_acquittee`` events cover."""

    entries: list[Acknowledgement] = field(default_factory=list)
    lines: set[tuple[int, str]] = field(default_factory=set)
    detected: set[int] = field(default_factory=set)
    heads: set[tuple[int, str]] = field(default_factory=set)


def _acknowledged(lines: list[_Line]) -> _Acknowledged:
    """An acknowledgement covers only breaks before its own line (a break is never
    acknowledged in advance); a recorded loss it covers also covers the head that was lost."""
    found = _Acknowledged()
    by_seq = {line.event["seq"]: line for line in lines if line.event is not None}
    for line in lines:
        event = line.event
        if event is None or line.problem is not None or event.get("evenement") != ACKNOWLEDGED:
            continue
        items = event.get("ruptures")
        items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        for item in items:
            kind = item.get("type")
            if (
                kind == "ligne"
                and isinstance(item.get("ligne"), int)
                and item["ligne"] < line.number
            ):
                found.lines.add((item["ligne"], str(item.get("empreinte"))))
            elif kind == "constat" and item.get("seq") in by_seq:
                if by_seq[item["seq"]].number < line.number:
                    found.detected.add(item["seq"])
                    lost = (by_seq[item["seq"]].event or {}).get("attendu")
                    if isinstance(lost, dict):
                        found.heads.add((lost.get("seq"), lost.get("hash")))  # type: ignore[arg-type]
            elif kind == "tete":
                found.heads.add((item.get("seq"), item.get("hash")))  # type: ignore[arg-type]
        found.entries.append(
            Acknowledgement(
                line.number,
                str(event.get("horodatage", "")),
                str(event.get("par", "")),
                str(event.get("motif", "")),
                tuple(str(i.get("raison", "")) for i in items),
            )
        )
    return found


def _anchor_break(
    lines: list[_Line], existed: bool, audit_dir: Path, covered: _Acknowledged
) -> _Break | None:
    anchor = _read_anchor(audit_dir)
    if anchor == "absent":
        if not lines:
            return None
        n = len(lines)
        return _Break(
            n + 1,
            f"ligne {n + 1} : le {ANCHOR_SOURCE} a disparu alors que le journal compte {n} "
            "ligne(s) : la fin du journal n'est plus garantie (fichier supprimé, ou journal "
            "copié sans lui)",
            {"type": "ancre"},
            3,
        )
    if anchor == "illisible":
        n = len(lines)
        return _Break(
            n + 1,
            f"ligne {n + 1} : le {ANCHOR_SOURCE} est illisible ou a été modifié : la fin du "
            "journal n'est plus garantie",
            {"type": "ancre"},
            3,
        )
    assert isinstance(anchor, Anchor)
    if (anchor.seq, anchor.hash) in covered.heads:
        return None
    problem = _head_problem(lines, existed, anchor)
    if problem is None:
        return None
    return _Break(
        problem[0], problem[1], {"type": "ancre", "seq": anchor.seq, "hash": anchor.hash}, 3
    )


@dataclass(frozen=True)
class ChainStatus:
    """What ``recours audit verify`` and the DPO report say about the journal.

    ``line`` is the first line with a break nobody acknowledged (1-based), or, when events are
    missing at the end, the line where the next one should have been. ``last_seq`` and
    ``last_hash`` are the head of the chain before that line (the whole journal when intact):
    the "seal" the DPO copies outside the machine, since a chain nobody keeps a copy of can be
    rewritten whole by whoever can write the file.
    """

    intact: bool
    line: int | None
    message: str
    events: int
    last_seq: int | None = None
    last_hash: str | None = None
    acknowledged: tuple[Acknowledgement, ...] = ()
    problems: tuple[str, ...] = ()  # every unacknowledged break, the first one included

    @property
    def reason(self) -> str:
        """The message without its ``ligne N : `` prefix, for sentences that name the line."""
        prefix = f"ligne {self.line} : "
        return self.message.removeprefix(prefix)


def _breaks(
    lines: list[_Line], existed: bool, audit_dir: Path, seal: Anchor | None, covered: _Acknowledged
) -> list[_Break]:
    found: list[_Break] = []
    for line in lines:
        if line.problem is not None and (line.number, line.fingerprint) not in covered.lines:
            item = {"type": "ligne", "ligne": line.number, "empreinte": line.fingerprint}
            found.append(_Break(line.number, line.problem, item, 0))
        event = line.event
        if (
            event is not None
            and event.get("evenement") == DETECTED
            and event["seq"] not in covered.detected
        ):
            found.append(
                _Break(
                    line.number,
                    f"ligne {line.number} : perte constatée le {_when(event.get('horodatage'))} "
                    f"et non acquittée : {event.get('motif', '?')}",
                    {"type": "constat", "seq": event["seq"]},
                    1,
                    str(event.get("motif", "?")),
                )
            )
    if seal is not None and (seal.seq, seal.hash) not in covered.heads:
        problem = _head_problem(lines, existed, seal)
        if problem is not None:
            found.append(_Break(*problem, {"type": "tete", "seq": seal.seq, "hash": seal.hash}, 2))
    anchor = _anchor_break(lines, existed, audit_dir, covered)
    if anchor is not None:
        found.append(anchor)
    return sorted(found, key=lambda b: (b.line, b.order))


def _when(timestamp: object) -> str:
    """``2026-11-27T14:00:00+00:00`` -> ``2026-11-27 à 14:00 UTC``."""
    text = str(timestamp or "?")
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} à {text[11:16]} UTC"
    return text


def _status(
    lines: list[_Line], existed: bool, audit_dir: Path, seal: Anchor | None
) -> tuple[ChainStatus, list[_Break]]:
    covered = _acknowledged(lines)
    breaks = _breaks(lines, existed, audit_dir, seal, covered)
    acknowledged = tuple(covered.entries)
    if breaks:
        first = breaks[0]
        before = lines[first.line - 2] if first.line >= 2 and lines else None
        status = ChainStatus(
            False,
            first.line,
            first.message,
            first.line - 1,
            before.seq if before is not None else None,
            before.hash if before is not None else None,
            acknowledged,
            tuple(b.message for b in breaks),
        )
        return status, breaks
    if not lines:
        return ChainStatus(True, None, "journal vide", 0, acknowledged=acknowledged), []
    also = f" ; {len(acknowledged)} acquittement(s) de rupture" if acknowledged else ""
    return ChainStatus(
        True,
        None,
        f"chaîne intacte ({len(lines)} événements{also})",
        len(lines),
        lines[-1].seq,
        lines[-1].hash,
        acknowledged,
    ), []


def check_chain(audit_dir: Path, anchor: Anchor | None = None) -> ChainStatus:
    """Check every byte of the journal, its anchor file, and ``anchor`` (a report's seal).

    The file is read as bytes and each line compared with what append_event would have written
    for its content: a change of one byte anywhere (value, spacing, escaping, line ending, a
    missing final newline) breaks the chain at its line. A deleted, inserted or moved line
    breaks the chaining of the line that follows it. Lines deleted at the end, an emptied or
    deleted journal, and a journal rewritten whole are found against the anchor file and
    against ``anchor``. Breaks a ``rupture_acquittee`` event covers are passed over and listed.
    Read under a shared lock, so that an append in progress is never taken for a truncation.
    """
    path = journal_path(audit_dir)
    try:
        with path.open("rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            try:
                data = handle.read()
                return _status(_scan(data), True, audit_dir, anchor)[0]
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    except FileNotFoundError:
        return _status([], False, audit_dir, anchor)[0]
    except IsADirectoryError:
        raise JournalError(
            f"{path} est un dossier, pas le journal d'audit : le déplacer, puis relancer"
        ) from None
    except OSError as exc:
        raise _cannot_read(path, exc) from None


def verify_chain(audit_dir: Path) -> tuple[bool, int | None, str]:
    """(intact, first broken line, French explanation): check_chain without a report's seal."""
    status = check_chain(audit_dir)
    return status.intact, status.line, status.message


# --- writing ----------------------------------------------------------------------------------


@dataclass
class _Open:
    handle: IO[bytes]
    existed: bool
    path: Path


def _private(name: str, flags: int) -> int:
    return os.open(name, flags, 0o600)


@contextmanager
def _locked(audit_dir: Path) -> Iterator[_Open]:
    """The journal opened for appending under an exclusive lock (one writer at a time, whether
    Airflow tasks or commands), created 0600 when absent."""
    path = journal_path(audit_dir)
    try:
        audit_dir.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        handle = open(path, "a+b", opener=_private)  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        try:
            yield _Open(handle, existed, path)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_all(journal: _Open) -> bytes:
    try:
        journal.handle.seek(0)
        return journal.handle.read()
    except OSError as exc:
        raise _cannot_read(journal.path, exc) from None


def _new_event(seq: int, previous: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    event = {
        "seq": seq,
        "horodatage": datetime.now(UTC).isoformat(timespec="seconds"),
        "evenement": kind,
        **fields,
        "precedent": previous,
    }
    event["hash"] = _digest(event)
    return event


def _append_locked(
    journal: _Open,
    audit_dir: Path,
    data: bytes,
    kind: str,
    fields: dict[str, Any],
    acknowledging: bool = False,
) -> dict[str, Any]:
    """Append under the lock: first the loss the anchor shows, if any, then the event.

    Both lines go in one write, synced, then the anchor; if either step fails the journal is cut
    back to its former length, so a caller told "error" can rely on nothing having been added.
    """
    lines = _scan(data)
    loss = _anchor_break(lines, journal.existed, audit_dir, _acknowledged(lines))
    seq, previous = (lines[-1].seq, lines[-1].hash) if lines else (0, GENESIS)
    new: list[dict[str, Any]] = []
    if loss is not None:
        reason = loss.message.removeprefix(f"ligne {loss.line} : ")
        lost = {"seq": loss.item["seq"], "hash": loss.item["hash"]} if "seq" in loss.item else None
        detected = _new_event(
            seq + 1,
            previous,
            DETECTED,
            {
                "ligne": loss.line,
                "motif": reason,
                "attendu": lost,
                "trouve": {"lignes": len(lines), "seq": seq},
            },
        )
        new.append(detected)
        seq, previous = detected["seq"], detected["hash"]
        if acknowledging:
            fields["ruptures"].append(
                {"type": "constat", "seq": detected["seq"], "ligne": loss.line, "raison": reason}
            )
    event = _new_event(seq + 1, previous, kind, fields)
    new.append(event)
    payload = b"" if not data or data.endswith(b"\n") else b"\n"
    payload += "".join(_serialized(e) + "\n" for e in new).encode("utf-8")
    handle, failing = journal.handle, journal.path
    try:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
        if not journal.existed:
            fsync(audit_dir)
        failing = anchor_path(audit_dir)
        _write_anchor(audit_dir, len(lines) + len(new), event["seq"], event["hash"])
    except OSError as exc:
        raise _rolled_back(journal, len(data), failing, exc) from None
    return event


def _rolled_back(journal: _Open, size: int, failing: Path, exc: OSError) -> JournalError:
    """Cut the journal back to ``size``; the error names the file that could not be written."""
    try:
        journal.handle.truncate(size)
        journal.handle.flush()
    except OSError:
        return _cannot_write(
            failing,
            exc,
            f"l'événement est peut-être dans {journal.path} sans que le fichier d'ancrage le "
            f"sache ; lancer `recours audit verify --home {journal.path.parent.parent}`",
        )
    with suppress(OSError):  # what was cut had not been synced either
        os.fsync(journal.handle.fileno())
    return _cannot_write(
        failing, exc, "rien n'a été enregistré (journal remis dans son état précédent)"
    )


def append_event(audit_dir: Path, kind: str, **fields: Any) -> dict[str, Any]:
    """Append one event and return it once it and the anchor are on disk (fsync).

    A publication's event is written with this before the publication is moved into place:
    when it raises JournalError, nothing was added to the journal and nothing must be
    published. A file lock keeps concurrent Airflow tasks from interleaving.
    """
    with _locked(audit_dir) as journal:
        return _append_locked(journal, audit_dir, _read_all(journal), kind, dict(fields))


def acknowledge(
    audit_dir: Path, by: str, reason: str, seal: Anchor | None = None
) -> dict[str, Any] | None:
    """Journal that a person acknowledges every break found now; None when there is none.

    The event lists each break it covers (line and fingerprint of a damaged line, number of a
    recorded loss, head of a report's seal), so that a later change to the same line, or any
    new break, is reported again. Needed because a break must not fade by itself: a truncated
    journal chains on silently once new events are appended.
    """
    by, reason = by.strip(), reason.strip()
    if not by or not reason:
        raise JournalError(
            "acquittement refusé : --par (qui acquitte) et --motif (ce que l'enquête a établi) "
            "ne peuvent pas être vides"
        )
    with _locked(audit_dir) as journal:
        data = _read_all(journal)
        lines = _scan(data)
        status, breaks = _status(lines, journal.existed, audit_dir, seal)
        if status.intact:
            return None
        items = [
            {**b.item, "ligne": b.line, "raison": b.reason or b.message.split(" : ", 1)[1]}
            for b in breaks
            if b.item["type"] != "ancre"  # recorded as a loss by _append_locked, then covered
        ]
        fields = {"par": by, "motif": reason, "ruptures": items}
        return _append_locked(journal, audit_dir, data, ACKNOWLEDGED, fields, acknowledging=True)
