"""Run the real ingest DAGs in-process for ``recours demo`` (docs/architecture.md, "Airflow").

Why a child process: Airflow reads its configuration (``AIRFLOW_HOME``, metadata database,
DAGs folder, logging) once, when ``airflow`` is first imported, and keeps it in module globals.
A caller that has already imported Airflow (a test, a notebook, a CLI that touched a DAG) could
not point it at a throw-away SQLite database any more, and could end up writing into a real
deployment's database. So :func:`run_ingest_dags` always starts ``python -m
app.airflow_runner`` with a clean, explicit Airflow environment; the child migrates the
metadata database, parses ``dags/`` with a ``DagBag`` and runs each ``ingest_<convention>`` DAG
with ``dag.test()`` (no scheduler, no executor, no network), then hands the XCom summaries back
through a JSON file.

Where things go: ``AIRFLOW_HOME`` is ``<home>/airflow/`` so that everything Airflow writes stays
inside the home folder, next to the data it describes: the SQLite metadata database
(``airflow.db``), ``airflow.cfg`` and the logs. The child's whole output (Airflow's own logs and
the task logs, which ``dag.test()`` prints instead of writing per-task files) is captured in
``<home>/airflow/logs/recours-dags-<UTC timestamp>.log``; :func:`airflow_home` and
:func:`airflow_logs_dir` give these places to whoever must inspect them (the privacy tests grep
them). The key is passed to the child through the environment only (never on the command line,
where ``ps`` would show it) as the Airflow Variable ``recours_pseudo_key_secret`` (env-var
secrets backend), so it is never stored in the metadata database either.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recours.errors import RecoursError

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO_ROOT / "dags"
INGEST_PREFIX = "ingest_"
INGEST_TASK = "ingest"
CROSSING_DAG, CROSSING_TASK = "crossing", "croiser_et_publier"
KEY_VARIABLE = "recours_pseudo_key_secret"
KEY_ENVS = ("RECOURS_PSEUDO_KEY", "RECOURS_PSEUDO_KEY_FILE")


class AirflowRunError(RecoursError):
    """A DAG run did not succeed; the message names the DAG, the task and the log file.

    ``results`` keeps the summaries of the DAGs that did succeed (nothing is lost), and
    ``log_path`` the log to read.
    """

    def __init__(
        self,
        message: str,
        results: dict[str, list[dict]] | None = None,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(message)
        self.results = results or {}
        self.log_path = log_path


def airflow_home(home: Path) -> Path:
    """The ``AIRFLOW_HOME`` used for a home folder: ``<home>/airflow``."""
    return Path(home).resolve() / "airflow"


def airflow_logs_dir(home: Path) -> Path:
    """Where every Airflow log of a demo run lands (the privacy tests grep this folder)."""
    return airflow_home(home) / "logs"


def airflow_env(
    home: Path,
    conventions_dir: Path | None = None,
    key_hex: str | None = None,
    *,
    dags_folder: Path | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for an isolated Airflow: SQLite under ``<home>/airflow``, repo DAGs.

    Every inherited ``AIRFLOW*`` variable is dropped first, so that a production configuration
    in the caller's environment (a PostgreSQL URL, another DAGs folder, secrets backends) can
    never be reached from a demo run.
    """
    env = {k: v for k, v in (os.environ if base is None else base).items()}
    for name in list(env):
        if name.startswith("AIRFLOW"):
            del env[name]
    ahome = airflow_home(home)
    env.update(
        {
            "AIRFLOW_HOME": str(ahome),
            "AIRFLOW__CORE__DAGS_FOLDER": str(Path(dags_folder or DAGS_FOLDER).resolve()),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{ahome / 'airflow.db'}",
            "AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(ahome / "logs"),
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "RECOURS_HOME": str(Path(home).resolve()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if conventions_dir is not None:
        env["RECOURS_CONVENTIONS_DIR"] = str(Path(conventions_dir).resolve())
    for name in ("RECOURS_CONVENTIONS_DIR", "RECOURS_PSEUDO_KEY_FILE"):
        if env.get(name):  # the child must not depend on the caller's working directory
            env[name] = str(Path(env[name]).resolve())
    if key_hex is not None:
        # The DAG reads the key from the Variable when no RECOURS_PSEUDO_KEY* is set: exercise
        # exactly the production path, through Airflow's environment-variable secrets backend.
        for name in KEY_ENVS:
            env.pop(name, None)
        env[f"AIRFLOW_VAR_{KEY_VARIABLE.upper()}"] = key_hex
    return env


def run_ingest_dags(
    home: Path,
    conventions_dir: Path | None = None,
    key_hex: str | None = None,
    *,
    dags_folder: Path | None = None,
    crossing: bool = False,
) -> dict[str, Any]:
    """Run every ``ingest_<convention>`` DAG once with ``dag.test()``; return their summaries.

    With ``crossing``, the ``crossing`` DAG runs after them (its XCom is a dict of counts).

    Returns ``{dag_id: [summary, ...]}`` (the ``ingest`` task's XCom, counts only). The key is
    ``key_hex`` if given, else whatever ``RECOURS_PSEUDO_KEY`` / ``RECOURS_PSEUDO_KEY_FILE`` the
    caller's environment holds. Raises :class:`AirflowRunError` naming the DAG and task if any
    run fails; details are in the log file it names (under :func:`airflow_logs_dir`).
    ``dags_folder`` replaces the repository's ``dags/`` (tests only).
    """
    ahome = airflow_home(home)
    logs = airflow_logs_dir(home)
    logs.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    log_path = logs / f"recours-dags-{stamp}.log"
    result_path = ahome / f"result-{stamp}.json"
    env = airflow_env(home, conventions_dir, key_hex, dags_folder=dags_folder)
    if crossing:
        env["RECOURS_DEMO_CROSSING"] = "1"
    command = [sys.executable, "-m", "app.airflow_runner", "--result", str(result_path)]
    with log_path.open("w", encoding="utf-8") as log_file:
        proc = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            check=False,
        )
    try:
        report = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise AirflowRunError(
            f"Airflow could not run the ingest DAGs (exit code {proc.returncode}); see {log_path}",
            log_path=log_path,
        ) from None
    finally:
        result_path.unlink(missing_ok=True)
    results: dict[str, list[dict]] = report.get("results", {})
    if report.get("error"):
        raise AirflowRunError(f"{report['error']}; see {log_path}", results, log_path)
    failures = report.get("failures", [])
    if failures:
        what = ", ".join(
            f"DAG {f['dag_id']} task {f['task_id']} ended {f['state']}" for f in failures
        )
        raise AirflowRunError(f"Ingest failed: {what}; see {log_path}", results, log_path)
    if proc.returncode != 0:
        raise AirflowRunError(
            f"Airflow exited with code {proc.returncode}; see {log_path}", results, log_path
        )
    return results


# --------------------------------------------------------------------------------------------
# Child side: runs with the environment prepared above, Airflow imported only from here on.
# --------------------------------------------------------------------------------------------


def _migrate_db() -> None:
    """``airflow db migrate`` without a second interpreter (creates or upgrades the SQLite DB)."""
    from airflow.utils import db

    db.upgradedb()


class _SafeError(RuntimeError):
    """A child-side failure whose message holds no data, so it may travel to the caller."""


def _ingest_dags() -> dict[str, Any]:
    """Parse the configured DAGs folder; refuse to run a partial set if any file fails."""
    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=settings.DAGS_FOLDER)
    if bag.import_errors:
        files = ", ".join(sorted(Path(f).name for f in bag.import_errors))
        raise _SafeError(f"DAG import errors in {files}")
    chosen = {d: bag.dags[d] for d in sorted(bag.dags) if d.startswith(INGEST_PREFIX)}
    if CROSSING_DAG in bag.dags and os.environ.get("RECOURS_DEMO_CROSSING") == "1":
        chosen[CROSSING_DAG] = bag.dags[CROSSING_DAG]  # after every ingest, as its Assets say
    return chosen


def _run_one(dag: Any) -> tuple[str, Any]:
    """``dag.test()`` one DAG; returns its task's final state and its XCom value."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag_run = dag.test()
    with create_session() as session:
        tis = {ti.task_id: ti for ti in dag_run.get_task_instances(session=session)}
        task_id = CROSSING_TASK if dag.dag_id == CROSSING_DAG else INGEST_TASK
        ti = tis.get(task_id)
        state = "missing" if ti is None else str(getattr(ti.state, "value", ti.state))
        row = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id,
                key="return_value",
                dag_ids=dag.dag_id,
                task_ids=task_id,
            )
        ).first()
        value = XComModel.deserialize_value(row) if row is not None else None
    return state, value


def _child_main(result_path: Path) -> int:
    """Migrate, parse, run every ingest DAG; always leave a JSON report for the parent."""
    started = time.perf_counter()
    report: dict[str, Any] = {"results": {}, "failures": [], "timings": {}}
    try:
        _migrate_db()
        report["timings"]["import_and_db_migrate"] = round(time.perf_counter() - started, 2)
        for dag_id, dag in _ingest_dags().items():
            t0 = time.perf_counter()
            state, value = _run_one(dag)
            report["timings"][dag_id] = round(time.perf_counter() - t0, 2)
            if state != "success":
                task_id = CROSSING_TASK if dag_id == CROSSING_DAG else INGEST_TASK
                report["failures"].append({"dag_id": dag_id, "task_id": task_id, "state": state})
            else:
                report["results"][dag_id] = value if value is not None else []
    except _SafeError as exc:
        report["error"] = str(exc)
        _write(result_path, report)
        raise
    except Exception as exc:  # only the type travels: a message could quote a data value
        report["error"] = f"Airflow run aborted ({type(exc).__name__})"
        _write(result_path, report)
        raise
    _write(result_path, report)
    print(f"recours: timings (s) {json.dumps(report['timings'])}", flush=True)
    return 1 if report["failures"] else 0


def _write(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child process (``python -m app.airflow_runner``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", type=Path, required=True, help="where to write the JSON")
    args = parser.parse_args(argv)
    if "AIRFLOW_HOME" not in os.environ:
        parser.error("run through app.airflow_runner.run_ingest_dags (AIRFLOW_HOME unset)")
    # Airflow's database and task logs (counts, paths) and the tasks' output stay private
    # (recours/modes.py), whoever started the demo and with whatever umask.
    os.umask(0o077)
    return _child_main(args.result)


if __name__ == "__main__":
    sys.exit(main())
