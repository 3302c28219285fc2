"""Retention: what each convention lets the Département keep, for how long, and the purge."""

from pipelines.retention.purge import Deletion, PurgeError, PurgeReport, plan_purge, purge
from pipelines.retention.status import RetentionItem, retention_status

__all__ = [
    "Deletion",
    "PurgeError",
    "PurgeReport",
    "RetentionItem",
    "plan_purge",
    "purge",
    "retention_status",
]
