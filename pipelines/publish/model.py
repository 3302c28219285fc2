"""What publication receives and what it promises: the input dataclass and the table contracts.

The column names and DuckDB types below are the contract of docs/architecture.md: analysts'
notebooks, the Excel exports and the tests rely on them, so they live in one place and every
writer (DuckDB, Parquet, CSV) takes them from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from recours.errors import RecoursError

ENSEMBLE = "ensemble"
DEPARTEMENT_CODE = "31"
DEPARTEMENT_NAME = "Haute-Garonne"
LEVELS = ("departement", "epci", "zone", "commune")
# The level right above each level: every row of a level is a part of its parent's sum.
PARENT_LEVEL = {"commune": "zone", "zone": "epci", "epci": "departement"}
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# table -> ordered (column, DuckDB type). Order is the order of the published columns.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "indicateurs": (
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
    ),
    "connus": (
        ("indicateur", "VARCHAR"),
        ("periode", "VARCHAR"),
        ("niveau", "VARCHAR"),
        ("code_territoire", "VARCHAR"),
        ("libelle_territoire", "VARCHAR"),
        ("non_recours", "BIGINT"),
        ("non_recours_connus", "BIGINT"),
        ("part_connus", "DOUBLE"),
        ("secret", "BOOLEAN"),
    ),
    "catalogue": (
        ("indicateur", "VARCHAR"),
        ("libelle", "VARCHAR"),
        ("definition", "VARCHAR"),
        ("sources", "VARCHAR"),
        ("conventions", "VARCHAR"),
        ("mises_en_garde", "VARCHAR"),
    ),
    "territoires": (
        ("niveau", "VARCHAR"),
        ("code_territoire", "VARCHAR"),
        ("libelle_territoire", "VARCHAR"),
        ("code_parent", "VARCHAR"),
        ("population_municipale_2023", "BIGINT"),
        ("code_epci", "VARCHAR"),
    ),
    "metadonnees": (
        ("cle", "VARCHAR"),
        ("valeur", "VARCHAR"),
    ),
    "qualite": (
        ("periode", "VARCHAR"),
        ("convention", "VARCHAR"),
        ("mesure", "VARCHAR"),
        ("valeur", "BIGINT"),
    ),
}

# The columns that identify a row: two rows may never share them (checked before writing).
KEYS: dict[str, tuple[str, ...]] = {
    "indicateurs": (
        "indicateur",
        "periode",
        "niveau",
        "code_territoire",
        "tranche_age",
        "type_menage",
    ),
    "connus": ("indicateur", "periode", "niveau", "code_territoire"),
    "catalogue": ("indicateur",),
    "territoires": ("niveau", "code_territoire"),
    "metadonnees": ("cle",),
    "qualite": ("periode", "convention", "mesure"),
}

POLARS_TYPES = {
    "VARCHAR": pl.String,
    "BIGINT": pl.Int64,
    "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean,
}

UNIT_COLUMNS: dict[str, type[pl.DataType]] = {
    "unite_id": pl.String,
    "code_commune": pl.String,
    "tranche_age": pl.String,
    "type_menage": pl.String,
    "non_recours": pl.Boolean,
    "connu": pl.Boolean,
}


class PublicationError(RecoursError):
    """Publication stopped before anything was replaced; the message says what to fix."""


@dataclass(frozen=True)
class IndicatorUnits:
    """One computed indicator, unit by unit, as the indicator SQL yields it from the warehouse.

    ``units`` is person- or household-level and pseudonymous: it never leaves this package
    other than as counts. ``threshold`` is T, the largest publication threshold among the
    conventions the indicator uses; ``household_types`` is empty when the sources do not know
    the household (``type_menage`` is then published as ``ensemble`` only). ``known`` is false
    when the département's file was not crossed for this indicator: its ``connus`` rows are then
    not published at all, never published as zeros.
    """

    indicator: str
    age_bands: tuple[str, ...]
    household_types: tuple[str, ...]
    threshold: int
    units: pl.DataFrame
    known: bool = True


def schema(table: str) -> dict[str, type[pl.DataType]]:
    """The Polars schema of a published table, in contract order."""
    return {name: POLARS_TYPES[kind] for name, kind in TABLES[table]}


def empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=schema(table))


def conform(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Exactly the contract's columns, in its order and types (extra columns are dropped)."""
    missing = [name for name in schema(table) if name not in frame.columns]
    if missing:
        raise PublicationError(f"table {table} : colonnes manquantes {', '.join(missing)}")
    return frame.select(pl.col(name).cast(kind) for name, kind in schema(table).items())


def check_period(period: str) -> None:
    if not isinstance(period, str) or not PERIOD.match(period):
        raise PublicationError(f"période invalide {period!r} : attendu AAAA-MM")
