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

``recours query tables`` lists the published tables and columns with their meaning. The
meanings are read from the data dictionary, ``docs/publication.md``, the one place they are
written: the documentation test checks that page against the publication's contract, so the
listing cannot drift from what analysts read.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

import duckdb

from recours.errors import RecoursError

DATABASE = "recours.duckdb"
CATALOG = "recours"
FORMATS = ("table", "csv", "json", "xlsx")
TABLES_KEYWORD = "tables"
DICTIONARY = Path(__file__).resolve().parent.parent / "docs" / "publication.md"
# A column of the dictionary: | `column` | TYPE | meaning |
COLUMN_ROW = re.compile(r"^\| `([^`]+)` \| ([A-Z]+) \| (.*) \|[ \t]*$", re.MULTILINE)

# Order matters: lock_configuration last, once everything else is set.
LOCKDOWN = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)

Format = Literal["table", "csv", "json", "xlsx"]
Rows = list[tuple[Any, ...]]


class QueryError(RecoursError):
    """A query that cannot run on the publication, with a French message for the analyst."""


@dataclass(frozen=True)
class TableDoc:
    """One published table as the data dictionary describes it."""

    name: str
    description: str
    columns: dict[str, tuple[str, str]]  # column -> (type, meaning)


def _plain(text: str) -> str:
    """Markdown cell to plain text: no backticks, escaped pipes restored."""
    return text.replace("\\|", "|").replace("`", "").strip()


@cache
def data_dictionary(path: Path = DICTIONARY) -> dict[str, TableDoc]:
    """Every table and column of the data dictionary (``docs/publication.md``), in its order.

    A table is a ``## Table `name``` section; its description is the section's first paragraph;
    a column is a row ``| `column` | TYPE | meaning |`` of the section's table.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        raise QueryError(f"dictionnaire des données introuvable ({path})") from None
    tables: dict[str, TableDoc] = {}
    for part in text.split("\n## Table `")[1:]:
        name, rest = part.split("`", 1)
        body = rest.split("\n## ", 1)[0]
        paragraphs = [p for p in body.split("\n\n") if p.strip()]
        description = " ".join(paragraphs[0].split()) if paragraphs else ""
        columns = {match[1]: (match[2], _plain(match[3])) for match in COLUMN_ROW.finditer(body)}
        tables[name] = TableDoc(name, _plain(description), columns)
    return tables


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


def connect(published: Path) -> duckdb.DuckDBPyConnection:
    """The confined, read-only connection to ``published/recours.duckdb`` that ``recours query``
    uses, for other readers of the publication (the analysts' report): the caller closes it."""
    return _open(_database(published))


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


def _exact_in_excel(value: Any) -> bool:
    """Excel keeps a number exactly when it is a finite double (integers up to 2**53)."""
    if isinstance(value, int):
        return abs(value) < 2**53
    return isinstance(value, float) and math.isfinite(value)


def as_xlsx(columns: Sequence[str], rows: Rows, out: Path) -> None:
    """An Excel workbook, one sheet: numbers stay numbers, NULL an empty cell, the header frozen.

    Decimals and very large integers are written as text, which Excel would otherwise round.
    """
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(out), {"strings_to_numbers": False, "in_memory": True})
    try:
        sheet = workbook.add_worksheet("resultat")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, list(columns), bold)
        sheet.freeze_panes(1, 0)
        for number, row in enumerate(rows, start=1):
            for index, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(number, index, value)
                elif _exact_in_excel(value):
                    sheet.write_number(number, index, value)
                elif isinstance(value, list | tuple | dict):
                    sheet.write_string(number, index, json.dumps(_json_value(value)))
                else:
                    sheet.write_string(number, index, _text(value))
        for index, name in enumerate(columns):
            sheet.set_column(index, index, min(60, max(10, len(name) + 2)))
    finally:
        workbook.close()


FORMATTERS: dict[str, Callable[[Sequence[str], Rows], str]] = {
    "table": as_table,
    "csv": as_csv,
    "json": as_json,
}


def _database(published: Path) -> Path:
    database = Path(published) / DATABASE
    if not database.is_file():
        raise QueryError(
            f"aucune publication dans {Path(published)} : lancer d'abord `recours run`"
        )
    return database


def execute(published: Path, sql: str) -> tuple[list[str], Rows]:
    """Run ``sql`` on ``published/recours.duckdb`` (read-only, confined): columns and rows."""
    folder = Path(published)
    database = _database(folder)
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
    return columns, rows


TABLE_COLUMNS = ["table", "colonne", "type", "signification"]


def describe_tables(published: Path) -> tuple[list[str], Rows]:
    """Every published table and column, with its type and its meaning from the dictionary.

    The tables and columns are those of the publication itself (a column the dictionary does
    not know says so); one row per column, the table's own description on a row whose
    ``colonne`` is empty.
    """
    connection = _open(_database(published))
    try:
        published_columns = {
            table: connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = ? AND table_name = ? ORDER BY ordinal_position",
                [CATALOG, table],
            ).fetchall()
            for table in _published_tables(connection)
        }
    finally:
        connection.close()
    dictionary = data_dictionary()
    order = [name for name in dictionary if name in published_columns]
    order += sorted(set(published_columns) - set(order))
    rows: Rows = []
    for table in order:
        doc = dictionary.get(table)
        rows.append((table, None, None, doc.description if doc else "(non documentée)"))
        for column, kind in published_columns[table]:
            meaning = doc.columns.get(column, (kind, "(non documentée)"))[1] if doc else ""
            rows.append((table, column, kind, meaning or "(non documentée)"))
    return TABLE_COLUMNS, rows


def tables_text(columns: Sequence[str], rows: Rows) -> str:
    """The listing for a terminal: each table, its description, then its columns."""
    width = max((len(row[1]) for row in rows if row[1]), default=0)
    kind_width = max((len(row[2]) for row in rows if row[2]), default=0)
    lines: list[str] = []
    for table, column, kind, meaning in rows:
        if column is None:
            lines += ["" if lines else None, f"{table} — {meaning}"]
        else:
            lines.append(f"  {column.ljust(width)}  {kind.ljust(kind_width)}  {meaning}")
    return "\n".join(line for line in lines if line is not None) + "\n"


def run_query(published: Path, sql: str, fmt: Format = "table", out: Path | None = None) -> str:
    """Run ``sql`` on the publication (read-only, confined) and format the result.

    ``sql`` = ``tables`` lists the published tables and columns with their meaning instead.
    With ``out``, the result is written to that file and the returned text says so; ``xlsx``
    needs ``out``. Raises ``QueryError`` for a missing publication, an unknown format, a file
    that cannot be written, or any error DuckDB reports, in French.
    """
    if fmt not in FORMATS:
        raise QueryError(f"format inconnu « {fmt} » : choisir parmi {', '.join(FORMATS)}")
    if fmt == "xlsx" and out is None:
        raise QueryError("le format xlsx s'écrit dans un fichier : ajouter --out FICHIER.xlsx")
    listing = sql is not None and sql.strip().lower() == TABLES_KEYWORD
    columns, rows = describe_tables(published) if listing else execute(published, sql)
    if out is None:
        if listing and fmt == "table":
            return tables_text(columns, rows)
        return FORMATTERS[fmt](columns, rows)
    target = Path(out)
    if not target.parent.is_dir():
        raise QueryError(f"dossier introuvable pour --out : {target.parent}")
    try:
        if fmt == "xlsx":
            as_xlsx(columns, rows, target)
        else:
            text = tables_text(columns, rows) if listing and fmt == "table" else None
            target.write_text(text or FORMATTERS[fmt](columns, rows), encoding="utf-8")
    except OSError as error:
        raise QueryError(f"impossible d'écrire {target} : {error.strerror}") from None
    count = len(rows)
    return (
        f"{count} ligne{'s' if count > 1 else ''} écrite{'s' if count > 1 else ''} dans {target}\n"
    )
