"""What the DAG files share, importable without parsing any DAG: where the conventions are,
which conventions exist (file names only: DAG parsing opens no file), and the Asset each ingest
updates and the crossing waits for."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from airflow.sdk import Asset

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
CONVENTIONS_ENV = "RECOURS_CONVENTIONS_DIR"
HOME_ENV = "RECOURS_HOME"
DEFAULT_HOME = "./var"
ASSET_URI = "recours://pseudonymized/{convention_id}"

# An Airflow dag_id allows letters, digits, "-", "_" and "."; a file name that would make an
# invalid dag_id is skipped (and logged) rather than breaking the ingest of every other partner.
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def conventions_dir() -> Path:
    """The conventions folder: ``$RECOURS_CONVENTIONS_DIR`` or the repository's ``conventions/``."""
    override = os.environ.get(CONVENTIONS_ENV)
    return Path(override) if override else REPO_ROOT / "conventions"


def convention_ids(folder: Path) -> list[str]:
    """Convention ids from the ``*.yaml`` file names of ``folder``, without opening any file.

    Names starting with ``_`` or ``.`` (templates, editor files) are not conventions. A missing
    folder yields no DAG instead of an import error, so a fresh checkout still parses.
    """
    if not folder.is_dir():
        return []
    ids = []
    for path in sorted(folder.glob("*.yaml")):
        stem = path.stem
        if stem.startswith(("_", ".")):
            continue
        if not _VALID_ID.match(stem):
            log.warning("Convention file %s skipped: its name is not a valid DAG id", path.name)
            continue
        ids.append(stem)
    return ids


def pseudonymized_asset(convention_id: str) -> Asset:
    """The Asset an ingest updates; the crossing DAG is scheduled on these (same URI, no name)."""
    return Asset(ASSET_URI.format(convention_id=convention_id))
