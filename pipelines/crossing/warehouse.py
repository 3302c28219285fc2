"""The warehouse: person-level and pseudonymous, never readable by analysts.

Built whole for a period in a new file and moved into place. One schema per crossing
(``plan.Crossing``): its linkage (``linkage.Linker``: a set of conventions shared by several
crossings is linked once, then extended), then one table per convention of the crossing,
named after the convention and made by the convention's SQL file (``sql/sources/<id>.sql``),
which the indicators read. Person and household ids are derived under the crossing's label, so
the tables of two crossings cannot be joined. Beside the schemas, the measures of every
crossing's linkage (counts only) and the list of crossings (``croisements``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from pipelines.crossing.deliveries import Delivery
from pipelines.crossing.linkage import Linker, Source, create_measures, run
from pipelines.crossing.plan import Crossing
from pipelines.crossing.sources import source_sql
from recours.home import Home
from recours.sqlfile import read_sql


def build(
    home: Home,
    reference: date,
    deliveries: dict[str, Delivery],
    crossings: list[Crossing],
    conventions_dir: Path | None = None,
    progress: Callable[[Crossing], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Write ``warehouse.duckdb`` for the reference date; return each crossing's pass moves."""
    staging = home.warehouse_staging
    staging.unlink(missing_ok=True)  # debris of an interrupted run
    moves: dict[str, dict[str, int]] = {}
    con = duckdb.connect(str(staging))
    try:
        run(con, "age_au")
        con.execute("set variable date_reference = ?::date", [reference])
        create_measures(con)
        con.execute(
            "create table croisements (croisement varchar, schema_entrepot varchar, "
            "sources varchar[], indicateurs varchar[])"
        )
        used = sorted({c for crossing in crossings for c in crossing.sources})
        linker = Linker(con, [Source(c, deliveries[c].parquet) for c in used])
        linker.share([crossing.sources for crossing in crossings])
        for crossing in crossings:
            if progress:
                progress(crossing)
            moves[crossing.id] = _build_crossing(con, linker, crossing, deliveries, conventions_dir)
        linker.close()
        con.execute("checkpoint")
    except BaseException:
        con.close()
        staging.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(staging, home.warehouse)
    return moves


def _build_crossing(
    con: duckdb.DuckDBPyConnection,
    linker: Linker,
    crossing: Crossing,
    deliveries: dict[str, Delivery],
    conventions_dir: Path | None,
) -> dict[str, int]:
    sources = [Source(c, deliveries[c].parquet) for c in crossing.sources]
    moves = linker.link(crossing.id, crossing.sources)
    con.execute(f"create schema {crossing.schema}")
    con.execute("set variable croisement = ?", [crossing.id])
    for source in sources:
        path = source_sql(source.convention, conventions_dir)
        assert path is not None  # plan.why_not refused the crossing otherwise
        parquet = str(source.parquet).replace("'", "''")
        con.execute(
            f"create or replace temp view livraison as select * from read_parquet('{parquet}')"
        )
        con.execute(
            "create or replace temp view personnes as select ligne_source, personne_id "
            f"from liens where source = '{source.convention}'"
        )
        con.execute(f"create table {crossing.schema}.{source.convention} as " + read_sql(path))
    con.execute("drop view livraison; drop view personnes; drop table liens")
    con.execute(
        "insert into croisements values (?, ?, ?, ?)",
        [crossing.id, crossing.schema, list(crossing.sources), list(crossing.indicators)],
    )
    return moves


def connect(home: Home, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home.warehouse), read_only=read_only)


def use_crossing(con: duckdb.DuckDBPyConnection, crossing: Crossing) -> None:
    """Make the crossing's tables the only ones an indicator's SQL sees by name."""
    con.execute(f"set search_path = '{crossing.schema}'")
