"""The indicator rules of docs/regles.md, on small hand-made households.

Every figure below can be checked by hand: the arithmetic is in the comments. The reference
date is R = 2025-06-30 unless a test says otherwise, so "R minus 3 months" is 2025-03-31 and
"R minus 24 months" is 2023-06-30.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from pipelines.crossing.indicators import (
    AGE_BANDS,
    HEADER_KEYS,
    HOUSEHOLD_TYPES,
    REPO_INDICATORS,
    SHARED_DIR,
    UNIT_COLUMNS,
    CatalogueError,
    IndicatorError,
    ParametersNotInForce,
    compute_detail,
    compute_shared,
    compute_units,
    load_catalogue,
    load_shared,
    parameters_on,
    sql_header,
)

R = date(2025, 6, 30)
CATALOGUE = load_catalogue()
PARAMETERS = parameters_on(R)

TABLES = {
    "caf31": "personne_id VARCHAR, foyer_id VARCHAR, qualite VARCHAR, nbenfcharge INTEGER, "
    "resstrim DECIMAL(18,2), revacttrim DECIMAL(18,2), mtal DECIMAL(18,2), droitrsa VARCHAR, "
    "droitppa VARCHAR, droitaah VARCHAR, code_commune VARCHAR, age INTEGER",
    "cpam31": "personne_id VARCHAR, type_css VARCHAR, date_debut_droit DATE, "
    "date_fin_droit DATE, code_commune VARCHAR",
    "carsatmp": "personne_id VARCHAR, pension DECIMAL(18,2), aspa VARCHAR, code_commune VARCHAR, "
    "age INTEGER",
    "ftocc": "personne_id VARCHAR, categorie VARCHAR, indemnisation VARCHAR, "
    "date_inscription DATE, code_commune VARCHAR, age INTEGER",
    "cd31": "personne_id VARCHAR, date_dernier_contact DATE, code_commune VARCHAR",
}


# --- hand-made warehouse ------------------------------------------------------------------------


def warehouse(*, without: tuple[str, ...] = (), **rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the five tables of the input contract (minus ``without``)."""
    con = duckdb.connect()
    for name, columns in TABLES.items():
        if name in without:
            continue
        con.execute(f"create table {name} ({columns})")
        if rows.get(name):
            marks = ", ".join("?" * len(rows[name][0]))
            con.executemany(f"insert into {name} values ({marks})", rows[name])
    return con


def foyer(
    foyer_id: str,
    *members: tuple[str, str, int],
    enfants: int = 0,
    resstrim: str = "0",
    revacttrim: str = "0",
    mtal: str = "0",
    rsa: str = "N",
    ppa: str = "N",
    aah: str = "N",
    commune: str = "31555",
) -> list[tuple]:
    """The CAF lines of one household: ``members`` are (personne_id, QUALITE, age); the
    household fields are repeated on every line, as the CAF delivers them."""
    household = (enfants, D(resstrim), D(revacttrim), D(mtal), rsa, ppa, aah, commune)
    return [(pid, foyer_id, qualite, *household, age) for pid, qualite, age in members]


def composition(foyer_id: str, adults: int, children: int, **fields) -> list[tuple]:
    """A household of ``adults`` adults (40 years old) and ``children`` dependent children."""
    members = [(f"{foyer_id}-all", "ALL", 40)]
    if adults == 2:
        members.append((f"{foyer_id}-cjt", "CJT", 40))
    members += [(f"{foyer_id}-enf{i}", "ENF", 5 + i) for i in range(children)]
    return foyer(foyer_id, *members, enfants=children, **fields)


def units(con: duckdb.DuckDBPyConnection, indicator: str, reference: date = R) -> dict:
    """unite_id -> the row of compute_units, as a dict."""
    relation = compute_units(con, CATALOGUE[indicator], reference, parameters_on(reference))
    return {row[0]: dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()}


def detail(con: duckdb.DuckDBPyConnection, indicator: str, reference: date = R) -> dict:
    """unite_id -> every column the SQL file returns (the figures behind each decision)."""
    relation = compute_detail(con, CATALOGUE[indicator], reference, parameters_on(reference))
    return {row[0]: dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()}


# --- scale coefficient, forfait logement, RSA -------------------------------------------------

COMPOSITIONS = [
    # adults, children, c, household type
    (1, 0, "1", "personne_seule"),
    (1, 1, "1.5", "famille_monoparentale"),  # 1 + 0.5
    (1, 2, "1.8", "famille_monoparentale"),  # 1 + 0.5 + 0.3
    (1, 3, "2.2", "famille_monoparentale"),  # 1 + 0.5 + 0.3 + 0.4
    (2, 0, "1.5", "couple_sans_enfant"),  # 1 + 0.5
    (2, 1, "1.8", "couple_avec_enfants"),  # 1.5 + 0.3
    (2, 2, "2.1", "couple_avec_enfants"),  # 1.5 + 0.3 + 0.3
    (2, 3, "2.5", "couple_avec_enfants"),  # 1.5 + 0.3 + 0.3 + 0.4
]


@pytest.mark.parametrize(("adults", "children", "c", "kind"), COMPOSITIONS)
def test_scale_coefficient_and_household_type(adults, children, c, kind):
    con = warehouse(caf31=composition("F", adults, children))
    row = detail(con, "rsa")["F"]
    assert row["coefficient"] == D(c)
    assert row["type_menage"] == kind
    # no housing aid: no forfait logement, threshold 3 × 646.52 × c a quarter
    assert row["forfait_logement"] == 0
    assert row["seuil_trimestriel"] == 3 * D("646.52") * D(c)


@pytest.mark.parametrize(
    ("adults", "children", "forfait"),
    [
        (1, 0, "77.5824"),  # 12 % × 646.52 × 1
        (2, 0, "155.1648"),  # 16 % × 646.52 × 1.5
        (1, 1, "155.1648"),  # 2 persons, whoever they are
        (2, 1, "192.01644"),  # 16.5 % × 646.52 × 1.8
        (2, 3, "192.01644"),  # 3 persons or more
    ],
)
def test_forfait_logement_is_exact(adults, children, forfait):
    con = warehouse(caf31=composition("F", adults, children, mtal="150"))
    assert detail(con, "rsa")["F"]["forfait_logement"] == D(forfait)


@pytest.mark.parametrize(
    ("adults", "children", "mtal", "below", "at_or_above"),
    [
        # single, no housing aid: RESSTRIM < 3 × 646.52 = 1 939.56
        (1, 0, "0", "1939.55", "1939.56"),
        # single with housing aid: RESSTRIM < 3 × (646.52 − 77.5824) = 1 706.8128
        (1, 0, "120", "1706.81", "1706.82"),
        # couple with housing aid: RESSTRIM < 3 × (646.52 × 1.5 − 155.1648) = 2 443.8456
        (2, 0, "120", "2443.84", "2443.85"),
        # couple + 2 with housing aid: RESSTRIM < 3 × (646.52 × 2.1 − 192.01644) = 3 497.02668
        (2, 2, "120", "3497.02", "3497.03"),
        # single + 3, no housing aid: RESSTRIM < 3 × 646.52 × 2.2 = 4 267.032
        (1, 3, "0", "4267.03", "4267.04"),
    ],
)
def test_rsa_threshold_is_strict(adults, children, mtal, below, at_or_above):
    con = warehouse(
        caf31=composition("IN", adults, children, mtal=mtal, resstrim=below)
        + composition("OUT", adults, children, mtal=mtal, resstrim=at_or_above)
    )
    assert set(units(con, "rsa")) == {"IN"}


def test_rsa_threshold_equal_is_out():
    # 3 × 646.52 = 1 939.56 exactly: RESSTRIM / 3 = 646.52 is not < 646.52
    con = warehouse(caf31=composition("F", 1, 0, resstrim="1939.56"))
    assert units(con, "rsa") == {}


def test_rsa_children_count_is_nbenfcharge_and_aut_never_counts():
    # ALL + AUT + two ENF lines, NBENFCHARGE = 1: one adult, one child, c = 1.5
    con = warehouse(
        caf31=foyer(
            "F", ("a", "ALL", 40), ("b", "AUT", 70), ("c", "ENF", 22), ("d", "ENF", 8), enfants=1
        )
    )
    row = detail(con, "rsa")["F"]
    assert (row["adultes"], row["enfants"], row["personnes"]) == (1, 1, 2)
    assert row["coefficient"] == D("1.5")
    assert row["type_menage"] == "famille_monoparentale"


def test_rsa_excludes_aah():
    con = warehouse(caf31=composition("AAH", 1, 0, aah="O") + composition("SANS", 1, 0))
    assert set(units(con, "rsa")) == {"SANS"}


def test_rsa_under_25_needs_children():
    con = warehouse(
        caf31=foyer("24-SEUL", ("a", "ALL", 24))
        + foyer("24-PARENT", ("b", "ALL", 24), ("c", "ENF", 1), enfants=1)
        + foyer("25-SEUL", ("d", "ALL", 25))
    )
    got = units(con, "rsa")
    assert set(got) == {"24-PARENT", "25-SEUL"}
    assert got["24-PARENT"]["tranche_age"] == "18-24"
    assert got["25-SEUL"]["tranche_age"] == "25-34"


def test_rsa_non_take_up_is_droitrsa_n_and_territory_is_the_allocataires():
    con = warehouse(
        caf31=composition("PERCU", 1, 0, rsa="O")
        + composition("NON", 1, 0)
        # outside 31: returned as given, the publication leaves it out and counts it
        + composition("AILLEURS", 1, 0, commune="09122")
    )
    got = units(con, "rsa")
    assert got["PERCU"]["non_recours"] is False
    assert got["NON"]["non_recours"] is True
    assert got["AILLEURS"]["code_commune"] == "09122"


def test_household_band_is_the_allocataires():
    con = warehouse(caf31=foyer("F", ("a", "ALL", 67), ("b", "CJT", 40)))
    assert units(con, "rsa")["F"]["tranche_age"] == "65-74"


# --- prime d'activité ---------------------------------------------------------------------------


def test_prime_activite_worked_example():
    # single, housing aid, RESSTRIM = REVACTTRIM = 3 000 (1 000 a month, all earnings):
    # PA = 633.21 × 1 + 0.5985 × 1 000 − max(1 000 + FL, 633.21)
    #    = 633.21 + 598.50 − (1 000 + 75.9852)         [FL = 12 % × 633.21 = 75.9852]
    #    = 155.7248, so 3 × PA = 467.1744 ≥ 3 × 15
    con = warehouse(caf31=composition("F", 1, 0, mtal="200", resstrim="3000", revacttrim="3000"))
    row = detail(con, "prime_activite")["F"]
    assert row["forfait_logement"] == D("75.9852")
    assert row["prime_trimestrielle"] == D("467.1744")
    assert row["non_recours"] is True


def test_prime_activite_minimum_is_inclusive():
    # single, housing aid, REVACTTRIM = 1 009.60, c = 1, all three times a quarter:
    # 3 × PA = 3 × 633.21 + 0.5985 × 1 009.60 − max(RESSTRIM + 3 × 75.9852, 3 × 633.21)
    #        = 1 899.63 + 604.2456 − (RESSTRIM + 227.9556)
    # RESSTRIM = 2 230.92: 3 × PA = 2 503.8756 − 2 458.8756 = 45.00 → PA = 15 ≥ 15, in
    # RESSTRIM = 2 230.93: 3 × PA = 44.99 → PA < 15, out
    fields = {"mtal": "200", "revacttrim": "1009.60"}
    con = warehouse(
        caf31=composition("IN", 1, 0, resstrim="2230.92", **fields)
        + composition("OUT", 1, 0, resstrim="2230.93", **fields)
    )
    rows = detail(con, "prime_activite")
    assert set(rows) == {"IN"}
    assert rows["IN"]["prime_trimestrielle"] == D("45")


def test_prime_activite_conditions():
    earnings = {"resstrim": "3000", "revacttrim": "3000"}
    con = warehouse(
        caf31=composition("SANS-AL", 1, 0, mtal="0", **earnings)
        + composition("SANS-REVENU", 1, 0, mtal="200", resstrim="300")
        + foyer("MINEUR", ("m", "ALL", 17), mtal="200", **earnings)
        + foyer("MAJEUR", ("n", "ALL", 18), mtal="200", ppa="O", **earnings)
    )
    got = units(con, "prime_activite")
    assert set(got) == {"MAJEUR"}
    assert got["MAJEUR"]["non_recours"] is False
    assert got["MAJEUR"]["tranche_age"] == "18-24"


# --- ASPA ---------------------------------------------------------------------------------------


def retraite(pid: str, pension: str, age: int, aspa: str = "0", commune: str = "31555") -> tuple:
    return (pid, D(pension), aspa, commune, age)


def test_aspa_single_ceiling_is_strict_and_age_65():
    con = warehouse(
        carsatmp=[
            retraite("sous", "1034.27", 70),  # < 1 034.28: in
            retraite("egal", "1034.28", 70),  # not < 1 034.28: out
            retraite("64ans", "500", 64),  # under 65: out
            retraite("65ans", "500", 65, aspa="1"),
            retraite("75ans", "500", 75),
        ]
    )
    got = units(con, "aspa")
    assert set(got) == {"sous", "65ans", "75ans"}
    assert (got["65ans"]["tranche_age"], got["65ans"]["non_recours"]) == ("65-74", False)
    assert (got["75ans"]["tranche_age"], got["75ans"]["non_recours"]) == ("75+", True)
    assert got["sous"]["type_menage"] is None


def test_aspa_spouse_absent_from_carsat_counts_zero():
    # couple at the CAF, only "lui" at the CARSAT: 1 200 + 0 = 1 200 < 1 605.73, in
    # (alone, 1 200 would not be under the single ceiling of 1 034.28)
    con = warehouse(
        caf31=foyer("F", ("lui", "ALL", 70), ("elle", "CJT", 68)),
        carsatmp=[retraite("lui", "1200", 70)],
    )
    row = detail(con, "aspa")["lui"]
    assert (row["en_couple"], row["pension_retenue"], row["plafond"]) == (
        True,
        D("1200"),
        D("1605.73"),
    )


def test_aspa_spouse_under_65_still_counts():
    # the spouse, 60, is not a unit (under 65) but their pension counts:
    # 1 105.72 + 500 = 1 605.72 < 1 605.73: in ; 1 105.73 + 500 = 1 605.73: out
    con = warehouse(
        caf31=foyer("F1", ("in", "ALL", 70), ("conj1", "CJT", 60))
        + foyer("F2", ("out", "ALL", 70), ("conj2", "CJT", 60)),
        carsatmp=[
            retraite("in", "1105.72", 70),
            retraite("conj1", "500", 60),
            retraite("out", "1105.73", 70),
            retraite("conj2", "500", 60),
        ],
    )
    got = detail(con, "aspa")
    assert set(got) == {"in"}
    assert got["in"]["pension_retenue"] == D("1605.72")


def test_aspa_child_of_a_household_is_not_in_a_couple():
    # an ENF line is never an adult: her own pension against the single ceiling
    con = warehouse(
        caf31=foyer("F", ("fils", "ALL", 45), ("mere", "AUT", 80)),
        carsatmp=[retraite("mere", "1100", 80)],
    )
    assert units(con, "aspa") == {}


# --- CSS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adults", "children", "ceiling", "quarter"),
    [
        (1, 0, "13957", "3489.25"),  # 1 person: 13 957 / 4
        (1, 1, "20936", "5234.00"),  # 2 persons: 20 936 / 4
        (2, 1, "25123", "6280.75"),  # 3 persons: 25 123 / 4
        (2, 2, "29311", "7327.75"),  # 4 persons: 29 311 / 4
        (2, 3, "34894", "8723.50"),  # 5 persons: (29 311 + 5 583) / 4
    ],
)
def test_css_ceiling_per_household_size_is_inclusive(adults, children, ceiling, quarter):
    con = warehouse(
        caf31=composition("IN", adults, children, resstrim=quarter)
        + composition("OUT", adults, children, resstrim=str(D(quarter) + D("0.01")))
    )
    rows = detail(con, "css_bas_revenus")
    assert {row["foyer_id"] for row in rows.values()} == {"IN"}
    assert len(rows) == adults + children  # every member is a unit
    assert {row["plafond"] for row in rows.values()} == {D(ceiling)}
    assert {row["ressources_annuelles"] for row in rows.values()} == {D(ceiling)}  # 4 × RESSTRIM


def test_css_persons_count_nbenfcharge_never_aut():
    # ALL + AUT + ENF (not dependent any more), NBENFCHARGE = 0: 1 person, ceiling 13 957;
    # the AUT and ENF members are units all the same
    con = warehouse(
        caf31=foyer("F", ("a", "ALL", 50), ("b", "AUT", 80), ("c", "ENF", 21), resstrim="3489.25")
    )
    rows = detail(con, "css_bas_revenus")
    assert set(rows) == {"a", "b", "c"}
    assert {row["personnes"] for row in rows.values()} == {1}
    assert rows["b"]["tranche_age"] == "75+"


def test_css_rsa_and_bas_revenus_split_on_droitrsa():
    con = warehouse(
        caf31=composition("RSA", 1, 1, rsa="O") + composition("BAS", 1, 1, resstrim="100")
    )
    assert {row["foyer_id"] for row in detail(con, "css_rsa").values()} == {"RSA"}
    assert {row["foyer_id"] for row in detail(con, "css_bas_revenus").values()} == {"BAS"}


def test_css_open_at_r_whatever_its_commune():
    day = timedelta(days=1)
    members = [
        (p, "ALL" if p == "debut" else "AUT", 40)
        for p in ("debut", "fin", "finie", "future", "rien", "ailleurs")
    ]
    con = warehouse(
        caf31=foyer("F", *members, rsa="O"),
        cpam31=[
            ("debut", "GRATUITE", R, R + 364 * day, "31555"),  # starts on R: open
            ("fin", "GRATUITE", R - 364 * day, R, "31555"),  # ends on R: open
            ("finie", "GRATUITE", R - 365 * day, R - day, "31555"),  # ended R − 1: not open
            ("future", "GRATUITE", R + day, R + 365 * day, "31555"),  # starts R + 1: not open
            ("ailleurs", "PARTICIPATION", R - day, R + day, "09122"),  # open, outside 31
        ],
    )
    non_recours = {uid: row["non_recours"] for uid, row in units(con, "css_rsa").items()}
    assert non_recours == {
        "debut": False,
        "fin": False,
        "finie": True,
        "future": True,
        "rien": True,
        "ailleurs": False,
    }


def test_css_person_takes_household_type_and_territory_own_age():
    con = warehouse(
        caf31=foyer(
            "F", ("mere", "ALL", 35), ("fille", "ENF", 9), enfants=1, rsa="O", commune="31069"
        )
    )
    got = units(con, "css_rsa")
    assert got["fille"] == {
        "unite_id": "fille",
        "code_commune": "31069",
        "tranche_age": "0-17",
        "type_menage": "famille_monoparentale",
        "non_recours": True,
        "connu": False,
    }


def test_css_person_in_two_households_counted_once():
    # a child in alternating residence is on both parents' lines: one unit
    con = warehouse(
        caf31=foyer("F1", ("p1", "ALL", 40), ("enfant", "ENF", 8), enfants=1, rsa="O")
        + foyer("F2", ("p2", "ALL", 41), ("enfant", "ENF", 8), enfants=1, rsa="O")
    )
    got = detail(con, "css_rsa")
    assert sorted(got) == ["enfant", "p1", "p2"]
    assert got["enfant"]["foyer_id"] == "F1"


# --- demandeurs d'emploi sans revenu ------------------------------------------------------------


def demandeur(
    pid: str,
    inscription: date = date(2025, 1, 15),
    categorie: str = "A",
    indemnisation: str = "AUCUNE",
    age: int = 40,
) -> tuple:
    return (pid, categorie, indemnisation, inscription, "31555", age)


@pytest.mark.parametrize(
    ("reference", "inside", "outside"),
    [
        (R, date(2025, 3, 31), date(2025, 4, 1)),  # R − 3 months = 2025-03-31
        (date(2025, 5, 31), date(2025, 2, 28), date(2025, 3, 1)),  # R − 3 months = 2025-02-28
    ],
)
def test_registration_three_months_edge(reference, inside, outside):
    con = warehouse(ftocc=[demandeur("in", inside), demandeur("out", outside)])
    assert set(units(con, "demandeurs_sans_revenu", reference)) == {"in"}


def test_job_seeker_conditions():
    con = warehouse(
        ftocc=[
            demandeur("a"),
            demandeur("b", categorie="B"),
            demandeur("c", categorie="C"),  # category C: out
            demandeur("are", indemnisation="ARE"),  # benefit paid: out
            demandeur("24ans", age=24),  # under 25: out
            demandeur("25ans", age=25),
        ]
    )
    got = units(con, "demandeurs_sans_revenu")
    assert set(got) == {"a", "b", "25ans"}
    assert got["25ans"]["tranche_age"] == "25-34"
    assert got["a"]["type_menage"] is None


def test_job_seeker_with_rsa_or_ppa_as_adult_of_any_household():
    con = warehouse(
        ftocc=[demandeur(p) for p in ("conjoint_ppa", "enfant_rsa", "allocataire_sans")],
        caf31=foyer("F1", ("x", "ALL", 45), ("conjoint_ppa", "CJT", 44), ppa="O", commune="09122")
        + foyer("F2", ("y", "ALL", 60), ("enfant_rsa", "ENF", 30), rsa="O")
        + foyer("F3", ("allocataire_sans", "ALL", 40)),
    )
    non_recours = {u: r["non_recours"] for u, r in units(con, "demandeurs_sans_revenu").items()}
    # the CJT of a household paid the PPA (outside 31) is not in non-take-up; an ENF line of a
    # household paid the RSA is not an adult of it, so still presumed non-take-up
    assert non_recours == {"conjoint_ppa": False, "enfant_rsa": True, "allocataire_sans": True}


# --- known to social services -------------------------------------------------------------------


def contact(pid: str, day: date) -> tuple:
    return (pid, day, "31555")


def test_known_24_months_edge_and_household_extension():
    # R − 24 months = 2023-06-30: a contact that day is too old, the day after counts
    con = warehouse(
        caf31=composition("ANCIEN", 1, 0)
        + composition("RECENT", 1, 0)
        + foyer("PAR-ENFANT", ("p", "ALL", 40), ("e", "ENF", 19), enfants=1),
        cd31=[
            contact("ANCIEN-all", date(2023, 6, 30)),
            contact("RECENT-all", date(2023, 7, 1)),
            contact("e", date(2025, 1, 10)),  # the child is followed: the household is known
        ],
    )
    known = {uid: row["connu"] for uid, row in units(con, "rsa").items()}
    assert known == {"ANCIEN": False, "RECENT": True, "PAR-ENFANT": True}


def test_person_known_through_any_member_of_their_caf_household():
    con = warehouse(
        caf31=foyer("F", ("lui", "ALL", 70), ("elle", "CJT", 68), ("fils", "ENF", 30), rsa="O")
        + foyer("G", ("z", "ALL", 40), ("w", "CJT", 40)),
        carsatmp=[
            retraite("lui", "400", 70),
            retraite("elle", "300", 68),
            retraite("isole", "9", 90),
        ],
        ftocc=[demandeur("fils"), demandeur("seul")],
        cd31=[
            contact("elle", date(2024, 2, 1)),  # reaches her husband and her son
            contact("w", date(2025, 6, 1)),  # reaches z, who is in no population
            contact("isole", date(2025, 6, 30)),  # at the CARSAT only, known herself
        ],
    )
    assert {u: r["connu"] for u, r in units(con, "aspa").items()} == {
        "lui": True,
        "elle": True,
        "isole": True,
    }
    assert {u: r["connu"] for u, r in units(con, "demandeurs_sans_revenu").items()} == {
        "fils": True,
        "seul": False,
    }
    assert {u: r["connu"] for u, r in units(con, "css_rsa").items()} == {
        "lui": True,
        "elle": True,
        "fils": True,
    }


def test_known_is_false_without_cd31_and_leaves_no_table_behind():
    con = warehouse(caf31=composition("F", 1, 0), without=("cd31",))
    assert units(con, "rsa")["F"]["connu"] is False
    with pytest.raises(duckdb.CatalogException):
        con.execute("select * from cd31")


# --- output contract ----------------------------------------------------------------------------


def everything() -> duckdb.DuckDBPyConnection:
    """One unit of every indicator."""
    return warehouse(
        caf31=composition("RSA", 2, 1, rsa="O")
        + composition("PA", 1, 0, mtal="200", resstrim="3000", revacttrim="3000")
        + composition("BAS", 1, 0, resstrim="100"),
        cpam31=[("BAS-all", "PARTICIPATION", R, R, "31555")],
        carsatmp=[retraite("vieux", "600", 80)],
        ftocc=[demandeur("chomeur")],
        cd31=[contact("RSA-enf0", date(2025, 6, 30))],
    )


@pytest.mark.parametrize("indicator", sorted(CATALOGUE))
def test_units_contract(indicator):
    relation = compute_units(everything(), CATALOGUE[indicator], R, PARAMETERS)
    assert relation.columns == list(UNIT_COLUMNS)
    assert [str(t) for t in relation.types] == list(UNIT_COLUMNS.values())
    assert len(relation.fetchall()) >= 1


@pytest.mark.parametrize("indicator", sorted(CATALOGUE))
def test_no_binary_floating_point_anywhere(indicator):
    relation = compute_detail(everything(), CATALOGUE[indicator], R, PARAMETERS)
    assert not [t for t in map(str, relation.types) if t in ("DOUBLE", "FLOAT", "REAL")]


def test_reference_must_be_the_last_day_of_a_month():
    with pytest.raises(IndicatorError, match="dernier jour du mois"):
        compute_units(everything(), CATALOGUE["rsa"], date(2025, 6, 15), PARAMETERS)


def test_missing_parameter_is_refused_in_french():
    partial = {k: v for k, v in PARAMETERS.items() if k != "rsa_base"}
    with pytest.raises(IndicatorError, match="paramètre sans valeur : rsa_base"):
        compute_units(everything(), CATALOGUE["rsa"], R, partial)


def test_missing_source_table_is_named():
    con = warehouse(without=("cpam31",))
    with pytest.raises(IndicatorError, match="css_rsa.sql"):
        compute_units(con, CATALOGUE["css_rsa"], R, PARAMETERS)


# --- parameters ---------------------------------------------------------------------------------


def test_parameters_in_force_are_exact_decimals():
    assert PARAMETERS["rsa_base"] == D("646.52")
    assert PARAMETERS["prime_activite_part_revenus"] == D("0.5985")
    assert PARAMETERS["aspa_plafond_couple"] == D("1605.73")
    assert PARAMETERS["css_plafond_personne_supplementaire"] == D("5583")
    assert all(type(value) is D for value in PARAMETERS.values())
    assert parameters_on(date(2025, 4, 1)) == PARAMETERS


@pytest.mark.parametrize("reference", [date(2025, 3, 31), date(2025, 1, 31), date(2024, 12, 31)])
def test_parameters_before_april_2025_are_refused(reference):
    with pytest.raises(ParametersNotInForce, match=f"période {reference:%Y-%m} refusée.*rsa_base"):
        parameters_on(reference)


def test_parameters_are_never_written_into_the_sql():
    for indicator in CATALOGUE.values():
        text = indicator.sql_path.read_text(encoding="utf-8")
        for value in PARAMETERS.values():
            if value >= 100:
                assert str(value) not in text, (indicator.id, value)


# --- catalogue ----------------------------------------------------------------------------------


def test_catalogue_matches_what_is_published():
    assert list(CATALOGUE) == [
        "rsa",
        "prime_activite",
        "aspa",
        "css_rsa",
        "css_bas_revenus",
        "demandeurs_sans_revenu",
    ]
    bands = {i.id: i.age_bands for i in CATALOGUE.values()}
    assert bands["rsa"] == bands["prime_activite"] == AGE_BANDS[1:]
    assert bands["aspa"] == ("65-74", "75+")
    assert bands["css_rsa"] == bands["css_bas_revenus"] == AGE_BANDS
    assert bands["demandeurs_sans_revenu"] == AGE_BANDS[2:]
    types = {i.id: i.household_types for i in CATALOGUE.values()}
    assert types["aspa"] == types["demandeurs_sans_revenu"] == ()
    assert {types[i] for i in ("rsa", "prime_activite", "css_rsa", "css_bas_revenus")} == {
        HOUSEHOLD_TYPES
    }
    assert CATALOGUE["aspa"].sources == ("carsatmp", "caf31")
    assert CATALOGUE["css_rsa"].unit == "personne" and CATALOGUE["rsa"].unit == "foyer"


@pytest.mark.parametrize("indicator", sorted(CATALOGUE))
def test_every_sql_has_its_header(indicator):
    path = CATALOGUE[indicator].sql_path
    assert path.name == f"{indicator}.sql"
    header = sql_header(path.read_text(encoding="utf-8"))
    assert header.startswith(f"-- Indicateur {indicator} :")
    for key in HEADER_KEYS:
        assert f"-- {key} :" in header


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO_INDICATORS, tmp_path / "indicators")
    return tmp_path / "indicators"


def test_catalogue_errors_name_file_and_line(catalogue_copy):
    path = catalogue_copy / "catalogue.yaml"
    text = path.read_text(encoding="utf-8")
    line = text.splitlines().index("    unit: foyer") + 1
    path.write_text(text.replace("    unit: foyer", "    unit: menage", 1), encoding="utf-8")
    with pytest.raises(CatalogueError) as error:
        load_catalogue(catalogue_copy)
    assert str(error.value).startswith(f"catalogue.yaml, ligne {line} : « indicators.0.unit »")
    assert "attendu : 'foyer' ou 'personne'" in str(error.value)


def test_catalogue_refuses_a_sql_without_header_and_an_unknown_parameter(catalogue_copy):
    sql = catalogue_copy / "rsa.sql"
    body = sql.read_text(encoding="utf-8").split("\nwith\n", 1)[1]
    sql.write_text("with\n" + body.replace("$rsa_base", "$rsa_bsae"), encoding="utf-8")
    with pytest.raises(CatalogueError) as error:
        load_catalogue(catalogue_copy)
    assert len(error.value.problems) == 1
    assert "rsa.sql : commentaire d'en-tête manquant" in error.value.problems[0]


def test_parameters_file_refuses_duplicates_and_floats_stay_exact(catalogue_copy):
    path = catalogue_copy / "parameters.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("value: 646.52", "value: 0.1"), encoding="utf-8")
    assert parameters_on(R, catalogue_copy)["rsa_base"] == D("0.1")  # not 0.1000000000000000055…
    path.write_text(text + "  rsa_base:\n    label: x\n    unit: x\n    values: []\n", "utf-8")
    with pytest.raises(
        CatalogueError, match=r"parameters.yaml, ligne \d+ : .*rsa_base.* en double"
    ):
        parameters_on(R, catalogue_copy)


# --- shared relations ---------------------------------------------------------------------------

SHARED = load_shared()


def shared_rows(con: duckdb.DuckDBPyConnection, name: str, key: str) -> dict:
    """``key`` -> the row of one shared relation at R, as a dict."""
    relation = compute_shared(con, name, R, PARAMETERS)
    rows = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    assert len({row[key] for row in rows}) == len(rows), f"{name} : {key} en double"
    return {row[key]: row for row in rows}


def test_shared_relations_and_who_reads_them():
    assert set(SHARED) == {
        "tranches_age",
        "membres_caf",
        "foyers_caf",
        "contacts_recents",
        "foyers_connus",
        "personnes_connues",
        "css_ouvertes",
    }
    order = list(SHARED)
    for relation in SHARED.values():  # each after what it reads
        assert all(order.index(read) < order.index(relation.name) for read in relation.reads)
    reads = {i.id: {s.name for s in i.shared} for i in CATALOGUE.values()}
    assert all({"contacts_recents", "foyers_connus"} <= names for names in reads.values())
    assert "css_ouvertes" in reads["css_rsa"] & reads["css_bas_revenus"]
    assert "css_ouvertes" not in reads["rsa"] | reads["aspa"] | reads["demandeurs_sans_revenu"]


@pytest.mark.parametrize("name", sorted(SHARED))
def test_every_shared_sql_has_its_header_and_no_written_amount(name):
    path = SHARED[name].sql_path
    assert path.parent.name == SHARED_DIR and path.name == f"{name}.sql"
    text = path.read_text(encoding="utf-8")
    header = sql_header(text)
    assert header.startswith(f"-- Relation partagée {name} :")
    for key in (*HEADER_KEYS, "Paramètres"):
        assert f"-- {key} :" in header
    for value in PARAMETERS.values():
        if value >= 100:
            assert str(value) not in text, (name, value)


def test_age_bands_cover_every_age_exactly_once():
    bands = list(shared_rows(warehouse(), "tranches_age", "tranche_age").values())
    names = [band["tranche_age"] for band in bands]
    assert sorted(names, key=AGE_BANDS.index) == list(AGE_BANDS)
    for age in range(-2, 131):
        found = [
            band["tranche_age"]
            for band in bands
            if (band["age_min"] is None or age >= band["age_min"])
            and (band["age_fin"] is None or age < band["age_fin"])
        ]
        expected = next(
            b for b, top in zip(AGE_BANDS, (18, 25, 35, 50, 65, 75, 999), strict=True) if age < top
        )
        assert found == [expected], age


def test_caf_members_quality_rank_adult_and_own_band():
    con = warehouse(
        caf31=foyer("F", ("a", "ALL", 17), ("b", "CJT", 18), ("c", "ENF", 75), ("d", "AUT", None))
        + foyer("SANS_ALL", ("e", "CJT", 40))
    )
    relation = compute_shared(con, "membres_caf", R, PARAMETERS)
    rows = {row[0]: dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()}
    assert {p: (r["adulte"], r["rang_qualite"], r["tranche_age"]) for p, r in rows.items()} == {
        "a": (True, 1, "0-17"),
        "b": (True, 2, "18-24"),
        "c": (False, 3, "75+"),
        "d": (False, 4, None),  # unknown age: no band
        "e": (True, 2, "35-49"),  # a household without ALL line keeps its members
    }


@pytest.mark.parametrize(("adults", "children", "c", "kind"), COMPOSITIONS)
def test_caf_households_composition_scale_and_type(adults, children, c, kind):
    # an ENF line beyond NBENFCHARGE and an AUT line never count
    extra = [("X-enf-majeur", "ENF", 22), ("X-aut", "AUT", 50)]
    lines = composition("X", adults, children, mtal="1") + foyer("X", *extra, enfants=children)
    row = shared_rows(warehouse(caf31=lines), "foyers_caf", "foyer_id")["X"]
    assert (row["adultes"], row["enfants"], row["personnes"]) == (
        adults,
        children,
        adults + children,
    )
    assert row["coefficient"] == D(c)
    assert row["type_menage"] == kind
    assert (row["age_allocataire"], row["tranche_age_allocataire"]) == (40, "35-49")
    # FL(base) = base × taux: 12 % × 1, 16 % × 1.5, 16.5 % × 1.8
    persons = adults + children
    assert row["taux_forfait_logement"] == D(
        "0.12" if persons == 1 else "0.24" if persons == 2 else "0.297"
    )


def test_caf_households_fields_come_from_the_allocataire_and_need_one():
    con = warehouse(
        caf31=foyer("F", ("b", "ALL", 30), ("a", "ALL", 60), commune="31069")
        + foyer("F", ("c", "CJT", 30), commune="31555")
        + foyer("SANS_ALL", ("d", "CJT", 40))
        + composition("SANS_AL", 1, 0)  # MTAL = 0: no forfait logement
    )
    rows = shared_rows(con, "foyers_caf", "foyer_id")
    assert set(rows) == {"F", "SANS_AL"}
    # two ALL lines: the first by personne_id ("a", 60 years old); adults count every line
    assert (rows["F"]["age_allocataire"], rows["F"]["adultes"]) == (60, 3)
    assert rows["F"]["code_commune"] == "31069" and rows["F"]["type_menage"] == "couple_sans_enfant"
    assert rows["SANS_AL"]["taux_forfait_logement"] == 0


def test_known_people_and_households():
    # R − 24 months = 2023-06-30: a contact that day is too old, the day after counts
    con = warehouse(
        caf31=composition("F", 2, 1)
        + foyer("G", ("F-enf0", "ALL", 19))  # the child's other household
        + foyer("SANS_ALL", ("s", "ENF", 3), ("t", "AUT", 50))
        + composition("OLD", 1, 0),
        cd31=[
            contact("F-cjt", date(2023, 7, 1)),
            contact("t", date(2025, 7, 15)),  # after R (late extraction): recent
            contact("OLD-all", date(2023, 6, 30)),
            contact("hors_caf", date(2024, 1, 1)),
        ],
    )
    assert set(shared_rows(con, "contacts_recents", "personne_id")) == {"F-cjt", "t", "hors_caf"}
    assert set(shared_rows(con, "foyers_connus", "foyer_id")) == {"F", "SANS_ALL"}
    assert set(shared_rows(con, "personnes_connues", "personne_id")) == {
        "F-all",
        "F-cjt",
        "F-enf0",  # member of a known household...
        "hors_caf",
        "s",
        "t",
    }  # ...but G, F-enf0's other household, is not known through her
    assert "G" not in shared_rows(con, "foyers_connus", "foyer_id")


def test_known_people_without_cd31_is_empty():
    con = warehouse(caf31=composition("F", 1, 0), without=("cd31",))
    assert shared_rows(con, "personnes_connues", "personne_id") == {}


def test_open_css_at_r_whatever_its_commune():
    con = warehouse(
        cpam31=[
            ("a", "SANS_PARTICIPATION", date(2025, 1, 1), R, "75056"),
            ("b", "PARTICIPATION", R, date(2026, 1, 1), "31555"),
            ("c", "PARTICIPATION", date(2024, 1, 1), date(2025, 6, 29), "31555"),
            ("d", "PARTICIPATION", date(2025, 7, 1), date(2026, 6, 30), "31555"),
        ]
    )
    assert set(shared_rows(con, "css_ouvertes", "personne_id")) == {"a", "b"}


def temporary_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            "select table_name from duckdb_tables() where database_name = 'temp'"
        ).fetchall()
    ]


@pytest.mark.parametrize("indicator", sorted(CATALOGUE))
def test_shared_tables_are_dropped_after_each_computation(indicator):
    con = everything()
    compute_detail(con, CATALOGUE[indicator], R, PARAMETERS)
    compute_units(con, CATALOGUE[indicator], R, PARAMETERS)
    assert temporary_tables(con) == []


def test_shared_tables_are_dropped_after_an_error():
    con = warehouse(without=("cpam31",))
    with pytest.raises(IndicatorError, match="css_rsa.sql.*css_ouvertes.sql"):
        compute_units(con, CATALOGUE["css_rsa"], R, PARAMETERS)
    assert temporary_tables(con) == []


def test_a_warehouse_table_with_a_shared_name_is_refused():
    con = everything()
    con.execute("create table foyers_caf (foyer_id varchar)")
    with pytest.raises(IndicatorError, match="foyers_caf.*existe déjà"):
        compute_units(con, CATALOGUE["rsa"], R, PARAMETERS)
    assert temporary_tables(con) == []


def test_catalogue_checks_the_shared_files(catalogue_copy):
    shared = catalogue_copy / SHARED_DIR
    path = shared / "foyers_caf.sql"
    body = path.read_text(encoding="utf-8").split("\nwith\n", 1)[1]
    path.write_text("with\n" + body, encoding="utf-8")
    (shared / "boucle.sql").write_text(
        "-- Relation partagée boucle : x.\n-- Calcule : x.\n-- Grain : x.\n-- Sources : x.\n"
        "select * from boucle\n",
        encoding="utf-8",
    )
    (shared / "masque.sql").write_text(
        "-- Relation partagée masque : x.\n-- Calcule : x.\n-- Grain : x.\n-- Sources : x.\n"
        "with membres_caf as (select 1 as a) select $rsa_bsae as b from membres_caf\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogueError) as error:
        load_catalogue(catalogue_copy)
    problems = error.value.problems
    assert f"{SHARED_DIR}/foyers_caf.sql : commentaire d'en-tête manquant" in problems[0]
    assert any(
        "masque.sql : paramètre inconnu de parameters.yaml : $rsa_bsae" in p for p in problems
    )
    assert any("masque.sql : étape (with … as) qui porte le nom" in p for p in problems)
    assert any("en boucle" in p and "boucle" in p for p in problems)
