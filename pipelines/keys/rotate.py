"""Key rotation: re-pseudonymize the whole pseudonymized zone under a new key.

A pseudonym cannot be turned into another key's pseudonym (that is the point of a keyed hash),
so rotating means ingesting again, under the new key, every raw file the zone came from. This is
possible only while ``landing/`` still holds those files: raw files are purged after the
convention's ``raw_days`` (30 days), so a rotation must follow a key compromise quickly. When a
delivery's raw file is gone, the rotation refuses before touching anything, and says which
extraction to ask which partner for again.

All or nothing: the new zone is built in ``.rotation-en-cours/`` beside the real one (raw files
hard-linked, never moved), compared with the old one, then swapped in. Each delivery keeps its
original ingestion date (``recue_le``), so a rotation never extends a retention. The warehouse,
which holds pseudonyms under the old key, is removed and rebuilt by crossing again the period
last published; the published tables hold no pseudonym and come out the same. The journal gets
one ``changement_de_cle`` event with both fingerprints, never a key.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import cast

from anonymization.pseudonymize import InvalidKeyError, Pseudonymizer
from pipelines.ingest.run import ingest_file, sha256_of
from recours import audit_log
from recours.conventions import Convention, load_conventions
from recours.errors import RecoursError
from recours.home import MANIFEST, Home
from recours.schemas import load_schemas

STAGING = ".rotation-en-cours"
RETIRED = ".pseudonymized.ancienne-cle"


@dataclass(frozen=True)
class MissingRaw:
    """An accepted delivery whose raw file is no longer in ``landing/``."""

    convention: str
    partner: str
    dataset: str
    extraction: date
    file: str

    def __str__(self) -> str:
        return (
            f"{self.convention} : jeu {self.dataset}, extraction du {self.extraction:%d/%m/%Y} "
            f"(fichier {self.file}) — à redemander à : {self.partner}"
        )


class KeyRotationError(RecoursError):
    """The rotation did not happen; nothing was changed."""


class RawFilesMissing(KeyRotationError):
    """Some deliveries cannot be re-pseudonymized: their raw files have been purged."""

    def __init__(self, missing: list[MissingRaw]) -> None:
        lines = "\n".join(f"  - {m}" for m in missing)
        super().__init__(
            f"changement de clé impossible : {len(missing)} livraison(s) de la zone "
            "pseudonymisée n'ont plus leur fichier brut dans landing/ (purgé à la fin de sa "
            "durée de conservation, ou déplacé), et un pseudonyme ne se convertit pas d'une clé "
            f"à l'autre. Rien n'a été modifié.\n{lines}\n"
            "Que faire : demander à chaque partenaire nommé une nouvelle transmission de ces "
            "extractions (mêmes fichiers, mêmes dates d'extraction), les déposer dans "
            "landing/<convention>/ sans les ingérer, puis relancer le changement de clé. "
            "Sinon, attendre la purge de ces livraisons, ou les retirer avec l'accord du DPO."
        )
        self.missing = missing


class SameKeyError(KeyRotationError):
    """The new key is the one the zone is already under."""


class ReingestRefused(KeyRotationError):
    """A delivery accepted under the old key is refused on re-ingest (e.g. a convention amended
    since); the rotation is abandoned whole rather than losing that delivery."""


@dataclass
class RotationReport:
    """What the rotation did: fingerprints (never keys), deliveries redone, rebuild."""

    old_fingerprints: list[str]
    new_fingerprint: str
    deliveries: list[dict] = field(default_factory=list)  # convention, jeu, extraction, fichier
    warehouse_removed: bool = False
    recrossed_period: str | None = None
    recross_skipped: str | None = None

    def summary(self) -> dict:
        return asdict(self)


def _pseudonymizer(new_key_hex: str) -> Pseudonymizer:
    try:
        return Pseudonymizer(bytes.fromhex(new_key_hex.strip()))
    except ValueError:
        raise InvalidKeyError("la nouvelle clé n'est pas hexadécimale") from None


def _manifests(home: Home) -> list[tuple[Path, dict]]:
    found = []
    for path in home.manifests():
        found.append((path, json.loads(path.read_text(encoding="utf-8"))))
    return sorted(found, key=lambda item: (item[1]["extraction"], str(item[0])))


def _raw_file(home: Home, manifest: dict) -> Path | None:
    path = home.landing_for(manifest["convention"]) / manifest["fichier"]
    if path.is_file() and sha256_of(path) == manifest["sha256"]:
        return path
    return None


def _missing(home: Home, manifests: list[tuple[Path, dict]], conventions: dict[str, Convention]):
    missing = []
    for _, manifest in manifests:
        if _raw_file(home, manifest) is None:
            convention = conventions.get(manifest["convention"])
            partner = (
                convention.parties.provider.name
                if convention
                else f"le partenaire de la convention {manifest['convention']}"
            )
            missing.append(
                MissingRaw(
                    manifest["convention"],
                    partner,
                    manifest["jeu"],
                    date.fromisoformat(manifest["extraction"]),
                    manifest["fichier"],
                )
            )
    return missing


def _link(source: Path, target: Path) -> None:
    """A hard link (no copy of a large file) when the file system allows it, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _reingest(
    home: Home,
    stage: Home,
    manifests: list[tuple[Path, dict]],
    conventions: dict[str, Convention],
    pseudonymizer: Pseudonymizer,
) -> None:
    schemas = load_schemas()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for _, manifest in manifests:
        convention_id = manifest["convention"]
        source = _raw_file(home, manifest)
        assert source is not None  # checked by _missing before
        linked = stage.landing_for(convention_id) / source.name
        _link(source, linked)
        outcome = ingest_file(
            stage,
            linked,
            convention_id,
            conventions.get(convention_id),
            schemas,
            pseudonymizer,
            manifest["sha256"],
        )
        if outcome.status != "acceptee":
            raise ReingestRefused(
                f"changement de clé abandonné, rien n'a été modifié : la livraison "
                f"{manifest['fichier']} ({convention_id}), acceptée sous l'ancienne clé, est "
                f"refusée à la réingestion (règle {outcome.rule}) ; la convention ou le dessin "
                "ont sans doute changé depuis. Régler ce refus avec le DPO, puis relancer."
            )
        # an accepted delivery always names the folder it was written to (``ingest_file``)
        new_manifest = stage.root / cast(str, outcome.output) / MANIFEST
        data = json.loads(new_manifest.read_text(encoding="utf-8"))
        # The retention clock runs from the first ingestion, not from the rotation.
        data["recue_le"] = manifest["recue_le"]
        data["cle_changee_le"] = stamp
        data["empreinte_cle_precedente"] = manifest.get("empreinte_cle")
        new_manifest.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def _folders(home: Home) -> list[str]:
    """The delivery folders of a home's zone, relative to it: what a rotation must keep."""
    root = home.pseudonymized
    return sorted(str(p.parent.relative_to(root)) for p in home.manifests())


def _last_published_period(home: Home) -> str | None:
    periods = [
        e["periode"]
        for e in audit_log.read_events(home.audit)
        if e.get("evenement") == "croisement_publie"
    ]
    return periods[-1] if periods else None


def rotate(
    home: Home, conventions_dir: Path | None, new_key_hex: str, *, recross: bool = True
) -> RotationReport:
    """Re-pseudonymize ``pseudonymized/`` under ``new_key_hex``; refuse if any raw is gone.

    ``recross=False`` only removes the warehouse (the next crossing rebuilds it).
    """
    pseudonymizer = _pseudonymizer(new_key_hex)
    conventions = load_conventions(conventions_dir)
    manifests = _manifests(home)
    old = sorted({str(m.get("empreinte_cle")) for _, m in manifests})
    if old == [pseudonymizer.fingerprint]:
        raise SameKeyError(
            f"la zone pseudonymisée est déjà sous la clé d'empreinte {pseudonymizer.fingerprint} "
            ": rien à changer"
        )
    missing = _missing(home, manifests, conventions)
    if missing:
        raise RawFilesMissing(missing)
    report = RotationReport(old, pseudonymizer.fingerprint)
    stage = Home(home.root / STAGING)
    shutil.rmtree(stage.root, ignore_errors=True)
    try:
        _reingest(home, stage, manifests, conventions, pseudonymizer)
        if _folders(stage) != _folders(home):
            raise KeyRotationError(
                "changement de clé abandonné, rien n'a été modifié : la zone refaite ne contient "
                "pas exactement les mêmes livraisons que l'ancienne"
            )
        retired = home.root / RETIRED
        shutil.rmtree(retired, ignore_errors=True)
        if manifests:
            home.pseudonymized.rename(retired)
            (stage.pseudonymized).rename(home.pseudonymized)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(stage.root, ignore_errors=True)
    report.deliveries = [
        {
            "convention": m["convention"],
            "jeu": m["jeu"],
            "extraction": m["extraction"],
            "fichier": m["fichier"],
            "sha256": m["sha256"],
        }
        for _, m in manifests
    ]
    from pipelines.cycle import rebuild_warehouse, remove_warehouse

    if remove_warehouse(home):  # person-level pseudonyms under the old key
        report.warehouse_removed = True
    audit_log.append_event(
        home.audit,
        "changement_de_cle",
        anciennes_empreintes=report.old_fingerprints,
        nouvelle_empreinte=report.new_fingerprint,
        livraisons=[
            {k: d[k] for k in ("convention", "fichier", "sha256")} for d in report.deliveries
        ],
        entrepot_supprime=report.warehouse_removed,
    )
    period = _last_published_period(home)
    if recross and period and manifests:
        try:
            report.recrossed_period = rebuild_warehouse(home, period, conventions_dir)
        except RecoursError as exc:
            report.recross_skipped = str(exc)
        except Exception as exc:  # the rotation is done and consistent: say so, do not hide it
            report.recross_skipped = (
                f"le croisement de la période {period} a échoué ({type(exc).__name__}) ; la "
                "zone pseudonymisée est bien sous la nouvelle clé : relancer recours run"
            )
    return report
