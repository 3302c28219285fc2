"""The territory hierarchy every published grid is built on: département, EPCI, zone, commune.

It comes from the shipped INSEE reference (586 communes of 31, 18 EPCI) and the shipped
observation zones (``recours zonage``), never from the data: a territory where nobody is in a
target population must still get its row of zeros, so that a withheld row is known to be
non-empty.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from pipelines.publish.model import DEPARTEMENT_CODE, DEPARTEMENT_NAME, conform
from recours.reference import communes
from recours.zoning import zoning


@cache
def commune_frame() -> pl.DataFrame:
    """code_commune, libelle_commune, code_zone, libelle_zone, code_epci, libelle_epci,
    population; sorted by INSEE code."""
    zones = zoning().frame.select("code_commune", "code_zone", "libelle_zone")
    return (
        communes()
        .select(
            pl.col("code_insee").alias("code_commune"),
            pl.col("nom").alias("libelle_commune"),
            pl.col("epci_siren").alias("code_epci"),
            pl.col("epci_nom").alias("libelle_epci"),
            pl.col("population_municipale_2023").cast(pl.Int64).alias("population"),
        )
        .join(zones, on="code_commune", how="left", validate="1:1")
        .sort("code_commune")
    )


def level_frame(level: str) -> pl.DataFrame:
    """code_territoire, libelle_territoire of one level, in publication order."""
    return (
        territoires_table()
        .filter(pl.col("niveau") == level)
        .select("code_territoire", "libelle_territoire")
    )


@cache
def territoires_table() -> pl.DataFrame:
    """The published ``territoires`` table: codes, names, parent, population (part inside 31),
    and the EPCI of every row, so that commune → EPCI stays one join away.

    Zone, EPCI and département populations are sums over their communes of 31, so that a rate
    per inhabitant computed by an analyst uses the same territory as the counts.
    """
    frame = commune_frame()
    population = pl.col("population").sum().alias("population_municipale_2023")
    commune_rows = frame.select(
        niveau=pl.lit("commune"),
        code_territoire=pl.col("code_commune"),
        libelle_territoire=pl.col("libelle_commune"),
        code_parent=pl.col("code_zone"),
        population_municipale_2023=pl.col("population"),
        code_epci=pl.col("code_epci"),
    )
    zone_rows = (
        frame.group_by("code_zone", "libelle_zone", "code_epci")
        .agg(population)
        .select(
            niveau=pl.lit("zone"),
            code_territoire=pl.col("code_zone"),
            libelle_territoire=pl.col("libelle_zone"),
            code_parent=pl.col("code_epci"),
            population_municipale_2023=pl.col("population_municipale_2023"),
            code_epci=pl.col("code_epci"),
        )
        .sort("code_territoire")
    )
    epci_rows = (
        frame.group_by("code_epci", "libelle_epci")
        .agg(population)
        .select(
            niveau=pl.lit("epci"),
            code_territoire=pl.col("code_epci"),
            libelle_territoire=pl.col("libelle_epci"),
            code_parent=pl.lit(DEPARTEMENT_CODE),
            population_municipale_2023=pl.col("population_municipale_2023"),
            code_epci=pl.col("code_epci"),
        )
        .sort("code_territoire")
    )
    departement_row = pl.DataFrame(
        {
            "niveau": ["departement"],
            "code_territoire": [DEPARTEMENT_CODE],
            "libelle_territoire": [DEPARTEMENT_NAME],
            "code_parent": [None],
            "population_municipale_2023": [frame["population"].sum()],
            "code_epci": [None],
        },
        schema_overrides={"code_parent": pl.String, "code_epci": pl.String},
    )
    return pl.concat(
        [
            conform(rows, "territoires")
            for rows in (departement_row, epci_rows, zone_rows, commune_rows)
        ]
    )
