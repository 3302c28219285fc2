"""When a rate rests on a weak linkage, and how the report says so.

An indicator that crosses two sources or more counts as non-take-up a person of its target
population whom the other source does not show as receiving the benefit. A recipient whom the
linkage failed to find in that source (no NIR, identity traits spelled differently) is counted
the same way: a low link rate inflates the rate. The link rate of a convention is the one of
the publication's ``qualite`` table (``liees_nir``, ``liees_traits``, ``non_liees``: the share of
its records found in at least one other source of its crossing). An indicator of a single
source (RSA and prime d'activité: the CAF's file alone) does not depend on the linkage and is
never flagged.

The threshold is here and nowhere else; the report's text prints it from here. The marks and
the note they link to are drawn by the template ``rapport_analystes.html.j2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from recours import french

LOW_LINKAGE = 0.90  # under this share of a source's records linked, its indicators are flagged
MARK = "⚠"


@dataclass(frozen=True, slots=True)
class Alert:
    """The sign after a rate (the template draws it): a link to the explanation at ``anchor``
    titled ``title``; with no anchor, the « faible » after a convention's own low link rate."""

    anchor: str | None
    title: str = ""


LOW = Alert(None)


@dataclass(frozen=True)
class WeakSource:
    """A source of an indicator whose link rate is under ``LOW_LINKAGE`` for a period."""

    convention: str
    rate: float


def linkage_rate(measures: dict[str, int]) -> float | None:
    """The share of a convention's records linked (by NIR or traits); None when unmeasured."""
    if "non_liees" not in measures:
        return None
    linked = measures.get("liees_nir", 0) + measures.get("liees_traits", 0)
    total = linked + measures["non_liees"]
    return linked / total if total else None


def rates(quality: pl.DataFrame) -> dict[tuple[str, str], float]:
    """(period, convention) → link rate, for every convention with linkage measures."""
    measures: dict[tuple[str, str], dict[str, int]] = {}
    for row in quality.filter(
        pl.col("mesure").is_in(["liees_nir", "liees_traits", "non_liees"])
    ).iter_rows(named=True):
        measures.setdefault((row["periode"], row["convention"]), {})[row["mesure"]] = row["valeur"]
    found = {key: linkage_rate(values) for key, values in measures.items()}
    return {key: rate for key, rate in found.items() if rate is not None}


def sources(catalogue: pl.DataFrame) -> dict[str, tuple[str, ...]]:
    """indicator → the conventions whose data its rate is computed from (``catalogue.sources``;
    ``conventions`` adds the département's file, used for ``connus`` only)."""
    return {
        row["indicateur"]: tuple(
            part.strip() for part in (row["sources"] or "").split(",") if part.strip()
        )
        for row in catalogue.iter_rows(named=True)
    }


def weak_sources(
    catalogue: pl.DataFrame, quality: pl.DataFrame
) -> dict[tuple[str, str], tuple[WeakSource, ...]]:
    """(indicator, period) → its sources linked under ``LOW_LINKAGE`` that period; only the
    indicators crossing two sources or more, only the flagged ones."""
    by_source = rates(quality)
    periods = sorted({period for period, _ in by_source})
    flagged: dict[tuple[str, str], tuple[WeakSource, ...]] = {}
    for indicator, conventions in sources(catalogue).items():
        if len(conventions) < 2:
            continue
        for period in periods:
            weak = tuple(
                WeakSource(convention, by_source[(period, convention)])
                for convention in conventions
                if (period, convention) in by_source
                and by_source[(period, convention)] < LOW_LINKAGE
            )
            if weak:
                flagged[(indicator, period)] = weak
    return flagged


def anchor(indicator: str) -> str:
    return f"liaison-{indicator}"


def describe(weak: tuple[WeakSource, ...]) -> str:
    """``carsatmp : 61,2 %`` for each weak source."""
    return ", ".join(f"{source.convention} : {french.rate(source.rate)}" for source in weak)


def mark(indicator: str, weak: tuple[WeakSource, ...]) -> Alert:
    """The sign put right after a rate of a flagged indicator, linked to its explanation."""
    title = (
        f"Taux de liaison faible ({describe(weak)} des lignes retrouvées, seuil "
        f"{french.rate(LOW_LINKAGE)}) : taux de non-recours présumé surestimé"
    )
    return Alert(anchor(indicator), title)
