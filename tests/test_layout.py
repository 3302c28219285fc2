"""The pseudonymized zone's and the quarantine's layout, owned by ``recours.home``.

Why: ingest writes this layout and crossing, retention, key rotation and the DPO report read it.
These tests pin the exact paths and the order every reader gets, on a home built by hand (no
partner data is needed: only folder and file names matter), and check that the quarantine's
writer and its readers agree on where a reason lies.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.ingest.quarantine import quarantine
from recours.errors import DeliveryRefused
from recours.home import (
    MANIFEST,
    REASON,
    REASON_TEXT,
    Home,
    parquet,
    quarantined_file,
    reason_file,
)


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}", encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "maison").ensure()


def test_names_are_the_ones_on_disk():
    assert (MANIFEST, REASON, REASON_TEXT) == ("manifest.json", ".motif.json", ".motif.txt")


def test_delivery_folder_and_its_staging(home: Home):
    zone = home.root / "pseudonymized"
    assert home.delivery("caf31", "beneficiaires", date(2025, 6, 3)) == (
        zone / "caf31" / "beneficiaires" / "20250603"
    )
    assert home.delivery_staging("caf31", "beneficiaires", date(2025, 6, 3)) == (
        zone / "caf31" / "beneficiaires" / ".20250603.en-cours"
    )
    folder = home.delivery("caf31", "beneficiaires", date(2025, 6, 3))
    assert parquet(folder, "caf31_beneficiaires") == folder / "caf31_beneficiaires.parquet"


def test_manifests_of_the_zone_of_a_convention_of_a_dataset(home: Home):
    made = [
        _touch(home.delivery(c, d, day) / MANIFEST)
        for c, d, day in [
            ("cpam31", "droits", date(2025, 1, 31)),
            ("a-b", "jeu", date(2025, 1, 1)),
            ("a", "jeu", date(2025, 1, 1)),
            ("caf31", "foyers", date(2025, 6, 3)),
            ("caf31", "beneficiaires", date(2025, 6, 3)),
            ("caf31", "beneficiaires", date(2025, 5, 28)),
        ]
    ]
    cpam, ab, a, foyers, june, may = made
    # Never a delivery: a staging folder (even with its manifest), a folder without a manifest,
    # a manifest at another depth.
    _touch(home.delivery_staging("caf31", "beneficiaires", date(2025, 6, 30)) / MANIFEST)
    home.delivery("caf31", "beneficiaires", date(2025, 7, 1)).mkdir()
    _touch(home.pseudonymized / "caf31" / "beneficiaires" / MANIFEST)
    _touch(home.pseudonymized / "caf31" / "beneficiaires" / "20250603" / "x" / MANIFEST)

    # Sorted by path parts, as ``sorted(Path…)`` always did: "a" before "a-b" (a string sort
    # would put "a-b/" first).
    assert home.manifests() == [a, ab, may, june, foyers, cpam]
    assert home.manifests("caf31") == [may, june, foyers]
    assert home.manifests("caf31", "beneficiaires") == [may, june]
    assert home.manifests("cpam31", "beneficiaires") == []
    assert home.manifests("absente") == []
    with pytest.raises(ValueError):
        home.manifests(dataset="beneficiaires")


def test_empty_or_missing_zones_have_nothing(tmp_path: Path):
    bare = Home(tmp_path / "jamais-creee")
    assert bare.manifests() == [] and bare.manifests("caf31") == []
    assert bare.quarantine_reasons() == [] and bare.quarantine_reasons("caf31") == []


def test_quarantine_reasons_and_their_files(home: Home):
    assert home.quarantine_for("caf31") == home.root / "quarantine" / "caf31"
    refused = home.quarantine_for("caf31") / "CAF31_BENEF_20250603.csv"
    assert reason_file(refused) == refused.with_name("CAF31_BENEF_20250603.csv.motif.json")
    assert quarantined_file(reason_file(refused)) == refused

    for convention, name in [
        ("msa31", "MSA_20250101.csv"),
        ("caf31", "b.csv"),
        ("caf31", "a.csv.gz"),
        ("caf31", "20250603T101010Z_a.csv.gz"),
    ]:
        _touch(home.quarantine_for(convention) / name)
        _touch(reason_file(home.quarantine_for(convention) / name))
        _touch(home.quarantine_for(convention) / (name + REASON_TEXT))
    folder = home.quarantine_for("caf31")
    caf = [folder / f"{n}{REASON}" for n in ("20250603T101010Z_a.csv.gz", "a.csv.gz", "b.csv")]
    msa = home.quarantine_for("msa31") / f"MSA_20250101.csv{REASON}"
    assert home.quarantine_reasons("caf31") == caf
    assert home.quarantine_reasons() == [*caf, msa]
    assert [quarantined_file(r).name for r in caf] == [
        "20250603T101010Z_a.csv.gz",
        "a.csv.gz",
        "b.csv",
    ]


def test_the_quarantine_writer_puts_the_reason_where_readers_look(home: Home):
    landed = _touch(home.landing_for("caf31") / "CAF31_BENEF_20250603.csv")
    refusal = DeliveryRefused("fichier_vide", "CAF31_BENEF_20250603.csv : fichier vide")
    target = quarantine(landed, home.quarantine_for("caf31"), refusal, "0" * 64)
    assert target == home.quarantine_for("caf31") / "CAF31_BENEF_20250603.csv"
    assert home.quarantine_reasons("caf31") == [reason_file(target)]
    assert reason_file(target).is_file() and quarantined_file(reason_file(target)) == target
    assert target.with_name(target.name + REASON_TEXT).is_file()
