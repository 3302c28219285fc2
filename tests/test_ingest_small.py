"""Ingest, the small cases of operations: a file deposited again is journaled (once per deposit),
the line numbers of set-aside rows go to the restricted audit only, and a wrong encoding is
located by line and byte without quoting the file."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from pipelines.ingest.run import DEPOSIT, ingest_convention, set_aside_path
from recours.audit_log import read_events, verify_chain
from recours.home import Home
from synth import synthesize

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATE = "20250630"
NAMES = {
    "caf31": "CAF31_ALLOCATAIRES_{}.csv",
    "cpam31": "CPAM31_CSS_{}.csv",
    "carsatmp": "CARSATMP_RETRAITES_{}.txt",
    "cd31": "CD31_USAGERS_{}.csv",
}


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("RECOURS_PSEUDO_KEY", os.urandom(32).hex())
    monkeypatch.delenv("RECOURS_PSEUDO_KEY_FILE", raising=False)


@pytest.fixture
def home(tmp_path) -> Home:
    return Home(tmp_path / "home").ensure()


def deliver(home: Home, convention: str, case: str, date: str = DATE, gz: bool = False) -> Path:
    source = FIXTURES / convention / case / NAMES[convention].format("20240131")
    target = home.landing_for(convention) / (NAMES[convention].format(date) + (".gz" if gz else ""))
    target.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        target.write_bytes(gzip.compress(source.read_bytes(), mtime=0))
    else:
        shutil.copyfile(source, target)
    return target


def only(outcomes):
    assert len(outcomes) == 1, [o.summary() for o in outcomes]
    return outcomes[0]


def kinds(home: Home) -> list[str]:
    return [event["evenement"] for event in read_events(home.audit)]


def redelivery(event: dict) -> dict:
    """What a ``livraison_redeposee`` event says, without its chaining fields."""
    return {k: v for k, v in event.items() if k not in ("seq", "horodatage", "precedent", "hash")}


def deposit_again(path: Path) -> None:
    """The same bytes uploaded over the file: a new modification time, set (not waited for)."""
    before = path.stat()
    path.write_bytes(path.read_bytes())
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))


# --- a file deposited again ------------------------------------------------------------------


def test_a_file_deposited_again_over_an_accepted_one_is_journaled_once(home):
    path = deliver(home, "caf31", "conforme")
    first = only(ingest_convention(home, "caf31"))
    manifest_path = home.root / first.output / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest[DEPOSIT] == path.stat().st_mtime_ns
    parquet = home.root / first.output / "caf31_allocataires.parquet"
    before = parquet.read_bytes()

    # Still the same file, waiting in landing/ for its retention: nothing to journal.
    assert only(ingest_convention(home, "caf31")).status == "deja_traitee"
    assert kinds(home) == ["livraison_recue", "livraison_acceptee"]

    deposit_again(path)
    again = only(ingest_convention(home, "caf31"))
    assert again.status == "deja_traitee"
    assert again.messages == [
        f"{path.name} : déposé à nouveau, identique à la livraison acceptée le "
        f"{manifest['recue_le']} ; rien n'est retraité"
    ]
    assert kinds(home) == ["livraison_recue", "livraison_acceptee", "livraison_redeposee"]
    assert redelivery(read_events(home.audit)[-1]) == {
        "evenement": "livraison_redeposee",
        "convention": "caf31",
        "fichier": path.name,
        "sha256": first.sha256,
        "deja_traitee": {
            "fichier": path.name,
            "issue": "acceptee",
            "extraction": "2025-06-30",
            "le": manifest["recue_le"],
        },
        "suite": "ignoree",
    }
    assert parquet.read_bytes() == before

    # The same deposit seen again by the next run: journaled once only.
    assert only(ingest_convention(home, "caf31")).messages == []
    assert kinds(home) == ["livraison_recue", "livraison_acceptee", "livraison_redeposee"]
    assert verify_chain(home.audit)[0]


def test_the_same_content_under_another_name_is_journaled_then_processed(home):
    first_path = deliver(home, "caf31", "conforme")
    first = only(ingest_convention(home, "caf31"))
    received = json.loads((home.root / first.output / "manifest.json").read_text(encoding="utf-8"))[
        "recue_le"
    ]
    second_path = deliver(home, "caf31", "conforme", date="20250610")
    second = only([o for o in ingest_convention(home, "caf31") if o.file == second_path.name])
    assert second.status == "acceptee"
    assert kinds(home) == [
        "livraison_recue",
        "livraison_acceptee",
        "livraison_redeposee",
        "livraison_recue",
        "livraison_acceptee",
    ]
    assert redelivery(read_events(home.audit)[2]) == {
        "evenement": "livraison_redeposee",
        "convention": "caf31",
        "fichier": second_path.name,
        "sha256": first.sha256,
        "deja_traitee": {
            "fichier": first_path.name,
            "issue": "acceptee",
            "extraction": "2025-06-30",
            "le": received,
        },
        "suite": "traitee",
    }


def test_a_refused_file_deposited_again_is_journaled_and_refused_again(home):
    path = deliver(home, "caf31", "vide")
    assert only(ingest_convention(home, "caf31")).status == "refusee"
    reason = json.loads(
        (home.quarantine / "caf31" / f"{path.name}.motif.json").read_text(encoding="utf-8")
    )
    deliver(home, "caf31", "vide")
    assert only(ingest_convention(home, "caf31")).status == "refusee"
    assert kinds(home) == [
        "livraison_recue",
        "livraison_refusee",
        "livraison_redeposee",
        "livraison_recue",
        "livraison_refusee",
    ]
    assert redelivery(read_events(home.audit)[2])["deja_traitee"] == {
        "fichier": path.name,
        "issue": "refusee",
        "extraction": None,
        "le": reason["refusee_le"],
    }


def test_a_delivery_accepted_before_deposits_were_recorded_starts_being_followed(home):
    path = deliver(home, "caf31", "conforme")
    first = only(ingest_convention(home, "caf31"))
    manifest_path = home.root / first.output / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest[DEPOSIT]  # as written before this version
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    assert only(ingest_convention(home, "caf31")).status == "deja_traitee"
    assert kinds(home) == ["livraison_recue", "livraison_acceptee"]
    recorded = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert recorded == {**manifest, DEPOSIT: path.stat().st_mtime_ns}
    deposit_again(path)
    ingest_convention(home, "caf31")
    assert kinds(home)[-1] == "livraison_redeposee"


# --- line numbers of set-aside rows: restricted audit only -----------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("synth")
    synthesize(home, persons=400, seed=5, period="2025-06")
    return home


def set_field(line: str, index: int, value: str) -> str:
    ending = "\r\n" if line.endswith("\r\n") else "\n"
    fields = line.rstrip("\r\n").split(";")
    fields[index] = value
    return ";".join(fields) + ending


def test_set_aside_line_numbers_go_to_the_restricted_audit_with_rule_only(home, synthetic):
    source = synthetic / "landing" / "caf31" / NAMES["caf31"].format(DATE)
    lines = source.read_bytes().decode("cp1252").splitlines(keepends=True)
    assert len(lines) > 60
    lines[10] = set_field(lines[10], 6, "31/02/1980")  # DTNAIS impossible: line 11
    lines[20] = set_field(lines[20], 10, "31999")  # unknown commune: line 21
    lines[30] = set_field(lines[30], 10, "81004")  # outside 31: kept and flagged, not set aside
    lines[40] = lines[40].rstrip("\r\n") + ";EN TROP\r\n"  # one field too many: line 41
    path = home.landing_for("caf31") / source.name
    path.parent.mkdir(parents=True)
    path.write_bytes("".join(lines).encode("cp1252"))
    outcome = only(ingest_convention(home, "caf31"))
    assert outcome.status == "acceptee"
    assert outcome.set_aside == {"date_possible": 1, "commune_inconnue": 1, "nombre_de_champs": 1}

    record = set_aside_path(home, "caf31", path.name)
    assert record == home.audit / "ecartees" / "caf31" / f"{path.name}.json"
    assert json.loads(record.read_text(encoding="utf-8")) == {
        "convention": "caf31",
        "fichier": path.name,
        "sha256": outcome.sha256,
        "jeu": "ALLOCATAIRES",
        "extraction": "2025-06-30",
        "lignes_lues": len(lines) - 1,
        "lignes_ecartees": 3,
        "ecartees": [
            {"regle": "commune_inconnue", "colonne": "CODECOMMUNE", "lignes": [21]},
            {"regle": "date_possible", "colonne": "DTNAIS", "lignes": [11]},
            {"regle": "nombre_de_champs", "colonne": None, "lignes": [41]},
        ],
    }
    assert record.stat().st_mode & 0o777 == 0o600
    assert record.parent.stat().st_mode & 0o777 == 0o700
    assert record.parent.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in record.parent.iterdir()] == [record.name]  # nothing left aside
    assert not list(home.published.rglob("*"))
    accepted = read_events(home.audit)[-1]
    assert accepted["evenement"] == "livraison_acceptee"
    assert accepted["lignes_ecartees"] == outcome.set_aside  # the journal counts, never lists

    # A corrected delivery of the same name replaces the record.
    shutil.copyfile(source, path)
    corrected = only(ingest_convention(home, "caf31"))
    assert corrected.status == "acceptee" and corrected.set_aside == {}
    replaced = json.loads(record.read_text(encoding="utf-8"))
    assert (replaced["sha256"], replaced["lignes_ecartees"], replaced["ecartees"]) == (
        corrected.sha256,
        0,
        [],
    )
    assert record.stat().st_mode & 0o777 == 0o600


# --- a wrong encoding: line and byte, never the bytes ----------------------------------------


ENCODING_REFUSALS = [
    (
        "cd31",
        "encodage_cp1252",
        False,
        5,
        "CD31_USAGERS_20250630.csv, ligne 5 : octets illisibles en UTF-8 (encodage annoncé), "
        "octet 10 de la ligne, octet 308 du fichier ; le fichier est probablement dans un "
        "autre encodage",
    ),
    (
        "cd31",
        "encodage_cp1252",
        True,
        5,
        "CD31_USAGERS_20250630.csv.gz, ligne 5 : octets illisibles en UTF-8 (encodage annoncé), "
        "octet 10 de la ligne, octet 308 du contenu décompressé ; le fichier est probablement "
        "dans un autre encodage",
    ),
    (
        "cpam31",
        "bom_puis_cp1252",
        False,
        3,
        "CPAM31_CSS_20250630.csv, ligne 3 : octets illisibles en UTF-8 avec BOM (encodage "
        "annoncé), octet 2 de la ligne, octet 197 du fichier ; le fichier est probablement dans "
        "un autre encodage",
    ),
    (
        "carsatmp",
        "cp1252_annonce_latin1",
        False,
        3,
        "CARSATMP_RETRAITES_20250630.txt, ligne 3 : caractère de contrôle impossible en "
        "ISO-8859-1 (Latin-1) (encodage annoncé), octet 21 de la ligne, octet 325 du fichier ; "
        "le fichier est probablement en Windows-1252",
    ),
    (
        "caf31",
        "encodage_utf8",
        False,
        None,
        "CAF31_ALLOCATAIRES_20250630.csv : le fichier est encodé en UTF-8 alors que la "
        "convention annonce Windows-1252 (premier caractère concerné : ligne 2, octet 44 de la "
        "ligne, octet 204 du fichier) ; demander au partenaire un fichier conforme au dessin",
    ),
]


@pytest.mark.parametrize(
    ("convention", "case", "gz", "line", "message"),
    ENCODING_REFUSALS,
    ids=[f"{c}-{k}{'-gz' if gz else ''}" for c, k, gz, _, _ in ENCODING_REFUSALS],
)
def test_a_wrong_encoding_names_the_first_bad_line_and_byte(
    home, convention, case, gz, line, message
):
    path = deliver(home, convention, case, gz=gz)
    outcome = only(ingest_convention(home, convention))
    assert (outcome.status, outcome.rule, outcome.reason) == ("refusee", "encodage", message)
    reason = json.loads(
        (home.quarantine / convention / f"{path.name}.motif.json").read_text(encoding="utf-8")
    )
    assert (reason["ligne"], reason["motif"]) == (line, message)
    assert read_events(home.audit)[-1]["motif"] == message


def test_the_byte_named_is_the_first_that_does_not_decode():
    """The positions above, found again here from the raw bytes on their own."""
    raw = (FIXTURES / "cd31" / "encodage_cp1252" / NAMES["cd31"].format("20240131")).read_bytes()
    with pytest.raises(UnicodeDecodeError) as caught:
        raw.decode("utf-8")
    offset = caught.value.start
    assert (raw.count(b"\n", 0, offset) + 1, offset + 1) == (5, 308)
    assert offset - raw.rfind(b"\n", 0, offset) == 10
