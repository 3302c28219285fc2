"""Where each convention's warehouse table is made: one SQL file named after the convention.

A new partner needs no Python: its convention, its file design, and ``<id>.sql`` here (or, for
a partner added outside the repository, in the ``entrepot/`` folder beside its convention).
"""

from __future__ import annotations

from pathlib import Path

SOURCES_SQL = Path(__file__).resolve().parent / "sql" / "sources"
EXTRA_SOURCES_DIR = "entrepot"  # <conventions folder>/entrepot/<id>.sql


def source_sql(convention: str, conventions_dir: Path | None = None) -> Path | None:
    """The SQL file that makes the warehouse table of a convention, found by its name."""
    candidates = [SOURCES_SQL / f"{convention}.sql"]
    if conventions_dir is not None:
        candidates.insert(0, Path(conventions_dir) / EXTRA_SOURCES_DIR / f"{convention}.sql")
    return next((path for path in candidates if path.is_file()), None)


def source_tables(conventions_dir: Path | None = None) -> set[str]:
    """Every warehouse table name a source SQL file makes (names the indicators may not reuse)."""
    names = {path.stem for path in SOURCES_SQL.glob("*.sql")}
    if conventions_dir is not None:
        names |= {p.stem for p in (Path(conventions_dir) / EXTRA_SOURCES_DIR).glob("*.sql")}
    return names
