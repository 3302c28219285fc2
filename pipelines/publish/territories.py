"""The territory hierarchy every published grid is built on: département, EPCI, commune.

It comes from the shipped INSEE reference (586 communes of 31, 18 EPCI), never from the data:
a territory where nobody is in a target population must still get its row of zeros, so that
a withheld row is known to be non-empty.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from pipelines.publish.model import DEPARTEMENT_CODE, DEPARTEMENT_NAME, conform
from recours.reference import communes


@cache
def commune_frame() -> pl.DataFrame:
    """code_commune, libelle_commune, code_epci, libelle_epci; sorted by INSEE code."""
    return (
        communes()
        .select(
            pl.col("code_insee").alias("code_commune"),
            pl.col("nom").alias("libelle_commune"),
            pl.col("epci_siren").alias("code_epci"),
            pl.col("epci_nom").alias("libelle_epci"),
        )
        .sort("code_commune")
    )


@cache
def epci_frame() -> pl.DataFrame:
    """code_epci, libelle_epci of the EPCI having communes in 31; sorted by SIREN."""
    return commune_frame().select("code_epci", "libelle_epci").unique().sort("code_epci")


def level_frame(level: str) -> pl.DataFrame:
    """code_territoire, libelle_territoire of one level, in publication order."""
    if level == "departement":
        return pl.DataFrame(
            {"code_territoire": [DEPARTEMENT_CODE], "libelle_territoire": [DEPARTEMENT_NAME]}
        )
    if level == "epci":
        frame = epci_frame()
        return frame.select(
            pl.col("code_epci").alias("code_territoire"),
            pl.col("libelle_epci").alias("libelle_territoire"),
        )
    if level == "commune":
        return commune_frame().select(
            pl.col("code_commune").alias("code_territoire"),
            pl.col("libelle_commune").alias("libelle_territoire"),
        )
    raise ValueError(f"niveau inconnu : {level}")


@cache
def territoires_table() -> pl.DataFrame:
    """The published ``territoires`` table: codes, names, parent, population (part inside 31).

    The EPCI and département populations are sums over their communes of 31, so that a rate
    per inhabitant computed by an analyst uses the same territory as the counts.
    """
    reference = communes().select(
        pl.col("code_insee").alias("code_territoire"),
        pl.col("nom").alias("libelle_territoire"),
        pl.col("epci_siren").alias("code_parent"),
        pl.col("epci_nom").alias("libelle_epci"),
        pl.col("population_municipale_2023").cast(pl.Int64),
    )
    commune_rows = reference.with_columns(niveau=pl.lit("commune")).sort("code_territoire")
    epci_rows = (
        reference.group_by("code_parent", "libelle_epci")
        .agg(pl.col("population_municipale_2023").sum())
        .select(
            niveau=pl.lit("epci"),
            code_territoire=pl.col("code_parent"),
            libelle_territoire=pl.col("libelle_epci"),
            code_parent=pl.lit(DEPARTEMENT_CODE),
            population_municipale_2023=pl.col("population_municipale_2023"),
        )
        .sort("code_territoire")
    )
    departement_row = pl.DataFrame(
        {
            "niveau": ["departement"],
            "code_territoire": [DEPARTEMENT_CODE],
            "libelle_territoire": [DEPARTEMENT_NAME],
            "code_parent": [None],
            "population_municipale_2023": [reference["population_municipale_2023"].sum()],
        },
        schema_overrides={"code_parent": pl.String},
    )
    return pl.concat(
        [conform(frame, "territoires") for frame in (departement_row, epci_rows, commune_rows)]
    )
