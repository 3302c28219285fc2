"""Key files: created 0600 when missing, refused whenever other accounts could read them.

Why every command checks, not only ``keys rotate``: a key others can read is a key to throw
away. ``recours run`` and the ingest DAGs used to load a 0644 ``RECOURS_PSEUDO_KEY_FILE`` that
``keys rotate`` refused; they now call :func:`check_key_file_env` before the key is read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from anonymization.pseudonymize import KEY_FILE_ENV, load_key, new_key_file
from recours.errors import RecoursError


class KeyFileTooOpen(RecoursError):
    """The key file is readable or writable by other accounts than its owner."""


def check_private(path: Path, what: str, remedy: str) -> None:
    """Refuse ``path`` unless only its owner may read or write it (mode 0600 or stricter)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileTooOpen(
            f"{what} {path} est lisible ou modifiable par d'autres comptes (mode {mode:04o}) : "
            f"faire « chmod 600 {path} », {remedy}"
        )


def check_key_file_env(environ: Mapping[str, str] | None = None) -> None:
    """The key file ``RECOURS_PSEUDO_KEY_FILE`` names, when it exists, must be private; called
    by every command and task that loads the key (a missing file is ``load_key``'s message)."""
    env = os.environ if environ is None else environ
    name = env.get(KEY_FILE_ENV)
    if name and Path(name).is_file():
        check_private(
            Path(name),
            f"la clé de pseudonymisation ({KEY_FILE_ENV})",
            "puis, si d'autres comptes ont pu la lire, en changer (recours keys rotate)",
        )


def read_new_key(path: Path) -> tuple[str, bool]:
    """(the key in hex, whether the file was just created). Refuses a file not in mode 0600:
    a key others can read is a key to throw away, not one to rotate to."""
    created = not path.exists()
    if created:
        new_key_file(path)
    check_private(path, "la nouvelle clé", "ou mieux, créer une autre clé")
    return load_key({KEY_FILE_ENV: str(path)}).key.hex(), created
