"""The descriptive tables (catalogue, metadonnees, qualite) from the rows the caller fills.

They are checked against the contract here, with a French message naming the table and the
key, so that a mistake in a caller's dict stops the run instead of publishing a table whose
columns an analyst's notebook does not expect.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from pipelines.publish.model import TABLES, PublicationError, conform, schema


def as_text(value: Any) -> str | None:
    """A VARCHAR cell: lists read "a, b", mappings as JSON, None stays NULL."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return ", ".join(str(item) for item in items)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def as_count(value: Any, where: str) -> int | None:
    """A BIGINT cell: a whole number, never a bool or a float that hides a rounding."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise PublicationError(f"{where} : nombre entier attendu, reçu {type(value).__name__}")
    return int(value)


def rows_frame(table: str, rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """The rows as a frame of the contract's columns and types; any other key is an error."""
    columns = dict(TABLES[table])
    data: dict[str, list[Any]] = {name: [] for name in columns}
    for number, row in enumerate(rows, start=1):
        keys = set(row)
        if keys != set(columns):
            missing = ", ".join(sorted(set(columns) - keys)) or "aucune"
            extra = ", ".join(sorted(keys - set(columns))) or "aucune"
            raise PublicationError(
                f"table {table}, ligne {number} : colonnes manquantes {missing}, "
                f"colonnes inconnues {extra}"
            )
        for name, kind in columns.items():
            where = f"table {table}, ligne {number}, colonne {name}"
            data[name].append(
                as_count(row[name], where) if kind == "BIGINT" else as_text(row[name])
            )
    return conform(pl.DataFrame(data, schema=schema(table)), table)
