"""Key rotation on a real run: new pseudonyms everywhere, the same counts, the retention clock
kept; a clear refusal when raw files are gone; and no crossing ever mixes two keys."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import polars as pl
import pytest
from publication_stub import PublicationStub, counts

from anonymization.pseudonymize import InvalidKeyError, Pseudonymizer
from pipelines.crossing.deliveries import MixedKeysError
from pipelines.cycle import cross_and_publish
from pipelines.ingest.run import ingest_convention
from pipelines.keys import RawFilesMissing, SameKeyError, rotate
from pipelines.keys.keyfile import KeyFileTooOpen, read_new_key
from recours.audit_log import read_events, verify_chain
from recours.home import Home

PERIOD = "2025-06"


@pytest.fixture
def old_key(world) -> str:
    """The key the session's world (tests/conftest.py) was ingested with."""
    return world.key


@pytest.fixture(autouse=True)
def key(monkeypatch, old_key):
    monkeypatch.setenv("RECOURS_PSEUDO_KEY", old_key)
    monkeypatch.delenv("RECOURS_PSEUDO_KEY_FILE", raising=False)


@pytest.fixture(autouse=True)
def publication(monkeypatch) -> PublicationStub:
    """The crossing runs for real; what it hands to the publication is recorded."""
    return PublicationStub().install(monkeypatch)


@pytest.fixture
def home(world, tmp_path) -> Home:
    """A copy of the session's world: five deliveries accepted under ``old_key``, crossed."""
    assert world.period == PERIOD
    return world.copy_to(tmp_path / "home")


def pseudonyms(home: Home) -> dict[str, set[str]]:
    """Delivery folder → every keyed value it holds (64 hexadecimal characters)."""
    found = {}
    for parquet in sorted(home.pseudonymized.rglob("*.parquet")):
        frame = pl.read_parquet(parquet)
        values: set[str] = set()
        for column, dtype in frame.schema.items():
            if dtype == pl.String:
                series = frame[column].drop_nulls()
                values |= set(series.filter(series.str.contains(r"^[0-9a-f]{64}$")).to_list())
        found[str(parquet.parent.relative_to(home.root))] = values
    return found


def manifests(home: Home) -> dict[str, dict]:
    return {
        str(p.parent.relative_to(home.root)): json.loads(p.read_text(encoding="utf-8"))
        for p in home.pseudonymized.rglob("manifest.json")
    }


def test_rotation_gives_new_pseudonyms_and_the_same_counts(home, publication, old_key):
    cross_and_publish(home, PERIOD)
    before_publication = publication.calls[-1]
    before, before_manifests = pseudonyms(home), manifests(home)
    new_key = os.urandom(32).hex()

    report = rotate(home, None, new_key)

    after, after_manifests = pseudonyms(home), manifests(home)
    assert sorted(after) == sorted(before) and len(before) == 5
    for folder in before:
        assert before[folder] and after[folder]
        assert before[folder].isdisjoint(after[folder]), folder  # not one pseudonym in common
    old_print, new_print = Pseudonymizer(bytes.fromhex(old_key)).fingerprint, report.new_fingerprint
    assert report.old_fingerprints == [old_print]
    assert new_print == Pseudonymizer(bytes.fromhex(new_key)).fingerprint != old_print
    for folder, manifest in after_manifests.items():
        old = before_manifests[folder]
        assert manifest["empreinte_cle"] == new_print
        assert manifest["empreinte_cle_precedente"] == old_print
        assert manifest["recue_le"] == old["recue_le"]  # the retention clock is not reset
        for field in ("fichier", "sha256", "lignes_lues", "lignes_gardees", "colonnes"):
            assert manifest[field] == old[field], (folder, field)
    # The warehouse was crossed again, under the new key: the publication's inputs are the same.
    assert report.recrossed_period == PERIOD and report.warehouse_removed
    again = publication.calls[-1]
    assert again is not before_publication
    assert sorted(again.units) == sorted(before_publication.units)
    for indicator, units in again.units.items():
        old_units = before_publication.units[indicator]
        assert counts(units) == counts(old_units), indicator
        assert set(units["unite_id"]).isdisjoint(set(old_units["unite_id"])), indicator
    assert sorted(map(str, again.quality)) == sorted(map(str, before_publication.quality))
    events = read_events(home.audit)
    change = next(e for e in events if e["evenement"] == "changement_de_cle")
    assert change["anciennes_empreintes"] == [old_print]
    assert change["nouvelle_empreinte"] == new_print
    assert len(change["livraisons"]) == 5
    journal = (home.audit / "journal.jsonl").read_text(encoding="utf-8")
    assert new_key not in journal and old_key not in journal
    assert verify_chain(home.audit)[0]
    assert not (home.root / ".rotation-en-cours").exists()


def test_rotation_refuses_when_a_raw_file_is_gone_and_says_what_to_ask_for(home):
    (home.landing_for("caf31") / "CAF31_ALLOCATAIRES_20250630.csv").unlink()
    before = {p: p.read_bytes() for p in home.pseudonymized.rglob("*") if p.is_file()}
    journal = (home.audit / "journal.jsonl").read_bytes()

    with pytest.raises(RawFilesMissing) as caught:
        rotate(home, None, os.urandom(32).hex())

    message = str(caught.value)
    assert "CAF31_ALLOCATAIRES_20250630.csv" in message
    assert "extraction du 30/06/2025" in message
    assert "Caisse d'allocations familiales de la Haute-Garonne" in message
    assert "Rien n'a été modifié" in message
    assert [(m.convention, m.dataset) for m in caught.value.missing] == [("caf31", "ALLOCATAIRES")]
    assert {p: p.read_bytes() for p in home.pseudonymized.rglob("*") if p.is_file()} == before
    assert (home.audit / "journal.jsonl").read_bytes() == journal


def test_rotation_to_the_key_in_use_or_to_no_key_is_refused(home, old_key):
    with pytest.raises(SameKeyError):
        rotate(home, None, old_key)
    with pytest.raises(InvalidKeyError):
        rotate(home, None, "pas une clé")


def test_a_crossing_never_mixes_pseudonyms_of_two_keys(home, monkeypatch, old_key):
    """A delivery ingested again under another key (a rotation done by hand, half-way)."""
    shutil.rmtree(home.pseudonymized / "cpam31")
    monkeypatch.setenv("RECOURS_PSEUDO_KEY", os.urandom(32).hex())
    assert [o.status for o in ingest_convention(home, "cpam31")] == ["acceptee"]

    with pytest.raises(MixedKeysError) as caught:
        cross_and_publish(home, PERIOD)

    old_print = Pseudonymizer(bytes.fromhex(old_key)).fingerprint
    assert sorted(caught.value.fingerprints.values()) == [
        ["caf31", "carsatmp", "cd31", "ftocc"],
        ["cpam31"],
    ]
    assert caught.value.fingerprints[old_print] == ["caf31", "carsatmp", "cd31", "ftocc"]
    assert "clés différentes" in str(caught.value) and "recours keys rotate" in str(caught.value)


def test_the_new_key_file_is_created_private_and_an_open_one_is_refused(tmp_path: Path):
    path = tmp_path / "cles" / "nouvelle.hex"
    key_hex, created = read_new_key(path)
    assert created and len(bytes.fromhex(key_hex)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_new_key(path) == (key_hex, False)
    path.chmod(0o644)
    with pytest.raises(KeyFileTooOpen, match="chmod 600"):
        read_new_key(path)
