"""Retention status: per convention, the oldest file of each zone against its limit.

This is what the DPO report shows and what the purge acts on: a file is overdue on the first
day it must be gone (``Convention.raw_purge_date`` / ``pseudonymized_purge_date``), i.e. when
its age in days reaches the convention's limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from pipelines.retention.records import deliveries, raw_files
from recours.conventions import Convention
from recours.home import Home

Zone = Literal["landing", "pseudonymized"]


@dataclass(frozen=True)
class RetentionItem:
    """The oldest file of one zone of one convention.

    ``zone`` "landing" covers every raw, nominative file: waiting or ingested in ``landing/``,
    refused in ``quarantine/`` (``path`` says which). When the zone holds nothing for the
    convention, ``path``, ``oldest`` and ``age_days`` are None and ``overdue`` is False.
    """

    convention: str
    zone: Zone
    path: str | None  # relative to the home folder
    oldest: date | None
    age_days: int | None
    limit_days: int
    overdue: bool
    count: int  # how many files (raw) or deliveries (pseudonymized) the zone holds


def _item(
    convention: str,
    zone: Zone,
    path: str | None,
    oldest: date | None,
    limit: int,
    today: date,
    count: int,
) -> RetentionItem:
    age = (today - oldest).days if oldest is not None else None
    overdue = age is not None and age >= limit
    return RetentionItem(convention, zone, path, oldest, age, limit, overdue, count)


def retention_status(
    home: Home, conventions: dict[str, Convention], today: date
) -> list[RetentionItem]:
    """Two items per convention (landing, then pseudonymized), in convention id order."""
    items = []
    for convention_id in sorted(conventions):
        retention = conventions[convention_id].retention
        raw = raw_files(home, convention_id)
        first = raw[0] if raw else None
        items.append(
            _item(
                convention_id,
                "landing",
                str(first.path.relative_to(home.root)) if first else None,
                first.received_on if first else None,
                retention.raw_days,
                today,
                len(raw),
            )
        )
        accepted = deliveries(home, convention_id)
        oldest = accepted[0] if accepted else None
        items.append(
            _item(
                convention_id,
                "pseudonymized",
                str(oldest.folder.relative_to(home.root)) if oldest else None,
                oldest.ingested_on if oldest else None,
                retention.pseudonymized_days,
                today,
                len(accepted),
            )
        )
    return items
