"""``recours query``: SQL on the published zone, and on nothing else.

Analysts may run any SQL they like, so the connection is confined before their query runs:

- the publication is attached READ-ONLY in a fresh in-memory DuckDB instance (never one shared
  with another connection of the same process, whose settings the lock-down would change);
- ``enable_external_access = false``: no file but the attached database can be read or
  written (``read_parquet``, ``read_csv``, ``glob``, ``ATTACH``, ``COPY … TO``, ``EXPORT``),
  no extension installed or loaded, no Python object scanned;
- extension auto-install/auto-load and community extensions are switched off too;
- ``lock_configuration = true`` last, so that no statement of the query can change any of
  the above (``SET``, ``RESET`` and ``allowed_configs`` all fail).

So the warehouse and the pseudonymized zone, on the same disk, stay out of reach of the one
command analysts use. Errors come back as ``QueryError`` with a French message that names the
table or column at fault, never as a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb

from recours.errors import RecoursError

DATABASE = "recours.duckdb"
CATALOG = "recours"
FORMATS = ("table", "csv", "json")

# Order matters: lock_configuration last, once everything else is set.
LOCKDOWN = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)

Format = Literal["table", "csv", "json"]
Rows = list[tuple[Any, ...]]


class QueryError(RecoursError):
    """A query that cannot run on the publication, with a French message for the analyst."""


def _open(database: Path) -> duckdb.DuckDBPyConnection:
    """A connection that sees the publication, read-only, and nothing else."""
    connection = duckdb.connect(":memory:")
    try:
        target = str(database).replace("'", "''")
        connection.execute(f"ATTACH '{target}' AS {CATALOG} (READ_ONLY)")
        connection.execute(f"USE {CATALOG}")
        for statement in LOCKDOWN:
            connection.execute(statement)
    except duckdb.Error as error:
        connection.close()
        raise QueryError(f"publication illisible ({database}) : {_first_line(error)}") from None
    return connection


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _published_tables(connection: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = ? ORDER BY table_name",
            [CATALOG],
        ).fetchall()
    ]


def _columns_of(connection: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_name = ? ORDER BY ordinal_position",
            [CATALOG, table],
        ).fetchall()
    ]


def _explain(error: duckdb.Error, connection: duckdb.DuckDBPyConnection, folder: Path) -> str:
    """DuckDB's error, said in French, naming what is wrong (table, column, forbidden access)."""
    message = str(error)
    if isinstance(error, duckdb.PermissionException):
        return (
            f"accès refusé : `recours query` ne lit que les tables publiées dans {folder} "
            "(aucun fichier, aucune autre base, aucun export, aucune extension)"
        )
    if "configuration has been locked" in message:
        return (
            "la configuration de `recours query` est verrouillée : une requête ne peut pas "
            "la modifier"
        )
    if "read-only mode" in message:
        return "la publication est en lecture seule : `recours query` ne modifie rien"
    if match := re.search(r"Table with name (\S+?) does not exist", message):
        tables = ", ".join(_published_tables(connection))
        return (
            f"la table « {match[1]} » n'existe pas dans la publication (tables publiées : {tables})"
        )
    if match := re.search(r'Table "([^"]+)" does not have a column named "([^"]+)"', message):
        table, column = match[1], match[2]
        known = ", ".join(_columns_of(connection, table))
        if not known:  # an alias or a sub-query, not a published table
            return f"« {table} » n'a pas de colonne « {column} »"
        return f"la table « {table} » n'a pas de colonne « {column} » (colonnes : {known})"
    if match := re.search(r'Referenced column "([^"]+)" not found', message):
        candidates = re.search(r"Candidate bindings: (.*)", message)
        hint = ""
        if candidates:
            names = re.findall(r'"([^"]+)"', candidates[1])
            hint = f" (colonnes possibles : {', '.join(names)})" if names else ""
        return f"la colonne « {match[1]} » n'existe pas dans les tables de la requête{hint}"
    if match := re.search(r"(Scalar|Table|Aggregate) Function with name (\S+?) does not", message):
        return f"la fonction « {match[2]} » n'existe pas"
    if isinstance(error, duckdb.ParserException):
        detail = message.split(":", 1)[-1].strip()
        return f"erreur de syntaxe SQL : {detail}"
    return f"la requête a échoué : {message.strip()}"


def _text(value: Any) -> str:
    """A cell for the text table: NULL is blank, as in the CSV exports."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= 1e15:
            return str(value)
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def as_table(columns: Sequence[str], rows: Rows) -> str:
    """Aligned columns, numbers to the right; the row count underneath."""
    cells = [[_text(value) for value in row] for row in rows]
    widths = [
        max([len(name), *(len(row[index]) for row in cells)]) for index, name in enumerate(columns)
    ]
    numeric = [
        any(_is_number(row[index]) for row in rows)
        and all(row[index] is None or _is_number(row[index]) for row in rows)
        for index in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    count = f"({len(rows)} ligne{'s' if len(rows) > 1 else ''})"
    body = [line(columns), "  ".join("-" * width for width in widths)]
    return "\n".join([*body, *(line(row) for row in cells), count]) + "\n"


def as_csv(columns: Sequence[str], rows: Rows) -> str:
    """Plain CSV (comma, decimal point) for other tools; NULL is an empty field."""

    def cell(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, date | datetime | time):
            return value.isoformat()
        return value

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value


def as_json(columns: Sequence[str], rows: Rows) -> str:
    """A JSON array of objects, one per row, with JSON's own numbers, booleans and null."""
    records = [
        {name: _json_value(value) for name, value in zip(columns, row, strict=True)} for row in rows
    ]
    return json.dumps(records, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


FORMATTERS: dict[str, Callable[[Sequence[str], Rows], str]] = {
    "table": as_table,
    "csv": as_csv,
    "json": as_json,
}


def run_query(published: Path, sql: str, fmt: Format = "table") -> str:
    """Run ``sql`` on ``published/recours.duckdb`` (read-only, confined); the formatted result.

    Raises ``QueryError`` for a missing publication, an unknown format, or any error DuckDB
    reports, in French.
    """
    if fmt not in FORMATTERS:
        raise QueryError(f"format inconnu « {fmt} » : choisir parmi {', '.join(FORMATS)}")
    folder = Path(published)
    database = folder / DATABASE
    if not database.is_file():
        raise QueryError(f"aucune publication dans {folder} : lancer d'abord `recours run`")
    if not sql or not sql.strip():
        raise QueryError("requête vide : écrire une requête SQL, par exemple SHOW TABLES")
    connection = _open(database)
    try:
        try:
            cursor = connection.execute(sql)
            columns = [item[0] for item in cursor.description or []]
            rows = cursor.fetchall() if columns else []
        except duckdb.Error as error:
            raise QueryError(_explain(error, connection, folder)) from None
    finally:
        connection.close()
    return FORMATTERS[fmt](columns, rows)
