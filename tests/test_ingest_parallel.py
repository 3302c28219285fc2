"""Ingest over several processes: the same outcomes, files and journal as one process.

The deliveries of one synthetic département, plus a refused one, go through ``ingest_all`` once
in this process and once spread over two worker processes (really spawned, with Great
Expectations and presidio loaded in each), on two copies of the same landing/ with the same key.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.ingest.run import MANIFEST, ingest_all
from recours.audit_log import read_events, verify_chain
from recours.home import Home
from synth import synthesize

pytestmark = pytest.mark.slow

CHAINING = ("seq", "horodatage", "precedent", "hash")


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    """Five generated deliveries, and a sixth file in caf31 whose name matches no dataset."""
    base = tmp_path_factory.mktemp("parallele")
    synthesize(base / "source", persons=600, seed=5, period="2025-06")
    refused = base / "source" / "landing" / "caf31" / "CAF31_INCONNU_20250630.csv"
    refused.write_bytes(b"NUMALLOC;NIR\n1234567;x\n")
    return base / "source" / "landing"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("RECOURS_PSEUDO_KEY", os.urandom(32).hex())
    monkeypatch.delenv("RECOURS_PSEUDO_KEY_FILE", raising=False)


def home_from(landing: Path, target: Path) -> Home:
    shutil.copytree(landing, target / "landing")
    return Home(target).ensure()


def journal(home: Home) -> list[dict]:
    return [{k: v for k, v in e.items() if k not in CHAINING} for e in read_events(home.audit)]


def outputs(home: Home) -> dict[str, object]:
    """Every file ingest leaves, by path: Parquet as rows, manifests without their receipt
    time, anything else (quarantine, reasons, set-aside lines) as bytes."""
    found: dict[str, object] = {}
    for area in (home.pseudonymized, home.quarantine, home.audit / "ecartees"):
        for path in sorted(p for p in area.rglob("*") if p.is_file()):
            name = str(path.relative_to(home.root))
            if path.suffix == ".parquet":
                found[name] = pl.read_parquet(path).rows()
            elif path.name == MANIFEST:
                manifest = json.loads(path.read_text(encoding="utf-8"))
                manifest.pop("recue_le")
                found[name] = manifest
            elif path.name.endswith(".motif.json"):
                reason = json.loads(path.read_text(encoding="utf-8"))
                found[name] = {k: v for k, v in reason.items() if not k.endswith("_le")}
            elif not path.name.endswith(".motif.txt"):  # the text says when: same words else
                found[name] = path.read_bytes()
    return found


def summaries(outcomes) -> list[dict]:
    return [{k: v for k, v in o.summary().items() if k != "seconds"} for o in outcomes]


def test_two_workers_give_what_one_process_gives(landing, tmp_path):
    alone, pooled = home_from(landing, tmp_path / "seul"), home_from(landing, tmp_path / "pool")
    seen: list[tuple[str, int, int]] = []

    one = ingest_all(alone, workers=1)
    two = ingest_all(pooled, workers=2, progress=lambda *step: seen.append(step))

    assert [(o.convention, o.file, o.status) for o in two] == [
        ("caf31", "CAF31_ALLOCATAIRES_20250630.csv", "acceptee"),
        ("caf31", "CAF31_INCONNU_20250630.csv", "refusee"),
        ("carsatmp", "CARSATMP_RETRAITES_20250630.txt", "acceptee"),
        ("cd31", "CD31_USAGERS_20250630.csv", "acceptee"),
        ("cpam31", "CPAM31_CSS_20250630.csv", "acceptee"),
        ("ftocc", "FTOCC_DEMANDEURS_20250630.xlsx", "acceptee"),
    ]
    assert summaries(two) == summaries(one)
    assert journal(pooled) == journal(alone)
    assert verify_chain(pooled.audit)[0]
    assert outputs(pooled) == outputs(alone)
    assert seen == [
        ("caf31", 0, 5),
        ("carsatmp", 1, 5),
        ("cd31", 2, 5),
        ("cpam31", 3, 5),
        ("ftocc", 4, 5),
        ("", 5, 5),
    ]

    # Run again: every file already processed, nothing to spread, nothing new journaled.
    before = journal(pooled)
    again = ingest_all(pooled, workers=2)
    assert [o.status for o in again] == ["deja_traitee"] * 5
    assert journal(pooled) == before


def test_a_failing_convention_is_journaled_in_its_place_and_raised(landing, tmp_path):
    """Not the partner's fault (here: a file where cd31's output folder should be): the file
    stays in landing/, the failure is journaled in cd31's turn, the conventions the other
    worker finished keep their events, then the failure is raised."""
    home = home_from(landing, tmp_path / "echec")
    home.pseudonymized.mkdir(parents=True, exist_ok=True)
    (home.pseudonymized / "cd31").write_text("pas un dossier")

    with pytest.raises(OSError):
        ingest_all(home, workers=2)

    events = [e for e in journal(home) if e["evenement"].startswith(("livraison", "ingestion"))]
    by_convention: dict[str, list[str]] = {}
    for event in events:
        by_convention.setdefault(event["convention"], []).append(event["evenement"])
    assert by_convention["cd31"] == ["livraison_recue", "ingestion_en_echec"]
    assert by_convention["carsatmp"] == ["livraison_recue", "livraison_acceptee"]
    conventions_in_order = [e["convention"] for e in events]
    assert conventions_in_order == sorted(conventions_in_order)
    assert verify_chain(home.audit)[0]
    assert (home.landing_for("cd31") / "CD31_USAGERS_20250630.csv").exists()
    assert not (home.quarantine / "cd31").exists()
