"""Figures read back from the publication just written, for the run's summary (console, DAG
XCom, bench): only what the published file itself shows, so the summary cannot say more."""

from __future__ import annotations

from pathlib import Path

import duckdb

from recours.sqlfile import read_sql

SQL = Path(__file__).resolve().parent / "sql"


def _published(published: Path, sql: str, period: str) -> list[tuple]:
    """Rows of one query on the publication, opened read-only."""
    con = duckdb.connect(str(published / "recours.duckdb"), read_only=True)
    try:
        return con.execute(sql, {"periode": period}).fetchall()
    finally:
        con.close()


def zones_with_value(published: Path, period: str) -> dict[str, list[int]]:
    """Per indicator, [zones whose rate is published, all zones]."""
    rows = _published(published, read_sql(SQL / "zones_avec_valeur.sql"), period)
    return {indicator: [shown, total] for indicator, shown, total in rows}


def national_rates(published: Path, period: str) -> dict[str, float | None]:
    """The département-level `ensemble` rate of each indicator."""
    rows = _published(
        published,
        "select indicateur, taux from indicateurs where periode = $periode "
        "and niveau = 'departement' and tranche_age = 'ensemble' and type_menage = 'ensemble' "
        "order by indicateur",
        period,
    )
    return dict(rows)
