"""Publication, tested exactly on hand-made units: complete grid, additivity, primary secret
(each condition and its boundary), contract types, French CSV, atomic replacement, earlier
periods kept, and no unit id anywhere in ``published/``."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.publish import (
    IndicatorUnits,
    PublicationError,
    aggregate,
    apply_primary_secret,
    publish,
)
from pipelines.publish import write as write_module
from pipelines.publish.export import french_csv
from pipelines.publish.territories import territoires_table
from recours.reference import communes

PERIOD = "2025-06"
BANDS = ("18-24", "25-34", "35-49", "50-64", "65-74", "75+")
TYPES = ("personne_seule", "famille_monoparentale", "couple_sans_enfant", "couple_avec_enfants")
TOULOUSE, AIGREFEUILLE, BLAGNAC, AYGUESVIVES = "31555", "31003", "31069", "31004"
METROPOLE, SICOVAL = "243100518", "243100633"
N_COMMUNES, N_ZONES, N_EPCI = 586, 150, 18
TOULOUSE_ZONE = "31Z111"

# commune, band, type, population, non_recours, of whom known, known among the others
CELLS = [
    (TOULOUSE, "25-34", "personne_seule", 40, 15, 12, 5),
    (TOULOUSE, "35-49", "couple_avec_enfants", 20, 5, 3, 0),
    (AIGREFEUILLE, "25-34", "personne_seule", 12, 12, 0, 0),
    (AYGUESVIVES, "50-64", "famille_monoparentale", 88, 11, 11, 0),
]
# units left out: (commune, band, type) -> reason
LEFT_OUT = [
    ("75056", "25-34", "personne_seule"),  # Paris
    ("09122", "25-34", "personne_seule"),  # Ariège
    (None, "25-34", "personne_seule"),
    (TOULOUSE, "0-17", "personne_seule"),  # not a band of this indicator
    (TOULOUSE, None, "personne_seule"),
    (TOULOUSE, "25-34", None),
]

EXPECTED_COLUMNS = {
    "indicateurs": [
        ("indicateur", "VARCHAR"),
        ("periode", "VARCHAR"),
        ("niveau", "VARCHAR"),
        ("code_territoire", "VARCHAR"),
        ("libelle_territoire", "VARCHAR"),
        ("tranche_age", "VARCHAR"),
        ("type_menage", "VARCHAR"),
        ("population", "BIGINT"),
        ("non_recours", "BIGINT"),
        ("taux", "DOUBLE"),
        ("secret", "BOOLEAN"),
    ],
    "connus": [
        ("indicateur", "VARCHAR"),
        ("periode", "VARCHAR"),
        ("niveau", "VARCHAR"),
        ("code_territoire", "VARCHAR"),
        ("libelle_territoire", "VARCHAR"),
        ("non_recours", "BIGINT"),
        ("non_recours_connus", "BIGINT"),
        ("part_connus", "DOUBLE"),
        ("secret", "BOOLEAN"),
    ],
    "catalogue": [
        ("indicateur", "VARCHAR"),
        ("libelle", "VARCHAR"),
        ("definition", "VARCHAR"),
        ("sources", "VARCHAR"),
        ("conventions", "VARCHAR"),
        ("mises_en_garde", "VARCHAR"),
    ],
    "territoires": [
        ("niveau", "VARCHAR"),
        ("code_territoire", "VARCHAR"),
        ("libelle_territoire", "VARCHAR"),
        ("code_parent", "VARCHAR"),
        ("population_municipale_2023", "BIGINT"),
        ("code_epci", "VARCHAR"),
    ],
    "metadonnees": [("cle", "VARCHAR"), ("valeur", "VARCHAR")],
    "qualite": [
        ("periode", "VARCHAR"),
        ("convention", "VARCHAR"),
        ("mesure", "VARCHAR"),
        ("valeur", "BIGINT"),
    ],
}


def unit_id(indicator: str, number: int) -> str:
    """Looks like a keyed pseudonym: long, hexadecimal, unique."""
    return hashlib.sha256(f"{indicator}/{number}".encode()).hexdigest()


def make_units(
    indicator: str = "rsa",
    cells=CELLS,
    left_out=LEFT_OUT,
    bands: tuple[str, ...] = BANDS,
    types: tuple[str, ...] = TYPES,
    threshold: int = 11,
) -> IndicatorUnits:
    rows = []
    for commune, band, kind, population, non_recours, known, known_others in cells:
        for index in range(population):
            taking_up = index >= non_recours
            rows.append(
                {
                    "code_commune": commune,
                    "tranche_age": band,
                    "type_menage": kind,
                    "non_recours": not taking_up,
                    "connu": index < known if not taking_up else index - non_recours < known_others,
                }
            )
    for commune, band, kind in left_out:
        rows.append(
            {
                "code_commune": commune,
                "tranche_age": band,
                "type_menage": kind,
                "non_recours": True,
                "connu": False,
            }
        )
    frame = pl.DataFrame(
        [{"unite_id": unit_id(indicator, number), **row} for number, row in enumerate(rows)],
        schema={
            "unite_id": pl.String,
            "code_commune": pl.String,
            "tranche_age": pl.String,
            "type_menage": pl.String,
            "non_recours": pl.Boolean,
            "connu": pl.Boolean,
        },
    )
    return IndicatorUnits(indicator, bands, types, threshold, frame)


def make_aspa() -> IndicatorUnits:
    """An indicator without household types: its units' types are ignored, even NULL."""
    cells = [
        (TOULOUSE, "75+", None, 15, 3, 1, 0),
        (BLAGNAC, "65-74", "couple_sans_enfant", 5, 0, 0, 0),
    ]
    return make_units("aspa", cells, [], bands=("65-74", "75+"), types=())


def catalogue(*names: str) -> list[dict]:
    return [
        {
            "indicateur": name,
            "libelle": f"Libellé {name}",
            "definition": "Ménages éligibles présumés ; sans droit ouvert",
            "sources": ["caf31"],
            "conventions": "caf31, cd31",
            "mises_en_garde": None,
        }
        for name in names
    ]


def quality(period: str, lines: int = 1000) -> list[dict]:
    return [{"periode": period, "convention": "caf31", "mesure": "lignes_lues", "valeur": lines}]


def metadata(period: str) -> list[dict]:
    return [
        {"cle": "periode", "valeur": period},
        {"cle": "seuil", "valeur": 11},
        {"cle": "protection", "valeur": "secret primaire seulement (le secret secondaire viendra)"},
    ]


def run_publish(published: Path, period: str = PERIOD, indicators=None):
    indicators = indicators if indicators is not None else [make_units()]
    names = [units.indicator for units in indicators]
    return publish(
        published, period, indicators, catalogue(*names), metadata(period), quality(period)
    )


def table(published: Path, name: str) -> pl.DataFrame:
    with duckdb.connect(str(published / "recours.duckdb"), read_only=True) as connection:
        return connection.sql(f"SELECT * FROM {name}").pl()


def row(frame: pl.DataFrame, **where) -> dict:
    found = frame.filter(*(pl.col(key) == value for key, value in where.items()))
    assert found.height == 1, where
    return found.row(0, named=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def aggregated():
    return aggregate(make_units(), PERIOD)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("home") / "published"
    run_publish(folder, indicators=[make_units(), make_aspa()])
    return folder


# --- the complete grid ------------------------------------------------------------------------


def test_grid_is_complete_with_exact_sizes(aggregated):
    indicateurs, connus, _ = aggregated
    per_territory = (len(BANDS) + 1) * (len(TYPES) + 1)
    sizes = dict(indicateurs.group_by("niveau").len().iter_rows())
    assert sizes == {
        "departement": per_territory,
        "epci": N_EPCI * per_territory,
        "zone": N_ZONES,
        "commune": N_COMMUNES,
    }
    assert indicateurs.height == 35 + 630 + 150 + 586
    reference = communes()
    assert set(indicateurs.filter(niveau="commune")["code_territoire"]) == set(
        reference["code_insee"]
    )
    assert set(indicateurs.filter(niveau="epci")["code_territoire"]) == set(reference["epci_siren"])
    combinations = set(
        itertools.product(("ensemble", *BANDS), ("ensemble", *TYPES)),
    )
    for level in ("departement", "epci"):
        for (_code,), group in indicateurs.filter(niveau=level).group_by("code_territoire"):
            assert set(group.select("tranche_age", "type_menage").iter_rows()) == combinations
    for level in ("zone", "commune"):
        fine = indicateurs.filter(niveau=level)
        assert set(fine["tranche_age"]) == set(fine["type_menage"]) == {"ensemble"}
    # EPCI = Σ zones = Σ communes, count by count, before any secret
    ensemble = indicateurs.filter(tranche_age="ensemble", type_menage="ensemble")
    hierarchy = territoires_table().select("code_territoire", "code_parent")
    for child, parent_level in (("commune", "zone"), ("zone", "epci")):
        sums = (
            ensemble.filter(niveau=child)
            .join(hierarchy, on="code_territoire")
            .group_by("code_parent")
            .agg(pl.col("population", "non_recours").sum())
            .sort("code_parent")
        )
        above = ensemble.filter(niveau=parent_level).sort("code_territoire")
        assert sums["code_parent"].to_list() == above["code_territoire"].to_list()
        assert sums["population"].to_list() == above["population"].to_list()
        assert sums["non_recours"].to_list() == above["non_recours"].to_list()
    assert ensemble.filter(niveau="zone")["population"].sum() > 0
    assert (
        indicateurs.select("niveau", "code_territoire", "tranche_age", "type_menage")
        .is_unique()
        .all()
    )
    assert dict(connus.group_by("niveau").len().iter_rows()) == {"departement": 1, "epci": 18}
    assert set(indicateurs["periode"]) == {PERIOD} and set(indicateurs["indicateur"]) == {"rsa"}


def test_grid_without_household_types_has_ensemble_only():
    indicateurs, connus, excluded = aggregate(make_aspa(), PERIOD)
    assert dict(indicateurs.group_by("niveau").len().iter_rows()) == {
        "departement": 3,
        "epci": 3 * N_EPCI,
        "zone": N_ZONES,
        "commune": N_COMMUNES,
    }
    assert set(indicateurs["type_menage"]) == {"ensemble"}
    assert connus.height == 1 + N_EPCI
    assert row(indicateurs, niveau="departement", tranche_age="ensemble")["population"] == 20
    assert row(indicateurs, niveau="departement", tranche_age="75+")["population"] == 15
    blagnac_epci = row(indicateurs, niveau="epci", code_territoire=METROPOLE, tranche_age="65-74")
    assert (blagnac_epci["population"], blagnac_epci["non_recours"]) == (5, 0)
    assert sum(excluded.values()) == 0


def test_labels_and_territory_names(aggregated):
    indicateurs, connus, _ = aggregated
    departement = row(
        indicateurs, niveau="departement", tranche_age="ensemble", type_menage="ensemble"
    )
    assert (departement["code_territoire"], departement["libelle_territoire"]) == (
        "31",
        "Haute-Garonne",
    )
    toulouse = row(indicateurs, niveau="commune", code_territoire=TOULOUSE)
    assert toulouse["libelle_territoire"] == "Toulouse"
    metropole = row(connus, niveau="epci", code_territoire=METROPOLE)
    assert metropole["libelle_territoire"] == "Toulouse Métropole"


# --- exact counts and additivity -------------------------------------------------------------


def test_counts_are_exact(aggregated):
    indicateurs, connus, excluded = aggregated
    ensemble = {"tranche_age": "ensemble", "type_menage": "ensemble"}
    expected = {
        ("commune", TOULOUSE): (60, 20),
        ("commune", AIGREFEUILLE): (12, 12),
        ("commune", AYGUESVIVES): (88, 11),
        ("commune", BLAGNAC): (0, 0),
        ("epci", METROPOLE): (72, 32),
        ("epci", SICOVAL): (88, 11),
        ("departement", "31"): (160, 43),
    }
    for (level, code), (population, non_recours) in expected.items():
        found = row(indicateurs, niveau=level, code_territoire=code, **ensemble)
        assert (found["population"], found["non_recours"]) == (population, non_recours)
    cell = row(
        indicateurs,
        niveau="epci",
        code_territoire=METROPOLE,
        tranche_age="25-34",
        type_menage="personne_seule",
    )
    assert (cell["population"], cell["non_recours"]) == (52, 27)
    assert row(indicateurs, niveau="commune", code_territoire=AYGUESVIVES)["taux"] == 0.125
    known = {
        ("departement", "31"): (43, 26),
        ("epci", METROPOLE): (32, 15),
        ("epci", SICOVAL): (11, 11),
    }
    for (level, code), (non_recours, of_whom_known) in known.items():
        found = row(connus, niveau=level, code_territoire=code)
        assert (found["non_recours"], found["non_recours_connus"]) == (non_recours, of_whom_known)
    assert excluded == {
        "hors_departement": 2,
        "commune_inconnue": 1,
        "tranche_age_hors_grille": 2,
        "type_menage_hors_grille": 1,
    }


def test_totals_add_up_across_levels_and_breakdowns(aggregated):
    indicateurs, connus, _ = aggregated
    measures = ["population", "non_recours"]
    by_epci = communes().select(
        pl.col("code_insee").alias("code_territoire"), pl.col("epci_siren").alias("epci")
    )
    departement = indicateurs.filter(niveau="departement").drop("code_territoire")
    epci = indicateurs.filter(niveau="epci")
    keys = ["tranche_age", "type_menage"]
    summed_epci = epci.group_by(keys).agg(pl.col(measures).sum())
    assert (
        departement.select(*keys, *measures)
        .sort(keys)
        .equals(summed_epci.select(*keys, *measures).sort(keys))
    )
    communal = indicateurs.filter(niveau="commune").join(by_epci, on="code_territoire")
    summed_communes = (
        communal.group_by("epci").agg(pl.col(measures).sum()).rename({"epci": "code_territoire"})
    )
    epci_totals = epci.filter(tranche_age="ensemble", type_menage="ensemble").select(
        "code_territoire", *measures
    )
    assert epci_totals.sort("code_territoire").equals(
        summed_communes.select("code_territoire", *measures).sort("code_territoire")
    )
    for level in ("departement", "epci"):
        frame = indicateurs.filter(niveau=level)
        for by, other in (("tranche_age", "type_menage"), ("type_menage", "tranche_age")):
            totals = frame.filter(pl.col(by) == "ensemble").select(
                "code_territoire", other, *measures
            )
            parts = (
                frame.filter(pl.col(by) != "ensemble")
                .group_by("code_territoire", other)
                .agg(pl.col(measures).sum())
            )
            assert totals.sort("code_territoire", other).equals(
                parts.select("code_territoire", other, *measures).sort("code_territoire", other)
            )
    assert (
        connus.filter(niveau="departement")["non_recours_connus"].item()
        == connus.filter(niveau="epci")["non_recours_connus"].sum()
    )


def test_rates_and_shares_are_null_only_when_the_denominator_is_zero(aggregated):
    indicateurs, connus, _ = aggregated
    assert indicateurs.filter(pl.col("taux").is_null()).equals(
        indicateurs.filter(pl.col("population") == 0)
    )
    nonzero = indicateurs.filter(pl.col("population") > 0)
    assert (nonzero["taux"] == nonzero["non_recours"] / nonzero["population"]).all()
    assert connus.filter(pl.col("part_connus").is_null()).equals(
        connus.filter(pl.col("non_recours") == 0)
    )
    assert row(connus, niveau="epci", code_territoire=SICOVAL)["part_connus"] == 1.0
    assert row(connus, niveau="departement")["part_connus"] == 26 / 43


# --- primary secret --------------------------------------------------------------------------


def indicateurs_rows(pairs: list[tuple[int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "code_territoire": [str(index) for index in range(len(pairs))],
            "population": [population for population, _ in pairs],
            "non_recours": [non_recours for _, non_recours in pairs],
            "taux": [nr / pop if pop else None for pop, nr in pairs],
            "secret": [False] * len(pairs),
        },
        schema_overrides={"taux": pl.Float64},
    )


def connus_rows(pairs: list[tuple[int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "code_territoire": [str(index) for index in range(len(pairs))],
            "non_recours": [non_recours for non_recours, _ in pairs],
            "non_recours_connus": [known for _, known in pairs],
            "part_connus": [known / nr if nr else None for nr, known in pairs],
            "secret": [False] * len(pairs),
        },
        schema_overrides={"part_connus": pl.Float64},
    )


# (population, non_recours) -> secret, with T = 11
INDICATEURS_CASES = {
    (0, 0): False,  # nobody: never secret
    (1, 0): True,  # population small
    (10, 0): True,  # population = T - 1
    (11, 0): False,  # population = T
    (30, 10): True,  # non_recours = T - 1
    (30, 11): False,  # non_recours = T (and 19 others)
    (30, 20): True,  # population - non_recours = T - 1
    (30, 19): False,  # population - non_recours = T
    (30, 1): True,  # non_recours = 1
    (30, 29): True,  # population - non_recours = 1
    (11, 11): True,  # everybody presumed non-take-up
    (500, 500): True,  # everybody, however many
    (22, 11): False,  # 11 and 11
    (500, 0): False,  # nobody presumed non-take-up is not a secret
}
# (non_recours, non_recours_connus) -> secret, with T = 11
CONNUS_CASES = {
    (0, 0): False,
    (30, 0): False,  # nobody known
    (30, 30): False,  # everybody known: not a rule-1 condition for connus
    (30, 1): True,
    (30, 10): True,  # known = T - 1
    (30, 11): False,  # known = T, 19 others
    (30, 20): True,  # others = T - 1
    (30, 19): False,  # others = T
    (5, 0): True,  # others = 5
    (5, 5): True,  # known = 5
}


def test_each_primary_secret_condition_and_its_boundary():
    indicateurs, connus = apply_primary_secret(
        indicateurs_rows(list(INDICATEURS_CASES)), connus_rows(list(CONNUS_CASES)), 11
    )
    assert (
        dict(zip(INDICATEURS_CASES, indicateurs["secret"].to_list(), strict=True))
        == INDICATEURS_CASES
    )
    assert dict(zip(CONNUS_CASES, connus["secret"].to_list(), strict=True)) == CONNUS_CASES


def test_the_threshold_is_the_indicator_s():
    pairs = [(4, 0), (5, 0), (9, 4), (9, 5), (10, 5)]
    indicateurs, _ = apply_primary_secret(indicateurs_rows(pairs), connus_rows([]), 5)
    assert indicateurs["secret"].to_list() == [True, False, True, True, False]
    with pytest.raises(PublicationError):
        apply_primary_secret(indicateurs_rows(pairs), connus_rows([]), 0)


def test_secret_rows_withhold_every_count_and_rate_and_others_keep_theirs():
    indicateurs, connus = apply_primary_secret(
        indicateurs_rows(list(INDICATEURS_CASES)), connus_rows(list(CONNUS_CASES)), 11
    )
    withheld = indicateurs.filter("secret")
    assert withheld.select("population", "non_recours", "taux").null_count().row(0) == (
        (withheld.height,) * 3
    )
    shown = indicateurs.filter(~pl.col("secret"))
    assert shown["population"].null_count() == shown["non_recours"].null_count() == 0
    assert shown.filter(pl.col("population") > 0)["taux"].null_count() == 0
    assert shown.select("population", "non_recours").rows() == [
        pair for pair, secret in INDICATEURS_CASES.items() if not secret
    ]
    withheld = connus.filter("secret")
    assert withheld.select("non_recours", "non_recours_connus", "part_connus").null_count().row(
        0
    ) == ((withheld.height,) * 3)
    assert connus.filter(~pl.col("secret")).select("non_recours", "non_recours_connus").rows() == [
        pair for pair, secret in CONNUS_CASES.items() if not secret
    ]
    assert set(indicateurs.columns) == {
        "code_territoire",
        "population",
        "non_recours",
        "taux",
        "secret",
    }


def test_primary_secret_on_the_aggregated_grid(aggregated):
    indicateurs, connus = apply_primary_secret(aggregated[0], aggregated[1], 11)
    ensemble = {"tranche_age": "ensemble", "type_menage": "ensemble"}
    assert row(indicateurs, niveau="commune", code_territoire=AIGREFEUILLE)["secret"]  # 12 of 12
    assert row(indicateurs, niveau="commune", code_territoire=AIGREFEUILLE)["population"] is None
    assert not row(indicateurs, niveau="commune", code_territoire=TOULOUSE)["secret"]
    assert row(indicateurs, niveau="commune", code_territoire=AYGUESVIVES)["taux"] == 0.125
    assert row(
        indicateurs,
        niveau="epci",
        code_territoire=METROPOLE,
        tranche_age="35-49",
        type_menage="ensemble",
    )["secret"]  # 5 of 20
    assert not row(indicateurs, niveau="departement", **ensemble)["secret"]
    assert not any(connus["secret"])  # 43/26, 32/15, 11/11, zeros


def test_zero_rows_are_present_and_never_secret(aggregated):
    indicateurs, connus = apply_primary_secret(aggregated[0], aggregated[1], 11)
    zeros = indicateurs.filter(pl.col("population") == 0)
    assert zeros.height > 0
    assert not zeros["secret"].any()
    assert (zeros["non_recours"] == 0).all() and zeros["taux"].null_count() == zeros.height
    assert row(indicateurs, niveau="commune", code_territoire=BLAGNAC)["population"] == 0
    assert (
        row(
            indicateurs,
            niveau="departement",
            tranche_age="75+",
            type_menage="couple_sans_enfant",
        )["population"]
        == 0
    )
    zero_connus = connus.filter(pl.col("non_recours") == 0)
    assert zero_connus.height == N_EPCI - 2 and not zero_connus["secret"].any()
    assert (zero_connus["non_recours_connus"] == 0).all()
    # the flag is the only hint a row is withheld: population null <=> secret
    assert indicateurs["population"].is_null().equals(indicateurs["secret"])


# --- files and contract ----------------------------------------------------------------------


def test_published_tables_have_the_contract_columns_and_types(published):
    with duckdb.connect(str(published / "recours.duckdb"), read_only=True) as connection:
        found = connection.sql(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for name, column, kind in found:
        columns.setdefault(name, []).append((column, kind))
    assert columns == EXPECTED_COLUMNS


def test_every_table_is_exported_as_parquet_and_csv(published):
    names = {path.name for path in published.iterdir()}
    expected = {"recours.duckdb"} | {
        f"{name}.{suffix}" for name in EXPECTED_COLUMNS for suffix in ("parquet", "csv")
    }
    assert names == expected  # and no temporary file left behind
    for name in EXPECTED_COLUMNS:
        stored = table(published, name)
        assert pl.read_parquet(published / f"{name}.parquet").equals(stored), name


def test_csv_is_french_excel(published):
    raw = (published / "indicateurs.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == ";".join(name for name, _ in EXPECTED_COLUMNS["indicateurs"])
    assert f"rsa;{PERIOD};commune;{AYGUESVIVES};Ayguesvives;ensemble;ensemble;88;11;0,125;non" in (
        lines
    )
    assert f"rsa;{PERIOD};commune;{AIGREFEUILLE};Aigrefeuille;ensemble;ensemble;;;;oui" in lines
    assert f"rsa;{PERIOD};commune;{BLAGNAC};Blagnac;ensemble;ensemble;0;0;;non" in lines
    records = list(csv.reader(io.StringIO(text), delimiter=";"))
    stored = table(published, "indicateurs")
    assert len(records) == stored.height + 1
    assert all(len(record) == len(records[0]) for record in records)
    catalogue_text = (published / "catalogue.csv").read_bytes().decode("utf-8-sig")
    assert '"Ménages éligibles présumés ; sans droit ouvert"' in catalogue_text
    territoires = (published / "territoires.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert "departement;31;Haute-Garonne;;1471468;" in territoires


def test_french_csv_formats_decimals_booleans_and_nulls(tmp_path):
    frame = pl.DataFrame(
        {
            "texte": ["a", None, "b;c"],
            "nombre": [12, None, 0],
            "taux": [12.5, None, 0.000001],
            "secret": [True, None, False],
        }
    )
    french_csv(frame, tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_bytes() == (
        '\ufefftexte;nombre;taux;secret\na;12;12,5;oui\n;;;\n"b;c";0;0,000001;non\n'
    ).encode()


def test_territoires_table(published):
    territoires = table(published, "territoires")
    assert dict(territoires.group_by("niveau").len().iter_rows()) == {
        "departement": 1,
        "epci": N_EPCI,
        "zone": N_ZONES,
        "commune": N_COMMUNES,
    }
    assert row(territoires, niveau="departement")["code_parent"] is None
    assert row(territoires, niveau="departement")["code_epci"] is None
    assert set(territoires.filter(niveau="epci")["code_parent"]) == {"31"}
    epci = territoires.filter(niveau="epci")
    assert epci["code_epci"].to_list() == epci["code_territoire"].to_list()
    assert row(territoires, code_territoire=TOULOUSE)["code_parent"] == TOULOUSE_ZONE
    assert row(territoires, code_territoire=TOULOUSE)["code_epci"] == METROPOLE
    assert row(territoires, code_territoire=TOULOUSE_ZONE)["code_parent"] == METROPOLE
    assert row(territoires, code_territoire=TOULOUSE_ZONE)["libelle_territoire"] == "Toulouse"
    # every zone and commune hangs under the level right above it, within its EPCI
    parent = dict(territoires.select("code_territoire", "code_parent").iter_rows())
    level = dict(territoires.select("code_territoire", "niveau").iter_rows())
    for code, kind, epci_code in territoires.select(
        "code_territoire", "niveau", "code_epci"
    ).iter_rows():
        if kind == "commune":
            assert level[parent[code]] == "zone" and parent[parent[code]] == epci_code
        if kind == "zone":
            assert level[parent[code]] == "epci" and parent[code] == epci_code
    assert row(territoires, code_territoire=TOULOUSE)["population_municipale_2023"] == 514819
    by_level = territoires.group_by("niveau").agg(pl.col("population_municipale_2023").sum())
    assert len(set(by_level["population_municipale_2023"])) == 1  # same people at every level


def test_descriptive_tables(published):
    assert table(published, "catalogue")["sources"].to_list() == ["caf31", "caf31"]
    meta = dict(table(published, "metadonnees").iter_rows())
    assert meta["seuil"] == "11" and meta["periodes_publiees"] == PERIOD
    qualite = table(published, "qualite")
    assert row(qualite, convention="caf31", mesure="lignes_lues")["valeur"] == 1000
    assert row(qualite, convention="rsa", mesure="unites_hors_departement")["valeur"] == 2
    assert row(qualite, convention="rsa", mesure="unites_commune_inconnue")["valeur"] == 1
    assert row(qualite, convention="rsa", mesure="unites_tranche_age_hors_grille")["valeur"] == 2


def test_summary(tmp_path):
    summary = run_publish(tmp_path / "published")
    assert summary.path == tmp_path / "published" / "recours.duckdb"
    assert summary.rows["indicateurs"] == 1401 and summary.rows["connus"] == 19
    assert summary.rows["territoires"] == 1 + N_EPCI + N_ZONES + N_COMMUNES
    stored = table(tmp_path / "published", "indicateurs")
    assert summary.secret_share["indicateurs"] == round(stored["secret"].mean(), 6)
    assert summary.excluded["rsa"]["hors_departement"] == 2
    assert summary.periods == (PERIOD,)
    assert summary.summary()["rows"]["connus"] == 19


# --- no unit id ever published ---------------------------------------------------------------


def test_no_unit_id_anywhere_in_published(published):
    ids = make_units().units["unite_id"].to_list() + make_aspa().units["unite_id"].to_list()
    blobs = {path.name: path.read_bytes() for path in published.iterdir()}
    for value in ids:
        for name, blob in blobs.items():
            assert value.encode() not in blob, name
            assert value[:16].encode() not in blob, name
    with duckdb.connect(str(published / "recours.duckdb"), read_only=True) as connection:
        for name in EXPECTED_COLUMNS:
            frame = connection.sql(f"SELECT * FROM {name}").pl()
            for column, kind in frame.schema.items():
                if kind == pl.String:
                    assert not frame[column].is_in(pl.Series(ids).implode()).any(), name


def test_a_unit_id_slipped_into_metadata_stops_the_publication(tmp_path):
    units = make_units()
    leaked = units.units["unite_id"][3]
    with pytest.raises(PublicationError, match="metadonnees") as caught:
        publish(
            tmp_path,
            PERIOD,
            [units],
            catalogue("rsa"),
            [{"cle": "exemple", "valeur": leaked}],
            [],
        )
    assert leaked not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# --- input checks ----------------------------------------------------------------------------


def test_inputs_that_break_the_contract_are_refused(tmp_path):
    units = make_units()
    doubled = IndicatorUnits("rsa", BANDS, TYPES, 11, pl.concat([units.units, units.units.head(1)]))
    with pytest.raises(PublicationError, match="plusieurs fois"):
        aggregate(doubled, PERIOD)
    with pytest.raises(PublicationError, match="période"):
        run_publish(tmp_path, period="2025-13")
    with pytest.raises(PublicationError, match="deux fois"):
        run_publish(tmp_path, indicators=[units, units])
    with pytest.raises(PublicationError, match="catalogue"):
        publish(tmp_path, PERIOD, [units], [{"indicateur": "rsa"}], [], [])
    with pytest.raises(PublicationError, match="qualite"):
        publish(
            tmp_path,
            PERIOD,
            [units],
            [],
            [],
            [{"periode": PERIOD, "convention": "x", "mesure": "y", "valeur": 1.5}],
        )
    assert list(tmp_path.iterdir()) == []


# --- replacing a publication -----------------------------------------------------------------


def test_earlier_periods_stay_and_a_republished_period_is_replaced(tmp_path):
    folder = tmp_path / "published"
    run_publish(folder, "2025-05", [make_units(), make_aspa()])
    may = table(folder, "indicateurs").filter(periode="2025-05")
    run_publish(folder, PERIOD)
    bigger = [(TOULOUSE, "25-34", "personne_seule", 100, 30, 12, 0)]
    run_publish(folder, PERIOD, [make_units(cells=bigger, left_out=[])])

    indicateurs = table(folder, "indicateurs")
    assert indicateurs.filter(periode="2025-05").equals(may)
    june = indicateurs.filter(periode=PERIOD)
    assert june.height == 1401 and set(june["indicateur"]) == {"rsa"}
    assert row(june, niveau="commune", code_territoire=TOULOUSE)["population"] == 100
    assert row(june, niveau="commune", code_territoire=AYGUESVIVES)["population"] == 0
    assert sorted(set(table(folder, "connus")["periode"])) == ["2025-05", PERIOD]
    qualite = table(folder, "qualite")
    assert sorted(set(qualite["periode"])) == ["2025-05", PERIOD]
    assert qualite.filter(periode=PERIOD, mesure="unites_hors_departement")["valeur"].item() == 0
    assert set(table(folder, "catalogue")["indicateur"]) == {"rsa", "aspa"}  # aspa: May
    meta = dict(table(folder, "metadonnees").iter_rows())
    assert meta["periodes_publiees"] == f"2025-05, {PERIOD}" and meta["periode"] == PERIOD
    csv_lines = (folder / "indicateurs.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert len(csv_lines) == indicateurs.height + 1


def test_a_failure_while_writing_leaves_the_last_publication_intact(tmp_path, monkeypatch):
    folder = tmp_path / "published"
    run_publish(folder, "2025-05")
    before = snapshot(folder)

    def broken(*_args, **_kwargs):
        raise OSError("disque plein")

    monkeypatch.setattr(write_module, "parquet", broken)
    with pytest.raises(OSError, match="disque plein"):
        run_publish(folder, PERIOD)
    assert snapshot(folder) == before  # byte for byte, and no temporary file left


@pytest.mark.parametrize("failing", ["recours.duckdb", "connus.csv"])
def test_a_failed_final_move_puts_every_replaced_file_back(tmp_path, monkeypatch, failing):
    folder = tmp_path / "published"
    run_publish(folder, "2025-05")
    before = snapshot(folder)
    real_install = write_module._install

    def install(temporary: Path, final: Path) -> None:
        if final.name == failing:
            raise OSError("panne au dernier moment")
        real_install(temporary, final)

    monkeypatch.setattr(write_module, "_install", install)
    with pytest.raises(OSError, match="panne"):
        run_publish(folder, PERIOD)
    assert snapshot(folder) == before
    assert set(table(folder, "indicateurs")["periode"]) == {"2025-05"}  # still readable


def test_an_unreadable_previous_publication_is_not_overwritten(tmp_path):
    folder = tmp_path / "published"
    folder.mkdir()
    (folder / "recours.duckdb").write_bytes(b"pas une base DuckDB" * 100)
    before = snapshot(folder)
    with pytest.raises(PublicationError, match="illisible"):
        run_publish(folder)
    assert snapshot(folder) == before


def test_a_reader_holding_the_old_file_is_not_blocked(tmp_path):
    folder = tmp_path / "published"
    run_publish(folder, "2025-05")
    database = folder / "recours.duckdb"
    reader = duckdb.connect(str(database), read_only=True)
    try:
        run_publish(folder, PERIOD)
        # the open connection still reads the publication it opened, whole
        assert reader.sql("SELECT DISTINCT periode FROM indicateurs").fetchall() == [("2025-05",)]
    finally:
        reader.close()
    assert set(table(folder, "indicateurs")["periode"]) == {"2025-05", PERIOD}


def test_a_process_holding_the_database_open_read_write_does_not_block_publication(tmp_path):
    folder = tmp_path / "published"
    run_publish(folder, "2025-05")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, duckdb\n"
            f"c = duckdb.connect({str(folder / 'recours.duckdb')!r})\n"
            "print(c.execute('SELECT count(*) FROM indicateurs').fetchone()[0], flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "1401"
        run_publish(folder, PERIOD)
    finally:
        holder.communicate("", timeout=30)
    assert set(table(folder, "indicateurs")["periode"]) == {"2025-05", PERIOD}


def test_restricted_audit_gives_what_analysts_see_per_indicator_and_level(tmp_path):
    """Per indicator and level: territories with a value, the share of the target population
    they hold, rows withheld by reason — each equal to what the published table shows."""
    published_dir, audit_dir = tmp_path / "published", tmp_path / "divulgation"
    publish(
        published_dir,
        PERIOD,
        [make_units(), make_aspa()],
        catalogue("rsa", "aspa"),
        metadata(PERIOD),
        quality(PERIOD),
        restricted_dir=audit_dir,
    )
    facts = json.loads((audit_dir / f"{PERIOD}.json").read_text(encoding="utf-8"))
    utility = facts["utilite_par_niveau"]
    stored = table(published_dir, "indicateurs")
    assert sorted(utility) == ["aspa", "rsa"]
    for units in (make_units(), make_aspa()):
        indicator, levels = units.indicator, utility[units.indicator]
        assert sorted(levels) == ["commune", "departement", "epci", "zone"]
        mine = stored.filter(indicateur=indicator)
        true_rows, _, _ = aggregate(units, PERIOD)  # the département may be secret here
        whole = row(true_rows, niveau="departement", tranche_age="ensemble", type_menage="ensemble")
        for level, figures in levels.items():
            rows = mine.filter(niveau=level)
            ensemble = rows.filter(tranche_age="ensemble", type_menage="ensemble")
            shown = ensemble.filter(~pl.col("secret"))
            reasons = [
                line["motif"]
                for line in facts["lignes"]
                if line["table"] == "indicateurs"
                and line["indicateur"] == indicator
                and line["niveau"] == level
            ]
            assert figures == {
                "lignes": rows.height,
                "lignes_primaires": reasons.count("primaire"),
                "lignes_secondaires": reasons.count("secondaire"),
                "territoires": ensemble.height,
                "territoires_avec_valeur": shown.height,
                "part_population_montree": round(
                    shown["population"].sum() / whole["population"], 4
                ),
            }
            assert figures["lignes_primaires"] + figures["lignes_secondaires"] == int(
                rows["secret"].sum()
            )
    html = (audit_dir / f"{PERIOD}.html").read_text(encoding="utf-8")
    assert "Ce que voient les analystes, par niveau" in html
