"""Operating the pipeline in Airflow: every DAG and task documented, retries with back-off on
every task, the failure callback writing ``echec_tache`` to the audit log (called directly, and
through a real DAG run that fails), and the local ``airflow standalone`` configuration (its
start and stop: tests/test_ops_airflow.py).

Airflow itself is only imported in child processes (see tests/test_airflow_dags.py for why).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.airflow_runner import AirflowRunError, airflow_env, run_ingest_dags
from app.dag_callbacks import FAILURE_EVENT, record_task_failure
from recours.audit_log import read_events, verify_chain
from recours.home import Home

REPO_ROOT = Path(__file__).resolve().parent.parent
FAKE_NIR = "185057800608436"  # shaped like a NIR: must never reach the journal

PARSE = textwrap.dedent(
    """
    import json
    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=settings.DAGS_FOLDER)
    out = {"errors": {k: str(v)[:300] for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "doc_md": dag.doc_md,
            "timetable": type(dag.timetable).__name__,
            "cron": getattr(dag.timetable, "expression", None),
            "paused_upon_creation": dag.is_paused_upon_creation,
            "tasks": {
                t.task_id: {
                    "doc_md": t.doc_md,
                    "retries": t.retries,
                    "backoff": t.retry_exponential_backoff,
                    "max_delay": t.max_retry_delay.total_seconds() if t.max_retry_delay else None,
                    "callbacks": [f"{c.__module__}.{c.__name__}" for c in t.on_failure_callback],
                }
                for t in dag.tasks
            },
        }
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    env = airflow_env(tmp_path_factory.mktemp("parse"))
    proc = subprocess.run(
        [sys.executable, "-c", PARSE], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def test_every_dag_and_task_tells_the_team_what_it_does_and_what_to_do_on_failure(parsed):
    assert parsed["errors"] == {}
    assert {"crossing", "retention"} <= set(parsed["dags"])
    for dag_id, dag in parsed["dags"].items():
        assert dag["doc_md"] and "chec" in dag["doc_md"], dag_id  # « échec », « En cas d'échec »
        for task_id, task in dag["tasks"].items():
            assert task["doc_md"] and "chec" in task["doc_md"], (dag_id, task_id)


def test_every_task_retries_with_back_off_and_records_its_failure(parsed):
    for dag_id, dag in parsed["dags"].items():
        for task_id, task in dag["tasks"].items():
            where = (dag_id, task_id)
            assert (task["retries"], task["backoff"], task["max_delay"]) == (3, 2.0, 1800.0), where
            assert task["callbacks"] == ["app.dag_callbacks.record_task_failure"], where


def test_every_dag_is_active_from_creation(parsed):
    """Airflow creates DAGs paused by default: nobody would ingest, cross or purge until someone
    found the switch in the UI (docs/exploitation.md says they start active)."""
    assert {d: dag["paused_upon_creation"] for d, dag in parsed["dags"].items()} == dict.fromkeys(
        parsed["dags"], False
    )


def test_the_retention_dag_runs_daily(parsed):
    retention = parsed["dags"]["retention"]
    assert retention["timetable"] == "CronTriggerTimetable"
    assert retention["cron"] == "0 0 * * *"  # @daily
    assert list(retention["tasks"]) == ["purger"]
    assert "recours purge --home DIR --dry-run" in retention["doc_md"]


def test_the_failure_callback_writes_its_event_and_never_the_message(tmp_path, monkeypatch):
    monkeypatch.setenv("RECOURS_HOME", str(tmp_path / "home"))
    try:
        try:
            raise OSError(f"lecture impossible : {FAKE_NIR}")
        except OSError as cause:
            raise RuntimeError(f"échec sur {FAKE_NIR}") from cause
    except RuntimeError as exc:
        error = exc
    ti = SimpleNamespace(
        dag_id="ingest_caf31", task_id="ingest", run_id="manual__2026-11-27", try_number=4
    )
    context = {
        "dag": SimpleNamespace(dag_id="ingest_caf31"),
        "ti": ti,
        "task_instance": ti,
        "run_id": "manual__2026-11-27",
        "exception": error,
    }

    record_task_failure(context)

    audit = Home(tmp_path / "home").audit
    [event] = read_events(audit)
    assert {k: event[k] for k in ("evenement", "dag", "tache", "execution", "tentative")} == {
        "evenement": FAILURE_EVENT,
        "dag": "ingest_caf31",
        "tache": "ingest",
        "execution": "manual__2026-11-27",
        "tentative": 4,
    }
    assert (event["erreur"], event["cause"]) == ("RuntimeError", "OSError")
    assert FAKE_NIR not in (audit / "journal.jsonl").read_text(encoding="utf-8")
    assert verify_chain(audit)[0]


def test_the_failure_callback_never_raises(tmp_path, monkeypatch):
    blocked = tmp_path / "fichier"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("RECOURS_HOME", str(blocked))  # audit/ cannot be created under a file
    record_task_failure({"run_id": "r", "exception": ValueError()})


@pytest.mark.slow  # about 30 s: a real dag.test() of the repository's DAGs, SQLite, in a child
def test_a_real_failing_dag_run_writes_echec_tache(tmp_path):
    """The crossing DAG on a home with no delivery: NoPeriodError, failed without retry, and
    the callback records it; the ingest DAGs (nothing to ingest) succeed."""
    home = tmp_path / "home"

    with pytest.raises(AirflowRunError, match="DAG crossing task croiser_et_publier ended failed"):
        run_ingest_dags(home, key_hex=os.urandom(32).hex(), crossing=True)

    failures = [e for e in read_events(Home(home).audit) if e["evenement"] == FAILURE_EVENT]
    assert len(failures) == 1
    failure = failures[0]
    assert (failure["dag"], failure["tache"]) == ("crossing", "croiser_et_publier")
    assert (failure["erreur"], failure["cause"]) == ("AirflowFailException", "NoPeriodError")
    assert failure["tentative"] == 1  # a RecoursError is not retried
    assert failure["execution"]
    assert verify_chain(Home(home).audit)[0]


@pytest.mark.slow  # about 15 s: Airflow reads its configuration once, in a child
def test_the_standalone_script_configuration_is_valid(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.pop("RECOURS_AIRFLOW_WORKERS", None)
    env.update(
        RECOURS_HOME=str(tmp_path / "home"),
        RECOURS_AIRFLOW_PORT="18080",
        AIRFLOW__CORE__DAGS_FOLDER="/ailleurs",  # a caller's setting must not leak in
        AIRFLOW__CORE__PARALLELISM="32",
        RECOURS_AIRFLOW_BIN=str(REPO_ROOT / ".venv" / "bin" / "airflow"),
    )
    proc = subprocess.run(
        [str(REPO_ROOT / "ops" / "airflow-standalone.sh"), "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    values = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line)
    airflow_home = (tmp_path / "home").resolve() / "airflow"
    cores = subprocess.run(["nproc"], env=env, capture_output=True, text=True, check=True)
    assert values == {
        "core.dags_folder": str(REPO_ROOT / "dags"),
        "core.load_examples": "False",
        "core.executor": "LocalExecutor",
        "database.sql_alchemy_conn": f"sqlite:///{airflow_home}/airflow.db",
        "api.host": "127.0.0.1",
        "api.port": "18080",
        "core.parallelism": cores.stdout.strip(),  # one task per core, not 32 idle workers
        "core.max_active_tasks_per_dag": cores.stdout.strip(),
        "api.workers": "1",
        "dag_processor.parsing_processes": "1",
        "core.simple_auth_manager_passwords_file": str(
            airflow_home / "simple_auth_manager_passwords.json.generated"
        ),
    }
    assert airflow_home.is_dir()
    assert stat.S_IMODE(airflow_home.stat().st_mode) == 0o700
