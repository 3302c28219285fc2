"""Ingest: every pending delivery of ``landing/`` to the pseudonymized zone, or to quarantine.

One delivery goes through: checksum → convention in force → read → validate (Great
Expectations) → set aside bad rows → deduplicate → minimise and pseudonymize → scan for stray
personal data (presidio) → Parquet, written aside and moved into place. Any delivery-level
problem stops it whole and moves the file to quarantine with its reason; the other deliveries
go on. The same functions run under Airflow (``dags/ingest.py``) and from ``recours run``.

``ingest_all`` ingests the conventions side by side, one worker process each, when the machine
has several cores and the deliveries are large enough to repay a worker's start (each loads
Great Expectations and spaCy once, about ten seconds of one core). Conventions share no file;
a worker hands its journal events back instead of writing them, and the parent appends them
in the order of the conventions, so the journal, the outcomes and the files are those of one
convention after the other.

A raw file stays in ``landing/`` after it is processed (until its retention ends), so seeing it
again is no event; a file deposited again with the content of a delivery already processed
is (``livraison_redeposee``), once per deposit. The line numbers of the rows an accepted
delivery set aside go to the restricted audit, ``audit/ecartees/`` (0600), never to a place an
analyst reads: with the raw file at hand they point at the very rows.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from anonymization.pseudonymize import Pseudonymizer, load_key
from pipelines.ingest.minimise import minimise
from pipelines.ingest.quarantine import quarantine
from pipelines.ingest.read import LINE, read_delivery
from recours import audit_log
from recours.atomic import write_text_atomically
from recours.convention_events import record_convention_changes
from recours.conventions import Convention, load_conventions
from recours.errors import DeliveryRefused
from recours.home import MANIFEST, Home, parquet
from recours.reference import commune_codes
from recours.schemas import Schema, load_schemas, schema_dirs

IGNORED_SUFFIXES = (".part", ".sha256")
SET_ASIDE_DIR = "ecartees"  # under audit/: line numbers of set-aside rows, per delivery
DEPOSIT = "fichier_modifie_le_ns"  # the raw file's mtime when accepted: tells a new deposit
# Below this many bytes of deliveries outside the largest convention, a second worker costs
# more (its own load of Great Expectations and spaCy, some 25 s of CPU on a busy machine) than
# it saves: one process does it all. Measured: not repaid at 300 000 persons (16 MB outside
# the CAF file); the whole département has 79 MB outside it.
PARALLEL_MIN_BYTES = 48 * 2**20

# Set in a pool worker: its journal events, handed back to the parent to append in order.
_deferred_events: list[tuple[str, dict]] | None = None


def _journal(home: Home, kind: str, **fields: object) -> None:
    """An audit event, appended now, or kept for the parent when running in a pool worker."""
    if _deferred_events is not None:
        _deferred_events.append((kind, fields))
    else:
        audit_log.append_event(home.audit, kind, **fields)


@dataclass
class DeliveryOutcome:
    """What happened to one file: counts and rule names only, never a value from the file."""

    convention: str
    file: str
    status: str  # acceptee | refusee | deja_traitee
    sha256: str
    dataset: str | None = None
    extraction: str | None = None
    rows_read: int = 0
    rows_kept: int = 0
    set_aside: dict[str, int] = field(default_factory=dict)  # rule -> rows set aside
    flagged: dict[str, int] = field(default_factory=dict)  # rule -> rows kept but flagged
    duplicates: int = 0
    dropped_columns: list[str] = field(default_factory=list)
    unauthorized_columns: list[str] = field(default_factory=list)
    pii_withheld: dict[str, dict[str, int]] = field(default_factory=dict)
    rule: str | None = None
    reason: str | None = None
    messages: list[str] = field(default_factory=list)
    output: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> seconds, for operators

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = round(time.perf_counter() - start, 3)

    def summary(self) -> dict:
        """JSON-safe, for XComs, the audit log and the demo's table."""
        return asdict(self)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pending_deliveries(home: Home, convention_id: str) -> list[Path]:
    """Files waiting in ``landing/<convention>/``: uploads still in progress (``.part``) and
    checksum sidecars are not deliveries."""
    folder = home.landing_for(convention_id)
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.endswith(IGNORED_SUFFIXES)
    )


def processed_deliveries(home: Home, convention_id: str) -> set[tuple[str, str]]:
    """(file name, SHA-256) of every accepted delivery: the same file again is a no-op."""
    return set(_accepted(home, convention_id))


@dataclass(frozen=True)
class Processed:
    """A delivery already processed, as the journal's ``livraison_redeposee`` names it."""

    file: str
    sha256: str
    outcome: str  # acceptee | refusee
    on: str | None  # when it was received (accepted) or refused
    extraction: str | None = None
    manifest: Path | None = None  # accepted only
    deposit: int | None = None  # accepted only: the raw file's mtime (ns) when last seen

    def event(self) -> dict:
        return {
            "fichier": self.file,
            "issue": self.outcome,
            "extraction": self.extraction,
            "le": self.on,
        }


def _accepted(home: Home, convention_id: str) -> dict[tuple[str, str], Processed]:
    """Every accepted delivery of the convention, by (file name, SHA-256), from its manifest
    (in path order: of two accepted deliveries with the same bytes under different names, the
    one a redeposit's journal event names no longer depends on how the file system lists them)."""
    found = {}
    for manifest in home.manifests(convention_id):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        found[(data["fichier"], data["sha256"])] = Processed(
            data["fichier"],
            data["sha256"],
            "acceptee",
            data.get("recue_le"),
            data.get("extraction"),
            manifest,
            data.get(DEPOSIT),
        )
    return found


def _refused(home: Home, convention_id: str) -> dict[str, Processed]:
    """Every refused delivery still in quarantine, by SHA-256, from its reason file."""
    found = {}
    for reason in home.quarantine_reasons(convention_id):
        try:
            data = json.loads(reason.read_text(encoding="utf-8"))
            found[data["sha256"]] = Processed(
                data["fichier"], data["sha256"], "refusee", data.get("refusee_le")
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a reason file edited by hand: it only serves to name an earlier refusal
    return found


def _redeposited(path: Path, earlier: Processed) -> bool:
    """The accepted file was written again since it was last seen (an upload over it, a copy):
    a deposit to journal, unlike the same file simply still waiting for its retention. The
    modification time, not the inode or ctime: a key rotation links or copies the raw file
    with its times, and a change of mode (ctime) is no deposit."""
    return path.stat().st_mtime_ns != earlier.deposit


def _journal_redelivery(
    home: Home, convention_id: str, path: Path, checksum: str, earlier: Processed, then: str
) -> None:
    _journal(
        home,
        "livraison_redeposee",
        convention=convention_id,
        fichier=path.name,
        sha256=checksum,
        deja_traitee=earlier.event(),
        suite=then,
    )


def _remember_deposit(earlier: Processed, path: Path) -> None:
    """The manifest keeps the new deposit's mtime, so that the next run does not journal the
    same deposit again."""
    assert earlier.manifest is not None
    data = json.loads(earlier.manifest.read_text(encoding="utf-8"))
    data[DEPOSIT] = path.stat().st_mtime_ns
    mode = stat.S_IMODE(earlier.manifest.stat().st_mode)
    write_text_atomically(
        earlier.manifest, json.dumps(data, ensure_ascii=False, indent=2), mode=mode
    )


def ingest_all(
    home: Home,
    conventions_dir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int | None = 1,
) -> list[DeliveryOutcome]:
    """Every convention folder of ``landing/`` (the folder name is the convention id).

    ``workers``: processes to spread the conventions over; ``None`` means the usable cores,
    used only when the deliveries are large enough (``PARALLEL_MIN_BYTES``). The default, 1,
    runs everything in this process: the pool has not yet shown a gain on two cores (each
    worker loads Great Expectations and spaCy again, and peak memory at 1.47 M persons grows
    from 2.1 to 3.5 GB), and its workers hand their journal events back only once their work
    is done, where a serial run journals a delivery's reception before processing it. The
    outcomes and the journal come out in the order of the conventions whatever the number of
    workers.
    """
    folders = (
        sorted(p.name for p in home.landing.iterdir() if p.is_dir())
        if home.landing.is_dir()
        else []
    )
    outcomes: list[DeliveryOutcome] = []
    context = None
    if any(pending_deliveries(home, c) for c in folders):
        context = IngestContext.load(conventions_dir)
    # Before any delivery: the journal must say which version of each convention applied.
    record_convention_changes(
        home.audit,
        context.conventions if context else load_conventions(conventions_dir),
        conventions_dir,
        date.today(),
    )
    work = {c: _work_bytes(home, c) for c in folders} if context else {}
    pool_size = _pool_size(work, workers)
    if pool_size > 1 and context is not None:  # work (so a pool) only when there is a context
        return _ingest_in_pool(home, work, conventions_dir, progress, pool_size, context)
    for index, convention_id in enumerate(folders):
        if progress:
            progress(convention_id, index, len(folders))
        outcomes.extend(ingest_convention(home, convention_id, conventions_dir, context))
    if progress:
        progress("", len(folders), len(folders))
    return outcomes


def _work_bytes(home: Home, convention_id: str) -> int:
    """Bytes of the convention's pending deliveries not yet accepted (0: nothing to do)."""
    done = _accepted(home, convention_id)
    return sum(
        path.stat().st_size
        for path in pending_deliveries(home, convention_id)
        if (path.name, sha256_of(path)) not in done
    )


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _pool_size(work: dict[str, int], workers: int | None) -> int:
    """How many worker processes pay off: at most one per convention with work, per core."""
    if workers is not None and workers <= 1:
        return 1
    busy = sorted((size for size in work.values() if size), reverse=True)
    if len(busy) < 2:
        return 1
    if workers is None:
        if sum(busy[1:]) < PARALLEL_MIN_BYTES:
            return 1
        workers = _usable_cores()
    return max(1, min(workers, len(busy)))


@dataclass
class _WorkerResult:
    outcomes: list[DeliveryOutcome]
    events: list[tuple[str, dict]]
    error: BaseException | None


def _ingest_convention_in_worker(
    root: Path, convention_id: str, conventions_dir: Path | None
) -> _WorkerResult:
    """One convention in a pool worker: its events are returned, not written (see module)."""
    global _deferred_events
    _deferred_events = []
    try:
        outcomes = ingest_convention(Home(root), convention_id, conventions_dir)
        return _WorkerResult(outcomes, _deferred_events, None)
    except Exception as exc:
        try:
            pickle.dumps(exc)
            error: BaseException = exc
        except Exception:  # an exception that cannot cross processes: its type still does
            error = RuntimeError(type(exc).__name__)
        return _WorkerResult([], _deferred_events, error)
    finally:
        _deferred_events = None


def _ingest_in_pool(
    home: Home,
    work: dict[str, int],
    conventions_dir: Path | None,
    progress: Callable[[str, int, int], None] | None,
    pool_size: int,
    context: IngestContext,
) -> list[DeliveryOutcome]:
    """The conventions with work over ``pool_size`` fresh processes, largest first so that the
    longest starts first; the others (files already processed) here, in their turn. Results,
    journal events and progress come in the order of the conventions. If a convention fails
    (not a refusal: a bug, a full disk), the events of every convention that ran are still
    appended, then the first failure is raised, as one process would have."""
    folders = list(work)
    order = sorted((c for c in folders if work[c]), key=lambda c: -work[c])
    spawn = multiprocessing.get_context("spawn")  # no fork of a process running polars threads
    outcomes: list[DeliveryOutcome] = []
    failure: BaseException | None = None
    with ProcessPoolExecutor(max_workers=pool_size, mp_context=spawn) as pool:
        futures: dict[str, Future[_WorkerResult]] = {
            c: pool.submit(_ingest_convention_in_worker, home.root, c, conventions_dir)
            for c in order
        }
        for index, convention_id in enumerate(folders):
            if progress:
                progress(convention_id, index, len(folders))
            if convention_id not in futures:
                if failure is None:
                    outcomes.extend(
                        ingest_convention(home, convention_id, conventions_dir, context)
                    )
                continue
            result = futures[convention_id].result()
            for kind, fields in result.events:
                audit_log.append_event(home.audit, kind, **fields)
            outcomes.extend(result.outcomes)
            if result.error is not None and failure is None:
                failure = result.error
    if failure is not None:
        raise failure
    if progress:
        progress("", len(folders), len(folders))
    return outcomes


@dataclass(frozen=True)
class IngestContext:
    """What every delivery needs, loaded once per run: the key, conventions and schemas."""

    pseudonymizer: Pseudonymizer
    conventions: dict[str, Convention]
    schemas: dict[str, Schema]

    @classmethod
    def load(cls, conventions_dir: Path | None = None) -> IngestContext:
        return cls(
            load_key(),
            load_conventions(conventions_dir),
            load_schemas(schema_dirs(conventions_dir)),
        )


def ingest_convention(
    home: Home,
    convention_id: str,
    conventions_dir: Path | None = None,
    context: IngestContext | None = None,
) -> list[DeliveryOutcome]:
    """Process every pending delivery in ``landing/<convention_id>/``; one outcome each."""
    home.ensure()
    files = pending_deliveries(home, convention_id)
    if not files:
        return []
    context = context or IngestContext.load(conventions_dir)
    pseudonymizer, conventions, schemas = (
        context.pseudonymizer,
        context.conventions,
        context.schemas,
    )
    done = _accepted(home, convention_id)
    same_content = {**_refused(home, convention_id), **{p.sha256: p for p in done.values()}}
    outcomes = []
    for path in files:
        checksum = sha256_of(path)
        earlier = done.get((path.name, checksum))
        if earlier is not None:
            outcome = DeliveryOutcome(convention_id, path.name, "deja_traitee", checksum)
            if earlier.deposit is None:  # accepted before deposits were recorded: from now on
                _remember_deposit(earlier, path)
            elif _redeposited(path, earlier):
                _journal_redelivery(home, convention_id, path, checksum, earlier, "ignoree")
                _remember_deposit(earlier, path)
                outcome.messages.append(
                    f"{path.name} : déposé à nouveau, identique à la livraison acceptée le "
                    f"{earlier.on or '(date inconnue)'} ; rien n'est retraité"
                )
            outcomes.append(outcome)
            continue
        if checksum in same_content:  # the same bytes under another name, or refused before
            _journal_redelivery(
                home, convention_id, path, checksum, same_content[checksum], "traitee"
            )
        outcome = ingest_file(
            home,
            path,
            convention_id,
            conventions.get(convention_id),
            schemas,
            pseudonymizer,
            checksum,
        )
        outcomes.append(outcome)
        if outcome.status == "acceptee":
            done[(path.name, checksum)] = Processed(
                path.name, checksum, "acceptee", None, outcome.extraction
            )
    return outcomes


def ingest_file(
    home: Home,
    path: Path,
    convention_id: str,
    convention: Convention | None,
    schemas: dict[str, Schema],
    pseudonymizer: Pseudonymizer,
    checksum: str,
) -> DeliveryOutcome:
    outcome = DeliveryOutcome(convention_id, path.name, "refusee", checksum)
    event = {
        "convention": convention_id,
        "fichier": path.name,
        "sha256": checksum,
        "empreinte_cle": pseudonymizer.fingerprint,
    }
    _journal(home, "livraison_recue", **event)
    try:
        _check_sidecar(path, checksum)
        convention, schema, extraction = _identify(path, convention_id, convention, schemas)
        outcome.dataset, outcome.extraction = schema.dataset, extraction.isoformat()
        _ingest_valid_file(home, path, convention, schema, extraction, pseudonymizer, outcome)
        outcome.status = "acceptee"
    except DeliveryRefused as refusal:
        target = quarantine(path, home.quarantine / convention_id, refusal, checksum)
        outcome.status, outcome.rule, outcome.reason = "refusee", refusal.rule, refusal.message
        outcome.output = str(target.relative_to(home.root))
        _journal(
            home,
            "livraison_refusee",
            **event,
            regle=refusal.rule,
            motif=refusal.message,
            ligne=refusal.line,
            colonne=refusal.column,
            lignes_lues=outcome.rows_read,
            lignes_ecartees=outcome.set_aside,
        )
        return outcome
    except Exception as exc:
        # Not the partner's fault (a bug, a full disk...): the file stays in landing/ for the
        # next attempt, and the log says so without the message, which might quote data.
        _journal(home, "ingestion_en_echec", **event, erreur=type(exc).__name__)
        raise
    _journal(
        home,
        "livraison_acceptee",
        **event,
        jeu=schema.dataset,
        extraction=outcome.extraction,
        lignes_lues=outcome.rows_read,
        lignes_gardees=outcome.rows_kept,
        lignes_ecartees=outcome.set_aside,
        lignes_signalees=outcome.flagged,
        doublons=outcome.duplicates,
        colonnes_supprimees=outcome.dropped_columns,
        colonnes_non_autorisees=outcome.unauthorized_columns,
        donnees_personnelles_retenues=outcome.pii_withheld,
    )
    return outcome


def _check_sidecar(path: Path, checksum: str) -> None:
    sidecar = path.with_name(path.name + ".sha256")
    if not sidecar.exists():
        return
    words = sidecar.read_text(encoding="ascii", errors="replace").split()
    if not words or len(words[0]) != 64:
        raise DeliveryRefused(
            "somme_controle",
            f"{sidecar.name} : fichier de somme de contrôle illisible (format sha256sum attendu)",
        )
    if words[0].lower() != checksum:
        raise DeliveryRefused(
            "somme_controle",
            f"{path.name} : la somme de contrôle SHA-256 ne correspond pas à celle annoncée dans "
            f"{sidecar.name} ; le fichier a été altéré ou incomplètement transféré",
        )


def _identify(
    path: Path, convention_id: str, convention: Convention | None, schemas: dict[str, Schema]
) -> tuple[Convention, Schema, date]:
    """Refuse a file no convention in force covers; hand back the convention, now known."""
    if convention is None:
        raise DeliveryRefused(
            "convention_absente",
            f"{path.name} : aucune convention « {convention_id} » n'existe ; aucune donnée ne "
            "peut être reçue sans convention signée",
        )
    for dataset in convention.datasets:
        schema = schemas.get(dataset.schema_id)
        if schema is None:
            continue
        if schema.file_regex().match(path.name):
            extraction = schema.extraction_date(path.name)
            if extraction is None:
                raise DeliveryRefused(
                    "nom_de_fichier",
                    f"{path.name} : la date d'extraction du nom de fichier n'est pas une date",
                )
            if not convention.in_force(extraction):
                raise DeliveryRefused(
                    "convention_hors_validite",
                    f"{path.name} : la convention {convention_id} n'est pas en vigueur à la date "
                    f"d'extraction {extraction:%d/%m/%Y} (valable du "
                    f"{convention.valid_from:%d/%m/%Y} au {convention.valid_to:%d/%m/%Y})",
                )
            return convention, schema, extraction
    expected = ", ".join(
        schemas[d.schema_id].file_name.replace("{date}", "AAAAMMJJ")
        for d in convention.datasets
        if d.schema_id in schemas
    )
    raise DeliveryRefused(
        "nom_de_fichier",
        f"{path.name} : ce nom ne correspond à aucun jeu de données de la convention "
        f"{convention_id} (attendu : {expected}, éventuellement .gz)",
    )


def _ingest_valid_file(
    home: Home,
    path: Path,
    convention: Convention,
    schema: Schema,
    extraction: date,
    pseudonymizer: Pseudonymizer,
    outcome: DeliveryOutcome,
) -> None:
    from anonymization.pii_scan import scan_frame
    from pipelines.ingest.validate import describe, validate

    with outcome.timed("lecture"):
        raw = read_delivery(path, schema)
    outcome.rows_read = raw.height
    with outcome.timed("validation"):
        result = validate(raw.drop("_champs"), schema, commune_codes(), extraction)
    set_aside = set(result.set_aside_lines)
    ragged = raw.filter(pl.col("_champs") != 0)[LINE].to_list()
    if ragged:
        set_aside.update(ragged)
        outcome.set_aside["nombre_de_champs"] = len(ragged)
        outcome.messages.append(
            f"{path.name}, ligne {ragged[0]} : nombre de champs différent de l'en-tête "
            f"(règle nombre_de_champs) — {len(ragged)} ligne(s) en tout"
        )
    for failure in result.failures:
        bucket = outcome.set_aside if failure.severity == "ecarter" else outcome.flagged
        bucket[failure.rule] = bucket.get(failure.rule, 0) + failure.count
        outcome.messages.append(describe(failure, path.name))
    share = len(set_aside) / raw.height
    if share > schema.max_bad_row_share:
        worst = sorted(result.failures, key=lambda f: -f.count if f.severity == "ecarter" else 0)
        detail = "; ".join(describe(f, path.name, max_lines=3) for f in worst[:3])
        raise DeliveryRefused(
            "trop_de_lignes_invalides",
            f"{path.name} : {len(set_aside)} ligne(s) invalide(s) sur {raw.height} "
            f"({share:.1%}, plus que le maximum de {schema.max_bad_row_share:.0%} du dessin) ; "
            f"{detail}",
        )
    _write_set_aside_lines(home, outcome, ragged, result)
    kept = raw.filter(~pl.col(LINE).is_in(list(set_aside))) if set_aside else raw
    unique = kept.unique(subset=schema.column_names, keep="first", maintain_order=True)
    outcome.duplicates = kept.height - unique.height
    treatments = {
        name: rule.treatment for name, rule in convention.dataset(schema.id).fields.items()
    }
    with outcome.timed("pseudonymisation"):
        minimised = minimise(unique, schema, treatments, extraction, pseudonymizer)
    outcome.dropped_columns = list(minimised.dropped)
    outcome.unauthorized_columns = list(minimised.unauthorized)
    frame = minimised.frame
    scanned = [
        c.name
        for c in schema.columns
        if c.name in frame.columns and frame.schema[c.name] == pl.String
    ]
    with outcome.timed("detection_dp"):
        findings = scan_frame(frame, scanned)
    for finding in findings:
        if finding.withheld:
            frame = frame.drop(finding.column)
            outcome.pii_withheld[finding.column] = dict(finding.counts)
    outcome.rows_kept = frame.height
    with outcome.timed("ecriture"):
        written = _write(
            home, convention.id, schema, extraction, frame, outcome, pseudonymizer, result, path
        )
    outcome.output = str(written)


def set_aside_path(home: Home, convention_id: str, file_name: str) -> Path:
    """Where the line numbers of the rows a delivery set aside are kept (restricted audit)."""
    return home.audit / SET_ASIDE_DIR / convention_id / f"{file_name}.json"


def _write_set_aside_lines(home: Home, outcome: DeliveryOutcome, ragged: list[int], result) -> None:
    """Line numbers and rule (and column name) of every row set aside, never a value: the data
    team finds the rows in the raw file to ask the partner about them. Written before the
    delivery is moved into place, so that no accepted delivery lacks its record; a corrected
    delivery of the same name replaces it. 0600 in 0700 folders: with the raw file, line
    numbers point at persons."""
    entries = [
        {"regle": f.rule, "colonne": f.column, "lignes": list(f.lines)}
        for f in result.failures
        if f.severity == "ecarter"
    ]
    if ragged:
        entries.append({"regle": "nombre_de_champs", "colonne": None, "lignes": sorted(ragged)})
    entries.sort(key=lambda entry: (entry["regle"], entry["colonne"] or ""))
    record = {
        "convention": outcome.convention,
        "fichier": outcome.file,
        "sha256": outcome.sha256,
        "jeu": outcome.dataset,
        "extraction": outcome.extraction,
        "lignes_lues": outcome.rows_read,
        "lignes_ecartees": len(set(result.set_aside_lines) | set(ragged)),
        "ecartees": entries,
    }
    target = set_aside_path(home, outcome.convention, outcome.file)
    for folder in (target.parent.parent, target.parent):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    write_text_atomically(target, json.dumps(record, ensure_ascii=False, indent=2), mode=0o600)


def _write(
    home: Home,
    convention_id: str,
    schema: Schema,
    extraction: date,
    frame: pl.DataFrame,
    outcome: DeliveryOutcome,
    pseudonymizer: Pseudonymizer,
    result,
    source: Path,
) -> Path:
    """Written aside then renamed: a reader never sees half a delivery."""
    final = home.delivery(convention_id, schema.dataset, extraction)
    staging = home.delivery_staging(convention_id, schema.dataset, extraction)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    frame.write_parquet(parquet(staging, schema.id), compression="zstd")
    manifest = {
        "convention": convention_id,
        "jeu": schema.dataset,
        "schema": schema.id,
        "fichier": outcome.file,
        "sha256": outcome.sha256,
        "extraction": extraction.isoformat(),
        "recue_le": datetime.now(UTC).isoformat(timespec="seconds"),
        DEPOSIT: source.stat().st_mtime_ns,
        "empreinte_cle": pseudonymizer.fingerprint,
        "lignes_lues": outcome.rows_read,
        "lignes_gardees": outcome.rows_kept,
        "lignes_ecartees": outcome.set_aside,
        "lignes_signalees": outcome.flagged,
        "doublons": outcome.duplicates,
        "colonnes": {name: str(dtype) for name, dtype in frame.schema.items()},
        "colonnes_supprimees": outcome.dropped_columns,
        "colonnes_non_autorisees": outcome.unauthorized_columns,
        "donnees_personnelles_retenues": outcome.pii_withheld,
        "validation": result.ge_summary,
        "remplacee_par": None,
    }
    (staging / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    if final.exists():  # a corrected redelivery of the same extraction replaces it whole
        shutil.rmtree(final)
    staging.rename(final)
    _mark_superseded(home.manifests(convention_id, schema.dataset))
    return final.relative_to(home.root)


def _mark_superseded(manifests: list[Path]) -> None:
    """Within one month, the latest extraction of a dataset (``manifests``, all of it)
    replaces the earlier ones."""
    latest_of_month: dict[str, str] = {}
    for manifest in manifests:
        day = manifest.parent.name
        latest_of_month[day[:6]] = max(latest_of_month.get(day[:6], day), day)
    for manifest in manifests:
        day = manifest.parent.name
        data = json.loads(manifest.read_text(encoding="utf-8"))
        newer = latest_of_month[day[:6]]
        wanted = None if newer == day else newer
        if data.get("remplacee_par") != wanted:
            data["remplacee_par"] = wanted
            manifest.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
