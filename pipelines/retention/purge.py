"""The purge: delete what has outlived its convention's retention, log it, rebuild after it.

What goes, and only that:

- a raw file (``landing/`` or ``quarantine/``) once the pipeline has processed it — accepted
  (a manifest names it with the same SHA-256) or refused (it sits in quarantine) — and its age
  reaches the convention's ``raw_days``; a file not yet processed is never deleted, whatever its
  age, since nobody has looked at it yet (the DPO report shows it as overdue);
- a pseudonymized delivery (its folder: Parquet and manifest) once its age reaches
  ``pseudonymized_days``; its raw file goes with it if still there, or the next ingest would
  take it for a new delivery.

Each deletion is one ``purge`` event in the audit log: what (path), why (the rule, in French),
its size and SHA-256 (of the raw file, or of the delivery's Parquet), and for a delivery the
SHA-256 of the raw file it came from, which links it to its ``livraison_recue`` event.

What depended on a purged delivery: the warehouse (person-level) is removed and rebuilt by
crossing the latest period whose deliveries are all still there; published tables are
aggregates under statistical secrecy, not personal data, and stay as published — the purge event
names the published periods that rested on the delivery, which can no longer be recomputed.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from pipelines.retention.records import RawFile, deliveries, raw_files
from recours import audit_log
from recours.conventions import Convention
from recours.errors import RecoursError
from recours.home import Home
from recours.home import parquet as parquet_of

Zone = Literal["landing", "pseudonymized"]


@dataclass(frozen=True)
class Deletion:
    """One thing the purge deletes (or, in a dry run, would delete)."""

    convention: str
    zone: Zone
    path: str  # relative to the home folder: a raw file, or a delivery folder
    why: str  # French, for the DPO
    size: int  # bytes, sidecars included
    sha256: str  # the raw file's, or the delivery Parquet's
    received_on: date
    limit_days: int
    source_sha256: str | None = None  # a delivery's raw file, as its manifest records it
    period: str | None = None  # a delivery's extraction month (AAAA-MM)
    also: tuple[str, ...] = ()  # sidecars (.sha256, .motif.*) deleted with the file


@dataclass
class PurgeReport:
    """What the purge did: the deletions, and what was rebuilt after them."""

    today: date
    dry_run: bool
    deletions: list[Deletion] = field(default_factory=list)
    warehouse_removed: bool = False
    recrossed_period: str | None = None  # the period crossed again to rebuild the warehouse
    rebuild_skipped: str | None = None  # why the warehouse could not be rebuilt
    affected_publications: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(d.size for d in self.deletions)

    def summary(self) -> dict:
        """JSON-safe: the retention DAG's XCom and what the command line shows."""
        data = asdict(self)
        data["today"] = self.today.isoformat()
        for deletion in data["deletions"]:
            deletion["received_on"] = deletion["received_on"].isoformat()
            deletion["also"] = list(deletion["also"])
        data["bytes_freed"] = self.bytes_freed
        return data


class PurgeError(RecoursError):
    """A deletion failed half-way; what was deleted before is logged, the rest is intact."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _raw_deletion(home: Home, raw: RawFile, limit: int, why: str, checksum: str) -> Deletion:
    sidecars = raw.sidecars()
    return Deletion(
        convention=raw.convention,
        zone="landing",
        path=str(raw.path.relative_to(home.root)),
        why=why,
        size=raw.path.stat().st_size + sum(p.stat().st_size for p in sidecars),
        sha256=checksum,
        received_on=raw.received_on,
        limit_days=limit,
        also=tuple(str(p.relative_to(home.root)) for p in sidecars),
    )


def plan_purge(home: Home, conventions: dict[str, Convention], today: date) -> list[Deletion]:
    """Everything past retention, in convention order, raw files first; deletes nothing."""
    plan: list[Deletion] = []
    for convention_id in sorted(conventions):
        retention = conventions[convention_id].retention
        accepted = {
            (d.manifest["fichier"], d.manifest["sha256"]): d
            for d in deliveries(home, convention_id)
        }
        raws = raw_files(home, convention_id)
        expired_deliveries = [
            d
            for d in accepted.values()
            if (today - d.ingested_on).days >= retention.pseudonymized_days
        ]
        going_with = {(d.manifest["fichier"], d.manifest["sha256"]) for d in expired_deliveries}
        for raw in raws:
            if raw.state == "en_attente":
                continue  # never processed: never deleted
            checksum = _sha256(raw.path)
            if raw.state == "acceptee" and (raw.path.name, checksum) not in accepted:
                continue  # same name, other bytes: a new delivery waiting for the ingest
            age = (today - raw.received_on).days
            if age >= retention.raw_days:
                state = "acceptée" if raw.state == "acceptee" else "refusée"
                why = (
                    f"fichier brut de livraison {state}, reçu le {raw.received_on:%d/%m/%Y} : "
                    f"{age} jours, durée de conservation de la convention {convention_id} "
                    f"{retention.raw_days} jours"
                )
                plan.append(_raw_deletion(home, raw, retention.raw_days, why, checksum))
            elif (raw.path.name, checksum) in going_with:
                why = (
                    f"fichier brut d'une livraison pseudonymisée purgée ce jour (convention "
                    f"{convention_id}) : sans elle, il serait pris pour une nouvelle livraison"
                )
                plan.append(_raw_deletion(home, raw, retention.raw_days, why, checksum))
        for delivery in expired_deliveries:
            age = (today - delivery.ingested_on).days
            parquet = parquet_of(delivery.folder, delivery.manifest["schema"])
            files = [p for p in delivery.folder.rglob("*") if p.is_file()]
            plan.append(
                Deletion(
                    convention=convention_id,
                    zone="pseudonymized",
                    path=str(delivery.folder.relative_to(home.root)),
                    why=(
                        f"livraison pseudonymisée le {delivery.ingested_on:%d/%m/%Y} : {age} "
                        f"jours, durée de conservation de la convention {convention_id} "
                        f"{retention.pseudonymized_days} jours"
                    ),
                    size=sum(p.stat().st_size for p in files),
                    sha256=_sha256(parquet) if parquet.exists() else "",
                    received_on=delivery.ingested_on,
                    limit_days=retention.pseudonymized_days,
                    source_sha256=delivery.manifest["sha256"],
                    period=delivery.period,
                )
            )
    return plan


def _published_periods_using(home: Home, source_checksums: set[str]) -> list[str]:
    """Periods whose publication (``croisement_publie`` events) used one of these deliveries."""
    periods = set()
    for event in audit_log.read_events(home.audit):
        if event.get("evenement") != "croisement_publie":
            continue
        used = {d.get("sha256") for d in (event.get("livraisons") or {}).values()}
        if used & source_checksums:
            periods.add(event["periode"])
    return sorted(periods)


def _delete(home: Home, deletion: Deletion) -> None:
    target = home.root / deletion.path
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)
    for sidecar in deletion.also:
        (home.root / sidecar).unlink(missing_ok=True)


def purge(
    home: Home,
    conventions: dict[str, Convention],
    today: date,
    dry_run: bool,
    *,
    conventions_dir: Path | None = None,
    rebuild: bool = True,
) -> PurgeReport:
    """Delete what ``plan_purge`` lists, log each deletion, then rebuild the warehouse.

    ``dry_run`` deletes nothing and logs nothing: it returns the same list. ``rebuild=False``
    only removes the warehouse (the next crossing rebuilds it); ``conventions_dir`` is the one
    the rebuilding crossing reads.
    """
    report = PurgeReport(today, dry_run, plan_purge(home, conventions, today))
    purged_sources = {d.source_sha256 for d in report.deletions if d.source_sha256}
    report.affected_publications = _published_periods_using(home, purged_sources)
    if dry_run:
        report.warehouse_removed = bool(purged_sources) and home.warehouse.exists()
        return report
    for deletion in report.deletions:
        try:
            _delete(home, deletion)
        except OSError as exc:
            raise PurgeError(
                f"suppression impossible de {deletion.path} ({type(exc).__name__}) ; les "
                "suppressions précédentes sont faites et journalisées, relancer la purge"
            ) from None
        audit_log.append_event(
            home.audit,
            "purge",
            convention=deletion.convention,
            zone=deletion.zone,
            quoi=deletion.path,
            pourquoi=deletion.why,
            sha256=deletion.sha256,
            octets=deletion.size,
            fichiers_annexes=list(deletion.also),
            sha256_livraison=deletion.source_sha256,
            periode=deletion.period,
            date_purge=today.isoformat(),
        )
    if purged_sources:
        _rebuild(home, report, conventions_dir, rebuild)
    return report


def _rebuild(home: Home, report: PurgeReport, conventions_dir: Path | None, rebuild: bool) -> None:
    """The warehouse may hold person-level rows of a purged delivery: remove it, cross again."""
    from pipelines.cycle import rebuild_warehouse, remove_warehouse

    if remove_warehouse(home):
        report.warehouse_removed = True
    if rebuild:
        try:
            report.recrossed_period = rebuild_warehouse(home, None, conventions_dir)
        except RecoursError as exc:  # no complete period left: the next crossing rebuilds it
            report.rebuild_skipped = str(exc)
        except Exception as exc:  # the purge is done and logged: say the rebuild failed
            report.rebuild_skipped = (
                f"le croisement de reconstruction a échoué ({type(exc).__name__}) ; les "
                "suppressions sont faites et journalisées : relancer recours run"
            )
    audit_log.append_event(
        home.audit,
        "purge_reconstruction",
        entrepot_supprime=report.warehouse_removed,
        periode_recroisee=report.recrossed_period,
        reconstruction_impossible=report.rebuild_skipped,
        periodes_publiees_concernees=report.affected_publications,
        date_purge=report.today.isoformat(),
    )
