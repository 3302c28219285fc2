"""Retention on a real run: the status per convention, the purge (exactly what is past its
convention's limit, the dry run listing the same), what it rebuilds, and a convention that ends:
its ingest stops and its indicators are skipped."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from publication_stub import PublicationStub

from pipelines.crossing.indicators import load_catalogue
from pipelines.crossing.run import NothingToCrossError
from pipelines.cycle import cross_and_publish
from pipelines.ingest.run import ingest_all
from pipelines.retention import plan_purge, purge, retention_status
from recours.audit_log import read_events, verify_chain
from recours.convention_events import record_convention_changes
from recours.conventions import REPO_CONVENTIONS, load_conventions
from recours.home import Home
from synth import synthesize

PERIOD = "2025-06"
RAW = {
    "caf31": "landing/caf31/CAF31_ALLOCATAIRES_20250630.csv",
    "carsatmp": "landing/carsatmp/CARSATMP_RETRAITES_20250630.txt",
    "cd31": "landing/cd31/CD31_USAGERS_20250630.csv",
    "cpam31": "landing/cpam31/CPAM31_CSS_20250630.csv",
    "ftocc": "landing/ftocc/FTOCC_DEMANDEURS_20250630.xlsx",
}
REFUSED = "quarantine/cpam31/CPAM31_CSS_20250615.csv"
PENDING = "landing/caf31/CAF31_ALLOCATAIRES_20250701.csv"
CAF_DELIVERY = "pseudonymized/caf31/ALLOCATAIRES/20250630"
FT_DELIVERY = "pseudonymized/ftocc/DEMANDEURS/20250630"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("RECOURS_PSEUDO_KEY", os.urandom(32).hex())
    monkeypatch.delenv("RECOURS_PSEUDO_KEY_FILE", raising=False)


@pytest.fixture(autouse=True)
def publication(monkeypatch) -> PublicationStub:
    """The crossing runs for real; its publication step is recorded, not run (see the stub)."""
    return PublicationStub().install(monkeypatch)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Home, date]:
    """A run of 2025-06: five accepted deliveries, one refused (empty file), then one file
    dropped after the run and never processed. Returns the home and the day of the run."""
    home = Home(tmp_path_factory.mktemp("retention"))
    synthesize(home.root, persons=1500, seed=7, period=PERIOD)
    (home.root / "landing/cpam31/CPAM31_CSS_20250615.csv").write_bytes(b"")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECOURS_PSEUDO_KEY", os.urandom(32).hex())
        outcomes = ingest_all(home)
        assert sorted(o.status for o in outcomes) == ["acceptee"] * 5 + ["refusee"]
        PublicationStub().install(patch)
        cross_and_publish(home, PERIOD)
    shutil.copy2(home.root / RAW["caf31"], home.root / PENDING)
    return home, datetime.now(UTC).date()


@pytest.fixture
def copy(base, tmp_path) -> tuple[Home, date]:
    """A copy of the run (modification times kept) that a test may purge."""
    home, day = base
    target = tmp_path / "home"
    shutil.copytree(home.root, target)
    return Home(target), day


def backdate_delivery(home: Home, folder: str, day: date) -> None:
    manifest = home.root / folder / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["recue_le"] = datetime(day.year, day.month, day.day, 9, tzinfo=UTC).isoformat()
    manifest.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def backdate_file(home: Home, relative: str, day: date) -> None:
    stamp = datetime(day.year, day.month, day.day, 9, tzinfo=UTC).timestamp()
    os.utime(home.root / relative, (stamp, stamp))


def listing(home: Home) -> set[str]:
    """Every file of the zones retention is about (the journal and Airflow excepted)."""
    return {
        str(p.relative_to(home.root))
        for zone in ("landing", "quarantine", "pseudonymized")
        for p in (home.root / zone).rglob("*")
        if p.is_file()
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- status ------------------------------------------------------------------------------


def test_status_gives_the_oldest_file_of_each_zone_against_its_limit(copy):
    home, day = copy
    backdate_file(home, PENDING, day - timedelta(days=10))
    backdate_delivery(home, FT_DELIVERY, day - timedelta(days=395))
    today = day + timedelta(days=30)

    items = retention_status(home, load_conventions(), today)

    got = {
        (i.convention, i.zone): (i.path, i.oldest, i.age_days, i.limit_days, i.overdue)
        for i in items
    }
    deliveries = {c: f"pseudonymized/{c}/{d}/20250630" for c, d in [
        ("caf31", "ALLOCATAIRES"), ("carsatmp", "RETRAITES"), ("cd31", "USAGERS"),
        ("cpam31", "CSS"), ("ftocc", "DEMANDEURS"),
    ]}  # fmt: skip
    expected = {}
    for convention in ("caf31", "carsatmp", "cd31", "cpam31", "ftocc"):
        expected[(convention, "landing")] = (RAW[convention], day, 30, 30, True)
        expected[(convention, "pseudonymized")] = (deliveries[convention], day, 30, 395, False)
    # The file nobody processed is the oldest raw file of the CAF: overdue, shown, never purged.
    expected[("caf31", "landing")] = (PENDING, day - timedelta(days=10), 40, 30, True)
    # A delivery's raw file is at least as old as the recorded ingestion of that delivery.
    old = day - timedelta(days=395)
    expected[("ftocc", "landing")] = (RAW["ftocc"], old, 425, 30, True)
    expected[("ftocc", "pseudonymized")] = (FT_DELIVERY, old, 425, 395, True)
    assert got == expected
    assert [(i.convention, i.zone) for i in items] == sorted(expected)
    counts = {(i.convention, i.zone): i.count for i in items}
    assert counts[("caf31", "landing")] == 2 and counts[("cpam31", "landing")] == 2
    assert counts[("ftocc", "landing")] == 1 and counts[("ftocc", "pseudonymized")] == 1


# --- purge -------------------------------------------------------------------------------


def test_purge_deletes_exactly_what_is_past_retention_and_dry_run_lists_the_same(copy):
    home, day = copy
    conventions = load_conventions()
    assert plan_purge(home, conventions, day + timedelta(days=29)) == []  # nothing is due yet
    backdate_delivery(home, CAF_DELIVERY, day - timedelta(days=395))
    today = day + timedelta(days=30)
    expected = {*RAW.values(), REFUSED, CAF_DELIVERY}
    before = listing(home)
    checksums = {path: sha256(home.root / path) for path in [*RAW.values(), REFUSED]}
    checksums[CAF_DELIVERY] = sha256(home.root / CAF_DELIVERY / "caf31_allocataires.parquet")
    journal = (home.audit / "journal.jsonl").read_bytes()

    dry = purge(home, conventions, today, dry_run=True)

    assert {d.path for d in dry.deletions} == expected
    assert listing(home) == before  # a dry run deletes nothing...
    assert (home.audit / "journal.jsonl").read_bytes() == journal  # ...and logs nothing
    assert home.warehouse.exists()

    done = purge(home, conventions, today, dry_run=False)

    assert done.deletions == dry.deletions
    deleted = {d.path for d in done.deletions}
    sidecars = {s for d in done.deletions for s in d.also}
    assert sidecars == {f"{REFUSED}.motif.txt", f"{REFUSED}.motif.json"}
    delivery_files = {p for p in before if p.startswith(CAF_DELIVERY + "/")}
    assert listing(home) == before - deleted - sidecars - delivery_files
    assert PENDING in listing(home)  # never processed: never deleted
    events = [e for e in read_events(home.audit) if e["evenement"] == "purge"]
    assert {e["quoi"]: e["sha256"] for e in events} == checksums
    assert all(e["pourquoi"] and e["date_purge"] == today.isoformat() for e in events)
    caf = next(e for e in events if e["quoi"] == CAF_DELIVERY)
    assert caf["sha256_livraison"] == checksums[RAW["caf31"]]
    assert verify_chain(home.audit)[0]


def test_purge_removes_the_warehouse_built_on_a_purged_delivery(copy):
    home, day = copy
    backdate_delivery(home, CAF_DELIVERY, day - timedelta(days=395))

    report = purge(home, load_conventions(), day + timedelta(days=1), dry_run=False)

    assert {d.path for d in report.deletions} == {CAF_DELIVERY, RAW["caf31"]}
    assert report.warehouse_removed and not home.warehouse.exists()
    # No complete period is left without the CAF: nothing to rebuild from, and it says why.
    assert report.recrossed_period is None and "caf31" in report.rebuild_skipped
    assert report.affected_publications == [PERIOD]
    rebuild = read_events(home.audit)[-1]
    assert rebuild["evenement"] == "purge_reconstruction"
    assert rebuild["periodes_publiees_concernees"] == [PERIOD]
    assert not any(p.is_file() for p in (home.root / "pseudonymized" / "caf31").rglob("*"))


def test_a_file_never_processed_is_never_purged(copy):
    home, day = copy

    report = purge(home, load_conventions(), day + timedelta(days=10_000), dry_run=False)

    assert listing(home) == {PENDING}
    assert {d.zone for d in report.deletions} == {"landing", "pseudonymized"}
    assert len(report.deletions) == len(RAW) + 1 + len(RAW)


# --- a convention that ends ----------------------------------------------------------------


def expired_caf(tmp_path: Path, last_day: str) -> Path:
    folder = tmp_path / "conventions"
    shutil.copytree(REPO_CONVENTIONS, folder)
    path = folder / "caf31.yaml"
    text, count = re.subn(r"valid_to: \d{4}-\d\d-\d\d", f"valid_to: {last_day}", path.read_text())
    assert count == 1
    path.write_text(text, encoding="utf-8")
    return folder


def test_an_expired_convention_stops_its_ingest_and_skips_its_indicators(tmp_path):
    home = Home(tmp_path / "home")
    synthesize(home.root, persons=1500, seed=8, period=PERIOD)
    conventions_dir = expired_caf(tmp_path, "2025-06-29")  # the extraction is of 2025-06-30

    outcomes = {o.convention: o for o in ingest_all(home, conventions_dir)}
    # every indicator of catalogue v1 rests on the CAF: nothing can be computed, and the
    # crossing says why for each instead of publishing an empty period
    with pytest.raises(NothingToCrossError) as caught:
        cross_and_publish(home, PERIOD, conventions_dir)
    summary = caught.value

    caf = outcomes.pop("caf31")
    assert (caf.status, caf.rule) == ("refusee", "convention_hors_validite")
    assert (home.quarantine / "caf31" / "CAF31_ALLOCATAIRES_20250630.csv").exists()
    assert not (home.pseudonymized / "caf31").exists()
    assert {o.status for o in outcomes.values()} == {"acceptee"}
    with_caf = sorted(i.id for i in load_catalogue().values() if "caf31" in i.sources)
    assert with_caf  # the catalogue has indicators resting on the CAF
    assert summary.skipped == {i: "convention caf31 pas en vigueur au 30/06/2025" for i in with_caf}
    assert set(with_caf) == set(load_catalogue())
    expiries = [e for e in read_events(home.audit) if e["evenement"] == "convention_expiree"]
    assert [(e["convention"], e["valide_au"]) for e in expiries] == [("caf31", "2025-06-29")]


def test_indicators_stop_from_the_period_after_the_end_even_with_data_in_hand(base, tmp_path):
    home, _ = base
    target = Home(tmp_path / "home")
    shutil.copytree(home.root, target.root)
    conventions_dir = expired_caf(tmp_path, "2025-06-29")

    with pytest.raises(NothingToCrossError) as caught:
        cross_and_publish(target, PERIOD, conventions_dir)

    skipped = {i for i, why in caught.value.skipped.items() if "caf31 pas en vigueur" in why}
    assert skipped == {i.id for i in load_catalogue().values() if "caf31" in i.sources}


def test_convention_events_record_additions_amendments_and_expiry_once(tmp_path):
    audit = tmp_path / "audit"
    folder = tmp_path / "conventions"
    shutil.copytree(REPO_CONVENTIONS, folder)
    today = date(2026, 1, 1)

    first = record_convention_changes(audit, load_conventions(folder), folder, today)
    again = record_convention_changes(audit, load_conventions(folder), folder, today)
    path = folder / "cpam31.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# avenant n° 1\n", encoding="utf-8")
    amended = record_convention_changes(audit, load_conventions(folder), folder, today)
    later = record_convention_changes(audit, load_conventions(folder), folder, date(2031, 1, 1))

    assert sorted(e["convention"] for e in first) == sorted(load_conventions(folder))
    assert {e["evenement"] for e in first} == {"convention_ajoutee"}
    assert again == []
    assert [(e["evenement"], e["convention"]) for e in amended] == [
        ("convention_modifiee", "cpam31")
    ]
    assert (
        amended[0]["sha256_precedent"]
        == first[[e["convention"] for e in first].index("cpam31")]["sha256"]
    )
    assert {e["evenement"] for e in later} == {"convention_expiree"}
    assert len(later) == len(first)  # every convention of the repository ends before 2031
    assert (
        record_convention_changes(audit, load_conventions(folder), folder, date(2031, 1, 2)) == []
    )
