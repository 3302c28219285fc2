"""Table cells that carry where their number comes from.

Every number the report prints sits in an element with a ``data-k`` key naming the published
cell it shows (``i|rsa|2026-10|epci|243100518|ensemble|ensemble|taux``): the test rebuilds
each key's value from ``recours.duckdb`` and compares, so no figure can drift from the
publication unnoticed. A secret row prints ``s`` under the same key, and nothing else.

Key prefixes: ``i`` indicateurs, ``c`` connus, ``q`` qualite (``periode|convention|mesure``),
``l`` the linkage rate derived from qualite, ``x`` INSEE context (``code|column``).
"""

from __future__ import annotations

from html import escape

from pipelines.report import french

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


def rate(value: float | None, cell_key: str, secret: bool = False) -> str:
    if secret:
        return SECRET_CELL.format(key=escape(cell_key))
    return f'<td class="n" data-k="{escape(cell_key)}">{french.rate(value)}</td>'


def percent(value: float | None, cell_key: str) -> str:
    return f'<td class="n" data-k="{escape(cell_key)}">{french.percent(value)}</td>'


def span(text: str, cell_key: str) -> str:
    return f'<span class="n" data-k="{escape(cell_key)}">{text}</span>'


def indicator_cells(row: dict) -> str:
    """population, non-recours, taux of one ``indicateurs`` row."""
    secret = bool(row["secret"])
    return (
        count(row["population"], indicator_key(row, "population"), secret)
        + count(row["non_recours"], indicator_key(row, "non_recours"), secret)
        + rate(row["taux"], indicator_key(row, "taux"), secret)
    )


def header(*labels: str) -> str:
    return (
        "<thead><tr>"
        + "".join(f'<th scope="col">{label}</th>' for label in labels)
        + "</tr></thead>"
    )


def row_header(text: str) -> str:
    return f'<th scope="row">{escape(text)}</th>'
