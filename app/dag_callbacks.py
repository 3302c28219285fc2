"""What the DAGs share at run time: the failure callback and the retry policy.

Why a failure goes to the audit log as well as to Airflow's task log: the DPO reads the journal,
not Airflow, and must see that a step failed (and was, or was not, run again) to understand a gap
between deliveries and publications. The event holds the DAG, the task, the run and the type of
the exception — never its message, which might quote a value read from a partner file.

Importable without Airflow (no ``airflow`` import here): the tests call the callback directly
with a context shaped like Airflow's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from recours import audit_log
from recours.errors import RecoursError
from recours.home import DEFAULT_HOME, Home

log = logging.getLogger(__name__)

HOME_ENV = "RECOURS_HOME"
FAILURE_EVENT = "echec_tache"

# Transient failures (a network file system that hiccups, a DuckDB file still locked by a reader,
# a full disk being cleaned): three more tries, 2, 4 then 8 minutes apart (capped at 30).
# Validation failures never reach Airflow as failures (a refused delivery is a green task with a
# refusal in its summary), and configuration errors (RecoursError: no key, a broken convention,
# no period to cross) fail at once through AirflowFailException: retrying would not help.
TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
}


def _home() -> Home:
    return Home(Path(os.environ.get(HOME_ENV) or DEFAULT_HOME))


def _attr(obj: Any, name: str) -> Any:
    return getattr(obj, name, None) if obj is not None else None


def record_task_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: append ``echec_tache`` to the home folder's audit log.

    Never raises: a callback that fails is only logged by Airflow, and must not hide the task's
    own failure.
    """
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    exception = context.get("exception")
    cause = _attr(exception, "__cause__")
    event = {
        "dag": _attr(dag, "dag_id") or _attr(ti, "dag_id"),
        "tache": _attr(ti, "task_id") or _attr(context.get("task"), "task_id"),
        "execution": context.get("run_id") or _attr(ti, "run_id"),
        "tentative": _attr(ti, "try_number"),
        "erreur": type(exception).__name__ if exception is not None else None,
        "cause": type(cause).__name__ if cause is not None else None,
    }
    try:
        audit_log.append_event(_home().audit, FAILURE_EVENT, **event)
    except (OSError, audit_log.JournalError) as exc:
        log.warning("echec_tache not written to the audit log (%s)", type(exc).__name__)


@contextmanager
def fail_without_retry_on_recours_error() -> Iterator[None]:
    """Turn a ``RecoursError`` (the pipeline's own, deliberate refusal to go on: no key, an
    invalid convention, no period to cross) into Airflow's "fail, do not retry".

    Its French message is made for the data team and holds no value from a file, so it is kept;
    the original error stays as ``__cause__``, whose type the failure callback records.
    """
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except RecoursError as exc:
        raise AirflowFailException(str(exc)) from exc
