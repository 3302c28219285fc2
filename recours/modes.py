"""Private at rest: who may read what the pipeline leaves (docs/architecture.md, invariant 1).

Why explicit modes on top of the umask: the umask (077, set by ``recours`` and by the Airflow
tasks) only governs files as they are created. A delivery moved from ``landing/`` to
``quarantine/`` keeps the mode the partner's transfer gave it, a home made by an older version
holds 0644 files in 0755 folders, and a caller that forgot the umask (a notebook, a test) creates
world-readable files. So every writer, when it takes the home and when it leaves it, brings the
individual-level zones back to 0700 folders / 0600 files, and ``published/`` to 0750 / 0640:
readable by the analysts' group (the folder's group), never by other accounts.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from recours.home import Home

UMASK = 0o077
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
SHARED_DIR, SHARED_FILE = 0o750, 0o640
HOME_DIR = 0o750  # the analysts' group must be able to reach published/, and list nothing else


@contextmanager
def private_umask() -> Iterator[None]:
    """Umask 077 for the duration of a writer, then the caller's again (an Airflow worker runs
    other code in the same process afterwards)."""
    previous = os.umask(UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def private_paths(home: Home) -> list[Path]:
    """Everything at the individual level but ``landing/`` (see :func:`restrict_landing`):
    pseudonyms, refused files, the warehouse and its staging copy, the journal, the DPO's
    reports and restricted audit, the lock's holder."""
    root = home.root
    found = [home.pseudonymized, home.quarantine, home.audit]
    if root.is_dir():
        found += sorted(root.glob(f"{home.warehouse.name}*"))
        found += sorted(root.glob(".recours.lock*"))
    return found


def _chmod(path: Path, mode: int) -> None:
    """Set ``mode`` on one path, keeping a folder's setgid bit (new files then take the
    analysts' group); a path that vanished or is not ours is left alone."""
    with suppress(FileNotFoundError, PermissionError):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return
        if stat.S_ISDIR(info.st_mode):
            mode |= info.st_mode & stat.S_ISGID
        if stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)


def _apply(path: Path, dir_mode: int, file_mode: int) -> None:
    if not path.is_dir() or path.is_symlink():
        if path.exists():
            _chmod(path, file_mode)
        return
    _chmod(path, dir_mode)
    for folder, dirs, files in os.walk(path):
        for name in dirs:
            _chmod(Path(folder, name), dir_mode)
        for name in files:
            _chmod(Path(folder, name), file_mode)


def restrict(path: Path) -> None:
    """A folder and everything in it to 0700 / 0600 (a file alone to 0600)."""
    _apply(path, PRIVATE_DIR, PRIVATE_FILE)


def restrict_landing(landing: Path) -> None:
    """The partners' raw files (nominative) to 0600; their folders only lose every right of
    other accounts, since a partner's transfer account may deposit through the folder's group."""
    if not landing.is_dir() or landing.is_symlink():
        return
    for folder, dirs, files in os.walk(landing):
        for path in [Path(folder), *(Path(folder, name) for name in dirs)]:
            with suppress(FileNotFoundError):
                _chmod(path, stat.S_IMODE(path.lstat().st_mode) & ~0o007 & 0o777)
        for name in files:
            _chmod(Path(folder, name), PRIVATE_FILE)


def share_published(published: Path) -> None:
    """``published/`` to 0750 folders and 0640 files: the analysts' group reads, others don't."""
    if published.is_dir():
        _apply(published, SHARED_DIR, SHARED_FILE)


def secure_home(home: Home) -> None:
    """Every zone of the home to the modes above."""
    for path in private_paths(home):
        restrict(path)
    restrict_landing(home.landing)
    share_published(home.published)


def make_home(root: Path) -> bool:
    """Create the home folder if it is missing (0750: analysts reach ``published/`` through
    it); an existing home keeps the mode its administrator chose. True when created."""
    if root.is_dir():
        return False
    root.mkdir(parents=True, exist_ok=True)
    _chmod(root, HOME_DIR)
    return True
