"""Writing ``published/`` so that a failed run leaves the last publication intact.

Everything is first written under hidden temporary names in ``published/`` itself (same file
system, so the final move is an atomic rename): the new ``recours.duckdb``, and each table as
Parquet and CSV. Only when every file is complete and flushed to disk are they moved into
place with ``os.replace``, the exports first and the database last, since the database is the
reference the next run reads its earlier periods from; should one of those renames fail, the
files already replaced are put back (the old ones were kept aside under a hard link). Until
then nothing analysts see has changed; an exception anywhere removes the temporary files and
leaves the old ones as they were. A reader holding the old ``recours.duckdb`` keeps reading it
(the rename does not touch an open file), and the next reader opens the new one.

The previous publication is read from a private copy, so that an analyst's open connection,
even a read-write one holding DuckDB's lock, never blocks the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from pipelines.publish.export import french_csv, parquet
from pipelines.publish.model import TABLES, PublicationError, conform, empty
from recours.atomic import fsync

DATABASE = "recours.duckdb"
PERIODIC = ("indicateurs", "connus", "qualite")
# published/ is for the analysts' group: 0750 folders, 0640 files (recours/modes.py), set here
# explicitly since the process runs under umask 077.
SHARED_DIR, SHARED_FILE = 0o750, 0o640


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def read_previous(published_dir: Path) -> dict[str, pl.DataFrame]:
    """The tables of the current publication (empty frames when there is none yet)."""
    current = published_dir / DATABASE
    if not current.exists():
        return {table: empty(table) for table in TABLES}
    snapshot = published_dir / f".precedente.{uuid.uuid4().hex}.tmp"
    try:
        shutil.copyfile(current, snapshot)
        connection = duckdb.connect()
        try:
            connection.execute(f"ATTACH {_quoted(snapshot)} AS precedente (READ_ONLY)")
            present = {
                row[0]
                for row in connection.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_catalog = 'precedente'"
                ).fetchall()
            }
            tables = {}
            for table, columns in TABLES.items():
                if table not in present:
                    tables[table] = empty(table)
                    continue
                names = ", ".join(name for name, _ in columns)
                frame = connection.sql(
                    f"SELECT {names} FROM precedente.{table} ORDER BY rowid"
                ).pl()
                tables[table] = conform(frame, table)
            return tables
        finally:
            connection.close()
    except duckdb.Error as error:
        raise PublicationError(
            f"publication précédente illisible ({current}) : rien n'est remplacé "
            f"({type(error).__name__})"
        ) from error
    finally:
        snapshot.unlink(missing_ok=True)
        Path(f"{snapshot}.wal").unlink(missing_ok=True)


def merge(
    previous: dict[str, pl.DataFrame], fresh: dict[str, pl.DataFrame], period: str
) -> dict[str, pl.DataFrame]:
    """Earlier periods stay published; this period's rows replace any published before.

    ``territoires`` and ``metadonnees`` describe the current run and are replaced; the
    catalogue keeps the entries of indicators still published for an earlier period.
    """
    merged: dict[str, pl.DataFrame] = {}
    for table in ("indicateurs", "connus"):
        kept = previous[table].filter(pl.col("periode") != period)
        merged[table] = pl.concat([kept, fresh[table]]).sort(
            "indicateur", "periode", maintain_order=True
        )
    keys = ["periode", "convention", "mesure"]
    kept_quality = previous["qualite"].filter(pl.col("periode") != period)
    merged["qualite"] = pl.concat(
        [kept_quality.join(fresh["qualite"], on=keys, how="anti"), fresh["qualite"]]
    ).sort("periode", maintain_order=True)
    published = set(merged["indicateurs"]["indicateur"].to_list())
    kept_catalogue = previous["catalogue"].filter(
        pl.col("indicateur").is_in(pl.Series(sorted(published), dtype=pl.String).implode())
    )
    merged["catalogue"] = pl.concat(
        [kept_catalogue.join(fresh["catalogue"], on="indicateur", how="anti"), fresh["catalogue"]]
    ).sort("indicateur", maintain_order=True)
    merged["territoires"] = fresh["territoires"]
    merged["metadonnees"] = fresh["metadonnees"]
    return {table: conform(merged[table], table) for table in TABLES}


def _write_database(
    path: Path, tables: dict[str, pl.DataFrame], staged: list[tuple[Path, Path]]
) -> None:
    """The new database and its Parquet exports, each table with the contract's exact types."""
    connection = duckdb.connect(str(path))
    try:
        for table, columns in TABLES.items():
            definition = ", ".join(f"{name} {kind}" for name, kind in columns)
            connection.execute(f"CREATE TABLE {table} ({definition})")
            connection.register("_nouvelles_lignes", tables[table].to_arrow())
            selected = ", ".join(f"CAST({name} AS {kind})" for name, kind in columns)
            connection.execute(f"INSERT INTO {table} SELECT {selected} FROM _nouvelles_lignes")
            connection.unregister("_nouvelles_lignes")
        connection.execute("CHECKPOINT")
        for table in TABLES:
            temporary = _temporary(path.parent, f"{table}.parquet")
            staged.append((temporary, path.parent / f"{table}.parquet"))
            parquet(connection, table, temporary)
    finally:
        connection.close()


def _temporary(folder: Path, name: str) -> Path:
    return folder / f".{name}.{uuid.uuid4().hex}.tmp"


def _install(temporary: Path, final: Path) -> None:
    """The atomic step: the final name now points at the complete new file."""
    os.replace(temporary, final)


def _keep_aside(final: Path) -> Path | None:
    """A second name for the current file (a hard link: no copy), to put it back if need be."""
    if not final.exists():
        return None
    aside = _temporary(final.parent, f"{final.name}.ancien")
    try:
        os.link(final, aside)
    except OSError:  # a file system without hard links
        shutil.copy2(final, aside)
    return aside


def _install_all(staged: list[tuple[Path, Path]]) -> None:
    """Move every staged file into place, or put every replaced file back.

    Each rename is atomic; this makes the set of them all-or-nothing too, so that a failure
    on the last rename does not leave new exports beside an old database.
    """
    previous = [(final, _keep_aside(final)) for _, final in staged]
    done: list[tuple[Path, Path | None]] = []
    try:
        for (temporary, final), (_, aside) in zip(staged, previous, strict=True):
            _install(temporary, final)
            done.append((final, aside))
    except BaseException:
        for final, aside in reversed(done):
            if aside is None:
                final.unlink(missing_ok=True)
            else:
                os.replace(aside, final)
        raise
    finally:
        for _, aside in previous:
            if aside is not None:
                aside.unlink(missing_ok=True)


def write_publication(
    published_dir: Path,
    tables: dict[str, pl.DataFrame],
    before_install: Callable[[], None] | None = None,
) -> list[Path]:
    """Write every table as DuckDB, Parquet and CSV, then move them all into place.

    ``before_install`` runs once everything is written and synced, just before the moves: the
    crossing journals the publication there, so that a publication is never in place without its
    event; if it raises, nothing is replaced."""
    published_dir.mkdir(parents=True, exist_ok=True)
    if published_dir.stat().st_uid == os.geteuid():  # keep a setgid bit (the analysts' group)
        os.chmod(published_dir, SHARED_DIR | (published_dir.stat().st_mode & 0o2000))
    database = _temporary(published_dir, DATABASE)
    staged: list[tuple[Path, Path]] = []
    try:
        _write_database(database, tables, staged)
        for table in TABLES:
            temporary = _temporary(published_dir, f"{table}.csv")
            staged.append((temporary, published_dir / f"{table}.csv"))
            french_csv(tables[table], temporary)
        staged.append((database, published_dir / DATABASE))
        if Path(f"{database}.wal").exists():
            raise PublicationError("la base publiée n'a pas été entièrement écrite (WAL restant)")
        for temporary, _ in staged:
            os.chmod(temporary, SHARED_FILE)
            fsync(temporary)
        if before_install is not None:
            before_install()
        _install_all(staged)
        fsync(published_dir)
        return [final for _, final in staged]
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        database.unlink(missing_ok=True)
        Path(f"{database}.wal").unlink(missing_ok=True)
