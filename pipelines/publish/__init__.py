"""Publish: unit-level indicator rows to the analysts' aggregated, disclosure-controlled zone.

aggregate (complete grid: département, EPCI, commune × breakdowns, zeros included) → primary
secret (docs/regles.md, rule 1, ``secret``) → secondary secret and the attacker's audit, the
release gate (rule 2, ``secondary`` over ``attacker_view``; settings in ``protection``) → the
DPO's restricted audit (rule 4, ``restricted_audit``) → withhold → merge with the earlier
periods already published → write ``published/recours.duckdb`` and a Parquet and a French CSV
per table, aside then moved into place.
"""

from __future__ import annotations

from pipelines.publish.aggregate import aggregate
from pipelines.publish.model import TABLES, IndicatorUnits, PublicationError
from pipelines.publish.run import PublicationSummary, publish
from pipelines.publish.secret import apply_primary_secret, flag_primary, withhold

__all__ = [
    "TABLES",
    "IndicatorUnits",
    "PublicationError",
    "PublicationSummary",
    "aggregate",
    "apply_primary_secret",
    "flag_primary",
    "publish",
    "withhold",
]
