"""SQL kept in files: the one way the project reads a ``.sql`` file, and runs one.

A statement with logic (a join, a CTE, a window, an aggregate, the linkage cascade) is written
in a named ``.sql`` file whose header comment says what it computes, its grain and its inputs,
so that a DPO or an analyst reads the rule without reading Python. Python keeps only the
trivial statements (``ATTACH``, ``DROP``, ``CHECKPOINT``, a bare ``SELECT`` with bound
parameters) and, where a table name is only known at run time, the ``create table <name> as``
before a file's query.

Values always travel as prepared parameters (``$name``), never formatted into the SQL text.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recours.errors import RecoursError

if TYPE_CHECKING:
    import duckdb


class SqlFileError(RecoursError):
    """A SQL file the code needs cannot be read; the message names it and says what to do."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


class SqlFileMissing(SqlFileError):
    """The SQL file is not where the code expects it."""


class SqlFileNotUtf8(SqlFileError):
    """The SQL file is not UTF-8 text."""


def read_sql(path: Path) -> str:
    """The text of the SQL file at ``path``.

    A missing or undecodable file is a ``SqlFileError`` naming the path, not a traceback: a
    SQL file of the code that is gone means a damaged installation, one of a conventions
    folder (``entrepot/<id>.sql``) a file to restore there.
    """
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SqlFileMissing(
            path,
            f"fichier SQL introuvable : {path} ; le restaurer (depuis le dépôt de recours, ou "
            "dans le dossier des conventions s'il en vient), puis relancer",
        ) from None
    except UnicodeDecodeError:
        raise SqlFileNotUtf8(
            path, f"fichier SQL illisible : {path} ; l'enregistrer en UTF-8, puis relancer"
        ) from None
    except OSError as error:
        raise SqlFileError(
            path,
            f"fichier SQL illisible : {path} ({error.strerror}) ; vérifier ses droits, puis "
            "relancer",
        ) from None


def sql_header(text: str) -> str:
    """The leading comment block of a SQL file (what it computes, its grain, its sources):
    what a reader sees first, and what the tests require of every file."""
    header = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    return "\n".join(header)


def execute_sql(
    con: duckdb.DuckDBPyConnection, text: str, parameters: Mapping[str, Any] | None = None
) -> None:
    """Run every statement of ``text`` (a SQL file's content), each with the ``parameters``
    it names.

    DuckDB binds prepared parameters only to the last statement of a multi-statement string,
    so a file whose several statements use ``$names`` is run statement by statement."""
    values = dict(parameters or {})
    for statement in con.extract_statements(text):
        named = {name: values[name] for name in statement.named_parameters}
        con.execute(statement, named or None)
