"""The new key's file: created 0600 when missing, refused when others could read it."""

from __future__ import annotations

import stat
from pathlib import Path

from anonymization.pseudonymize import KEY_FILE_ENV, load_key, new_key_file
from pipelines.keys.rotate import KeyRotationError


class KeyFileTooOpen(KeyRotationError):
    """The key file is readable or writable by other accounts than its owner."""


def read_new_key(path: Path) -> tuple[str, bool]:
    """(the key in hex, whether the file was just created). Refuses a file not in mode 0600:
    a key others can read is a key to throw away, not one to rotate to."""
    created = not path.exists()
    if created:
        new_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileTooOpen(
            f"{path} est lisible ou modifiable par d'autres comptes (mode {mode:04o}) : "
            f"faire « chmod 600 {path} », ou mieux, créer une autre clé"
        )
    return load_key({KEY_FILE_ENV: str(path)}).key.hex(), created
