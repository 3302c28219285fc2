"""The warehouse: person-level and pseudonymous, never readable by analysts.

Built whole for a period in a new file and moved into place: the linkage (``linkage.py``),
then one table per partner (``sql/<table>.sql``), which the indicators read.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb

from pipelines.crossing.deliveries import Delivery
from pipelines.crossing.linkage import Source, link, sql
from recours.home import Home

# The warehouse table each convention's delivery feeds (the names the indicators' SQL uses).
TABLES = {"caf31": "caf", "cpam31": "cpam", "carsatmp": "carsat", "ftocc": "ft", "cd31": "cd31"}

AGE_MACRO = """
create or replace macro age_au(mois_naissance, reference) as
    year(reference) - cast(left(mois_naissance, 4) as integer)
    - case when cast(right(mois_naissance, 2) as integer) > month(reference) then 1 else 0 end
"""


def build(home: Home, reference: date, deliveries: dict[str, Delivery]) -> dict[str, int]:
    """Write ``warehouse.duckdb`` for the reference date; return the linkage passes' moves."""
    staging = home.warehouse.with_name(home.warehouse.name + ".en-cours")
    staging.unlink(missing_ok=True)
    con = duckdb.connect(str(staging))
    try:
        con.execute(AGE_MACRO)
        con.execute("set variable date_reference = ?::date", [reference])
        moves = link(con, [Source(c, d.parquet) for c, d in sorted(deliveries.items())])
        for convention, delivery in sorted(deliveries.items()):
            table = TABLES.get(convention)
            if table is None:
                continue
            con.execute(
                f"create or replace temp view livraison as "
                f"select * from read_parquet('{delivery.parquet}')"
            )
            con.execute(f"create table {table} as {sql(table)}")
        con.execute("drop view if exists livraison")
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(staging, home.warehouse)
    return moves


def connect(home: Home, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home.warehouse), read_only=read_only)


def warehouse_path(home: Home) -> Path:
    return home.warehouse
