"""A stand-in for the publication step, for tests about what comes before it.

Retention and key rotation are about the pseudonymized zone and the warehouse; what they must
show about the publication is that its inputs — every indicator's units, the quality counts —
come out the same. The stand-in records exactly those inputs (what ``cross_and_publish`` hands
to ``publish``) and writes nothing, so these tests neither wait on nor depend on the disclosure
control, which has its own tests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest

import pipelines.cycle as crossing_run


class _Published:
    """Answers every attribute ``cross_and_publish`` may read from a publication summary."""

    rows: dict[str, int] = {}
    secret_share: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        return defaultdict(list)  # any key the caller reads: an empty, JSON-safe value


@dataclass
class Publication:
    """The inputs of one ``publish`` call."""

    period: str
    units: dict[str, pl.DataFrame]
    quality: list[dict]


@dataclass
class PublicationStub:
    calls: list[Publication] = field(default_factory=list)

    def publish(self, published_dir, period, indicators, catalogue, metadata, quality, **options):
        self.calls.append(
            Publication(period, {u.indicator: u.units for u in indicators}, list(quality))
        )
        published = _Published()
        if options.get("before_install"):  # the crossing journals it there, as for real
            options["before_install"](published)
        return published

    def install(self, monkeypatch: pytest.MonkeyPatch) -> PublicationStub:
        monkeypatch.setattr(crossing_run, "publish", self.publish)
        monkeypatch.setattr(crossing_run, "national_rates", lambda *_: {})
        monkeypatch.setattr(crossing_run, "zones_with_value", lambda *_: {})
        return self


def counts(units: pl.DataFrame) -> list[tuple]:
    """What a publication is made of: units counted by every published dimension (the unit's
    pseudonymous id left out)."""
    keys = [c for c in units.columns if c != "unite_id"]
    return sorted(units.group_by(keys).len().rows())
