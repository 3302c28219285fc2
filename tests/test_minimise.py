"""Minimisation: only what the convention authorizes leaves, in the authorized form."""

from __future__ import annotations

import os
from datetime import date

import polars as pl
import pytest
from stdnum.fr import nir as stdnum_nir

from anonymization import nir
from anonymization.pseudonymize import Pseudonymizer
from pipelines.ingest.minimise import TreatmentError, minimise
from recours.schemas import load_schemas

SCHEMAS = load_schemas()
PSEUDO = Pseudonymizer(os.urandom(32))
CARSAT_TREATMENTS = {
    "NIR": "pseudonymize",
    "NOM": "pseudonymize",
    "PRENOMS": "pseudonymize",
    "DATE_NAISSANCE": "generalize",
    "SEXE": "pseudonymize",
    "CODE_INSEE_RESIDENCE": "keep",
    "PENSION_MENSUELLE_BRUTE": "keep",
    "ASPA": "keep",
    "DATE_EFFET_PENSION": "drop",
}


def with_key(body: str) -> str:
    number = int(body.replace("2A", "19").replace("2B", "18"))
    return f"{body}{97 - number % 97:02d}"


def carsat(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows, schema={c: pl.String for c in SCHEMAS["carsatmp_retraites"].column_names}
    )
    return frame.with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_ligne"))


ROW = {
    "NIR": with_key("1450631555042"),
    "NOM": "DE LA FONTAINE",
    "PRENOMS": "JEAN-PIERRE MARIE",
    "DATE_NAISSANCE": "19450600",
    "SEXE": "M",
    "CODE_INSEE_RESIDENCE": "31555",
    "PENSION_MENSUELLE_BRUTE": "812.40",
    "ASPA": "0",
    "DATE_EFFET_PENSION": "20100701",
}


def test_only_authorized_columns_leave_and_direct_identifiers_are_gone():
    out = minimise(
        carsat([ROW]), SCHEMAS["carsatmp_retraites"], CARSAT_TREATMENTS, date(2025, 6, 30), PSEUDO
    )
    assert out.frame.columns == [
        "ligne_source",
        "nir_statut",
        "mois_naissance",
        "age",
        "CODE_INSEE_RESIDENCE",
        "hors_departement",
        "PENSION_MENSUELLE_BRUTE",
        "ASPA",
        "pseudo_nir",
        "pseudo_traits",
        "cles_appariement",
    ]
    assert out.dropped == ("DATE_EFFET_PENSION",)
    values = set(map(str, out.frame.row(0)))
    assert not values & {ROW["NIR"], ROW["NOM"], ROW["PRENOMS"], ROW["DATE_NAISSANCE"]}


def test_month_of_birth_and_age_at_the_end_of_the_extraction_month():
    rows = [
        {**ROW, "DATE_NAISSANCE": "19450600"},  # unknown day: born June 1945
        {**ROW, "DATE_NAISSANCE": "19450000"},  # unknown month and day: January 1945
        {**ROW, "DATE_NAISSANCE": "19450731"},  # birthday after the end of June: still 79
        {**ROW, "DATE_NAISSANCE": "19480229"},
    ]
    out = minimise(
        carsat(rows), SCHEMAS["carsatmp_retraites"], CARSAT_TREATMENTS, date(2025, 6, 12), PSEUDO
    ).frame
    assert out["mois_naissance"].to_list() == ["1945-06", "1945-01", "1945-07", "1948-02"]
    assert out["age"].to_list() == [80, 80, 79, 77]


def test_spellings_of_one_person_share_a_traits_pseudonym():
    spellings = [
        {**ROW, "NOM": "DE LA FONTAINE", "PRENOMS": "JEAN-PIERRE MARIE"},
        {**ROW, "NOM": "de la Fontaine", "PRENOMS": "Jean Pierre"},
        {**ROW, "NOM": "DELAFONTAINE", "PRENOMS": "JEAN"},
    ]
    out = minimise(
        carsat(spellings),
        SCHEMAS["carsatmp_retraites"],
        CARSAT_TREATMENTS,
        date(2025, 6, 30),
        PSEUDO,
    ).frame
    assert out["pseudo_traits"].n_unique() == 1
    other = minimise(
        carsat([{**ROW, "SEXE": "F"}]),
        SCHEMAS["carsatmp_retraites"],
        CARSAT_TREATMENTS,
        date(2025, 6, 30),
        PSEUDO,
    ).frame
    assert other["pseudo_traits"][0] != out["pseudo_traits"][0]


def test_an_invalid_nir_gets_no_pseudonym_but_the_row_stays():
    rows = [ROW, {**ROW, "NIR": ROW["NIR"][:-2] + "00"}, {**ROW, "NIR": ""}]
    out = minimise(
        carsat(rows), SCHEMAS["carsatmp_retraites"], CARSAT_TREATMENTS, date(2025, 6, 30), PSEUDO
    ).frame
    assert out["nir_statut"].to_list() == ["valide", "invalide", "absent"]
    assert out["pseudo_nir"].is_null().to_list() == [False, True, True]
    assert out["pseudo_traits"].is_null().to_list() == [False, False, False]


def test_amounts_are_exact_decimals_and_a_commune_outside_31_is_flagged():
    rows = [ROW, {**ROW, "CODE_INSEE_RESIDENCE": "81004", "PENSION_MENSUELLE_BRUTE": "0.10"}]
    out = minimise(
        carsat(rows), SCHEMAS["carsatmp_retraites"], CARSAT_TREATMENTS, date(2025, 6, 30), PSEUDO
    ).frame
    assert out.schema["PENSION_MENSUELLE_BRUTE"] == pl.Decimal(18, 2)
    assert [str(v) for v in out["PENSION_MENSUELLE_BRUTE"]] == ["812.40", "0.10"]
    assert out["hors_departement"].to_list() == [False, True]


@pytest.mark.parametrize("column", ["NIR", "NOM", "PRENOMS"])
def test_keeping_a_direct_identifier_is_refused(column):
    treatments = {**CARSAT_TREATMENTS, column: "keep"}
    with pytest.raises(TreatmentError, match="identifiant direct|ne peut pas"):
        minimise(
            carsat([ROW]), SCHEMAS["carsatmp_retraites"], treatments, date(2025, 6, 30), PSEUDO
        )


def test_nir_status_agrees_with_python_stdnum():
    import random

    rng = random.Random(7)
    values = []
    for _ in range(3000):
        department = rng.choice(["31", "75", "2A", "2B", "99", "09"])
        body = (
            f"{rng.choice('12')}{rng.randint(0, 99):02d}{rng.choice(['01', '06', '12', '25'])}"
            f"{department}{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
        )
        good = with_key(body)
        values.append(good if rng.random() < 0.7 else good[:-2] + f"{rng.randint(0, 99):02d}")
    statuses = pl.select(nir.status(pl.Series(values))).to_series().to_list()
    for value, status in zip(values, statuses, strict=True):
        assert (status == "valide") == stdnum_nir.is_valid(value), value


def test_linkage_keys_meet_across_birth_and_usage_names():
    """CAF knows a birth and a usage name; France Travail only the usage name."""
    caf_schema, ft_schema = SCHEMAS["caf31_allocataires"], SCHEMAS["ftocc_demandeurs"]
    caf = pl.DataFrame(
        {c: [""] for c in caf_schema.column_names}
        | {
            "NOMNAIS": ["LAFFONT"],
            "NOMUSAGE": ["MARTIN"],
            "PRENOM": ["Hélène Marie"],
            "DTNAIS": ["15/03/1985"],
            "SEXE": ["2"],
            "CODECOMMUNE": ["31555"],
        }
    ).with_columns(pl.lit(2, dtype=pl.Int64).alias("_ligne"))
    ft = pl.DataFrame(
        {c: [""] for c in ft_schema.column_names}
        | {
            "NOM": ["Martin"],
            "PRENOM": ["HELENE"],
            "DATE_NAISSANCE": ["1985-03-15"],
            "SEXE": ["F"],
            "COMMUNE_INSEE": ["31069"],
        }
    ).with_columns(pl.lit(2, dtype=pl.Int64).alias("_ligne"))
    caf_keys = (
        minimise(
            caf,
            caf_schema,
            {
                "NOMNAIS": "pseudonymize",
                "NOMUSAGE": "pseudonymize",
                "PRENOM": "pseudonymize",
                "DTNAIS": "generalize",
                "SEXE": "pseudonymize",
                "CODECOMMUNE": "keep",
            },
            date(2025, 6, 30),
            PSEUDO,
        )
        .frame["cles_appariement"][0]
        .to_list()
    )
    ft_keys = (
        minimise(
            ft,
            ft_schema,
            {
                "NOM": "pseudonymize",
                "PRENOM": "pseudonymize",
                "DATE_NAISSANCE": "generalize",
                "SEXE": "pseudonymize",
                "COMMUNE_INSEE": "keep",
            },
            date(2025, 6, 30),
            PSEUDO,
        )
        .frame["cles_appariement"][0]
        .to_list()
    )
    assert [k[:3] for k in caf_keys] == ["t1:", "t1:", "t2:", "t3:", "t3:"]
    assert [k[:3] for k in ft_keys] == ["t1:", "t2:", "t3:"]
    assert all(len(k) == 3 + 64 for k in caf_keys + ft_keys)
    # usage-name keys t1 and t3 meet; t2 differs (another commune)
    assert set(caf_keys) & set(ft_keys) == {ft_keys[0], ft_keys[2]}
