"""Which crossings a period needs: the conventions' law turned into a plan.

A crossing links the records of a set of conventions, and only those: the sources of an
indicator, plus the département's own file (``cd31``) for its ``connus`` rows. It exists only
when every pair of its conventions authorizes crossing with each other for the programme's
purpose, every one is in force at R and has a delivery for the period; otherwise the indicator
(or only its ``connus`` rows) is skipped and the reason published. Indicators with the same
sources share one crossing, so that each set of conventions is linked once. Each crossing has
its own person ids (derived under its label) in its own schema of the warehouse: two
crossings' tables cannot be joined, so two conventions that do not authorize each other never
meet, not even through a third source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations
from pathlib import Path

from pipelines.crossing.deliveries import Delivery
from pipelines.crossing.indicators import KNOWN_SOURCE, Indicator
from pipelines.crossing.sources import source_sql
from recours.conventions import Convention, crossing_authorized
from recours.yamlfile import read_yaml


@dataclass(frozen=True)
class Crossing:
    """One set of conventions linked together, and the indicators it serves."""

    sources: tuple[str, ...]  # convention ids, sorted
    indicators: tuple[str, ...]

    @property
    def id(self) -> str:
        return "+".join(self.sources)

    @property
    def schema(self) -> str:
        """The warehouse schema holding this crossing's tables (``croisement_caf31_cd31``)."""
        return "croisement_" + "_".join(self.sources)

    def pairs(self) -> list[tuple[str, str]]:
        return list(combinations(self.sources, 2))


@dataclass
class Plan:
    crossings: list[Crossing] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # indicator -> why it is not computed
    # indicator -> why its `connus` rows are not published (absent: they are)
    connus_skipped: dict[str, str] = field(default_factory=dict)

    def crossing_of(self, indicator: str) -> Crossing:
        return next(c for c in self.crossings if indicator in c.indicators)

    @property
    def computed(self) -> list[str]:
        return [i for c in self.crossings for i in c.indicators]


def why_not(
    sources: tuple[str, ...],
    reference: date,
    conventions: Mapping[str, Convention],
    deliveries: Mapping[str, Delivery],
    conventions_dir: Path | None = None,
) -> str | None:
    """Why these conventions cannot be crossed for the period (None when they can)."""
    for source in sources:
        convention = conventions.get(source)
        if convention is None:
            return f"convention {source} absente"
        if not convention.in_force(reference):
            return f"convention {source} pas en vigueur au {reference:%d/%m/%Y}"
        if source not in deliveries:
            return f"aucune livraison acceptée de {source} pour la période"
        if source_sql(source, conventions_dir) is None:
            return f"pas de table d'entrepôt pour {source} (fichier sources/{source}.sql absent)"
    for first, second in combinations(sources, 2):
        if not crossing_authorized(conventions[first], conventions[second]):
            return f"croisement {first} × {second} non autorisé par les deux conventions"
    return None


def plan(
    catalogue: Mapping[str, Indicator],
    reference: date,
    conventions: Mapping[str, Convention],
    deliveries: Mapping[str, Delivery],
    conventions_dir: Path | None = None,
) -> Plan:
    """The crossings of a period, in catalogue order, and what is skipped and why."""
    result = Plan()
    by_sources: dict[tuple[str, ...], list[str]] = {}
    for indicator in catalogue.values():
        reason = why_not(indicator.sources, reference, conventions, deliveries, conventions_dir)
        if reason is not None:
            result.skipped[indicator.id] = reason
            continue
        with_known = tuple(sorted({*indicator.sources, KNOWN_SOURCE}))
        known_reason = why_not(with_known, reference, conventions, deliveries, conventions_dir)
        if known_reason is None:
            sources = with_known
        else:
            sources = tuple(sorted(indicator.sources))
            result.connus_skipped[indicator.id] = f"{KNOWN_SOURCE} : {known_reason}"
        by_sources.setdefault(sources, []).append(indicator.id)
    result.crossings = [Crossing(s, tuple(ids)) for s, ids in by_sources.items()]
    return result


def catalogue_problems(
    conventions: Mapping[str, Convention], catalogue_file: Path | None = None
) -> tuple[list[str], list[str]]:
    """The indicators whose sources the conventions do not all authorize to meet (problems),
    and those whose ``connus`` rows cannot be crossed with ``cd31`` (warnings), each with the
    catalogue's file and the line of its ``sources``. ``recours conventions check`` prints them:
    the crossing would skip those indicators, and a DPO should know before it runs."""
    from pipelines.crossing.indicators import CATALOGUE_FILE, REPO_INDICATORS, load_catalogue

    path = catalogue_file or REPO_INDICATORS / CATALOGUE_FILE
    catalogue = load_catalogue(path.parent)  # every fault of the folder, before any line
    document = read_yaml(path)
    position = {entry["id"]: n for n, entry in enumerate(document.data["indicators"])}

    def where(indicator: str) -> str:
        line = document.line_of("indicators", position[indicator], "sources")
        return f"{path.name}, ligne {line}"

    problems, warnings = [], []
    for indicator in catalogue.values():
        for first, second in combinations(indicator.sources, 2):
            reason = _pair_problem(first, second, conventions)
            if reason:
                problems.append(f"{where(indicator.id)} : indicateur {indicator.id} : {reason}")
        for source in indicator.sources:
            reason = _pair_problem(source, KNOWN_SOURCE, conventions)
            if reason:
                warnings.append(
                    f"{where(indicator.id)} : avertissement : indicateur {indicator.id}, table "
                    f"connus non publiée : {reason}"
                )
    return problems, warnings


def _pair_problem(first: str, second: str, conventions: Mapping[str, Convention]) -> str | None:
    for convention in (first, second):
        if convention not in conventions:
            return f"convention {convention} absente"
    if not crossing_authorized(conventions[first], conventions[second]):
        return f"croisement {first} × {second} non autorisé par les deux conventions"
    return None
