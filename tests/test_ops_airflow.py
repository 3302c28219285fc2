"""Airflow as a data team runs it (issue 11, item 6): ``ops/airflow-standalone.sh`` starts and
stops cleanly, the project's DAGs are active from creation, and every DAG runs end to end under
the real Airflow on a synthetic home.

Why the start/stop tests use a stand-in for ``airflow standalone``: the real one takes minutes to
come up on two loaded cores. The stand-in leaves behind exactly what makes orphans (a child in
its own process group like Airflow's task supervisors, an orphan whose parent is gone, a process
deaf to SIGTERM, a leader that exits on SIGTERM without stopping its children), so the script's
stop logic is tested where it can fail; the real one is started and stopped by an opt-in test
(``RECOURS_TEST_STANDALONE=1``). Airflow itself runs in the slow tests, in child processes only
(see tests/test_airflow_dags.py for why).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest

from app.airflow_runner import airflow_env, airflow_home
from app.dag_callbacks import FAILURE_EVENT
from recours.audit_log import read_events
from recours.home import Home

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "ops" / "airflow-standalone.sh"
AIRFLOW = REPO_ROOT / ".venv" / "bin" / "airflow"
CONVENTIONS = sorted(
    p.stem for p in (REPO_ROOT / "conventions").glob("*.yaml") if not p.stem.startswith("_")
)
PROJECT_DAGS = sorted([*(f"ingest_{c}" for c in CONVENTIONS), "crossing", "retention"])

FAKE_STANDALONE = r"""#!/usr/bin/env bash
# Stand-in for `airflow standalone`: leaves behind what the real one can.
set -u
[ "$1" = standalone ] || exit 64
sleep 1000 & pids="$!"
set -m; sleep 1000 & pids="$pids $!"; set +m             # its own process group
( sleep 1000 & echo "$!" >"$FAKE_DIR/orphan" )           # its parent is gone at once
pids="$pids $(cat "$FAKE_DIR/orphan")"
( trap '' TERM; exec sleep 1000 ) & pids="$pids $!"      # deaf to SIGTERM
echo "$$ $pids" >"$FAKE_DIR/pids.tmp" && mv "$FAKE_DIR/pids.tmp" "$FAKE_DIR/pids"
trap 'exit 0' TERM                                       # leaves every child behind
while :; do sleep 0.1 & wait "$!"; done                 # a trapped signal ends wait
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    """A process that still runs (a zombie has ended: only its exit status is left)."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return line.rsplit(")", 1)[1].split()[0] != "Z"


def _session_processes(sid: int) -> list[int]:
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1]
        except OSError:
            continue
        state, _ppid, _pgrp, session = fields.split()[:4]
        if int(session) == sid and state != "Z":
            found.append(int(stat_file.parent.name))
    return found


class Ops:
    """The ops script on a throw-away home, with the stand-in as its ``airflow``."""

    def __init__(self, tmp_path: Path, **extra: str) -> None:
        self.dir = tmp_path
        fake = tmp_path / "bin" / "airflow"
        fake.parent.mkdir()
        fake.write_text(FAKE_STANDALONE, encoding="utf-8")
        fake.chmod(0o755)
        self.home = tmp_path / "home"
        self.airflow_home = self.home / "airflow"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECOURS"))}
        self.env.update(
            RECOURS_HOME=str(self.home),
            RECOURS_AIRFLOW_BIN=str(fake),
            RECOURS_AIRFLOW_PORT=str(_free_port()),
            RECOURS_AIRFLOW_STOP_GRACE="1",
            FAKE_DIR=str(tmp_path),
            **extra,
        )
        self.launcher: subprocess.Popen[str] | None = None
        self.pids: list[int] = []

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def start(self) -> None:
        """Launch the script in the foreground (as ``make airflow`` does) and wait until the
        stand-in's processes and the script's pid file are all there."""
        self.launcher = subprocess.Popen(
            [str(SCRIPT)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        pids, pid_file = self.dir / "pids", self.airflow_home / "standalone.pid"
        deadline = time.monotonic() + 60
        while not (pids.exists() and pid_file.exists()):
            assert self.launcher.poll() is None, self.launcher.communicate()[0]
            assert time.monotonic() < deadline, "the stand-in never started"
            time.sleep(0.05)
        self.pids = [int(p) for p in pids.read_text(encoding="ascii").split()]
        assert all(_alive(p) for p in self.pids)

    @property
    def leader(self) -> int:
        return self.pids[0]

    def finish(self) -> tuple[int, str]:
        assert self.launcher is not None
        output, _ = self.launcher.communicate(timeout=60)
        return self.launcher.returncode, output

    def cleanup(self) -> None:
        """Whatever a failed test left: only the processes this test started, by pid."""
        for pid in self.pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self.launcher is not None and self.launcher.poll() is None:
            self.launcher.kill()
            self.launcher.wait()


@pytest.fixture
def ops(tmp_path):
    runner = Ops(tmp_path)
    yield runner
    runner.cleanup()


def test_stop_ends_every_process_of_the_session_orphans_and_deaf_ones_included(ops):
    ops.start()
    assert len(_session_processes(ops.leader)) >= 5  # leader, four children, its sleep loop
    status = ops.run("status")
    assert status.returncode == 0
    assert f"Airflow tourne pour {ops.airflow_home} (session {ops.leader}," in status.stdout

    stop = ops.run("stop")

    assert stop.returncode == 0, stop.stderr
    assert "Airflow arrêté, aucun processus restant." in stop.stderr
    assert [p for p in ops.pids if _alive(p)] == []
    assert _session_processes(ops.leader) == []
    code, output = ops.finish()
    assert code == 0, output  # the launcher saw Airflow end and left too
    # The one deaf to SIGTERM needed SIGKILL, from `stop` or from the launcher's own sweep.
    assert "processus encore là après 1 s : SIGKILL." in stop.stderr + output
    assert not (ops.airflow_home / "standalone.pid").exists()
    after = ops.run("status")
    assert after.returncode == 3
    assert after.stdout.strip() == f"recours : Airflow ne tourne pas pour {ops.airflow_home}."
    again = ops.run("stop")
    assert again.returncode == 0
    assert "rien à arrêter" in again.stdout


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_to_the_launcher_stops_the_whole_session(ops, sig, code):
    ops.start()
    assert ops.launcher is not None

    ops.launcher.send_signal(sig)

    returncode, output = ops.finish()
    assert returncode == code, output
    assert "Airflow arrêté, aucun processus restant." in output
    assert [p for p in ops.pids if _alive(p)] == []
    assert _session_processes(ops.leader) == []
    assert not (ops.airflow_home / "standalone.pid").exists()


def test_after_a_kill_9_of_the_launcher_stop_still_ends_everything(ops):
    ops.start()
    assert ops.launcher is not None
    ops.launcher.kill()
    ops.launcher.wait()
    assert all(_alive(p) for p in ops.pids)  # the session outlives its launcher...

    stop = ops.run("stop")

    assert stop.returncode == 0, stop.stderr
    assert [p for p in ops.pids if _alive(p)] == []  # ...but not `stop`


def test_a_second_start_is_refused_while_one_runs(ops):
    ops.start()

    second = ops.run("start")

    assert second.returncode == 1
    assert f"Airflow tourne déjà pour {ops.airflow_home} (session {ops.leader})" in second.stderr
    assert "ops/airflow-standalone.sh stop" in second.stderr
    assert all(_alive(p) for p in ops.pids)  # the running one is untouched
    assert ops.run("stop").returncode == 0


def test_a_stale_pid_file_never_makes_stop_kill_another_process(ops):
    """The recorded session id now belongs to an unrelated session leader (the pid was
    reused): its start time differs, so neither `status` nor `stop` touches it."""
    other = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        ops.airflow_home.mkdir(parents=True)
        (ops.airflow_home / "standalone.pid").write_text(f"{other.pid} 1\n", encoding="ascii")

        assert ops.run("status").returncode == 3
        stop = ops.run("stop")

        assert stop.returncode == 0
        assert "rien à arrêter" in stop.stdout
        assert _alive(other.pid)
    finally:
        other.kill()
        other.wait()


def test_the_password_file_and_airflow_home_are_private_and_the_password_never_shown(ops):
    ops.start()
    passwords = ops.airflow_home / "simple_auth_manager_passwords.json.generated"
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    assert stat.S_IMODE(ops.airflow_home.stat().st_mode) == 0o700
    content = json.loads(passwords.read_text(encoding="ascii"))
    assert list(content) == ["admin"] and len(content["admin"]) == 24
    assert ops.run("stop").returncode == 0
    _, output = ops.finish()
    assert str(passwords) in output  # the script says where it is...
    assert content["admin"] not in output  # ...never what it is


def test_an_existing_world_readable_password_file_is_made_private_and_kept(ops):
    ops.airflow_home.mkdir(parents=True, mode=0o755)
    passwords = ops.airflow_home / "simple_auth_manager_passwords.json.generated"
    passwords.write_text('{"admin": "ancien-mot-de-passe"}\n', encoding="ascii")
    passwords.chmod(0o644)
    (ops.airflow_home / "airflow.db").write_bytes(b"")
    (ops.airflow_home / "airflow.db").chmod(0o644)

    ops.start()

    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    assert passwords.read_text(encoding="ascii") == '{"admin": "ancien-mot-de-passe"}\n'
    assert stat.S_IMODE((ops.airflow_home / "airflow.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(ops.airflow_home.stat().st_mode) == 0o700
    assert ops.run("stop").returncode == 0


def test_a_port_already_taken_is_refused_before_anything_starts(ops):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(ops.env["RECOURS_AIRFLOW_PORT"])))
        busy.listen()
        start = ops.run("start")
    assert start.returncode == 1
    port = ops.env["RECOURS_AIRFLOW_PORT"]
    assert f"le port {port} de 127.0.0.1 est déjà pris" in start.stderr
    assert "RECOURS_AIRFLOW_PORT=" in start.stderr
    assert not (ops.dir / "pids").exists()


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("RECOURS_AIRFLOW_WORKERS", "0", "RECOURS_AIRFLOW_WORKERS=0 n'est pas un nombre entier"),
        ("RECOURS_AIRFLOW_STOP_GRACE", "vite", "RECOURS_AIRFLOW_STOP_GRACE=vite n'est pas"),
        ("RECOURS_AIRFLOW_PORT", "http", "RECOURS_AIRFLOW_PORT=http n'est pas un numéro de port"),
        ("RECOURS_PSEUDO_KEY_FILE", "/nulle/part/cle.hex", "/nulle/part/cle.hex n'existe pas"),
    ],
)
def test_a_bad_setting_is_refused_in_french(ops, setting, value, message):
    ops.env[setting] = value
    result = ops.run("start")
    assert result.returncode == 2
    assert message in result.stderr
    assert not (ops.dir / "pids").exists()


def test_an_unknown_command_lists_the_known_ones(ops):
    result = ops.run("restart")
    assert result.returncode == 2
    assert "commande inconnue « restart » : start, stop, status, pause, unpause" in result.stderr


def test_every_subcommand_and_setting_of_the_script_is_documented():
    script = SCRIPT.read_text(encoding="utf-8")
    header = script.split("\nset -euo pipefail", 1)[0]
    guide = (REPO_ROOT / "docs" / "exploitation.md").read_text(encoding="utf-8")
    dispatch = script[script.rindex('case "${1:-start}" in') :]
    subcommands = re.findall(r"^ +([a-z-]+)\) cmd_", dispatch, flags=re.MULTILINE)
    assert sorted(subcommands) == ["--check", "pause", "start", "status", "stop", "unpause"]
    for subcommand in subcommands:
        assert f"ops/airflow-standalone.sh {subcommand}" in header or subcommand == "start"
        spelled = (f"`{subcommand}`", f"`ops/airflow-standalone.sh {subcommand}`")
        assert any(s in guide for s in spelled) or subcommand == "start", subcommand
    settings = set(re.findall(r"\bRECOURS_AIRFLOW_[A-Z_]+", script))
    assert settings == {f"RECOURS_AIRFLOW_{s}" for s in ("BIN", "PORT", "WORKERS", "STOP_GRACE")}
    for setting in settings:
        assert f"#   {setting} " in header, setting
        assert setting in guide or setting == "RECOURS_AIRFLOW_BIN", setting


# --- the real Airflow --------------------------------------------------------------------------


def _dag_table(home: Path) -> dict[str, int]:
    database = airflow_home(home) / "airflow.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:  # never creates it
        return dict(conn.execute("SELECT dag_id, is_paused FROM dag").fetchall())


def _listeners(port: int) -> set[str]:
    """Local addresses (hex, as the kernel writes them) listening on ``port``, IPv4 and IPv6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text(encoding="ascii").splitlines()[1:]:
            local, _remote, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def _commands(pids: list[int]) -> list[str]:
    commands = []
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        commands.append(raw.replace(b"\0", b" ").decode(errors="replace").strip())
    return commands


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("RECOURS_TEST_STANDALONE") != "1",
    reason="the real `airflow standalone` takes 2 minutes or more to come up on 2 cores; "
    "RECOURS_TEST_STANDALONE=1 to run it (the stand-in tests above cover the stop logic)",
)
def test_the_real_standalone_is_sized_private_active_and_stops_with_no_orphan(tmp_path):
    """Opt-in: what only the real Airflow can show. Its LocalExecutor forks exactly
    ``RECOURS_AIRFLOW_WORKERS`` workers, its API listens on 127.0.0.1 alone, its dag-processor
    registers every project DAG active, the password it uses is 0600 and never printed, and
    `stop` leaves none of its processes (components, workers, log servers) behind."""
    home, port = tmp_path / "home", _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECOURS"))}
    env.update(
        RECOURS_HOME=str(home),
        RECOURS_AIRFLOW_PORT=str(port),
        RECOURS_AIRFLOW_BIN=str(AIRFLOW),
        RECOURS_AIRFLOW_WORKERS="1",  # not the core count: the setting must reach Airflow
    )
    log = tmp_path / "standalone.log"
    with log.open("w", encoding="utf-8") as out:
        launcher = subprocess.Popen(
            [str(SCRIPT)], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    pid_file = airflow_home(home) / "standalone.pid"
    sid = 0
    try:
        # Up means: every project DAG parsed and registered, the executor's workers forked, the
        # API answering. Polled, with a deadline for a loaded machine (nothing is timed).
        deadline = time.monotonic() + 600
        while True:
            assert launcher.poll() is None, log.read_text(encoding="utf-8")[-3000:]
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")[-3000:]
            if pid_file.exists() and not sid:
                sid = int(pid_file.read_text(encoding="ascii").split()[0])
            workers = (
                [c for c in _commands(_session_processes(sid)) if "LocalExecutor" in c]
                if sid
                else []
            )
            try:
                dags = _dag_table(home)
            except sqlite3.Error:  # no database, or no table yet, or busy: not up yet
                dags = {}
            if len(workers) == 1 and set(PROJECT_DAGS) <= set(dags) and _listeners(port):
                break
            time.sleep(1)

        assert {d: dags[d] for d in PROJECT_DAGS} == dict.fromkeys(PROJECT_DAGS, 0)
        assert _listeners(port) == {"0100007F"}  # 127.0.0.1 only, never 0.0.0.0 or ::
        passwords = airflow_home(home) / "simple_auth_manager_passwords.json.generated"
        assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
        assert json.loads(passwords.read_text(encoding="ascii"))["admin"] not in log.read_text(
            encoding="utf-8"
        )
        running = _session_processes(sid)
        assert len(running) >= 8  # standalone, its four components, workers, log servers

        stop = subprocess.run(
            [str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=300
        )

        assert stop.returncode == 0, stop.stderr
        assert _session_processes(sid) == []
        assert [p for p in running if _alive(p)] == []
        assert launcher.wait(timeout=60) == 0
    finally:
        if launcher.poll() is None:
            subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=300)
            launcher.kill()
            launcher.wait()


@pytest.mark.slow  # 2 to 3 minutes: five ingests, the crossing and its report, the retention
def test_every_dag_runs_under_the_real_airflow_on_a_synthetic_home(airflow_world, tmp_path):
    """The ingest DAGs and the crossing with ``dag.test()`` (as ``recours demo``: the session's
    ``airflow_world``, tests/conftest.py, on a copy of which the rest runs), the retention with
    ``airflow dags test``, all on one SQLite Airflow under ``<home>/airflow``, the key passed as
    the Variable ``recours_pseudo_key_secret``; then the ops script pauses and unpauses the
    project's DAGs in that same database."""
    home = airflow_world.copy_to(tmp_path / "home").root
    key_hex = airflow_world.key

    results = airflow_world.results()
    crossing = results.pop("crossing")
    retention = subprocess.run(
        [str(AIRFLOW), "dags", "test", "retention"],
        env=airflow_env(home, key_hex=key_hex),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert sorted(results) == [f"ingest_{c}" for c in CONVENTIONS]
    assert {s["status"] for summaries in results.values() for s in summaries} == {"acceptee"}
    assert crossing["periode"] == "2025-06"
    assert retention.returncode == 0, retention.stdout[-3000:] + retention.stderr[-3000:]
    with sqlite3.connect(airflow_home(home) / "airflow.db") as conn:
        states = sorted(conn.execute("SELECT dag_id, task_id, state FROM task_instance"))
    assert states == sorted(
        [
            *((f"ingest_{c}", "ingest", "success") for c in CONVENTIONS),
            ("crossing", "croiser_et_publier", "success"),
            ("crossing", "rapport", "success"),
            ("retention", "purger", "success"),
        ]
    )
    published = Home(home).published
    assert (published / "recours.duckdb").is_file()
    assert (published / "rapport_2025-06.html").is_file()
    events = read_events(Home(home).audit)
    assert [e for e in events if e["evenement"] == FAILURE_EVENT] == []
    for path in home.rglob("*"):
        if path.is_file() and "landing" not in path.parts:
            assert key_hex.encode() not in path.read_bytes(), path

    # Active from creation: nobody has to unpause anything in the UI.
    assert _dag_table(home) == dict.fromkeys(PROJECT_DAGS, 0)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "RECOURS"))}
    env.update(RECOURS_HOME=str(home), RECOURS_AIRFLOW_BIN=str(AIRFLOW))
    for command, paused in (("pause", 1), ("unpause", 0)):
        done = subprocess.run(
            [str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert _dag_table(home) == dict.fromkeys(PROJECT_DAGS, paused), command
