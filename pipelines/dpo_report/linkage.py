"""Which pairs of conventions a crossing actually linked, beside the pairs the conventions allow.

The crossing writes, in its ``croisement_publie`` event, how many records of each source share a
person id with each other source, per crossing and per tier (NIR, identity traits). The report
does not take the crossing's word for what was allowed: it recomputes the authorized pairs from
the convention files themselves (both sides must authorize, same purpose, both in force at the
period's reference date), so that a crossing that linked more than it should is caught by an
independent reading. A linked pair the conventions do not allow is an alert; an allowed pair
that linked nobody is only information (a source may simply share no one with another).
"""

from __future__ import annotations

import calendar
from datetime import date
from itertools import combinations
from typing import Any

from recours.conventions import Convention, crossing_authorized

TIERS = ("nir", "traits")
# How a pair stands, in the report's words.
PAIR_STATES = {
    "conforme": "liée et autorisée",
    "non_autorisee": "liée sans autorisation",
    "sans_lien": "autorisée, aucun enregistrement lié",
    "non_verifiable": "liée ; autorisation non vérifiable (conventions illisibles)",
}


def reference_date(event: dict[str, Any]) -> date | None:
    """The event's reference date, else the last day of its period (older events lack it)."""
    value = event.get("date_reference")
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    period = event.get("periode")
    try:
        year, month = (int(part) for part in str(period).split("-"))
        return date(year, month, calendar.monthrange(year, month)[1])
    except (ValueError, calendar.IllegalMonthError):
        return None


def why_not_authorized(
    a: str, b: str, conventions: dict[str, Convention], on: date | None
) -> str | None:
    """Why the conventions do not allow crossing ``a`` with ``b`` on ``on``; None if they do."""
    for cid in (a, b):
        if cid not in conventions:
            return f"aucune convention {cid} dans le dossier des conventions"
    first, second = conventions[a], conventions[b]
    if not crossing_authorized(first, second):
        if not first.authorizes(b):
            return f"la convention {a} n'autorise pas le croisement avec {b}"
        if not second.authorizes(a):
            return f"la convention {b} n'autorise pas le croisement avec {a}"
        return f"finalités différentes ({first.purpose.id}, {second.purpose.id})"
    if on is None:
        return "date de référence inconnue : validité des conventions non vérifiable"
    for convention in (first, second):
        reason = convention.why_not_in_force(on)
        if reason is not None:
            return reason
    return None


def _count(value: Any) -> int | None:
    """A record count from the journal; None for anything else (a tampered or odd line)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _linked(item: dict[str, Any]) -> dict[tuple[str, str], dict[str, int]]:
    """Records linked per ordered pair (source, other source) and tier."""
    linked: dict[tuple[str, str], dict[str, int]] = {}
    for pair in item.get("paires_liees") or []:
        if not isinstance(pair, dict):
            continue
        source, other, tier = pair.get("source"), pair.get("autre_source"), pair.get("lien")
        count = _count(pair.get("enregistrements"))
        if not (isinstance(source, str) and isinstance(other, str)) or count is None:
            continue
        if source == other:  # linkage within one source is not a crossing
            continue
        tiers = linked.setdefault((source, other), dict.fromkeys(TIERS, 0))
        tiers[str(tier)] = tiers.get(str(tier), 0) + count
    return linked


def _pair_row(
    pair: tuple[str, str],
    linked: dict[tuple[str, str], dict[str, int]],
    sources: list[str],
    conventions: dict[str, Convention],
    on: date | None,
) -> dict[str, Any]:
    a, b = pair
    outside = [cid for cid in pair if cid not in sources]
    reason = (
        f"{', '.join(outside)} hors des sources de ce croisement"
        if outside
        else why_not_authorized(a, b, conventions, on)
    )
    directions = [
        {"source": source, "autre_source": other, **linked.get((source, other), {})}
        for source, other in ((a, b), (b, a))
        if (source, other) in linked
    ]
    records = sum(sum(linked.get(key, {}).values()) for key in ((a, b), (b, a)))
    state = ("conforme" if reason is None else "non_autorisee") if records else "sans_lien"
    return {
        "conventions": [a, b],
        "autorisee": reason is None,
        "motif": reason,
        "liens": directions,
        "enregistrements": records,
        "etat": state,
        "etat_libelle": PAIR_STATES[state],
    }


def linkage_facts(
    item: dict[str, Any], conventions: dict[str, Convention], on: date | None
) -> dict[str, Any]:
    """One crossing of an event: its linked pairs beside the pairs the conventions allow."""
    sources = sorted({s for s in item.get("sources") or [] if isinstance(s, str)})
    linked = _linked(item)
    allowed = {
        (a, b)
        for a, b in combinations(sources, 2)
        if why_not_authorized(a, b, conventions, on) is None
    }
    pairs = {tuple(sorted(key)) for key, tiers in linked.items() if sum(tiers.values())}
    rows = [
        _pair_row(pair, linked, sources, conventions, on)  # type: ignore[arg-type]
        for pair in sorted(pairs | allowed)
    ]
    return {
        "croisement": str(item.get("croisement") or "+".join(sources)),
        "sources": sources,
        "indicateurs": [str(i) for i in item.get("indicateurs") or []],
        "paires": rows,
        "paires_autorisees": [list(pair) for pair in sorted(allowed)],
        "non_autorisees": [row for row in rows if row["etat"] == "non_autorisee"],
    }


def crossings_evidence(
    event: dict[str, Any], conventions: dict[str, Convention], readable: bool
) -> dict[str, Any]:
    """The linkage evidence of one ``croisement_publie`` event, or why there is none.

    ``readable`` is False when the convention files could not be read: the authorizations are
    then unknown, and the report says so rather than calling every pair unauthorized.
    """
    on = reference_date(event)
    items = event.get("croisements")
    if not isinstance(items, list):
        return {"disponible": False, "verifiable": readable, "date_reference": None, "liste": []}
    crossings = [linkage_facts(item, conventions, on) for item in items if isinstance(item, dict)]
    if not readable:
        for crossing in crossings:
            crossing["non_autorisees"] = []
            for row in crossing["paires"]:
                if row["etat"] == "non_autorisee":
                    row.update(etat="non_verifiable", etat_libelle=PAIR_STATES["non_verifiable"])
    return {
        "disponible": True,
        "verifiable": readable,
        "date_reference": on.isoformat() if on else None,
        "liste": crossings,
    }
