"""One writer per home, and private at rest (issue 11, items 1 and 3), on the real pipeline.

Two real ``recours run`` processes on one synthetic home: the first is held (by a pause
injected before its crossing, once its deliveries are ingested) while a second, told not to
wait, refuses in French naming the first's pid, and a third waits for the lock and then finds
every delivery already processed: the journal shows each delivery accepted once. The same home
then shows the modes of every file and folder the runs created. Airflow is imported only in a
child process (see tests/test_airflow_dags.py for why).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from app.airflow_runner import airflow_env
from recours.audit_log import check_chain, read_events
from recours.home import Home
from recours.lock import (
    HOLDER_NAME,
    LOCK_NAME,
    HomeBusyError,
    LockTimeoutError,
    home_lock,
    lock_timeout,
    read_holder,
    writing,
)
from recours.modes import secure_home
from synth import synthesize

REPO = Path(__file__).resolve().parents[1]
PERIOD = "2025-06"
KEY = os.urandom(32).hex()
SAFETY = 900  # seconds: only a hung child can reach it; every wait below is on an event

# `recours run`, held once its deliveries are ingested (the lock is then taken) until told to go.
PAUSED_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import pipelines.cycle as crossing

    ready, go, home = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    real = crossing.cross_and_publish

    def paused(*args, **kwargs):
        ready.touch()
        while not go.exists():
            time.sleep(0.05)
        return real(*args, **kwargs)

    crossing.cross_and_publish = paused
    from app.cli import main

    sys.argv = ["recours", "run", "--home", home]
    main()
    """
)

# Holds the home's lock until its standard input closes.
HOLDER = textwrap.dedent(
    """
    import sys
    from recours.lock import home_lock

    with home_lock(sys.argv[1], "test : détenteur"):
        print("tenu", flush=True)
        sys.stdin.read()
    """
)


def flat(text: str) -> str:
    """Rich folds long lines at spaces: one space between words gives the message back."""
    return " ".join(text.split())


def recours(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, "RECOURS_PSEUDO_KEY": KEY, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=SAFETY,
        check=False,
    )


def wait_for(condition, process: subprocess.Popen, what: str) -> None:
    """Wait for an event of a child process; fail (never hang) if the child dies first."""
    deadline = time.monotonic() + SAFETY
    while not condition():
        assert process.poll() is None, f"{what} : le processus s'est arrêté ({process.returncode})"
        assert time.monotonic() < deadline, f"{what} : jamais arrivé"
        time.sleep(0.05)


@dataclass(frozen=True)
class Concurrent:
    home: Path
    first_pid: int
    first: str
    refused: subprocess.CompletedProcess
    holder_seen: dict
    waiting: str


@pytest.fixture(scope="module")
def concurrent(tmp_path_factory) -> Concurrent:
    root = tmp_path_factory.mktemp("verrou")
    home = root / "home"
    synthesize(home, persons=1500, seed=11, period=PERIOD)
    cd31 = home / "landing" / "cd31" / "CD31_USAGERS_20250630.csv"
    refused = cd31.with_name("CD31_USAGERS_20250531.csv")  # wrong encoding: quarantined
    refused.write_bytes(cd31.read_bytes().decode("utf-8").encode("cp1252", errors="replace"))
    for path in (home / "landing").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # as a partner's transfer may leave them
    ready, go = root / "pret", root / "go"
    third = None
    env = {**os.environ, "RECOURS_PSEUDO_KEY": KEY, "COLUMNS": "200"}
    with (root / "premier.out").open("w") as out:
        first = subprocess.Popen(
            [sys.executable, "-c", PAUSED_RUN, str(ready), str(go), str(home)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(ready.exists, first, "premier run : livraisons ingérées")
        holder_seen = read_holder(home.resolve()) or {}
        second = recours("run", "--home", str(home), env={"RECOURS_LOCK_TIMEOUT": "0"})
        with (root / "troisieme.out").open("w") as out, (root / "troisieme.err").open("w") as err:
            third = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "run", "--home", str(home)],
                env={**env, "RECOURS_LOCK_TIMEOUT": str(SAFETY)},
                stdout=out,
                stderr=err,
            )
        waiting = root / "troisieme.err"
        wait_for(
            lambda: "attente de sa fin" in waiting.read_text(encoding="utf-8"),
            third,
            "troisième run : attente du verrou",
        )
        go.touch()
        assert first.wait(timeout=SAFETY) == 0, (root / "premier.out").read_text()[-3000:]
        assert third.wait(timeout=SAFETY) == 0, (root / "troisieme.out").read_text()[-3000:]
    finally:
        go.touch()
        for process in (first, third):
            if process is not None and process.poll() is None:
                process.kill()
    return Concurrent(
        home,
        first.pid,
        (root / "premier.out").read_text(encoding="utf-8"),
        second,
        holder_seen,
        flat(waiting.read_text(encoding="utf-8"))
        + "\n"
        + (root / "troisieme.out").read_text(encoding="utf-8"),
    )


def test_a_second_run_refuses_in_french_naming_the_first(concurrent):
    refused, pid = concurrent.refused, concurrent.first_pid
    holder = concurrent.holder_seen
    assert (holder["commande"], holder["pid"], holder["machine"]) == (
        "recours run",
        pid,
        socket.gethostname(),
    )
    since = datetime.fromisoformat(holder["depuis"]).strftime("%d/%m/%Y à %H:%M:%S")
    home = concurrent.home.resolve()
    assert refused.returncode == 2
    assert flat(refused.stdout + refused.stderr) == (
        f"Erreur : le dossier de travail {home} est occupé par « recours run » (pid {pid} sur la "
        f"machine {socket.gethostname()}, depuis le {since}) ; attendu 0 s. Relancer quand il "
        "aura fini, ou attendre plus longtemps avec RECOURS_LOCK_TIMEOUT=<secondes>. Si ce "
        "processus n'existe plus, le verrou est déjà libéré (relancer suffit)."
    )
    assert "Traceback" not in refused.stdout + refused.stderr


def test_a_waiting_run_says_whom_it_waits_for_then_finds_everything_done(concurrent):
    home, pid = concurrent.home.resolve(), concurrent.first_pid
    waiting = concurrent.waiting
    assert (
        f"Le dossier de travail {home} est occupé par « recours run » (pid {pid} sur la machine "
        f"{socket.gethostname()}, depuis le "
    ) in waiting
    assert " : attente de sa fin, 900 s au plus (RECOURS_LOCK_TIMEOUT)…" in waiting
    output = waiting.split("\n", 1)[1]
    assert output.count("déjà traitée") == 5 and "acceptée" not in output
    assert "Publication :" in output


def test_the_journal_shows_each_delivery_accepted_once(concurrent):
    events = read_events(Home(concurrent.home).audit)
    accepted = Counter(e["fichier"] for e in events if e["evenement"] == "livraison_acceptee")
    received = Counter(e["fichier"] for e in events if e["evenement"] == "livraison_recue")
    refused = Counter(e["fichier"] for e in events if e["evenement"] == "livraison_refusee")
    assert len(accepted) == 5 and set(accepted.values()) == {1}
    assert refused == Counter({"CD31_USAGERS_20250531.csv": 1})
    assert received == accepted + refused
    assert sum(e["evenement"] == "publication" for e in events) == 2  # the first, then the third
    assert check_chain(Home(concurrent.home).audit).intact
    assert "acceptée" in concurrent.first


def test_every_file_and_folder_a_run_creates_is_private_except_published(concurrent):
    home = concurrent.home
    top = {p.name for p in home.iterdir()}
    assert top == {
        "landing",
        "truth",
        "quarantine",
        "pseudonymized",
        "published",
        "audit",
        "warehouse.duckdb",
        LOCK_NAME,
    }  # no sidecar left once released, no staging warehouse, nothing unforeseen
    modes: dict[str, str] = {}
    for path in sorted(home.rglob("*")):
        relative = path.relative_to(home)
        if relative.parts[0] == "truth":
            continue  # the generator's planted truth: synthetic homes only
        mode = stat.S_IMODE(path.lstat().st_mode)
        shared = relative.parts[0] == "published"
        expected = (0o750 if shared else 0o700) if path.is_dir() else (0o640 if shared else 0o600)
        if relative.parts[0] == "landing" and path.is_dir():
            expected = 0o750  # was 0755: others lose every right, the transfer's group keeps its
        if mode != expected:
            modes[str(relative)] = f"{mode:04o} au lieu de {expected:04o}"
    assert modes == {}
    names = {p.relative_to(home).parts[0] for p in home.rglob("*") if p.is_file()}
    assert {"quarantine", "pseudonymized", "published", "audit"} <= names
    assert list((home / "quarantine" / "cd31").glob("CD31_USAGERS_20250531.csv"))  # was 0644
    assert list((home / "audit" / "divulgation").glob("*.html"))
    assert list((home / "published" / "exports").rglob("*.xlsx"))


def test_readers_never_take_the_lock(concurrent):
    home = str(concurrent.home)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, home],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "tenu"
        busy = {"RECOURS_LOCK_TIMEOUT": "0"}
        query = recours("query", "--home", home, "select count(*) as n from catalogue", env=busy)
        assert query.returncode == 0, query.stdout + query.stderr
        verify = recours("audit", "verify", "--home", home, env=busy)
        assert verify.returncode == 0 and "intacte" in verify.stdout, verify.stdout
        dry = recours("purge", "--home", home, "--dry-run", env=busy)
        assert dry.returncode == 0 and "simulation" in dry.stdout, dry.stdout
        writer = recours("audit", "--home", home, env=busy)
        assert writer.returncode == 2
        assert "est occupé par « test : détenteur »" in flat(writer.stdout)
    finally:
        holder.stdin.close()
        holder.wait(timeout=SAFETY)


def test_the_lock_is_reentrant_and_freed_when_its_holder_is_killed(tmp_path):
    home = tmp_path / "home"
    with home_lock(home, "recours run") as outermost:
        assert outermost
        with home_lock(home, "ingestion") as inner:
            assert not inner
            assert read_holder(home.resolve())["commande"] == "recours run"
        assert read_holder(home.resolve())["pid"] == os.getpid()  # still held by the outer one
    assert not (home / HOLDER_NAME).exists()
    assert stat.S_IMODE(home.stat().st_mode) == 0o750  # created for the analysts' group to pass

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert holder.stdout.readline().strip() == b"tenu"
    with pytest.raises(HomeBusyError) as busy, home_lock(home, "recours purge", timeout=0):
        pass
    assert busy.value.holder["pid"] == holder.pid
    holder.send_signal(signal.SIGKILL)  # kill -9: no release, no cleanup
    holder.wait(timeout=SAFETY)
    assert read_holder(home.resolve())["pid"] == holder.pid  # its stale sidecar is still there
    with home_lock(home, "recours purge", timeout=0):
        assert read_holder(home.resolve())["commande"] == "recours purge"


def test_the_lock_timeout_is_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("RECOURS_LOCK_TIMEOUT", raising=False)
    assert lock_timeout() == 30.0
    monkeypatch.setenv("RECOURS_LOCK_TIMEOUT", "2,5")
    assert lock_timeout() == 2.5
    monkeypatch.setenv("RECOURS_LOCK_TIMEOUT", "demain")
    with pytest.raises(LockTimeoutError) as caught:
        lock_timeout()
    assert str(caught.value) == (
        "RECOURS_LOCK_TIMEOUT='demain' n'est pas un nombre de secondes positif ou nul : le "
        "corriger (par exemple RECOURS_LOCK_TIMEOUT=120) ou le retirer (30 s par défaut)"
    )


def test_a_writer_makes_an_old_home_private_and_cleans_debris(tmp_path):
    """A home written before umask 077 (0644 files, 0755 folders), with what a killed run left."""
    home = Home(tmp_path / "home")
    old = os.umask(0o022)
    try:
        for folder in (
            "pseudonymized/caf31/ALLOCATAIRES/20250630",
            "quarantine/cd31",
            "audit",
            "landing/caf31",
        ):
            (home.root / folder).mkdir(parents=True)
        (home.root / "landing" / "caf31").chmod(0o2775)  # the transfer account's group deposits
        files = [
            "landing/caf31/CAF31_ALLOCATAIRES_20250630.csv",
            "pseudonymized/caf31/ALLOCATAIRES/20250630/manifest.json",
            "quarantine/cd31/CD31_USAGERS_20250531.csv",
            "audit/journal.jsonl",
            "warehouse.duckdb",
            "warehouse.duckdb.en-cours",
            "published/recours.duckdb",
            "published/.recours.duckdb.0123abcd.tmp",
            "published/.indicateurs.csv.0123abcd.tmp",
            "published/.rapport_2025-06.html.0123abcd.tmp",  # a reader's: not this writer's
        ]
        (home.root / "published").mkdir()
        for name in files:
            (home.root / name).write_text("x", encoding="utf-8")
    finally:
        os.umask(old)

    with writing(home.root, "test"):
        assert os.umask(0o077) == 0o077  # the writer works under umask 077
        inside = {p.name for p in home.root.rglob("*")}

    assert "warehouse.duckdb.en-cours" not in inside
    assert ".recours.duckdb.0123abcd.tmp" not in inside
    assert ".indicateurs.csv.0123abcd.tmp" not in inside
    assert ".rapport_2025-06.html.0123abcd.tmp" in inside
    found = {
        str(p.relative_to(home.root)): f"{stat.S_IMODE(p.stat().st_mode):04o}"
        for p in sorted(home.root.rglob("*"))
    }
    assert found == {
        ".recours.lock": "0600",
        "audit": "0700",
        "audit/journal.jsonl": "0600",
        "landing": "0750",
        "landing/caf31": "2770",
        "landing/caf31/CAF31_ALLOCATAIRES_20250630.csv": "0600",
        "pseudonymized": "0700",
        "pseudonymized/caf31": "0700",
        "pseudonymized/caf31/ALLOCATAIRES": "0700",
        "pseudonymized/caf31/ALLOCATAIRES/20250630": "0700",
        "pseudonymized/caf31/ALLOCATAIRES/20250630/manifest.json": "0600",
        "published": "0750",
        "published/.rapport_2025-06.html.0123abcd.tmp": "0640",
        "published/recours.duckdb": "0640",
        "quarantine": "0700",
        "quarantine/cd31": "0700",
        "quarantine/cd31/CD31_USAGERS_20250531.csv": "0600",
        "warehouse.duckdb": "0600",
    }
    (home.root / "published").chmod(0o2755)  # setgid: new files take the analysts' group
    secure_home(home)
    assert stat.S_IMODE((home.root / "published").stat().st_mode) == 0o2750


def test_recours_run_refuses_a_key_file_others_can_read(tmp_path):
    home = tmp_path / "home"
    synthesize(home, persons=200, seed=1, period=PERIOD)
    key_file = tmp_path / "cle.hex"
    key_file.write_text(KEY + "\n", encoding="ascii")
    key_file.chmod(0o644)
    env = {"RECOURS_PSEUDO_KEY": "", "RECOURS_PSEUDO_KEY_FILE": str(key_file)}

    result = recours("run", "--home", str(home), env=env)

    assert result.returncode == 2
    assert flat(result.stdout + result.stderr) == (
        f"Erreur : la clé de pseudonymisation (RECOURS_PSEUDO_KEY_FILE) {key_file} est lisible "
        f"ou modifiable par d'autres comptes (mode 0644) : faire « chmod 600 {key_file} », puis, "
        "si d'autres comptes ont pu la lire, en changer (recours keys rotate)"
    )
    assert not (home / "pseudonymized").exists() and not (home / "audit").exists()


# In an Airflow-configured child: each writing task function of the DAGs, on a home another
# process holds, raises HomeBusyError (Airflow retries it: not AirflowFailException); and the
# ingest task refuses a key file others can read, at once (AirflowFailException).
DAG_TASKS = textwrap.dedent(
    """
    import importlib.util, json, os, sys

    def load(name):
        spec = importlib.util.spec_from_file_location(f"dag_{name}", f"{sys.argv[1]}/{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    ingest, crossing, retention = load("ingest"), load("crossing"), load("retention")
    out = {}

    import pipelines.keys.keyfile as keyfile
    from recours.lock import read_holder

    real_check = keyfile.check_key_file_env

    def spy(*args, **kwargs):  # who holds the home while the ingest task checks the key
        out["detenteur"] = read_holder(os.path.realpath(sys.argv[2]))["commande"]
        out["umask"] = os.umask(0o077)
        return real_check(*args, **kwargs)

    keyfile.check_key_file_env = spy
    for name, call in (
        ("ingest", lambda: ingest.run_ingest("caf31")),
        ("crossing", crossing.run_crossing),
        ("retention", retention.run_retention),
    ):
        try:
            call()
            out[name] = None
        except Exception as exc:
            out[name] = [type(exc).__name__, str(exc)]
    os.environ["RECOURS_HOME"] = sys.argv[2]
    os.environ["RECOURS_PSEUDO_KEY_FILE"] = sys.argv[3]
    try:
        ingest.run_ingest("caf31")
    except Exception as exc:
        out["cle"] = [type(exc).__name__, type(exc.__cause__).__name__, str(exc)]
    print("RESULT " + json.dumps(out, ensure_ascii=False))
    """
)


@pytest.mark.slow  # about 15 s: imports Airflow in a child
def test_the_dag_tasks_take_the_lock_and_refuse_an_open_key_file(tmp_path):
    busy_home, free_home = tmp_path / "occupe", tmp_path / "libre"
    key_file = tmp_path / "cle.hex"
    key_file.write_text(KEY + "\n", encoding="ascii")
    key_file.chmod(0o640)
    env = airflow_env(busy_home)
    env.update({"RECOURS_LOCK_TIMEOUT": "0"})
    env.pop("RECOURS_PSEUDO_KEY", None)
    env.pop("RECOURS_PSEUDO_KEY_FILE", None)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(busy_home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "tenu"
        child = subprocess.run(
            [sys.executable, "-c", DAG_TASKS, str(REPO / "dags"), str(free_home), str(key_file)],
            env=env,
            capture_output=True,
            text=True,
            timeout=SAFETY,
            check=False,
        )
    finally:
        holder.stdin.close()
        holder.wait(timeout=SAFETY)
    assert child.returncode == 0, child.stderr[-3000:]
    line = next(x for x in child.stdout.splitlines() if x.startswith("RESULT "))
    out = json.loads(line.removeprefix("RESULT "))
    who = f"pid {holder.pid} sur la machine {socket.gethostname()}"
    for dag in ("ingest", "crossing", "retention"):
        kind, message = out[dag]
        assert kind == "HomeBusyError", (dag, kind)  # retried by Airflow, not failed at once
        assert f"occupé par « test : détenteur » ({who}, depuis le" in message, dag
    assert out["detenteur"] == "Airflow ingest_caf31 (tâche ingest)"
    assert out["umask"] == 0o077
    kind, cause, message = out["cle"]
    assert (kind, cause) == ("AirflowFailException", "KeyFileTooOpen")
    assert message == (
        f"la clé de pseudonymisation (RECOURS_PSEUDO_KEY_FILE) {key_file} est lisible ou "
        f"modifiable par d'autres comptes (mode 0640) : faire « chmod 600 {key_file} », puis, "
        "si d'autres comptes ont pu la lire, en changer (recours keys rotate)"
    )
    assert not (free_home / "pseudonymized").exists()
    assert stat.S_IMODE((free_home / LOCK_NAME).stat().st_mode) == 0o600
