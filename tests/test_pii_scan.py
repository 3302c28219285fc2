"""The ingest PII scanner: each French kind found, codes left alone, nothing leaks, no network.

Synthetic data only: the names, phones, addresses and identifiers below are made up; NIRs
and IBANs are built here with a correct key so that the validating recognizers accept them.
"""

from __future__ import annotations

import logging
import os
import socket

import polars as pl
import pytest

from anonymization import pii_recognizers as rec
from anonymization import pii_scan as ps

# --- synthetic identifiers ---------------------------------------------------------------


def nir_key(first13: str) -> str:
    """97 - (13-digit number mod 97), Corsica 2A -> 19, 2B -> 18 (the NIR key rule)."""
    number = int(first13.upper().replace("2A", "19").replace("2B", "18"))
    return f"{97 - number % 97:02d}"


def fake_nir(first13: str, sep: str = " ", key: str | None = None) -> str:
    key = nir_key(first13) if key is None else key
    parts = [first13[0], first13[1:3], first13[3:5], first13[5:7], first13[7:10], first13[10:13]]
    return sep.join([*parts, key])


def wrong_key(first13: str) -> str:
    return f"{(int(nir_key(first13)) + 1) % 97:02d}"


def fake_iban(bban: str, country: str = "FR") -> str:
    """ISO 13616: check digits = 98 - (BBAN + country + "00", letters as 10..35) mod 97."""
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def grouped(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


NIR_HELENE = fake_nir("2850331555042")  # 2 85 03 31 555 042 79
NIR_CORSE = fake_nir("185032A555042")
IBAN = fake_iban("30006000011234567890189")  # FR76 3000 6000 0112 3456 7890 189

FIRST_NAMES = [
    "Hélène", "Jean-Pierre", "Marie", "Nathalie", "Karim", "Fatima", "Thomas", "Camille",
    "Sylvie", "Mohamed", "Léa", "Nicolas", "Isabelle", "Yannick", "Aïcha", "Brigitte",
    "Julien", "Océane", "Mamadou", "Chantal",
]  # fmt: skip
SURNAMES = [
    "Dupont", "Martin", "Bernard", "N'Diaye", "De La Fontaine", "Lefebvre", "Moreau",
    "Garcia", "Rousseau", "Benali", "Fournier", "Girard", "Bonnet", "Nguyen", "Lambert",
    "Fontaine", "Mercier", "Traoré", "Rey", "Faure",
]  # fmt: skip
PHONES = [
    "06 12 34 56 78", "0612345679", "07.81.22.33.44", "05 61 23 45 67", "+33 6 98 76 54 32",
    "05-34-11-22-33", "06 45 67 89 01", "0562123456",
]  # fmt: skip

# The categorical columns conventions keep (and a few the published tables hold).
CATEGORICAL = {
    "QUALITE": ["ALL", "CJT", "ENF", "AUT"],
    "SITFAM": ["CEL", "MAR", "PAC", "VIM", "DIV", "SEP", "VEU"],
    "DROITRSA": ["O", "N"],
    "ACCOMPAGNEMENT": ["SOCIAL", "PRO", "AUCUN"],
    "CATEGORIE": ["A", "B", "C", "D", "E"],
    "INDEMNISATION": ["ARE", "ASS", "AUCUNE"],
    "type_css": ["GRATUITE", "PARTICIPATION"],
    "SEXE": ["1", "2", "H", "F", "M"],
    "CODECOMMUNE": [f"31{n:03d}" for n in range(1, 590)],
    "RESSTRIM": [f"{n * 37.13:.2f}" for n in range(2000)],
    "NBENFCHARGE": [str(n) for n in range(12)],
    "DATE_DERNIER_CONTACT": [f"2025-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)],
    "age": [str(n) for n in range(0, 110)],
    "periode": [f"20{y}-{m:02d}" for y in range(20, 27) for m in range(1, 13)],
}


@pytest.fixture(scope="module")
def analyzer():
    """One analyzer for the module: loading spaCy takes seconds."""
    return ps.get_analyzer()


# --- one text, each kind -----------------------------------------------------------------


def test_social_worker_note_holds_every_kind(analyzer):
    note = (
        f"Mme Hélène Dupont, tél. 06 12 34 56 78, mail h.dupont@example.fr, NIR {NIR_HELENE}. "
        f"Allocataire CAF n° 1234567 ; inscrite à France Travail (identifiant 7654321B). "
        f"RIB transmis : {grouped(IBAN)}."
    )
    assert set(ps.scan_text(note)) == set(ps.PII_KINDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Vu ce jour. NIR {NIR_HELENE} à vérifier avec la CPAM.", {"NIR": 1}),
        (f"NIR {NIR_CORSE} (né en Corse).", {"NIR": 1}),
        (f"nir={fake_nir('2850331555042', sep='')}", {"NIR": 1}),
        ("Joignable au 05.61.23.45.67 le matin.", {"TELEPHONE": 1}),
        ("Joindre sur le portable +33 6 12 34 56 78 ou au fixe 05 61 23 45 67.", {"TELEPHONE": 2}),
        ("Envoyer le justificatif à h.dupont@example.fr dès réception.", {"EMAIL": 1}),
        (f"RIB transmis : {grouped(IBAN)}.", {"IBAN": 1}),
        (f"Coordonnées bancaires {IBAN} reçues.", {"IBAN": 1}),
        ("Matricule 7654321 à transmettre.", {"NUMERO_CAF": 1}),
        ("Le dossier 1234567 (n° allocataire) est complet.", {"NUMERO_CAF": 1}),
        ("Montant versé : 1234567 centimes.", {}),
        ("Suivi par France Travail sous l'identifiant 1234567A.", {"IDENTIFIANT_FT": 1}),
        ("RDV avec Mme Hélène Dupont et son fils Karim.", {"PERSONNE": 2}),
        ("Entretien avec M. Jean-Pierre Martin.", {"PERSONNE": 1}),
        ("JEAN-PIERRE MARTIN", {"PERSONNE": 1}),
        ("DUPONT Hélène", {"PERSONNE": 1}),
        ("Visite à domicile, situation stable.", {}),
        ("Dossier APA transmis au service autonomie.", {}),
        ("", {}),
    ],
)
def test_scan_text_counts_by_kind(analyzer, text, expected):
    assert ps.scan_text(text) == expected


def test_wrong_key_nir_is_not_a_nir(analyzer):
    for first13 in ("2850331555042", "185032A555042", "1780499123456"):
        bad = fake_nir(first13, key=wrong_key(first13))
        assert ps.scan_text(f"NIR {bad} à corriger.") == {}
        assert ps.scan_text(bad.replace(" ", "")) == {}


def test_the_key_is_what_decides(analyzer):
    good = fake_nir("1780499123456")
    assert ps.scan_text(good) == {"NIR": 1}
    assert ps.scan_text(good[:-2] + wrong_key("1780499123456")) == {}


# --- columns -----------------------------------------------------------------------------


@pytest.mark.parametrize("column", sorted(CATEGORICAL))
def test_categorical_columns_are_kept(analyzer, column):
    finding = ps.scan_column(column, CATEGORICAL[column])
    assert finding == ps.ColumnFinding(
        column=column,
        scanned_values=len(set(CATEGORICAL[column])),
        counts={},
        withheld=False,
    )


def test_place_names_are_not_persons(analyzer):
    places = [
        "Toulouse", "Saint-Gaudens", "SAINT-GAUDENS", "Muret", "Colomiers", "Revel",
        "Haute-Garonne", "Toulouse Métropole", "CA du Sicoval", "Villefranche-de-Lauragais",
    ]  # fmt: skip
    finding = ps.scan_column("libelle_territoire", places)
    assert (finding.counts, finding.withheld) == ({}, False)


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("PRENOM", FIRST_NAMES),
        ("PRENOM", [name.upper() for name in FIRST_NAMES]),
        ("NOMNAIS", [name.upper() for name in SURNAMES]),
        ("nom_complet", [f"{s.upper()} {f}" for f, s in zip(FIRST_NAMES, SURNAMES, strict=True)]),
        ("nom_complet", [f"{f} {s}" for f, s in zip(FIRST_NAMES, SURNAMES, strict=True)]),
    ],
)
def test_name_columns_are_withheld(analyzer, column, values):
    finding = ps.scan_column(column, values)
    assert finding.withheld is True
    assert set(finding.counts) == {"PERSONNE"}
    assert finding.counts["PERSONNE"] >= 0.4 * len(values)


def test_phone_column_is_withheld(analyzer):
    finding = ps.scan_column("TELEPHONE", [*PHONES, None, "", *PHONES])
    assert finding == ps.ColumnFinding(
        column="TELEPHONE", scanned_values=8, counts={"TELEPHONE": 8}, withheld=True
    )


def test_a_single_nir_withholds_a_column(analyzer):
    values = [*CATEGORICAL["SITFAM"], NIR_CORSE.replace(" ", "")]
    finding = ps.scan_column("SITFAM", values)
    assert finding == ps.ColumnFinding(
        column="SITFAM", scanned_values=8, counts={"NIR": 1}, withheld=True
    )


def test_the_column_name_is_context_for_caf_numbers(analyzer):
    numbers = [f"{n:07d}" for n in range(1_000_000, 1_000_050)]
    assert ps.scan_column("NUMALLOC", numbers).counts == {"NUMERO_CAF": 50}
    spaced = [f"n° {n}" for n in numbers]
    assert ps.scan_column("NUMALLOC", spaced).counts == {"NUMERO_CAF": 50}
    assert ps.scan_column("reference", spaced).counts == {}


def test_notes_column_is_withheld(analyzer):
    notes = [
        f"RDV le {d}/03 avec Mme {s}, dossier RSA à compléter."
        for d, s in zip(range(1, 21), SURNAMES, strict=True)
    ] + [f"Visite à domicile n°{n}, situation stable." for n in range(40)]
    finding = ps.scan_column("OBSERVATIONS", notes)
    assert finding.withheld is True
    assert finding.scanned_values == 60
    assert finding.counts["PERSONNE"] >= 15


def test_decision_rule():
    assert ps.is_withheld({"TELEPHONE": 1}, 20_000) is True
    assert ps.is_withheld({"IDENTIFIANT_FT": 1}, 1) is True
    assert ps.is_withheld({"PERSONNE": 1}, 4) is False  # one code read as a name
    assert ps.is_withheld({"PERSONNE": 2}, 4) is True
    assert ps.is_withheld({"PERSONNE": 4}, 100) is False  # 4 % < 5 %
    assert ps.is_withheld({"PERSONNE": 5}, 100) is True
    assert ps.is_withheld({"NUMERO_CAF": 2, "PERSONNE": 2}, 1000) is False
    assert ps.is_withheld({}, 0) is False


def test_distinct_values_only_up_to_max_values(analyzer):
    values = [None, "", "  ", *CATEGORICAL["SITFAM"] * 1000]
    assert ps.scan_column("SITFAM", values).scanned_values == 7
    capped = ps.scan_column("RESSTRIM", CATEGORICAL["RESSTRIM"], max_values=100)
    assert capped.scanned_values == 100
    with pytest.raises(ValueError, match="max_values"):
        ps.scan_column("SITFAM", values, max_values=0)


def test_scan_frame(analyzer):
    df = pl.DataFrame(
        {
            "QUALITE": ["ALL", "CJT", "ENF", None],
            "TELEPHONE": [PHONES[0], PHONES[1], None, PHONES[2]],
            "NBENFCHARGE": [0, 1, 2, 3],
            "MTAL": [0.0, 123.45, 88.5, None],
        }
    )
    assert ps.scan_frame(df) == [
        ps.ColumnFinding("QUALITE", 3, {}, False),
        ps.ColumnFinding("TELEPHONE", 3, {"TELEPHONE": 3}, True),
    ]
    assert ps.scan_frame(df, ["MTAL", "QUALITE"]) == [
        ps.ColumnFinding("MTAL", 3, {}, False),
        ps.ColumnFinding("QUALITE", 3, {}, False),
    ]
    numbers = pl.DataFrame({"NUMALLOC": [1234567, 7654321, 1234567]})  # not text, cast
    assert ps.scan_frame(numbers) == []
    assert ps.scan_frame(numbers, ["NUMALLOC"]) == [
        ps.ColumnFinding("NUMALLOC", 2, {"NUMERO_CAF": 2}, True)
    ]
    with pytest.raises(KeyError, match="ABSENTE"):
        ps.scan_frame(df, ["ABSENTE"])


# --- nothing leaks -----------------------------------------------------------------------

SECRETS = ["Dupont", "06 12 34 56 78", "h.dupont@example.fr", NIR_HELENE, "1234567", "FR76"]
LEAKY_NOTE = (
    f"Mme Hélène Dupont, tél. 06 12 34 56 78, mail h.dupont@example.fr, NIR {NIR_HELENE}, "
    f"CAF 1234567, {grouped(IBAN)}"
)


def test_findings_hold_no_value(analyzer):
    findings = ps.scan_frame(pl.DataFrame({"OBSERVATIONS": [LEAKY_NOTE]}))
    shown = repr(findings) + str(ps.scan_text(LEAKY_NOTE))
    assert not [secret for secret in SECRETS if secret in shown]


def test_logs_hold_no_value(analyzer, caplog):
    with caplog.at_level(logging.DEBUG):
        ps.scan_column("OBSERVATIONS", [LEAKY_NOTE, "IBAN FR76 ABCD EFGH IJKL MNOP QRST UVW"])
    assert not [secret for secret in SECRETS if secret in caplog.text]
    assert "Context list is: %s [arguments masqués]" in caplog.text  # presidio did log


def test_errors_hold_no_value(analyzer, monkeypatch):
    def fail(texts, context):
        raise ValueError(f"Did not find word '{texts[0]}'")

    monkeypatch.setattr(ps, "_analyze_all", fail)
    with pytest.raises(ps.PiiScanError) as raised:
        ps.scan_column("OBSERVATIONS", [LEAKY_NOTE])
    error = raised.value
    assert "OBSERVATIONS" in str(error) and "ValueError" in str(error)
    assert not [secret for secret in SECRETS if secret in str(error)]
    assert error.__cause__ is None and error.__context__ is None


# --- offline -----------------------------------------------------------------------------


def test_analyzer_is_built_and_used_without_network(monkeypatch):
    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append("réseau")
        raise OSError("réseau interdit pendant ce test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    import spacy.cli

    monkeypatch.setattr(spacy.cli, "download", refuse)

    fresh = rec.build_analyzer()  # a new spaCy load, new recognizers, new suffix list
    monkeypatch.setattr(ps, "_analyzer", fresh)
    assert ps.scan_text("Écrire à h.dupont@example.fr ou au 06 12 34 56 78.") == {
        "TELEPHONE": 1,
        "EMAIL": 1,
    }
    assert ps.scan_column("NOM", [n.upper() for n in SURNAMES]).withheld is True
    assert attempts == []
    assert os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""
    assert fresh.supported_languages == ["fr"]
    assert fresh.nlp_engine.get_nlp("fr").meta["name"] == "core_news_sm"


def test_a_missing_model_is_an_error_not_a_download(monkeypatch):
    monkeypatch.setattr(rec.spacy.util, "is_package", lambda name: False)
    with pytest.raises(rec.ModelMissingError, match="jamais téléchargé"):
        rec.OfflineSpacyNlpEngine._download_spacy_model_if_needed("fr_core_news_sm")
