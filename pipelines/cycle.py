"""The monthly cycle, defined once: ingest → cross and publish → report.

``recours run`` calls :func:`ingest`, :func:`cross_and_publish` and :func:`report` in that
order; the Airflow DAGs call the same functions, one task each (the ingest DAGs, then the
crossing DAG's two tasks), and so does the bench, one process each. The stages themselves
(``pipelines.ingest``, ``.crossing``, ``.publish``, ``.report``) never call their successors.
Purge and key rotation, which must rebuild the warehouse after removing person-level data,
call :func:`rebuild_warehouse`, the one way to do it.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pipelines.crossing.run import (
    DISCLOSURE_DIR,
    PROTECTION,
    Crossed,
    CrossingSummary,
    catalogue_rows,
    cross,
    metadata_rows,
)
from pipelines.ingest.run import DeliveryOutcome, ingest_all
from pipelines.publish.figures import national_rates, zones_with_value
from pipelines.publish.model import PublicationError
from pipelines.publish.run import PublicationSummary, publish
from pipelines.report import report_and_exports
from recours import audit_log
from recours.home import Home
from recours.modes import share_published

Progress = Callable[[str, int, int], None]


def ingest(
    home: Home, conventions_dir: Path | None = None, progress: Progress | None = None
) -> list[DeliveryOutcome]:
    """Every delivery waiting in ``landing/``: validated, pseudonymized or quarantined."""
    return ingest_all(home, conventions_dir, progress)


def cross_and_publish(
    home: Home,
    period: str | None = None,
    conventions_dir: Path | None = None,
    progress: Progress | None = None,
    indicators_dir: Path | None = None,
) -> CrossingSummary:
    """Cross ``period`` (default: the latest with an indicator to compute), then publish it.

    One step for the schedulers (one Airflow task, one writer's lock): the indicators' units
    are person-level and never leave the process between the two stages."""
    crossed = cross(home, period, conventions_dir, progress, indicators_dir)
    return publish_crossed(home, crossed, progress)


def publish_crossed(
    home: Home, crossed: Crossed, progress: Progress | None = None
) -> CrossingSummary:
    """The publication stage: secret, audit, journal, then ``published/`` put in place."""
    summary = crossed.summary
    period, reference, usable = crossed.period, crossed.reference, crossed.usable
    conventions, catalogue, crossings = crossed.conventions, crossed.catalogue, crossed.plan
    computed, quality = crossed.computed, crossed.quality

    def step(label: str, done: int) -> None:
        if progress:
            progress(label, done, 5)

    step("publication", 3)
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    metadata = metadata_rows(run_id, period, usable, summary, conventions, catalogue, crossings)

    journaled: list[str] = []

    def journal(published: PublicationSummary) -> None:
        """Written and synced before the publication is moved into place: a publication is
        never in place without its events, and nothing is replaced if they cannot be written."""
        journaled.append(run_id)
        audit_log.append_event(
            home.audit,
            "croisement_publie",
            execution=run_id,
            periode=period,
            date_reference=reference.isoformat(),
            livraisons={
                c: {"fichier": d.file, "sha256": d.manifest["sha256"]} for c, d in usable.items()
            },
            indicateurs_calcules=summary.computed,
            indicateurs_ignores=summary.skipped,
            connus_ignores=summary.connus_skipped,
            croisements=summary.crossings,
            lignes_publiees=dict(published.rows),
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
            before_install=journal,
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
    except OSError as exc:
        if journaled:  # its events are written, but the files could not be moved into place
            with contextlib.suppress(audit_log.JournalError, OSError):
                audit_log.append_event(
                    home.audit,
                    "publication_non_installee",
                    execution=run_id,
                    periode=period,
                    erreur=type(exc).__name__,
                )
        raise
    summary.rows = dict(published.rows)
    summary.secret_share = dict(published.secret_share)
    summary.disclosure = dict(published.disclosure)
    summary.national_rates = national_rates(home.published, period)
    summary.zones_shown = zones_with_value(home.published, period)
    summary.seconds["publication"] = time.perf_counter() - started
    step("terminé", 5)
    return summary


def report(home: Home, period: str | None = None) -> tuple[Path, list[Path]]:
    """The analysts' report and exports of ``period`` (default: the latest published), from the
    publication alone, then shared with the analysts' group (0750 / 0640)."""
    written, exports = report_and_exports(home.published, period)
    share_published(home.published)  # a reader takes no lock; the analysts' group reads it
    return written, exports


def remove_warehouse(home: Home) -> bool:
    """Delete the warehouse (person-level rows); ``True`` when there was one to delete."""
    if not home.warehouse.exists():
        return False
    home.warehouse.unlink()
    return True


def rebuild_warehouse(home: Home, period: str | None, conventions_dir: Path | None) -> str:
    """After person-level data were removed (purge, key rotation): the warehouse is deleted if
    it still exists, then ``period`` (default: the latest) is crossed and published again, the
    one way both rebuild it; returns the period."""
    remove_warehouse(home)
    return cross_and_publish(home, period, conventions_dir).period
