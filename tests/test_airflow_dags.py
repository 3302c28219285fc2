"""The Airflow side of ingest: the DAG factory (``dags/ingest.py``) and the in-process runner.

Why everything Airflow runs in a child process here: Airflow fixes its configuration (home,
metadata database, DAGs folder) when first imported. Importing it in the pytest process would
tie every later test to whatever configuration came first (or to ``~/airflow``); a child started
with :func:`app.airflow_runner.airflow_env` is isolated, exactly like ``recours demo``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from app.airflow_runner import (
    AirflowRunError,
    airflow_env,
    airflow_home,
    airflow_logs_dir,
    run_ingest_dags,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
REPO_CONVENTIONS = REPO_ROOT / "conventions"
HEAVY_MODULES = ("polars", "great_expectations", "presidio_analyzer", "spacy", "duckdb")

# Parses the DAGs folder once per scenario inside one interpreter (importing Airflow costs ~3 s),
# recording every file opened under the watched folders through an audit hook.
PARSE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys

    scenarios = json.loads(sys.argv[1])
    watched = [os.path.realpath(p) for p in json.loads(sys.argv[2])]
    heavy = tuple(json.loads(sys.argv[3]))
    opened = []

    def hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(args[0]))
            if any(path == w or path.startswith(w + os.sep) for w in watched):
                opened.append(path)

    sys.addaudithook(hook)

    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag

    out = {}
    for name, env in scenarios.items():
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        opened.clear()
        bag = DagBag(dag_folder=settings.DAGS_FOLDER)
        dags = {}
        for dag_id, dag in bag.dags.items():
            dags[dag_id] = {
                "fileloc": dag.fileloc,
                "tags": sorted(dag.tags),
                "doc_md": dag.doc_md,
                "timetable": type(dag.timetable).__name__,
                "assets": sorted(
                    a.uri
                    for a in getattr(getattr(dag.timetable, "asset_condition", None), "objects", [])
                ),
                "catchup": dag.catchup,
                "max_active_runs": dag.max_active_runs,
                "tasks": {
                    t.task_id: [getattr(o, "uri", None) for o in t.outlets] for t in dag.tasks
                },
            }
        out[name] = {
            "import_errors": bag.import_errors,
            "dags": dags,
            "opened": list(opened),
            "heavy": sorted(
                m for m in sys.modules if m.split(".")[0] in heavy or m.startswith("pipelines")
            ),
        }
    print("RESULT " + json.dumps(out))
    """
)


def _write_conventions(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(f"id: {Path(name).stem}\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Parse the real ``dags/`` under three convention folders, without any data anywhere."""
    root = tmp_path_factory.mktemp("parse")
    conventions = _write_conventions(
        root / "conventions",
        ["caf.yaml", "cpam.yaml", "france-travail.yaml", "_modele.yaml", "x.yml"],
    )
    (conventions / "notes.txt").write_text("pas une convention", encoding="utf-8")
    sixth = root / "sixth"  # the repository's conventions and msa31, which no indicator uses
    shutil.copytree(REPO_CONVENTIONS, sixth)
    _write_conventions(sixth, ["msa31.yaml"])
    missing_home = root / "no-such-home"
    env = airflow_env(root / "airflow-home-parent")
    env["RECOURS_HOME"] = str(missing_home)
    scenarios = {
        "tmp": {"RECOURS_CONVENTIONS_DIR": str(conventions)},
        "missing": {"RECOURS_CONVENTIONS_DIR": str(root / "no-such-conventions")},
        "repo": {"RECOURS_CONVENTIONS_DIR": None},
        "sixth": {"RECOURS_CONVENTIONS_DIR": str(sixth)},
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            PARSE_SCRIPT,
            json.dumps(scenarios),
            json.dumps([str(conventions), str(missing_home), str(REPO_CONVENTIONS), str(sixth)]),
            json.dumps(HEAVY_MODULES),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["missing_home"] = str(missing_home)
    return result


def _ingest_dags(scenario: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in scenario["dags"].items() if Path(v["fileloc"]).name == "ingest.py"}


def test_one_dag_per_convention_file(parsed: dict[str, Any]) -> None:
    assert parsed["tmp"]["import_errors"] == {}
    assert sorted(_ingest_dags(parsed["tmp"])) == [
        "ingest_caf",
        "ingest_cpam",
        "ingest_france-travail",
    ]


def test_each_dag_is_documented_tagged_and_updates_its_asset(parsed: dict[str, Any]) -> None:
    for dag_id, dag in _ingest_dags(parsed["tmp"]).items():
        convention = dag_id.removeprefix("ingest_")
        assert dag["tags"] == ["ingest", "recours"]
        assert dag["timetable"] == "NullTimetable"  # triggered, not scheduled: see doc_md
        assert dag["catchup"] is False
        assert dag["max_active_runs"] == 1
        assert dag["tasks"] == {"ingest": [f"recours://pseudonymized/{convention}"]}
        doc = dag["doc_md"]
        assert doc and "Livraison refusée" in doc
        assert f"quarantine/{convention}/" in doc and ".motif.txt" in doc


def test_parsing_opens_no_data_file_and_loads_no_heavy_module(parsed: dict[str, Any]) -> None:
    for name in ("tmp", "missing", "repo"):
        assert parsed[name]["opened"] == [], name  # not even the convention YAML files
        assert parsed[name]["heavy"] == [], name
    assert not Path(parsed["missing_home"]).exists()


def test_missing_conventions_folder_gives_no_dag_and_no_error(parsed: dict[str, Any]) -> None:
    assert parsed["missing"]["import_errors"] == {}
    assert _ingest_dags(parsed["missing"]) == {}


def test_repository_dags_folder_has_no_import_errors(parsed: dict[str, Any]) -> None:
    assert parsed["repo"]["import_errors"] == {}
    expected = sorted(
        f"ingest_{p.stem}"
        for p in REPO_CONVENTIONS.glob("*.yaml")
        if not p.stem.startswith(("_", "."))
    )
    assert sorted(_ingest_dags(parsed["repo"])) == expected


def test_airflow_env_is_isolated_from_the_callers_airflow(tmp_path: Path) -> None:
    base = {
        "PATH": "/usr/bin",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://prod/airflow",
        "AIRFLOW_HOME": "/opt/airflow",
        "AIRFLOW_VAR_OTHER": "x",
        "RECOURS_PSEUDO_KEY": "ab" * 32,
    }
    env = airflow_env(tmp_path, tmp_path / "conv", key_hex="cd" * 32, base=base)
    assert env["AIRFLOW_HOME"] == str(airflow_home(tmp_path))
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:///")
    assert str(airflow_home(tmp_path)) in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO_ROOT / "dags")
    assert "AIRFLOW_VAR_OTHER" not in env
    assert "RECOURS_PSEUDO_KEY" not in env  # the DAG must take the Variable path
    assert env["AIRFLOW_VAR_RECOURS_PSEUDO_KEY_SECRET"] == "cd" * 32
    assert env["RECOURS_CONVENTIONS_DIR"] == str((tmp_path / "conv").resolve())
    assert env["PATH"] == "/usr/bin"


def _conventions_for_a_real_run(tmp_path: Path) -> tuple[Path, list[str]]:
    """The repository's conventions when there are some (the real ingest may check them as a
    set, e.g. cross-references), else one dummy file; with an empty landing folder nothing is
    ingested either way, so the run exercises the Airflow wiring, not the data."""
    real = sorted(p.stem for p in REPO_CONVENTIONS.glob("*.yaml") if not p.stem.startswith("_"))
    if real:
        return REPO_CONVENTIONS, real
    _write_conventions(tmp_path / "conventions", ["demo.yaml"])
    return tmp_path / "conventions", ["demo"]


@pytest.mark.slow
def test_real_dag_test_run_returns_summaries_and_keeps_the_key_out(tmp_path: Path) -> None:
    home = tmp_path / "home"
    conventions_dir, conventions = _conventions_for_a_real_run(tmp_path)
    key_hex = secrets.token_hex(32)

    results = run_ingest_dags(home, conventions_dir, key_hex=key_hex)

    dag_ids = sorted(f"ingest_{c}" for c in conventions)
    assert sorted(results) == dag_ids
    for summaries in results.values():
        assert isinstance(summaries, list)
        assert all(isinstance(s, dict) for s in summaries)
        json.dumps(summaries)  # JSON-safe, as an XCom must be

    with sqlite3.connect(airflow_home(home) / "airflow.db") as conn:
        states = conn.execute(
            "SELECT dag_id, state FROM task_instance WHERE task_id = 'ingest' ORDER BY dag_id"
        ).fetchall()
        events = conn.execute(
            "SELECT a.uri FROM asset_event e JOIN asset a ON a.id = e.asset_id ORDER BY a.uri"
        ).fetchall()
    assert states == [(d, "success") for d in dag_ids]
    assert events == [(f"recours://pseudonymized/{c}",) for c in sorted(conventions)]

    logs = list(airflow_logs_dir(home).rglob("*.log"))
    assert logs, "the run's log must be under <home>/airflow/logs"
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
    assert "key from: Airflow Variable recours_pseudo_key_secret" in text
    for path in airflow_home(home).rglob("*"):
        if path.is_file():
            assert key_hex.encode() not in path.read_bytes(), path


FAILING_DAGS = '''
"""Two tiny ingest-like DAGs: one fails, one succeeds."""
from airflow.sdk import DAG, task

with DAG(dag_id="ingest_boom", schedule=None):
    @task(task_id="ingest")
    def boom() -> list:
        raise ValueError("boom")
    boom()

with DAG(dag_id="ingest_fine", schedule=None):
    @task(task_id="ingest")
    def fine() -> list:
        return [{"status": "accepted", "rows_read": 3}]
    fine()
'''


@pytest.mark.slow
def test_a_failing_task_raises_naming_dag_and_task(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "fake_ingest.py").write_text(FAILING_DAGS, encoding="utf-8")

    with pytest.raises(AirflowRunError) as caught:
        run_ingest_dags(tmp_path / "home", tmp_path / "conventions", dags_folder=dags)

    message = str(caught.value)
    assert "DAG ingest_boom task ingest ended failed" in message
    assert "ingest_fine" not in message
    assert caught.value.results == {"ingest_fine": [{"status": "accepted", "rows_read": 3}]}
    assert caught.value.log_path is not None and caught.value.log_path.is_file()
    assert caught.value.log_path.parent == airflow_logs_dir(tmp_path / "home")


@pytest.mark.slow
def test_a_dag_import_error_stops_the_run_and_names_the_file(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "broken_dag.py").write_text("from airflow.sdk import DAG\nraise ValueError\n")

    with pytest.raises(AirflowRunError, match="DAG import errors in broken_dag.py"):
        run_ingest_dags(tmp_path / "home", tmp_path / "conventions", dags_folder=dags)


def test_a_sixth_partner_gets_its_ingest_dag_and_delays_no_crossing(parsed):
    """msa31 is a convention no indicator uses: ingested by its own DAG, and the crossing DAG
    does not wait on its Asset (it runs on any needed partner's Asset, or every morning)."""
    scenario = parsed["sixth"]
    assert scenario["import_errors"] == {}
    assert "ingest_msa31" in _ingest_dags(scenario)
    crossing = scenario["dags"]["crossing"]
    assert crossing["timetable"] == "AssetOrTimeSchedule"
    assert crossing["assets"] == [
        f"recours://pseudonymized/{c}" for c in ("caf31", "carsatmp", "cd31", "cpam31", "ftocc")
    ]
    assert parsed["repo"]["dags"]["crossing"]["assets"] == crossing["assets"]
