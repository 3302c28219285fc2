"""What the DAG files share, importable without parsing any DAG: where the conventions are,
which conventions exist (file names only: DAG parsing opens no file), the Asset each ingest
updates and the crossing waits for, and how a writing task takes the home."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from airflow.sdk import Asset

from recours.conventions import KNOWN_SOURCE
from recours.errors import YamlFileError
from recours.yamlfile import load_yaml

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


def needed_conventions(conventions: list[str]) -> list[str]:
    """The conventions some indicator uses (plus the département's, for ``connus``), among
    ``conventions``: the ones whose deliveries can change a publication, and so trigger the
    crossing DAG. Reads only the catalogue's ``sources`` lists (configuration, no data) with
    plain YAML, so that parsing imports nothing heavy. An unreadable catalogue counts every
    convention as needed (the crossing itself then says what is wrong)."""
    try:
        entries = load_yaml(REPO_ROOT / "indicators" / "catalogue.yaml")["indicators"]
        used = {KNOWN_SOURCE, *(source for entry in entries for source in entry["sources"])}
    except (YamlFileError, KeyError, TypeError):
        return list(conventions)
    return [c for c in conventions if c in used]


def pseudonymized_asset(convention_id: str) -> Asset:
    """The Asset an ingest updates; the crossing DAG is scheduled on these (same URI, no name)."""
    return Asset(ASSET_URI.format(convention_id=convention_id))


def task_home() -> Path:
    """The home folder a task works on: ``$RECOURS_HOME``, or ``./var``."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME)


@contextmanager
def writing_task(home: Path, dag_id: str, task_id: str) -> Iterator[None]:
    """What every writing task wraps its work in (recours/lock.py): umask 077, the home's lock,
    the zones' modes. Used outside ``fail_without_retry_on_recours_error``: a home busy past
    ``RECOURS_LOCK_TIMEOUT`` is a passing incident, which Airflow retries (2, 4, 8 minutes)."""
    from recours.lock import writing

    with writing(home, f"Airflow {dag_id} (tâche {task_id})", on_wait=log.info):
        yield
