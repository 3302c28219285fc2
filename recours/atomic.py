"""Write a file aside, then rename it into place: a reader never sees half a file.

Reports, exports and audits are opened by people while the pipeline runs (an analyst's browser,
Excel, the DPO): each is written to a hidden temporary name in the same folder and moved over
the old one with ``os.replace``, atomic on one filesystem. The publication itself, several
files that must change together, has its own all-or-nothing writer (pipelines/publish/write.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries (after a rename), to disk: what is journaled or
    published must survive a power cut once the call returns."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def default_mode(folder: Path) -> int:
    """Without an explicit mode, a file is readable by the group only when its folder is:
    0640 in ``published/`` (0750, the analysts' group), 0600 in the private zones (0700),
    whatever the process's umask (077 under ``recours``)."""
    return 0o640 if folder.stat().st_mode & 0o050 == 0o050 else 0o600


def write_atomically(path: Path, write: Callable[[Path], object], mode: int | None = None) -> Path:
    """``write(temporary)`` then move it to ``path``; ``mode`` (e.g. 0o600; by default
    :func:`default_mode`) is set before the move, so the file never exists at ``path`` with
    looser rights."""
    path = Path(path)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        write(temporary)
        os.chmod(temporary, default_mode(path.parent) if mode is None else mode)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_text_atomically(path: Path, text: str, mode: int | None = None) -> Path:
    return write_atomically(
        path, lambda temporary: temporary.write_text(text, encoding="utf-8"), mode
    )
