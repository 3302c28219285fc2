"""Retention: the oldest file of each zone per convention against its limit, and the purges.

The status comes from ``pipelines.retention`` (the same function the purge acts on), so the
report and the purge cannot disagree on what is overdue. The purges come from the journal,
which keeps what was deleted, why, and its checksum after the file is gone.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipelines.dpo_report.labels import ZONES, label
from recours.conventions import Convention
from recours.home import Home

PURGE_EVENTS = ("purge", "purge_reconstruction")


def _status(home: Home, conventions: dict[str, Convention], today: date) -> list[dict[str, Any]]:
    from pipelines.retention import retention_status

    return [
        {
            "convention": item.convention,
            "zone": item.zone,
            "zone_libelle": label(ZONES, item.zone),
            "chemin": item.path,
            "plus_ancien": item.oldest.isoformat() if item.oldest else None,
            "age_jours": item.age_days,
            "limite_jours": item.limit_days,
            "depasse": bool(item.overdue),
            "nombre": getattr(item, "count", None),
        }
        for item in retention_status(home, conventions, today)
    ]


def _purge(event: dict[str, Any]) -> dict[str, Any]:
    hidden = {"hash", "precedent", "evenement", "seq", "horodatage"}
    return {
        "seq": event.get("seq"),
        "horodatage": event.get("horodatage"),
        "evenement": event.get("evenement"),
        "details": {k: v for k, v in sorted(event.items()) if k not in hidden},
    }


def retention_facts(
    home: Home, conventions: dict[str, Convention], events: list[dict[str, Any]], today: date
) -> dict[str, Any]:
    try:
        status, unavailable = _status(home, conventions, today), None
    except ImportError:  # a home or checkout without the retention module
        status, unavailable = [], "le module de conservation (pipelines.retention) est absent"
    return {
        "etat": status,
        "indisponible": unavailable,
        "purges": [_purge(e) for e in events if e.get("evenement") in PURGE_EVENTS],
    }
