"""Every fact of the DPO report, gathered once as a JSON-safe dict.

The HTML page and the JSON file are two renderings of this one dict, so they cannot say
different things. Nothing here reads a partner file, a Parquet value or a published cell:
only the conventions, the journal, the manifests, the quarantine reasons, the publication's
metadata and the disclosure audit's overall verdict.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from pipelines.dpo_report.deliveries import delivery_facts
from pipelines.dpo_report.labels import EVENTS, label
from pipelines.dpo_report.modes import mode_alerts, mode_facts
from pipelines.dpo_report.publications import current_publication, publication_facts
from pipelines.dpo_report.register import load_for_report, register_facts
from pipelines.dpo_report.retention import retention_facts
from recours.audit_log import Anchor, ChainStatus, check_chain, journal_path
from recours.home import Home
from recours.schemas import SchemaError, load_schemas, schema_dirs

REPORT_JSON = "rapport_dpo.json"
REPORT_HTML = "rapport_dpo.html"
# Events the journal section lists one by one; the others are counted (and shown elsewhere).
NOTABLE = (
    "changement_de_cle",
    "convention_ajoutee",
    "convention_modifiee",
    "convention_expiree",
    "echec_tache",
    "ingestion_en_echec",
    "rupture_detectee",
    "rupture_acquittee",
)
HIDDEN_FIELDS = {"hash", "precedent", "evenement", "seq", "horodatage"}


def readable_events(audit_dir: Path) -> list[dict[str, Any]]:
    """The journal's events, skipping lines a tampering made unreadable (the chain says so)."""
    path = journal_path(audit_dir)
    if not path.exists():
        return []
    events = []
    for raw in path.read_bytes().split(b"\n"):
        try:
            event = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def previous_anchor(audit_dir: Path) -> Anchor | None:
    """The head of the chain the previous report sealed, if there is a previous report."""
    try:
        previous = json.loads((audit_dir / REPORT_JSON).read_text(encoding="utf-8"))
        seal = previous["chaine"]["sceau"]
        date_ = str(seal["date"])
        return Anchor(int(seal["seq"]), str(seal["hash"]), f"rapport DPO du {date_}", date_)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def chain_facts(status: ChainStatus, anchor: Anchor | None, today: date) -> dict[str, Any]:
    seal = (
        {"seq": status.last_seq, "hash": status.last_hash, "date": today.isoformat()}
        if status.last_seq is not None
        else None
    )
    if not status.intact and anchor is not None:
        # A break nobody acknowledged: re-seal nothing, or the next report would compare the
        # journal with its shortened self and find it whole (`recours audit acquitter` first).
        seal = {"seq": anchor.seq, "hash": anchor.hash, "date": anchor.date}
    return {
        "intacte": status.intact,
        "ligne": status.line,
        "message": status.message,
        "raison": status.reason,
        "evenements": status.events,
        "sceau": seal,
        "rapport_precedent": None
        if anchor is None
        else {"seq": anchor.seq, "hash": anchor.hash, "source": anchor.source},
    }


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in sorted(event.items()) if key not in HIDDEN_FIELDS}


def journal_facts(events: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(str(e.get("evenement")) for e in events)
    keys: dict[str, dict[str, Any]] = {}
    for event in events:
        fingerprint = event.get("empreinte_cle")
        if isinstance(fingerprint, str):
            seen = keys.setdefault(
                fingerprint,
                {"empreinte": fingerprint, "premier": event.get("horodatage"), "evenements": 0},
            )
            seen["dernier"] = event.get("horodatage")
            seen["evenements"] += 1
    return {
        "par_type": [
            {"evenement": kind, "libelle": label(EVENTS, kind), "nombre": n}
            for kind, n in sorted(counts.items())
        ],
        "empreintes_cle": list(keys.values()),
        "notables": [
            {
                "seq": e.get("seq"),
                "horodatage": e.get("horodatage"),
                "evenement": e.get("evenement"),
                "libelle": label(EVENTS, e.get("evenement")),
                "details": _details(e),
            }
            for e in events
            if e.get("evenement") in NOTABLE
        ],
    }


def _unauthorized_linkage(period: dict[str, Any]) -> list[str]:
    """Pairs of conventions a crossing linked although the convention files do not allow it."""
    alerts = []
    for event in period["croisements"]:
        for crossing in event["liaisons"]["liste"]:
            for row in crossing["non_autorisees"]:
                a, b = row["conventions"]
                alerts.append(
                    f"Période {period['periode']}, croisement {crossing['croisement']} "
                    f"(exécution {event['execution']}) : {row['enregistrements']} "
                    f"enregistrement(s) de {a} et {b} liés alors que les conventions ne "
                    f"l'autorisent pas ({row['motif']}) ; ne pas diffuser cette publication "
                    "et faire corriger le croisement par l'équipe données"
                )
    return alerts


def _alerts(facts: dict[str, Any]) -> list[dict[str, str]]:
    """The points that need the DPO's attention, most serious first."""
    red: list[str] = []
    orange: list[str] = []
    chain = facts["chaine"]
    if not chain["intacte"]:
        red.append(f"Journal d'audit altéré : {chain['message']}")
    red += [f"Convention illisible ou invalide : {p}" for p in facts["conventions"]["problemes"]]
    for entry in facts["conventions"]["registre"]:
        if entry["etat"] == "expiree":
            red.append(f"Convention {entry['id']} expirée depuis le {entry['valide_au']}")
        elif entry["etat"] == "expire_bientot":
            orange.append(
                f"Convention {entry['id']} : expire le {entry['valide_au']} "
                f"(dans {entry['jours_restants']} jours)"
            )
        missing = entry["article_30"]["non_renseignes"]
        if missing:
            orange.append(
                f"Convention {entry['id']} : registre de l'article 30 incomplet, non renseigné : "
                + ", ".join(f"{m['libelle']} ({m['cle']})" for m in missing)
                + " ; compléter la convention"
            )
    for delivery in facts["livraisons"]:
        for event in delivery["conformite"]:
            orange.append(f"{delivery['convention']}, {delivery['fichier']} : {event}")
        if delivery["statut"] == "en_echec":
            orange.append(f"{delivery['convention']}, {delivery['fichier']} : ingestion en échec")
    for item in facts["conservation"]["etat"]:
        if item["depasse"]:
            red.append(
                f"Conservation dépassée : {item['convention']}, {item['zone_libelle']}, "
                f"{item['age_jours']} jours pour une limite de {item['limite_jours']}"
            )
    for period in facts["publications"]:
        red += _unauthorized_linkage(period)
        disclosure = period["divulgation"]
        verdict = disclosure.get("verdict") if disclosure["present"] else period["verdict_journal"]
        if verdict is None:
            orange.append(f"Période {period['periode']} : audit de divulgation absent")
        elif verdict != "conforme":
            red.append(
                f"Période {period['periode']} : publication refusée par l'audit de divulgation "
                "(rien n'a été publié pour cette période)"
            )
    red_modes, orange_modes = mode_alerts(facts["droits"])
    red += red_modes
    orange += orange_modes
    return [{"niveau": "rouge", "texte": t} for t in red] + [
        {"niveau": "orange", "texte": t} for t in orange
    ]


def gather_facts(home: Path, conventions_dir: Path | None, today: date) -> dict[str, Any]:
    """The report's facts for ``home`` as of ``today`` (JSON-safe: str, int, bool, lists)."""
    zones = Home(home)
    conventions, problems = load_for_report(conventions_dir)
    try:
        schemas = load_schemas(schema_dirs(conventions_dir))
    except (SchemaError, OSError):
        schemas = {}
    events = readable_events(zones.audit)
    anchor = previous_anchor(zones.audit)
    facts: dict[str, Any] = {
        "titre": "Rapport du délégué à la protection des données",
        "date": today.isoformat(),
        "conventions": register_facts(conventions, problems, conventions_dir, today),
        "livraisons": delivery_facts(zones, events, conventions, schemas),
        "publications": publication_facts(zones, events, conventions, not problems),
        "publication_en_place": current_publication(zones),
        "conservation": retention_facts(zones, conventions, events, today),
        "droits": mode_facts(zones.root),
        "journal": journal_facts(events),
        "chaine": chain_facts(check_chain(zones.audit, anchor), anchor, today),
    }
    facts["alertes"] = _alerts(facts)
    return facts
