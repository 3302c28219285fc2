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


def write_atomically(path: Path, write: Callable[[Path], object], mode: int | None = None) -> Path:
    """``write(temporary)`` then move it to ``path``; ``mode`` (e.g. 0o600) is set before the
    move, so the file never exists at ``path`` with looser rights."""
    path = Path(path)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        write(temporary)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_text_atomically(path: Path, text: str, mode: int | None = None) -> Path:
    return write_atomically(
        path, lambda temporary: temporary.write_text(text, encoding="utf-8"), mode
    )
