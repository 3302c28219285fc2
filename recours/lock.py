"""One writer per home: an exclusive lock that every writing command and task takes.

Why: two runs on one home (a cron and a person, the ``crossing`` and ``retention`` DAGs) would
both ingest every delivery, race on ``warehouse.duckdb`` and end in DuckDB lock tracebacks. The
lock is ``<home>/.recours.lock`` (``flock`` through the ``filelock`` library: released by the
kernel when its holder dies, even by ``kill -9``, so a crash never leaves the home locked).
Beside it, ``.recours.lock.json`` says who holds it (command, pid, host, since when), so that the
next writer can tell the person at the terminal whom they are waiting for; it is advisory only,
the lock is the flock.

A writer waits a bounded time (``RECOURS_LOCK_TIMEOUT`` seconds, 30 by default), then refuses in
French. Re-entrant within a process: ``recours run`` holds it and calls the ingest and the
crossing, which may take it again. Readers (``recours query``, ``recours rapport``) never take it:
they read the publication, which is replaced atomically.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from recours.errors import RecoursError
from recours.home import Home
from recours.modes import PRIVATE_FILE, make_home, private_umask, secure_home

LOCK_NAME = ".recours.lock"
HOLDER_NAME = ".recours.lock.json"
TIMEOUT_ENV = "RECOURS_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 30.0


class HomeBusyError(RecoursError):
    """Another writer holds the home longer than we may wait; names it (never any data)."""

    def __init__(self, root: Path, holder: dict | None, waited: float) -> None:
        super().__init__(
            f"le dossier de travail {root} est occupé par {describe_holder(holder)} ; attendu "
            f"{waited:g} s. Relancer quand il aura fini, ou attendre plus longtemps avec "
            f"{TIMEOUT_ENV}=<secondes>. Si ce processus n'existe plus, le verrou est déjà libéré "
            "(relancer suffit)."
        )
        self.root, self.holder, self.waited = root, holder, waited


class LockTimeoutError(RecoursError):
    """``RECOURS_LOCK_TIMEOUT`` is not a number of seconds."""


def lock_timeout() -> float:
    """How long a writer waits for the home: ``RECOURS_LOCK_TIMEOUT`` seconds, or 30."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses NaN
        raise LockTimeoutError(
            f"{TIMEOUT_ENV}={raw!r} n'est pas un nombre de secondes positif ou nul : "
            f"le corriger (par exemple {TIMEOUT_ENV}=120) ou le retirer (30 s par défaut)"
        )
    return value


def read_holder(root: Path) -> dict | None:
    """Who holds (or last held) the lock of the home at ``root``, as its sidecar says."""
    try:
        data = json.loads((Path(root) / HOLDER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_holder(holder: dict | None) -> str:
    """« recours run » (pid 1234 sur la machine h, depuis le 27/11/2026 à 14:03:12)."""
    if not holder:
        return "un autre processus (inconnu : son fichier .recours.lock.json manque)"
    since = str(holder.get("depuis", ""))
    with suppress(ValueError):
        since = datetime.fromisoformat(since).strftime("%d/%m/%Y à %H:%M:%S")
    return (
        f"« {holder.get('commande', '?')} » (pid {holder.get('pid', '?')} sur la machine "
        f"{holder.get('machine', '?')}, depuis le {since})"
    )


@dataclass
class _Held:
    lock: FileLock
    depth: int


_held: dict[Path, _Held] = {}
_guard = threading.RLock()


def _write_holder(root: Path, command: str) -> None:
    data = {
        "commande": command,
        "pid": os.getpid(),
        "machine": socket.gethostname(),
        "depuis": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    temporary = root / f"{HOLDER_NAME}.{uuid.uuid4().hex}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False)
        os.replace(temporary, root / HOLDER_NAME)
    finally:
        temporary.unlink(missing_ok=True)


def _drop_holder(root: Path) -> None:
    """Remove the sidecar if it is still ours (a later holder's is left alone)."""
    holder = read_holder(root)
    if holder is not None and holder.get("pid") == os.getpid():
        with suppress(OSError):
            (root / HOLDER_NAME).unlink()


@contextmanager
def home_lock(
    home: Path | Home,
    command: str,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[bool]:
    """Hold the home's exclusive lock for the block; yields True for the outermost holder.

    Waits up to ``timeout`` seconds (default: :func:`lock_timeout`), telling ``on_wait`` in
    French whom it waits for, then raises :class:`HomeBusyError`. Creates a missing home (0750).
    """
    root = Path(home.root if isinstance(home, Home) else home).resolve()
    with _guard:
        held = _held.get(root)
        if held is not None:
            held.depth += 1
    if held is not None:
        try:
            yield False
        finally:
            with _guard:
                held.depth -= 1
        return
    wait = lock_timeout() if timeout is None else timeout
    make_home(root)
    lock = FileLock(root / LOCK_NAME, mode=PRIVATE_FILE, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if wait <= 0:
            raise HomeBusyError(root, read_holder(root), wait) from None
        if on_wait is not None:
            on_wait(
                f"Le dossier de travail {root} est occupé par {describe_holder(read_holder(root))}"
                f" : attente de sa fin, {wait:g} s au plus ({TIMEOUT_ENV})…"
            )
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise HomeBusyError(root, read_holder(root), wait) from None
    try:
        _write_holder(root, command)
        with _guard:
            _held[root] = _Held(lock, 1)
        try:
            yield True
        finally:
            with _guard:
                _held.pop(root, None)
            _drop_holder(root)
    finally:
        lock.release()


def clean_debris(home: Home) -> list[Path]:
    """What an interrupted writer (``kill -9``, power cut) left behind, removed by the next
    one, which alone holds the lock: the warehouse's staging copy, the publication's temporary
    files, the lock sidecar's. Returns what was removed."""
    staging = home.warehouse_staging
    found = [
        *home.root.glob(f"{staging.name}*"),
        *home.root.glob(f"{HOLDER_NAME}.*.tmp"),
        *home.publication_debris(),
    ]
    removed = []
    for path in found:
        with suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


@contextmanager
def writing(
    home: Path | Home,
    command: str,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """What every writing command and Airflow task wraps its work in: umask 077, the home's
    lock, debris of an interrupted run cleaned, and the zones' modes (recours/modes.py) made
    right on the way in and again on the way out."""
    target = home if isinstance(home, Home) else Home(Path(home))
    with private_umask(), home_lock(target, command, timeout, on_wait) as outermost:
        if outermost:
            secure_home(target)
            clean_debris(target)
        try:
            yield
        finally:
            if outermost:
                with suppress(OSError):  # never hide the body's own error
                    secure_home(target)
