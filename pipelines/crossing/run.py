"""Crossing of a period: warehouse → indicators' units (``pipelines.cycle`` then publishes).

For a period P (by default the latest for which at least one indicator can be computed): the
deliveries it uses, the conventions in force at R, the plan of crossings (``plan.py``: an
indicator is computed only when every convention it uses has a delivery, is in force at R and
authorizes the crossing with the others; its ``connus`` rows only when ``cd31`` can be crossed
with them too; otherwise they are skipped and ``metadonnees`` says why), the warehouse (one
linkage and one set of tables per crossing) and the indicators' units. The same functions run
under Airflow (``dags/crossing.py``) and from ``recours run``, through ``pipelines.cycle``.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, SupportsInt

import duckdb
import polars as pl

from pipelines.crossing import deliveries as deliveries_of
from pipelines.crossing import warehouse
from pipelines.crossing.indicators import (
    KNOWN_SOURCE,
    Indicator,
    ParametersNotInForce,
    compute_units,
    load_catalogue,
    parameters_on,
)
from pipelines.crossing.plan import Plan, plan
from pipelines.publish.model import IndicatorUnits
from recours import audit_log
from recours.convention_events import record_convention_changes
from recours.conventions import Convention, load_conventions
from recours.errors import RecoursError
from recours.home import Home
from recours.schemas import load_schemas, schema_dirs
from recours.zoning import zoning

DISCLOSURE_DIR = "divulgation"  # audit/divulgation/<period>.json|html: the DPO's restricted audit
PROTECTION = (
    "secret primaire et secondaire (règles 1 et 2), audité : aucun compte sous le seuil ne peut "
    "être recalculé ni resserré sous la largeur de protection"
)


class PeriodError(RecoursError):
    """The period asked for cannot be crossed (malformed, or outside the parameters)."""


@dataclass
class CrossingSummary:
    period: str
    computed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    secret_share: dict[str, float] = field(default_factory=dict)
    disclosure: dict[str, Any] = field(default_factory=dict)
    national_rates: dict[str, float | None] = field(default_factory=dict)
    zones_shown: dict[str, list[int]] = field(default_factory=dict)  # indicator -> [shown, all]
    linkage_moves: dict[str, dict[str, int]] = field(default_factory=dict)  # crossing -> moves
    connus_skipped: dict[str, str] = field(default_factory=dict)  # indicator -> why
    crossings: list[dict] = field(default_factory=list)  # evidence(): what was linked
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall time (the bench's)


@dataclass
class Crossed:
    """What the crossing stage hands to the publication: the period's summary so far, the
    deliveries and rules it stood on, and each indicator's units (person-level pseudonyms
    only: never written outside the warehouse)."""

    summary: CrossingSummary
    reference: date
    usable: dict[str, deliveries_of.Delivery]
    conventions: dict[str, Convention]
    catalogue: dict[str, Indicator]
    plan: Plan
    computed: list[IndicatorUnits]
    quality: list[dict]

    @property
    def period(self) -> str:
        return self.summary.period


def reference_date(period: str) -> date:
    try:
        year, month = (int(part) for part in period.split("-"))
        return date(year, month, calendar.monthrange(year, month)[1])
    except (ValueError, calendar.IllegalMonthError):
        raise PeriodError(f"période « {period} » invalide : attendu AAAA-MM") from None


def cross(
    home: Home,
    period: str | None = None,
    conventions_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    indicators_dir: Path | None = None,
) -> Crossed:
    """Cross ``period`` (default: see ``default_period``) up to the indicators' units; the
    publication is the next stage's (``pipelines.cycle`` chains them). ``indicators_dir`` names
    another indicator catalogue than the repository's (a test, or an indicator under review)."""

    def step(label: str, done: int) -> None:
        if progress:
            progress(label, done, 5)

    zoning()  # a broken zoning file stops the run before anything is crossed
    conventions = load_conventions(conventions_dir)
    record_convention_changes(home.audit, conventions, conventions_dir, date.today())
    schemas = load_schemas(schema_dirs(conventions_dir))
    catalogue = load_catalogue(indicators_dir)
    if period is None:
        period = default_period(home, catalogue, conventions, schemas, conventions_dir)
    reference = reference_date(period)
    # refuses periods before the parameters' validity
    parameters = parameters_on(reference, indicators_dir)
    usable = usable_deliveries(home, period, conventions, schemas)
    deliveries_of.check_one_key(period, usable)  # pseudonyms of two keys never meet
    crossings = plan(catalogue, reference, conventions, usable, conventions_dir)
    if not crossings.crossings:
        raise NothingToCrossError(period, crossings.skipped)
    summary = CrossingSummary(period)
    summary.skipped = dict(crossings.skipped)
    summary.connus_skipped = dict(crossings.connus_skipped)

    step("entrepôt : appariement", 1)
    started = time.perf_counter()
    summary.linkage_moves = warehouse.build(
        home, reference, usable, crossings.crossings, conventions_dir
    )
    summary.seconds["entrepot"] = time.perf_counter() - started
    step("indicateurs", 2)
    started = time.perf_counter()
    computed: list[IndicatorUnits] = []
    con = warehouse.connect(home)
    try:
        for crossing in crossings.crossings:
            warehouse.use_crossing(con, crossing)
            for indicator_id in crossing.indicators:
                indicator = catalogue[indicator_id]
                units = compute_units(con, indicator, reference, parameters).pl()
                threshold = max(conventions[s].publication_threshold for s in crossing.sources)
                computed.append(
                    IndicatorUnits(
                        indicator.id,
                        indicator.age_bands,
                        indicator.household_types,
                        threshold,
                        units,
                        known=KNOWN_SOURCE in crossing.sources,
                    )
                )
        done = {units.indicator for units in computed}
        summary.computed = [i for i in catalogue if i in done]  # catalogue order
        con.execute("reset search_path")
        linked = linked_pairs(con)
        quality = quality_rows(con, period, usable, crossings)
    finally:
        con.close()
    summary.crossings = evidence(crossings, linked)
    summary.seconds["indicateurs"] = time.perf_counter() - started

    return Crossed(
        summary=summary,
        reference=reference,
        usable=usable,
        conventions=conventions,
        catalogue=catalogue,
        plan=crossings,
        computed=computed,
        quality=quality,
    )


def crossing_pending(home: Home, conventions_dir: Path | None = None) -> bool:
    """Whether the default period's deliveries differ from those the last publication of that
    period stands on (the crossing DAG's daily catch-up does nothing otherwise). True when no
    period can be crossed: the crossing then fails with the reason, which the team must see."""
    conventions = load_conventions(conventions_dir)
    schemas = load_schemas(schema_dirs(conventions_dir))
    catalogue = load_catalogue()
    try:
        period = default_period(home, catalogue, conventions, schemas, conventions_dir)
    except deliveries_of.NoPeriodError:
        return True
    current = {
        c: d.manifest["sha256"]
        for c, d in usable_deliveries(home, period, conventions, schemas).items()
    }
    for event in reversed(audit_log.read_events(home.audit)):
        if event.get("evenement") == "croisement_publie" and event.get("periode") == period:
            published = {c: d["sha256"] for c, d in event.get("livraisons", {}).items()}
            return published != current
    return True


def usable_deliveries(
    home: Home, period: str, conventions: dict[str, Convention], schemas: dict
) -> dict[str, deliveries_of.Delivery]:
    """The period's deliveries whose convention is known and in force at R."""
    reference = reference_date(period)
    return {
        c: d
        for c, d in deliveries_of.for_period(home, period, schemas).items()
        if c in conventions and conventions[c].in_force(reference)
    }


def default_period(
    home: Home,
    catalogue: dict[str, Indicator],
    conventions: dict[str, Convention],
    schemas: dict,
    conventions_dir: Path | None = None,
) -> str:
    """The latest period for which at least one indicator can be computed.

    A partner that has not delivered, or whose convention no indicator uses, delays nobody:
    the indicators it does not feed are published, the others skipped with their reason."""
    periods = deliveries_of.served_periods(home, schemas)
    if not periods:
        raise deliveries_of.NoPeriodError(
            "aucune livraison acceptée dans la zone pseudonymisée "
            f"({home.pseudonymized}) : déposer les extractions des partenaires dans "
            f"{home.landing}/<convention>/ puis relancer"
        )
    latest_reasons: dict[str, str] = {}
    for candidate in sorted(periods, reverse=True):
        reference = reference_date(candidate)
        try:
            parameters_on(reference)
        except ParametersNotInForce:
            continue
        usable = usable_deliveries(home, candidate, conventions, schemas)
        found = plan(catalogue, reference, conventions, usable, conventions_dir)
        if found.crossings:
            return candidate
        latest_reasons = latest_reasons or found.skipped
    detail = " ; ".join(f"{i} : {r}" for i, r in latest_reasons.items())
    raise deliveries_of.NoPeriodError(
        "aucune période ne permet de calculer un indicateur"
        + (f" (dernière période livrée : {detail})" if detail else "")
        + " ; voir quarantine/ pour les livraisons refusées"
    )


class NothingToCrossError(RecoursError):
    """No indicator of the period can be computed: say why for each."""

    def __init__(self, period: str, skipped: dict[str, str]) -> None:
        detail = " ; ".join(f"{indicator} : {reason}" for indicator, reason in skipped.items())
        super().__init__(
            f"période {period} : aucun indicateur ne peut être calculé ({detail}) ; rien n'est "
            "publié, la publication précédente reste en place"
        )
        self.period, self.skipped = period, skipped


def linked_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str, int]]:
    """(crossing, source, other source, tier, records) for every pair that shares a person."""
    return [
        tuple(row)  # type: ignore[misc]
        for row in con.execute(
            "select croisement, source, autre_source, lien, enregistrements from liens_paires "
            "order by all"
        ).fetchall()
    ]


def evidence(crossings: Plan, linked: list[tuple[str, str, str, str, int]]) -> list[dict]:
    """Per crossing, its conventions, its indicators and the pairs actually linked (counts by
    tier): what the journal keeps for the DPO, who checks them against the conventions."""
    return [
        {
            "croisement": crossing.id,
            "sources": list(crossing.sources),
            "indicateurs": list(crossing.indicators),
            "paires_liees": [
                {"source": s, "autre_source": o, "lien": tier, "enregistrements": int(n)}
                for c, s, o, tier, n in linked
                if c == crossing.id
            ],
        }
        for crossing in crossings.crossings
    ]


def catalogue_rows(catalogue: dict[str, Indicator]) -> list[dict]:
    return [
        {
            "indicateur": indicator.id,
            "libelle": indicator.label,
            "definition": indicator.definition,
            "sources": ", ".join(indicator.sources),
            "conventions": ", ".join(dict.fromkeys((*indicator.sources, KNOWN_SOURCE))),
            "mises_en_garde": indicator.caveats,
        }
        for indicator in catalogue.values()
    ]


def metadata_rows(
    run_id: str,
    period: str,
    usable: dict[str, deliveries_of.Delivery],
    summary: CrossingSummary,
    conventions: dict[str, Convention],
    catalogue: dict[str, Indicator],
    crossings: Plan,
) -> list[dict]:
    """What the publication stands on: every computed indicator names the deliveries it uses,
    every skipped indicator or ``connus`` part says why."""
    used = sorted({c for crossing in crossings.crossings for c in crossing.sources})
    rows = {
        "execution": run_id,
        "date_execution": datetime.now(UTC).isoformat(timespec="seconds"),
        "periode": period,
        "date_reference": reference_date(period).isoformat(),
        "conventions": ", ".join(used),
        "livraisons": ", ".join(f"{c}: {usable[c].file}" for c in used),
        "seuil_publication": str(
            max((conventions[c].publication_threshold for c in used), default=11)
        ),
        "protection": PROTECTION,
        "zonage": zoning().label(),
        "indicateurs_calcules": ", ".join(summary.computed),
        "croisements": " ; ".join(
            f"{c.id} ({', '.join(c.indicators)})" for c in crossings.crossings
        ),
        "connus": "calculé"
        if not summary.connus_skipped
        else "calculé sauf pour : " + ", ".join(sorted(summary.connus_skipped)),
    }
    for crossing in crossings.crossings:
        for indicator in crossing.indicators:
            rows[f"livraisons_{indicator}"] = ", ".join(
                f"{c}: {usable[c].file}" for c in crossing.sources
            )
    for indicator, reason in summary.skipped.items():
        rows[f"indicateur_ignore_{indicator}"] = reason
    for indicator, reason in summary.connus_skipped.items():
        rows[f"connus_ignore_{indicator}"] = reason
    return [{"cle": key, "valeur": value} for key, value in rows.items()]


def quality_rows(
    con: duckdb.DuckDBPyConnection,
    period: str,
    usable: dict[str, deliveries_of.Delivery],
    crossings: Plan,
) -> list[dict]:
    """Counts of lines per convention: read, set aside by reason, NIR, outside 31, linkage.

    Only the conventions of some crossing are measured, and only pairs of one crossing (which the
    conventions authorize) get a pair measure. A convention's or a pair's linkage is measured in
    the smallest crossing that holds it (fewest conventions: the pair's own link, not one made
    through a third source)."""
    rows: list[dict] = []

    def add(convention: str, measure: str, value: SupportsInt) -> None:
        rows.append(
            {"periode": period, "convention": convention, "mesure": measure, "valeur": int(value)}
        )

    smallest = sorted(crossings.crossings, key=lambda c: (len(c.sources), c.id))
    home_of_source = {}
    home_of_pair = {}
    for crossing in reversed(smallest):
        for source in crossing.sources:
            home_of_source[source] = crossing.id
        for first, second in crossing.pairs():
            home_of_pair[(first, second)] = home_of_pair[(second, first)] = crossing.id
    for convention in sorted(home_of_source):
        manifest = usable[convention].manifest
        add(convention, "lignes_lues", manifest["lignes_lues"])
        set_aside = manifest["lignes_lues"] - manifest["lignes_gardees"] - manifest["doublons"]
        add(convention, "lignes_ecartees", set_aside)
        for reason, count in sorted(manifest["lignes_ecartees"].items()):
            add(convention, f"lignes_ecartees_{reason}", count)
        add(convention, "doublons", manifest["doublons"])
        frame = pl.read_parquet(usable[convention].parquet)
        if "nir_statut" in frame.columns:
            statuses = dict(frame["nir_statut"].value_counts().iter_rows())
            add(convention, "nir_invalide", statuses.get("invalide", 0))
            add(convention, "nir_absent", statuses.get("absent", 0))
        if "hors_departement" in frame.columns:
            add(convention, "hors_departement", frame["hors_departement"].sum())
    tiers = {"nir": "liees_nir", "traits": "liees_traits", "aucun": "non_liees"}
    for crossing, convention, tier, count in con.execute(
        "select croisement, source, lien, enregistrements from liens_sources order by all"
    ).fetchall():
        if home_of_source.get(convention) == crossing:
            add(convention, tiers[tier], count)
    for crossing, convention, other, tier, count in con.execute(
        "select croisement, source, autre_source, lien, enregistrements from liens_paires "
        "order by all"
    ).fetchall():
        if home_of_pair.get((convention, other)) == crossing:
            add(convention, f"liees_{tier}_avec_{other}", count)
    for crossing, convention, count in con.execute(
        "select croisement, source, n from identites_inutilisables order by all"
    ).fetchall():
        if home_of_source.get(convention) == crossing:
            add(convention, "identite_inutilisable", count)
    return rows


def summary_dict(summary: CrossingSummary) -> dict:
    """JSON-safe counts: the crossing DAG's XCom and what the command line shows."""
    return {
        "periode": summary.period,
        "indicateurs_calcules": summary.computed,
        "indicateurs_ignores": summary.skipped,
        "connus_ignores": summary.connus_skipped,
        "croisements": [
            {"croisement": c["croisement"], "indicateurs": c["indicateurs"]}
            for c in summary.crossings
        ],
        "lignes_publiees": summary.rows,
        "part_secret": summary.secret_share,
        "secret": {k: v for k, v in summary.disclosure.items() if k != "audit_restreint"},
        "taux_departement": summary.national_rates,
        "zones_avec_valeur": summary.zones_shown,
    }
