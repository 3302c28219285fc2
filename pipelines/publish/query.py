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

An analyst's query must not take the machine down with it, so every query runs under limits
(``Limits``): a delay after which a timer thread interrupts DuckDB (a recursive CTE that never
ends), and a memory limit that holds twice, for DuckDB's own work (``memory_limit``, with no
spilling to disk: the temporary directory would otherwise be ``.tmp`` in the current folder,
perhaps the home) and for the rows brought back into Python, which DuckDB does not count.

``--out`` never writes inside the home (the publication, the journal, the pseudonymized zone
are all there: one mistyped path would stop every later run) and never replaces a file
without ``force``. ``csv`` is the French Excel dialect of the published CSVs, written by the
same function (``pipelines.publish.export.french_csv``); ``csv-rfc`` is the plain one.

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
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from recours.errors import RecoursError

if TYPE_CHECKING:
    import polars as pl

DATABASE = "recours.duckdb"
CATALOG = "recours"
FORMATS = ("table", "csv", "csv-rfc", "json", "xlsx")
DEFAULT_SECONDS = 60.0
DEFAULT_MEMORY = "2GB"
MIN_MEMORY = 64_000_000  # below this DuckDB cannot even attach the publication reliably
FETCH_ROWS = 10_000  # rows brought into Python between two checks of the limits
SIZE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([kmgt]?)(i?)([bo])\s*$", re.IGNORECASE)
TABLES_KEYWORD = "tables"
DICTIONARY = Path(__file__).resolve().parents[2] / "docs" / "publication.md"
# A column of the dictionary: | `column` | TYPE | meaning |
COLUMN_ROW = re.compile(r"^\| `([^`]+)` \| ([A-Z]+) \| (.*) \|[ \t]*$", re.MULTILINE)

# No spilling to disk: DuckDB's default temporary directory is ``.tmp`` in the current folder.
NO_SPILL = ("SET temp_directory = ''", "SET max_temp_directory_size = '0B'")
# Order matters: lock_configuration last, once everything else is set.
LOCKDOWN = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)

Format = Literal["table", "csv", "csv-rfc", "json", "xlsx"]
Rows = list[tuple[Any, ...]]


class QueryError(RecoursError):
    """A query that cannot run on the publication, with a French message for the analyst."""


def parse_size(text: str) -> int:
    """Bytes from ``2GB``, ``500MB``, ``1,5Go``, ``512MiB``: what analysts write, in French too.

    A bare number is refused: ``--memoire 2`` could mean bytes or gigabytes.
    """
    match = SIZE.match(text or "")
    if match is None:
        raise QueryError(
            f"taille illisible pour --memoire : « {text} » ; écrire un nombre et une unité, "
            "par exemple --memoire 2GB ou --memoire 500MB"
        )
    number = float(match[1].replace(",", "."))
    power = " kmgt".index(match[2].lower() or " ")
    return int(number * (1024 if match[3] else 1000) ** power)


def _french_number(value: float) -> str:
    return f"{value:g}".replace(".", ",")


@dataclass(frozen=True)
class Limits:
    """How long and how much memory one query may take (``--delai``, ``--memoire``).

    Defaults fit an analyst's query on the publication (aggregates, a few MB) with a wide margin
    while keeping a runaway query from holding a shared two-core machine.
    """

    seconds: float = DEFAULT_SECONDS
    memory: str = DEFAULT_MEMORY

    def memory_bytes(self) -> int:
        """The memory limit in bytes, checked: a French message for a size DuckDB cannot use."""
        size = parse_size(self.memory)
        if size < MIN_MEMORY:
            raise QueryError(
                f"--memoire {self.memory} est trop peu : il faut au moins 64MB pour lire la "
                "publication ; donner par exemple --memoire 500MB"
            )
        return size

    def check(self) -> None:
        """Refuse, in French, limits no query could run under."""
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise QueryError(
                f"--delai {_french_number(self.seconds)} : donner une durée en secondes, plus "
                "grande que zéro (par défaut 60)"
            )
        self.memory_bytes()


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


def _open(database: Path, limits: Limits | None = None) -> duckdb.DuckDBPyConnection:
    """A connection that sees the publication, read-only, and nothing else; with ``limits``,
    DuckDB's memory is capped too (set before the lock-down, which a query cannot undo)."""
    connection = duckdb.connect(":memory:")
    try:
        target = str(database).replace("'", "''")
        connection.execute(f"ATTACH '{target}' AS {CATALOG} (READ_ONLY)")
        connection.execute(f"USE {CATALOG}")
        for statement in NO_SPILL:
            connection.execute(statement)
        if limits is not None:
            connection.execute(f"SET memory_limit = '{limits.memory_bytes()}B'")
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
    """Plain CSV (RFC 4180: comma, decimal point, ``true``/``false``) for other tools, which
    misread the French dialect; NULL is an empty field."""

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


def _as_text(value: Any) -> str:
    """A value polars cannot hold in a CSV column (a list, a struct, a UUID) as one text cell."""
    if isinstance(value, list | tuple | dict):
        return json.dumps(_json_value(value), ensure_ascii=False)
    return _text(value)


def _french_series(name: str, kind: str, values: list[Any]) -> pl.Series:
    """One result column for ``french_csv``: booleans stay booleans (``oui``/``non``) even when
    all NULL, numbers stay numbers (decimal comma); what a CSV cell cannot hold becomes text."""
    import polars as pl

    if kind == "BOOLEAN":
        return pl.Series(name, values, dtype=pl.Boolean)
    try:
        series = pl.Series(name, values, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        series = None
    if series is None or series.dtype == pl.Object or series.dtype.is_nested():
        texts = [None if value is None else _as_text(value) for value in values]
        series = pl.Series(name, texts, dtype=pl.String)
    return series


def as_french_csv(columns: Sequence[str], kinds: Sequence[str], rows: Rows) -> bytes:
    """CSV as French Excel reads it, exactly as the published CSVs (``;``, decimal comma,
    UTF-8 BOM, ``oui``/``non``, NULL empty): written by the publication's own function."""
    import polars as pl

    from pipelines.publish.export import french_csv

    repeated = sorted({name for name in columns if list(columns).count(name) > 1})
    if repeated:
        raise QueryError(
            f"plusieurs colonnes du résultat s'appellent {', '.join(repeated)} : les renommer "
            "avec AS (SELECT a.x AS x_a, b.x AS x_b …) pour le format csv"
        )
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    frame = pl.DataFrame(
        [
            _french_series(name, kind, list(column))
            for name, kind, column in zip(columns, kinds, values, strict=True)
        ]
    )
    buffer = io.BytesIO()
    french_csv(frame, buffer)  # type: ignore[arg-type]  # polars writes to a path or a buffer
    return buffer.getvalue()


def _exact_in_excel(value: Any) -> bool:
    """Excel keeps a number exactly when it is a finite double (integers up to 2**53)."""
    if isinstance(value, int):
        return abs(value) < 2**53
    return isinstance(value, float) and math.isfinite(value)


def as_xlsx(columns: Sequence[str], rows: Rows) -> bytes:
    """An Excel workbook, one sheet: numbers stay numbers, NULL an empty cell, the header frozen.

    Decimals and very large integers are written as text, which Excel would otherwise round.
    Built in memory, so that the file is only created once the workbook is whole.
    """
    import xlsxwriter

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False, "in_memory": True})
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
    return buffer.getvalue()


FORMATTERS: dict[str, Callable[[Sequence[str], Rows], str]] = {
    "table": as_table,
    "csv-rfc": as_csv,
    "json": as_json,
}


def _database(published: Path) -> Path:
    database = Path(published) / DATABASE
    if not database.is_file():
        raise QueryError(
            f"aucune publication dans {Path(published)} : lancer d'abord `recours run`"
        )
    return database


@dataclass(frozen=True)
class Result:
    """A query's result: column names, DuckDB types (for the CSV dialects) and rows."""

    columns: list[str]
    kinds: list[str]
    rows: Rows


def _row_size(row: tuple[Any, ...]) -> int:
    """Bytes one fetched row holds in Python: the tuple, its values, the list's pointer."""
    return 8 + sys.getsizeof(row) + sum(sys.getsizeof(value) for value in row)


def _batch_size(batch: Rows) -> int:
    """An estimate from at most 50 rows: measuring every row would cost more than the query."""
    sample = batch[:: max(1, len(batch) // 50)]
    return len(batch) * sum(_row_size(row) for row in sample) // len(sample)


def _timed_out(limits: Limits) -> QueryError:
    return QueryError(
        f"requête arrêtée au bout de {_french_number(limits.seconds)} s (limite --delai) : "
        "elle tournait encore (requête récursive sans fin, jointure sans condition ?) ; la "
        "corriger, ou relancer avec un --delai plus grand, par exemple --delai "
        f"{_french_number(limits.seconds * 5)}"
    )


def _out_of_memory(limits: Limits) -> QueryError:
    return QueryError(
        f"requête arrêtée : elle demandait plus de {limits.memory} de mémoire (limite "
        "--memoire) ; la restreindre (WHERE, LIMIT, agrégats, moins de jointures), ou relancer "
        f"avec une --memoire plus grande, par exemple --memoire {_bigger(limits.memory)}"
    )


def _bigger(memory: str) -> str:
    match = SIZE.match(memory)
    assert match is not None  # checked by Limits.check
    return f"{_french_number(float(match[1].replace(',', '.')) * 2)}{''.join(match.groups()[1:])}"


def _run(folder: Path, sql: str, limits: Limits) -> Result:
    """Run ``sql`` confined and under ``limits``; a French ``QueryError`` for any failure.

    The timer interrupts DuckDB mid-query; between two batches of fetched rows, the loop checks
    the timer and the memory the rows already take, since neither is DuckDB's to see.
    """
    database = _database(folder)
    if not sql or not sql.strip():
        raise QueryError("requête vide : écrire une requête SQL, par exemple SHOW TABLES")
    limits.check()
    budget = limits.memory_bytes()
    connection = _open(database, limits)
    expired = threading.Event()

    def interrupt() -> None:
        expired.set()
        connection.interrupt()

    timer = threading.Timer(limits.seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        cursor = connection.execute(sql)
        description = cursor.description or []
        columns = [item[0] for item in description]
        kinds = [str(item[1]) for item in description]
        rows: Rows = []
        held = 0
        while columns and (batch := cursor.fetchmany(FETCH_ROWS)):
            if expired.is_set():
                raise _timed_out(limits)
            held += _batch_size(batch)
            if held > budget:
                raise _out_of_memory(limits)
            rows.extend(batch)
    except duckdb.OutOfMemoryException:
        raise _out_of_memory(limits) from None
    except duckdb.Error as error:
        if expired.is_set():
            raise _timed_out(limits) from None
        raise QueryError(_explain(error, connection, folder)) from None
    finally:
        timer.cancel()
        connection.close()
    return Result(columns, kinds, rows)


def execute(published: Path, sql: str, limits: Limits | None = None) -> tuple[list[str], Rows]:
    """Run ``sql`` on ``published/recours.duckdb`` (read-only, confined, under ``limits``, by
    default ``Limits()``): columns and rows."""
    result = _run(Path(published), sql, limits or Limits())
    return result.columns, result.rows


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
    lines: list[str | None] = []
    for table, column, kind, meaning in rows:
        if column is None:
            lines += ["" if lines else None, f"{table} — {meaning}"]
        else:
            lines.append(f"  {column.ljust(width)}  {kind.ljust(kind_width)}  {meaning}")
    return "\n".join(line for line in lines if line is not None) + "\n"


def check_out(out: Path, home: Path, force: bool = False) -> Path:
    """The file ``--out`` may write, symlinks resolved; a French refusal for any other.

    Never inside the home, whatever the path says (``..``, a symlink, a relative path from a
    folder of the home): the publication, the journal and the pseudonymized zone live there.
    Never over an existing file unless ``force``; never a folder.
    """
    target = Path(out)
    resolved = target.expanduser().resolve()
    root = Path(home).expanduser().resolve()
    if resolved == root or resolved.is_relative_to(root):
        via = f" (c'est-à-dire {resolved})" if resolved != target else ""
        raise QueryError(
            f"--out {target}{via} est dans le dossier de travail {Path(home)}, où sont la "
            "publication, le journal d'audit et les données pseudonymisées : `recours query` "
            "n'y écrit jamais ; donner un fichier hors de ce dossier, par exemple dans votre "
            "dossier personnel"
        )
    if resolved.is_dir():
        raise QueryError(f"--out {target} est un dossier : donner un nom de fichier")
    if not resolved.parent.is_dir():
        raise QueryError(f"dossier introuvable pour --out : {target.parent}")
    if resolved.exists() and not force:
        raise QueryError(
            f"--out {target} existe déjà : choisir un autre nom, ou ajouter --force pour le "
            "remplacer"
        )
    return resolved


def _write_out(target: Path, shown: Path, payload: bytes, force: bool) -> None:
    """Write the whole result or nothing: a new file is created exclusively (no race with a
    file appearing meanwhile); a replaced one is written aside and renamed over it."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.en-cours") if force else target
    created = False
    try:
        with temporary.open("wb" if force else "xb") as handle:
            created = True
            handle.write(payload)
        if force:
            os.replace(temporary, target)
    except FileExistsError:
        raise QueryError(
            f"--out {shown} existe déjà : choisir un autre nom, ou ajouter --force pour le "
            "remplacer"
        ) from None
    except OSError as error:
        if created:
            temporary.unlink(missing_ok=True)
        raise QueryError(
            f"impossible d'écrire {shown} : {error.strerror} ; rien n'a été écrit, vérifier "
            "le dossier (droits, place libre) ou choisir un autre fichier"
        ) from None


def _payload(fmt: str, result: Result, listing: bool) -> bytes:
    if fmt == "xlsx":
        return as_xlsx(result.columns, result.rows)
    if fmt == "csv":
        return as_french_csv(result.columns, result.kinds, result.rows)
    if listing and fmt == "table":
        return tables_text(result.columns, result.rows).encode("utf-8")
    return FORMATTERS[fmt](result.columns, result.rows).encode("utf-8")


def run_query(
    published: Path,
    sql: str,
    fmt: Format = "table",
    out: Path | None = None,
    *,
    force: bool = False,
    limits: Limits | None = None,
    home: Path | None = None,
) -> str:
    """Run ``sql`` on the publication (read-only, confined, under ``limits``) and format it.

    ``sql`` = ``tables`` lists the published tables and columns with their meaning instead.
    With ``out``, the result is written to that file (never inside ``home``, by default the
    folder holding ``published``; an existing file only with ``force``) and the returned text
    says so; ``xlsx`` needs ``out``. Raises ``QueryError`` for a missing publication, an
    unknown format, a file that cannot or may not be written, a query stopped by its limits,
    or any error DuckDB reports, in French.
    """
    if fmt not in FORMATS:
        raise QueryError(f"format inconnu « {fmt} » : choisir parmi {', '.join(FORMATS)}")
    if fmt == "xlsx" and out is None:
        raise QueryError("le format xlsx s'écrit dans un fichier : ajouter --out FICHIER.xlsx")
    limits = limits or Limits()
    limits.check()
    target = None
    if out is not None:  # before the query: a refused --out should not wait for the result
        target = check_out(out, Path(published).parent if home is None else home, force)
    listing = sql is not None and sql.strip().lower() == TABLES_KEYWORD
    if listing:
        columns, rows = describe_tables(published)
        result = Result(columns, ["VARCHAR"] * len(columns), rows)
    else:
        result = _run(Path(published), sql, limits)
    payload = _payload(fmt, result, listing)
    if target is None or out is None:  # both set together: ``target`` is the checked ``out``
        return payload.decode("utf-8")
    _write_out(target, Path(out), payload, force)
    count = len(result.rows)
    return (
        f"{count} ligne{'s' if count > 1 else ''} écrite{'s' if count > 1 else ''} dans {target}\n"
    )
