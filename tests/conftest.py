"""One synthetic Haute-Garonne for the whole session, built once by the project's own pipeline.

Why: modules each built a world of their own (``synthesize`` → ingest → crossing → publication)
to test what comes after it, paying the same seconds every time, while their tests only read the
result or change a copy of it. The ``world`` fixture builds it once per session with the real
generator and pipeline (``recours synth`` → ingest with a key → ``cross_and_publish`` → the
analysts' report and exports, as ``recours run`` does), once for all the xdist workers (the first
one builds it under a file lock, the others wait and reuse it). ``airflow_world`` does the same
through the real Airflow DAGs, for the slow tests that need them.

Read-only, loudly: the world is chmod'ed read-only once built (a test that writes into it fails
with a permission error for any account but root) and its every file is fingerprinted (path,
mode, size, SHA-256); at the end of the session the fingerprint is checked again, so a test that
wrote into it under root fails too. A test that must change a home works on
``world.copy_to(path)``, which restores the modes the pipeline gave (``copytree`` is a fraction
of a rebuild).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from recours.home import Home

WORLD_PERIOD = "2025-06"
WORLD_PERSONS = 1500
WORLD_SEED = 21
AIRFLOW_PERSONS, AIRFLOW_SEED = 2000, 11
_READ_ONLY_DIR, _READ_ONLY_FILE = 0o555, 0o444


@dataclass(frozen=True)
class World:
    """A home ingested, crossed and published for ``WORLD_PERIOD``, and the key it used."""

    root: Path
    key: str
    period: str = WORLD_PERIOD

    @property
    def home(self) -> Home:
        return Home(self.root)

    def results(self) -> dict:
        """What the DAGs handed back (``airflow_world`` only): ``{dag_id: XCom}``."""
        return json.loads((self.root.parent / "resultats.json").read_text(encoding="utf-8"))

    def modes(self) -> dict[str, int]:
        return json.loads((self.root.parent / "modes.json").read_text(encoding="utf-8"))

    def copy_to(self, target: Path, *, ignore: tuple[str, ...] = ()) -> Home:
        """A writable copy, with the modes and modification times the pipeline left."""
        shutil.copytree(
            self.root, target, ignore=shutil.ignore_patterns(*ignore) if ignore else None
        )
        modes = self.modes()
        # deepest first, so that a directory is made private only after its files are done
        for relative in sorted(modes, key=lambda r: r.count("/"), reverse=True):
            path = target / relative if relative != "." else target
            if path.exists():
                path.chmod(modes[relative])
        return Home(target)


def _fingerprint(root: Path) -> dict[str, list]:
    found: dict[str, list] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        relative = str(path.relative_to(root))
        if stat.S_ISDIR(info.st_mode):
            found[relative] = [stat.S_IMODE(info.st_mode)]
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[relative] = [stat.S_IMODE(info.st_mode), info.st_size, digest]
    return found


def _build(base: Path) -> None:
    """synth → ingest (every delivery accepted) → cross and publish → report and exports."""
    from pipelines.cycle import cross_and_publish
    from pipelines.ingest.run import ingest_all
    from pipelines.report import report_and_exports
    from synth import synthesize

    root = base / "home"
    key = os.urandom(32).hex()
    synthesize(root, persons=WORLD_PERSONS, seed=WORLD_SEED, period=WORLD_PERIOD)
    home = Home(root)
    previous = os.umask(0o077)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("RECOURS_PSEUDO_KEY", key)
            patch.delenv("RECOURS_PSEUDO_KEY_FILE", raising=False)
            outcomes = ingest_all(home)
            assert {o.status for o in outcomes} == {"acceptee"}, [o.summary() for o in outcomes]
            cross_and_publish(home, WORLD_PERIOD)
        report_and_exports(home.published, WORLD_PERIOD)
    finally:
        os.umask(previous)
    _write_key(base, key)


def _write_key(base: Path, key: str) -> None:
    key_file = base / "cle.hex"
    key_file.write_text(key, encoding="ascii")
    key_file.chmod(0o600)


def _build_airflow(base: Path) -> None:
    """synth → the real ingest DAGs, then the crossing DAG, with ``dag.test()`` on one SQLite
    Airflow under ``<home>/airflow`` (as ``recours demo``), the key as the Airflow Variable."""
    from app.airflow_runner import run_ingest_dags
    from synth import synthesize

    root = base / "home"
    key = os.urandom(32).hex()
    synthesize(root, persons=AIRFLOW_PERSONS, seed=AIRFLOW_SEED, period=WORLD_PERIOD)
    results = run_ingest_dags(root, key_hex=key, crossing=True)
    # counts only (the XComs): kept beside the home for the tests that check them
    (base / "resultats.json").write_text(json.dumps(results), encoding="utf-8")
    _write_key(base, key)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """The session's synthetic world (read-only: copy it with ``world.copy_to`` to change it)."""
    built = _shared_world(tmp_path_factory, "monde", _build)
    yield built
    _check_untouched(built)


@pytest.fixture(scope="session")
def airflow_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A synthetic home run through the real Airflow DAGs (ingest and crossing), read-only;
    ``airflow_world.results()`` are the DAGs' XComs. Used by slow tests only."""
    built = _shared_world(tmp_path_factory, "monde_airflow", _build_airflow)
    yield built
    _check_untouched(built)


def _shared_world(factory: pytest.TempPathFactory, name: str, build) -> World:
    """Build ``name`` once for every xdist worker of the session, under a file lock."""
    shared = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every worker's base temp is in a common folder
        shared = shared.parent
    base = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        if not (base / "pret").exists():
            if base.exists():  # a build interrupted in another worker: start again
                for path in [base, *base.rglob("*")]:
                    if path.is_dir():
                        path.chmod(0o700)
                shutil.rmtree(base)
            base.mkdir()
            build(base)
            _seal(base)
    return World(base / "home", (base / "cle.hex").read_text(encoding="ascii"))


def _seal(base: Path) -> None:
    """Record the modes the pipeline gave, make everything read-only, fingerprint it."""
    root = base / "home"
    modes = {".": stat.S_IMODE(root.stat().st_mode)}
    modes |= {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}
    (base / "modes.json").write_text(json.dumps(modes), encoding="utf-8")
    for path in [*root.rglob("*"), root]:
        path.chmod(_READ_ONLY_DIR if path.is_dir() else _READ_ONLY_FILE)
    (base / "fingerprint.json").write_text(json.dumps(_fingerprint(root)), encoding="utf-8")
    (base / "pret").write_text("", encoding="ascii")  # written last: the world is complete


def _check_untouched(built: World) -> None:
    base = built.root.parent
    expected = json.loads((base / "fingerprint.json").read_text(encoding="utf-8"))
    changed = _fingerprint(built.root)
    if changed != expected:
        differ = sorted(
            k for k in expected.keys() | changed.keys() if expected.get(k) != changed.get(k)
        )
        pytest.fail(
            f"the session's world {built.root} was written to by a test (it is read-only; "
            f"use world.copy_to): {differ[:20]}",
            pytrace=False,
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules holding slow tests first, each module's tests in their own order: xdist
    (``--dist loadscope``) hands modules out in collection order, and a long module started
    last would keep one core busy while the others sit idle."""
    slow = {i.nodeid.split("::")[0] for i in items if i.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)
