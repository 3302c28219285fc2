"""Crossing and publication of a period: warehouse → indicators → published/.

For a period P (by default the latest for which every convention has a delivery): the
deliveries it uses, the conventions in force at R, the warehouse (linkage and one table per
partner), then each indicator of the catalogue — computed only when every convention it uses
has a delivery, is in force at R and authorizes the crossing with the others; otherwise it is
skipped and ``metadonnees`` says why — and the publication. The same functions run under
Airflow (``dags/crossing.py``) and from ``recours run``.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.crossing import deliveries as deliveries_of
from pipelines.crossing import warehouse
from pipelines.crossing.indicators import Indicator, compute_units, load_catalogue, parameters_on
from pipelines.publish.model import IndicatorUnits, PublicationError
from pipelines.publish.run import publish
from recours import audit_log
from recours.convention_events import record_convention_changes
from recours.conventions import Convention, crossing_authorized, load_conventions
from recours.errors import RecoursError
from recours.home import Home
from recours.schemas import load_schemas

KNOWN_SOURCE = "cd31"  # every indicator's `connus` rows rest on the département's own file
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
    linkage_moves: dict[str, int] = field(default_factory=dict)


def reference_date(period: str) -> date:
    try:
        year, month = (int(part) for part in period.split("-"))
        return date(year, month, calendar.monthrange(year, month)[1])
    except (ValueError, calendar.IllegalMonthError):
        raise PeriodError(f"période « {period} » invalide : attendu AAAA-MM") from None


def why_not(
    indicator: Indicator,
    reference: date,
    conventions: dict[str, Convention],
    chosen: dict[str, deliveries_of.Delivery],
) -> str | None:
    """Why an indicator cannot be computed for the period (None when it can)."""
    for source in indicator.sources:
        convention = conventions.get(source)
        if convention is None:
            return f"convention {source} absente"
        if not convention.in_force(reference):
            return f"convention {source} pas en vigueur au {reference:%d/%m/%Y}"
        if source not in chosen:
            return f"aucune livraison acceptée de {source} pour la période"
    for first, second in combinations(indicator.sources, 2):
        if not crossing_authorized(conventions[first], conventions[second]):
            return f"croisement {first} × {second} non autorisé par les deux conventions"
    return None


def cross_and_publish(
    home: Home,
    period: str | None = None,
    conventions_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> CrossingSummary:
    def step(label: str, done: int) -> None:
        if progress:
            progress(label, done, 5)

    conventions = load_conventions(conventions_dir)
    record_convention_changes(home.audit, conventions, conventions_dir, date.today())
    schemas = load_schemas()
    catalogue = load_catalogue()
    period = period or deliveries_of.latest_complete_period(home, sorted(conventions), schemas)
    reference = reference_date(period)
    parameters = parameters_on(reference)  # refuses periods before the parameters' validity
    chosen = deliveries_of.for_period(home, period, schemas)
    usable = {
        c: d for c, d in chosen.items() if c in conventions and conventions[c].in_force(reference)
    }
    deliveries_of.check_one_key(period, usable)  # pseudonyms of two keys never meet
    summary = CrossingSummary(period)

    step("entrepôt : appariement", 1)
    summary.linkage_moves = warehouse.build(home, reference, usable)
    known_usable = KNOWN_SOURCE in usable
    step("indicateurs", 2)
    computed: list[IndicatorUnits] = []
    con = warehouse.connect(home)
    try:
        for indicator in catalogue.values():
            reason = why_not(indicator, reference, conventions, usable)
            if reason is not None:
                summary.skipped[indicator.id] = reason
                continue
            units = compute_units(con, indicator, reference, parameters).pl()
            sources = [*indicator.sources, *([KNOWN_SOURCE] if known_usable else [])]
            threshold = max(conventions[s].publication_threshold for s in sources)
            computed.append(
                IndicatorUnits(
                    indicator.id, indicator.age_bands, indicator.household_types, threshold, units
                )
            )
            summary.computed.append(indicator.id)
        quality = quality_rows(con, period, usable)
    finally:
        con.close()

    step("publication", 3)
    run_id = uuid.uuid4().hex[:12]
    metadata = metadata_rows(run_id, period, usable, summary, known_usable, conventions, catalogue)
    try:
        published = publish(
            home.published,
            period,
            computed,
            catalogue_rows(catalogue),
            metadata,
            quality,
            restricted_dir=home.audit / DISCLOSURE_DIR,
            progress=(lambda message: progress(message, 3, 5)) if progress else None,
        )
    except PublicationError as exc:
        audit_log.append_event(
            home.audit,
            "publication",
            execution=run_id,
            periode=period,
            verdict="refusee",
            motif=str(exc).splitlines()[0],
        )
        raise
    summary.rows = dict(published.rows)
    summary.secret_share = dict(published.secret_share)
    summary.disclosure = dict(published.disclosure)
    summary.national_rates = national_rates(home.published, period)
    audit_log.append_event(
        home.audit,
        "croisement_publie",
        execution=run_id,
        periode=period,
        livraisons={
            c: {"fichier": d.file, "sha256": d.manifest["sha256"]} for c, d in usable.items()
        },
        indicateurs_calcules=summary.computed,
        indicateurs_ignores=summary.skipped,
        lignes_publiees=summary.rows,
        protection=PROTECTION,
    )
    audit_log.append_event(
        home.audit,
        "publication",
        execution=run_id,
        periode=period,
        verdict=published.disclosure["verdict"],
        lignes_primaires=published.disclosure["lignes_primaires"],
        lignes_secondaires=published.disclosure["lignes_secondaires"],
        largeur_protection=published.disclosure["largeur_protection"],
        audit_restreint=[
            str(Path(path).relative_to(home.root))
            for path in published.disclosure["audit_restreint"]
        ],
    )
    step("terminé", 5)
    return summary


def national_rates(published: Path, period: str) -> dict[str, float | None]:
    """The département-level `ensemble` rate of each indicator, from the published file."""
    con = duckdb.connect(str(published / "recours.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select indicateur, taux from indicateurs where periode = ? and niveau = 'departement' "
            "and tranche_age = 'ensemble' and type_menage = 'ensemble' order by indicateur",
            [period],
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


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
    known_usable: bool,
    conventions: dict[str, Convention],
    catalogue: dict[str, Indicator],
) -> list[dict]:
    rows = {
        "execution": run_id,
        "date_execution": datetime.now(UTC).isoformat(timespec="seconds"),
        "periode": period,
        "date_reference": reference_date(period).isoformat(),
        "conventions": ", ".join(sorted(usable)),
        "livraisons": ", ".join(f"{c}: {d.file}" for c, d in sorted(usable.items())),
        "seuil_publication": str(
            max((conventions[c].publication_threshold for c in usable), default=11)
        ),
        "protection": PROTECTION,
        "indicateurs_calcules": ", ".join(summary.computed),
        "connus": "calculé"
        if known_usable
        else f"{KNOWN_SOURCE} absent : personne n'est compté comme connu",
    }
    for indicator, reason in summary.skipped.items():
        rows[f"indicateur_ignore_{indicator}"] = reason
    return [{"cle": key, "valeur": value} for key, value in rows.items()]


def quality_rows(
    con: duckdb.DuckDBPyConnection, period: str, usable: dict[str, deliveries_of.Delivery]
) -> list[dict]:
    """Counts of lines per convention: read, set aside by reason, NIR, outside 31, linkage."""
    rows: list[dict] = []

    def add(convention: str, measure: str, value: int) -> None:
        rows.append(
            {"periode": period, "convention": convention, "mesure": measure, "valeur": int(value)}
        )

    for convention, delivery in sorted(usable.items()):
        manifest = delivery.manifest
        add(convention, "lignes_lues", manifest["lignes_lues"])
        set_aside = manifest["lignes_lues"] - manifest["lignes_gardees"] - manifest["doublons"]
        add(convention, "lignes_ecartees", set_aside)
        for reason, count in sorted(manifest["lignes_ecartees"].items()):
            add(convention, f"lignes_ecartees_{reason}", count)
        add(convention, "doublons", manifest["doublons"])
        frame = pl.read_parquet(delivery.parquet)
        if "nir_statut" in frame.columns:
            statuses = dict(frame["nir_statut"].value_counts().iter_rows())
            add(convention, "nir_invalide", statuses.get("invalide", 0))
            add(convention, "nir_absent", statuses.get("absent", 0))
        if "hors_departement" in frame.columns:
            add(convention, "hors_departement", frame["hors_departement"].sum())
    for convention, tier, count in con.execute(
        "select source, lien, count(*) from liens group by all order by all"
    ).fetchall():
        measure = {"nir": "liees_nir", "traits": "liees_traits", "aucun": "non_liees"}[tier]
        add(convention, measure, count)
    for convention, other, tier, count in con.execute(
        "select source, autre_source, lien, enregistrements from liens_paires order by all"
    ).fetchall():
        add(convention, f"liees_{tier}_avec_{other}", count)
    for convention, count in con.execute(
        "select source, n from identites_inutilisables order by all"
    ).fetchall():
        add(convention, "identite_inutilisable", count)
    return rows


def summary_dict(summary: CrossingSummary) -> dict:
    """JSON-safe counts: the crossing DAG's XCom and what the command line shows."""
    return {
        "periode": summary.period,
        "indicateurs_calcules": summary.computed,
        "indicateurs_ignores": summary.skipped,
        "lignes_publiees": summary.rows,
        "part_secret": summary.secret_share,
        "secret": {k: v for k, v in summary.disclosure.items() if k != "audit_restreint"},
        "taux_departement": summary.national_rates,
    }
