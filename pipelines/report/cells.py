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
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from recours import french

SECRET_CELL = '<td class="n s" data-k="{key}" title="secret statistique">s</td>'


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


def count(value: int | None, cell_key: str, secret: bool = False) -> str:
    if secret:
        return SECRET_CELL.format(key=escape(cell_key))
    return f'<td class="n" data-k="{escape(cell_key)}">{french.integer(value)}</td>'


def rate(value: float | None, cell_key: str, secret: bool = False, warning: str = "") -> str:
    """A rate cell; ``warning`` (markup) goes right after a printed rate, never after ``s``."""
    if secret:
        return SECRET_CELL.format(key=escape(cell_key))
    if warning and value is not None:
        return (
            f'<td class="n"><span data-k="{escape(cell_key)}">{french.rate(value)}</span>'
            f"{warning}</td>"
        )
    return f'<td class="n" data-k="{escape(cell_key)}">{french.rate(value)}</td>'


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


def difference(row: dict, department: dict | None) -> str:
    """The territory's rate minus the département's, in points (``+3,2 pts``): ``s`` when the
    territory is secret, ``–`` when either rate is missing or the département's is secret."""
    cell_key = difference_key(row)
    if row["secret"]:
        return SECRET_CELL.format(key=escape(cell_key))
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
    return f'<td class="n ecart" data-k="{escape(cell_key)}">{text}</td>'


def percent(value: float | None, cell_key: str) -> str:
    return f'<td class="n" data-k="{escape(cell_key)}">{french.percent(value)}</td>'


def span(text: str, cell_key: str) -> str:
    return f'<span class="n" data-k="{escape(cell_key)}">{text}</span>'


def indicator_cells(row: dict, warning: str = "") -> str:
    """population, non-recours, taux of one ``indicateurs`` row."""
    secret = bool(row["secret"])
    return (
        count(row["population"], indicator_key(row, "population"), secret)
        + count(row["non_recours"], indicator_key(row, "non_recours"), secret)
        + rate(row["taux"], indicator_key(row, "taux"), secret, warning)
    )


def header(*labels: str, numeric_from: int | None = None) -> str:
    """The head row; with ``numeric_from``, columns from that index on are marked numeric
    (``data-tri="n"``) for the sorting script, the others sort as text."""
    cells = []
    for index, label in enumerate(labels):
        sort = ' data-tri="n"' if numeric_from is not None and index >= numeric_from else ""
        cells.append(f'<th scope="col"{sort}>{label}</th>')
    return "<thead><tr>" + "".join(cells) + "</tr></thead>"


def row_header(text: str) -> str:
    return f'<th scope="row">{escape(text)}</th>'
