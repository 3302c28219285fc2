"""Public reference data shipped with the project (INSEE COG 2026, see data/SOURCES.md)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

DATA = Path(__file__).resolve().parent / "data"
DEPARTEMENT = "31"


@cache
def communes() -> pl.DataFrame:
    """The 586 communes of Haute-Garonne with their EPCI and population."""
    return pl.read_csv(
        DATA / "communes_31.csv",
        schema_overrides={"code_insee": pl.String, "epci_siren": pl.String},
    )


@cache
def commune_codes() -> frozenset[str]:
    return frozenset(communes()["code_insee"].to_list())
