"""Table cells that carry where their number comes from.

Every number the report prints sits in an element with a ``data-k`` key naming the published
cell it shows (``i|rsa|2026-10|epci|243100518|ensemble|ensemble|taux``): the test rebuilds
each key's value from ``recours.duckdb`` and compares, so no figure can drift from the
publication unnoticed. A secret row prints ``s`` under the same key, and nothing else.

Key prefixes: ``i`` indicateurs, ``c`` connus, ``q`` qualite (``periode|convention|mesure``),
``l`` the linkage rate derived from qualite, ``x`` INSEE context (``code|column``), ``d`` a
territory's rate minus the département's, in points (``d|`` + the territory's ``i`` key parts
without the column).

A rate of an indicator whose sources are poorly linked carries a warning sign right after it
(``pipelines.report.linkage``): the number then sits in a keyed ``span`` inside its cell, so
that the key still names exactly the printed number.

Cells are data here (text, key, kind); the template ``rapport_analystes.html.j2`` writes their
markup, escaped, in one macro.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pipelines.report.linkage import Alert
from recours import french


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of a table. ``key`` makes it a keyed number (``css`` its classes); ``secret``
    prints ``s`` under the key; ``alert`` goes right after a printed rate; ``header`` makes it
    the row's head (a link to ``href`` when given); ``bar`` is a gauge cell's bar width, or
    ``""`` for an empty gauge."""

    text: str = ""
    key: str | None = None
    css: str = "n"
    secret: bool = False
    alert: Alert | None = None
    header: bool = False
    href: str | None = None
    bar: str | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """A column head; ``numeric`` heads sort as numbers (``data-tri="n"``)."""

    label: str
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A table; ``foot`` (a row) stays under the body when the body is re-sorted."""

    caption: str
    head: tuple[Head, ...]
    rows: list[list[Cell]]
    css: str = "donnees"
    foot: list[Cell] | None = None

    @property
    def parts(self) -> list[tuple[str, list[list[Cell]]]]:
        """The body, and the foot when there is one, as the template writes them."""
        return [("tbody", self.rows)] + ([("tfoot", [self.foot])] if self.foot else [])


MISSING = Cell("–")  # no row: an unkeyed dash
EMPTY = Cell()


def key(*parts: object) -> str:
    return "|".join(str(part) for part in parts)


def indicator_key(row: dict, column: str) -> str:
    return key(
        "i",
        row["indicateur"],
        row["periode"],
        row["niveau"],
        row["code_territoire"],
        row["tranche_age"],
        row["type_menage"],
        column,
    )


def known_key(row: dict, column: str) -> str:
    return key(
        "c", row["indicateur"], row["periode"], row["niveau"], row["code_territoire"], column
    )


def count(value: int | None, cell_key: str, secret: bool = False) -> Cell:
    return Cell(french.integer(value), cell_key, secret=secret)


def rate(
    value: float | None, cell_key: str, secret: bool = False, alert: Alert | None = None
) -> Cell:
    """A rate cell; ``alert`` goes right after a printed rate, never after ``s``."""
    return Cell(
        french.rate(value), cell_key, secret=secret, alert=alert if value is not None else None
    )


def difference_key(row: dict) -> str:
    return key(
        "d",
        row["indicateur"],
        row["periode"],
        row["niveau"],
        row["code_territoire"],
        row["tranche_age"],
        row["type_menage"],
    )


def difference(row: dict, department: dict | None) -> Cell:
    """The territory's rate minus the département's, in points (``+3,2 pts``): ``s`` when the
    territory is secret, ``–`` when either rate is missing or the département's is secret."""
    cell_key = difference_key(row)
    if row["secret"]:
        return Cell(key=cell_key, secret=True)
    text = french.MISSING
    if (
        department is not None
        and not department["secret"]
        and department["taux"] is not None
        and row["taux"] is not None
    ):
        text = french.points(
            (Decimal(repr(float(row["taux"]))) - Decimal(repr(float(department["taux"])))) * 100
        )
    return Cell(text, cell_key, css="n ecart")


def percent(value: float | None, cell_key: str) -> Cell:
    return Cell(french.percent(value), cell_key)


def text(value: str | None) -> Cell:
    """A plain cell (``None`` prints nothing)."""
    return Cell(value or "")


def indicator_cells(row: dict, alert: Alert | None = None) -> list[Cell]:
    """population, non-recours, taux of one ``indicateurs`` row."""
    secret = bool(row["secret"])
    return [
        count(row["population"], indicator_key(row, "population"), secret),
        count(row["non_recours"], indicator_key(row, "non_recours"), secret),
        rate(row["taux"], indicator_key(row, "taux"), secret, alert),
    ]


def header(*labels: str, numeric_from: int | None = None) -> tuple[Head, ...]:
    """The head row; with ``numeric_from``, columns from that index on are marked numeric
    (``data-tri="n"``) for the sorting script, the others sort as text."""
    return tuple(
        Head(label, numeric_from is not None and index >= numeric_from)
        for index, label in enumerate(labels)
    )


def row_header(text: str, href: str | None = None) -> Cell:
    return Cell(text, header=True, href=href)
