"""Crossings and publications per period, with the verdict of the disclosure audit.

Who crossed what with what and when comes from the journal (``croisement_publie``: deliveries
used, indicators computed or skipped and why, pairs of conventions linked: see linkage.py). The
disclosure audit is a restricted page beside the report: the report only links to it and
repeats its verdict and its overall figures (share of withheld rows by level, protection width),
never a cell or an interval. Older homes have no disclosure audit: the report says so instead
of failing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from pipelines.dpo_report.labels import DISCLOSURE_VERDICTS, label
from pipelines.dpo_report.linkage import crossings_evidence
from recours.conventions import Convention
from recours.home import Home

DISCLOSURE_DIR = "divulgation"
# The only keys of the restricted audit the report repeats: overall figures, no cell.
DISCLOSURE_KEYS = (
    "verdict",
    "largeur_protection",
    "lignes_secretes",
    "lignes_primaires",
    "lignes_secondaires",
    "comptes_bloquants",
    "part_secret_par_niveau",
)


def _disclosure(home: Home, period: str) -> dict[str, Any]:
    folder = home.audit / DISCLOSURE_DIR
    page = folder / f"{period}.html"
    facts: dict[str, Any] = {"present": False, "page": None}
    try:
        data = json.loads((folder / f"{period}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict):
        facts.update({key: data.get(key) for key in DISCLOSURE_KEYS}, present=True)
        facts["verdict_libelle"] = label(DISCLOSURE_VERDICTS, data.get("verdict"))
    if page.is_file():
        # relative to audit/, where the report lies: the link works from a copied folder too
        facts["page"] = f"{DISCLOSURE_DIR}/{period}.html"
    return facts


def _crossing(
    event: dict[str, Any], conventions: dict[str, Convention], readable: bool
) -> dict[str, Any]:
    deliveries = event.get("livraisons") or {}
    skipped = event.get("indicateurs_ignores") or {}
    return {
        "seq": event.get("seq"),
        "horodatage": event.get("horodatage"),
        "execution": event.get("execution"),
        "conventions": sorted(deliveries),
        "livraisons": [
            {
                "convention": c,
                "fichier": (d or {}).get("fichier"),
                "sha256": (d or {}).get("sha256"),
            }
            for c, d in sorted(deliveries.items())
        ],
        "indicateurs_calcules": list(event.get("indicateurs_calcules") or []),
        "indicateurs_ignores": [
            {"indicateur": name, "motif": reason} for name, reason in sorted(skipped.items())
        ]
        if isinstance(skipped, dict)
        else [],
        "tables_publiees": event.get("lignes_publiees") or {},
        "protection": event.get("protection"),
        "liaisons": crossings_evidence(event, conventions, readable),
    }


def _publication(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": event.get("seq"),
        "horodatage": event.get("horodatage"),
        "execution": event.get("execution"),
        "verdict": event.get("verdict"),
        "verdict_libelle": label(DISCLOSURE_VERDICTS, event.get("verdict")),
        "motif": str(event["motif"]).rstrip(" :") if event.get("motif") else None,
    }


def _disclosure_periods(home: Home) -> set[str]:
    folder = home.audit / DISCLOSURE_DIR
    return {path.stem for path in folder.glob("*.json")} if folder.is_dir() else set()


def publication_facts(
    home: Home,
    events: list[dict[str, Any]],
    conventions: dict[str, Convention] | None = None,
    conventions_readable: bool = True,
) -> list[dict[str, Any]]:
    """One entry per period, most recent first; ``conventions`` judge the linked pairs."""
    conventions = conventions or {}
    crossings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    publications: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        period = event.get("periode")
        if not isinstance(period, str):
            continue
        if event.get("evenement") == "croisement_publie":
            crossings[period].append(_crossing(event, conventions, conventions_readable))
        elif event.get("evenement") == "publication":
            publications[period].append(_publication(event))
    periods = set(crossings) | set(publications) | _disclosure_periods(home)
    return [
        {
            "periode": period,
            "croisements": crossings[period],
            "publications": publications[period],
            "divulgation": _disclosure(home, period),
            # the journal's word when the restricted file is gone or was never written
            "verdict_journal": publications[period][-1]["verdict"]
            if publications[period]
            else None,
        }
        for period in sorted(periods, reverse=True)
    ]


def current_publication(home: Home) -> dict[str, str]:
    """The ``metadonnees`` of the publication in place (run, date, period, threshold...)."""
    path = home.published / "recours.duckdb"
    if not path.is_file():
        return {}
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return {}
    try:
        rows = con.execute("select cle, valeur from metadonnees").fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {str(key): str(value) for key, value in rows}
