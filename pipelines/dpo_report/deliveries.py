"""Per delivery: what the partner sent, what was kept, dropped or refused, and why.

The journal is the record (it survives purges); manifests and quarantine reasons add what the
journal does not hold (the Parquet columns, the validation summary, where a refused file lies).
Only delivery-level counts are shown: lines read, kept, set aside by rule, personal data found
by kind. They describe a file's quality, not people (docs/dpo.md says why that is not a
statistical cell), and no value of any line is ever read here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipelines.dpo_report.labels import (
    DELIVERY_STATES,
    PII_KINDS,
    ROW_RULES,
    TREATMENTS,
    label,
    refusal_label,
)
from recours.conventions import Convention, DatasetRule
from recours.home import Home, quarantined_file
from recours.schemas import Schema

Key = tuple[str, str, str]  # convention, file name, sha256
OUTCOMES = {
    "livraison_acceptee": "acceptee",
    "livraison_refusee": "refusee",
    "ingestion_en_echec": "en_echec",
}
# Refusals that are the DPO's business, not only the data team's: data without a legal basis.
COMPLIANCE_REFUSALS = {"convention_absente", "convention_hors_validite"}


def _key(record: dict[str, Any]) -> Key:
    return (str(record.get("convention")), str(record.get("fichier")), str(record.get("sha256")))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def manifests(home: Home) -> dict[Key, dict[str, Any]]:
    """Every manifest of the pseudonymized zone, with its folder relative to the home."""
    found = {}
    for path in home.manifests():
        data = _read_json(path)
        if data is not None:
            data["_dossier"] = str(path.parent.relative_to(home.root))
            found[_key(data)] = data
    return found


def quarantined(home: Home) -> dict[Key, dict[str, Any]]:
    """Every refusal reason in quarantine, keyed like the journal's events."""
    found = {}
    for path in home.quarantine_reasons():
        data = _read_json(path)
        if data is not None:
            data["convention"] = path.parent.name
            data["_fichier_quarantaine"] = str(quarantined_file(path).relative_to(home.root))
            found[_key(data)] = data
    return found


def _from_journal(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair each ``livraison_recue`` with its outcome (concurrent tasks may interleave)."""
    deliveries: list[dict[str, Any]] = []
    open_: dict[Key, dict[str, Any]] = {}
    record: dict[str, Any] | None
    for event in events:
        kind = event.get("evenement")
        if kind == "livraison_recue":
            record = {"recue": event, "issue": None}
            deliveries.append(record)
            open_[_key(event)] = record
        elif kind in OUTCOMES:
            record = open_.pop(_key(event), None)
            if record is None:
                record = {"recue": None, "issue": None}
                deliveries.append(record)
            record["issue"] = event
    return deliveries


def _schema_for(
    schemas: dict[str, Schema], convention_id: str, file_name: str, dataset: str | None
) -> Schema | None:
    for schema in schemas.values():
        if schema.convention != convention_id:
            continue
        if schema.dataset == dataset or schema.file_regex().match(file_name):
            return schema
    return None


def _rule_counts(counts: Any, labels: dict[str, str]) -> list[dict[str, Any]]:
    if not isinstance(counts, dict):
        return []
    return [
        {"regle": rule, "libelle": label(labels, rule), "lignes": n}
        for rule, n in sorted(counts.items())
    ]


def _field_rows(
    rules: DatasetRule | None, status: str, dropped: list[str], withheld: set[str]
) -> list[dict[str, Any]]:
    """Each authorized field: received, and what became of it."""
    if rules is None:
        return []
    rows = []
    for name, rule in rules.fields.items():
        if status != "acceptee":
            result = "livraison refusée : rien n'a été gardé"
        elif name in withheld:
            result = "retenu : données personnelles détectées"
        elif rule.treatment in ("drop",) or name in dropped:
            result = "supprimé à la lecture"
        elif rule.to:
            result = f"{label(TREATMENTS, rule.treatment)} → {', '.join(rule.to)}"
        else:
            result = label(TREATMENTS, rule.treatment)
        rows.append(
            {
                "nom": name,
                "traitement": rule.treatment,
                "traitement_libelle": label(TREATMENTS, rule.treatment),
                "resultat": result,
            }
        )
    return rows


def _compliance(
    status: str, refusal: str | None, unauthorized: list[str], pii: list[dict[str, Any]]
) -> list[str]:
    events = []
    if unauthorized:
        events.append(
            f"sur-livraison : {len(unauthorized)} colonne(s) non prévue(s) par la convention "
            f"reçue(s), supprimée(s) à la lecture : {', '.join(unauthorized)}"
        )
    if pii:
        columns = sorted({row["colonne"] for row in pii})
        events.append(
            "données personnelles trouvées dans une colonne de texte autorisée, colonne "
            f"retenue : {', '.join(columns)}"
        )
    if status == "refusee" and refusal in COMPLIANCE_REFUSALS:
        events.append(f"livraison sans base conventionnelle : {refusal_label(refusal)}")
    return events


def _delivery(
    record: dict[str, Any],
    manifest: dict[str, Any] | None,
    motif: dict[str, Any] | None,
    conventions: dict[str, Convention],
    schemas: dict[str, Schema],
) -> dict[str, Any]:
    received, outcome = record["recue"] or {}, record["issue"] or {}
    base = {**(motif or {}), **(manifest or {}), **received, **outcome}
    status = OUTCOMES.get(outcome.get("evenement", ""), "recue")
    if not outcome and manifest is not None:
        status = "acceptee"
    elif not outcome and motif is not None:
        status = "refusee"
    convention_id, file_name = str(base.get("convention")), str(base.get("fichier"))
    schema = _schema_for(schemas, convention_id, file_name, base.get("jeu"))
    convention = conventions.get(convention_id)
    rules = None
    if schema is not None and convention is not None and schema.id in convention.schema_ids:
        rules = convention.dataset(schema.id)
    unauthorized = [str(c) for c in base.get("colonnes_non_autorisees") or []]
    dropped = [str(c) for c in base.get("colonnes_supprimees") or []]
    pii = [
        {"colonne": column, "type": kind, "libelle": label(PII_KINDS, kind), "nombre": n}
        for column, kinds in sorted((base.get("donnees_personnelles_retenues") or {}).items())
        for kind, n in sorted(kinds.items())
    ]
    authorized = list(rules.fields) if rules is not None else []
    refusal = base.get("regle") if status == "refusee" else None
    return {
        "convention": convention_id,
        "fichier": file_name,
        "sha256": base.get("sha256"),
        "jeu": base.get("jeu") or (schema.dataset if schema else None),
        "extraction": base.get("extraction"),
        "recue_le": received.get("horodatage") or base.get("recue_le"),
        "traitee_le": outcome.get("horodatage") or base.get("refusee_le"),
        "empreinte_cle": base.get("empreinte_cle"),
        "statut": status,
        "statut_libelle": label(DELIVERY_STATES, status),
        "refus": None
        if refusal is None
        else {
            "regle": refusal,
            "libelle": refusal_label(refusal),
            "motif": base.get("motif"),
            "ligne": base.get("ligne"),
            "colonne": base.get("colonne"),
        },
        "erreur": outcome.get("erreur") if status == "en_echec" else None,
        "lignes": {
            "lues": base.get("lignes_lues"),
            "gardees": base.get("lignes_gardees"),
            "ecartees": _rule_counts(base.get("lignes_ecartees"), ROW_RULES),
            "signalees": _rule_counts(base.get("lignes_signalees"), ROW_RULES),
            "doublons": base.get("doublons"),
        },
        "champs": {
            "autorises": authorized,
            "recus": authorized + unauthorized if status == "acceptee" else [],
            "gardes": [c for c in (manifest or {}).get("colonnes", {})],
            "supprimes": dropped,
            "non_autorises": unauthorized,
            "detail": _field_rows(rules, status, dropped, {row["colonne"] for row in pii}),
        },
        "donnees_personnelles": pii,
        "conformite": _compliance(status, refusal, unauthorized, pii),
        "validation": _validation(manifest),
        "remplacee_par": (manifest or {}).get("remplacee_par"),
        "dossier_pseudonymise": (manifest or {}).get("_dossier"),
        "fichier_quarantaine": (motif or {}).get("_fichier_quarantaine"),
        "au_journal": record["recue"] is not None or record["issue"] is not None,
    }


def _validation(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    summary = (manifest or {}).get("validation")
    if not isinstance(summary, dict):
        return None
    failed = [
        {
            "regle": e.get("rule"),
            "libelle": label(ROW_RULES, e.get("rule")),
            "colonne": e.get("column"),
            "lignes": e.get("unexpected_count"),
        }
        for e in summary.get("expectations", [])
        if isinstance(e, dict) and not e.get("success", True)
    ]
    return {
        "attentes": summary.get("evaluated_expectations"),
        "reussies": summary.get("successful_expectations"),
        "echouees": failed,
    }


def delivery_facts(
    home: Home,
    events: list[dict[str, Any]],
    conventions: dict[str, Convention],
    schemas: dict[str, Schema],
) -> list[dict[str, Any]]:
    """Every delivery the journal, the manifests or the quarantine know of, oldest first."""
    by_manifest, by_motif = manifests(home), quarantined(home)
    records = _from_journal(events)
    seen: set[Key] = set()
    facts = []
    for record in records:
        key = _key({**(record["recue"] or {}), **(record["issue"] or {})})
        seen.add(key)
        facts.append(
            _delivery(record, by_manifest.get(key), by_motif.get(key), conventions, schemas)
        )
    # Outputs the journal does not mention are themselves a finding: show them, flagged.
    empty = {"recue": None, "issue": None}
    for key, manifest in by_manifest.items():
        if key not in seen:
            facts.append(_delivery(empty, manifest, None, conventions, schemas))
    for key, motif in by_motif.items():
        if key not in seen:
            facts.append(_delivery(empty, None, motif, conventions, schemas))
    return facts
