"""The analysts' exports beside the DuckDB file: Parquet, and CSV as French Excel reads it.

CSV for Excel in French: ``;`` between fields (the comma is the decimal mark), decimal comma,
UTF-8 with a byte-order mark (without it Excel reads the accents as Windows-1252), booleans
``oui``/``non``, and NULL as an empty field, so that a withheld count is a blank cell rather
than a word that would break a sum.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl


def french_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` in the French Excel dialect described above."""
    readable = frame.with_columns(
        pl.when(pl.col(name).is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.col(name))
        .then(pl.lit("oui"))
        .otherwise(pl.lit("non"))
        .alias(name)
        for name, kind in frame.schema.items()
        if kind == pl.Boolean
    )
    readable.write_csv(
        path,
        include_bom=True,
        separator=";",
        decimal_comma=True,
        float_scientific=False,
        null_value="",
        quote_style="necessary",
    )


def parquet(connection: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    """Write a table of the open database to Parquet, with the database's own types."""
    target = str(path).replace("'", "''")
    connection.execute(f"COPY {table} TO '{target}' (FORMAT parquet)")
