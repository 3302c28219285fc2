"""Which accepted deliveries a period uses (docs/regles.md, "Définitions communes").

A run for period P uses, for each dataset, the latest delivery whose extraction date falls in P
— or, for a dataset delivered every k months (the CARSAT, quarterly), in P or the k − 1 months
before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from recours.errors import RecoursError
from recours.home import Home, parquet
from recours.schemas import Schema


class NoPeriodError(RecoursError):
    """No period can be crossed: say which convention has no delivery."""


class MixedKeysError(RecoursError):
    """The deliveries of one crossing were pseudonymized under different keys.

    Their pseudonyms of the same person differ, so linking them would silently find nobody in
    common: the crossing refuses instead. ``fingerprints`` maps each key fingerprint to the
    conventions whose delivery carries it.
    """

    def __init__(self, period: str, fingerprints: dict[str, list[str]]) -> None:
        groups = " ; ".join(
            f"clé {fingerprint} : {', '.join(conventions)}"
            for fingerprint, conventions in sorted(fingerprints.items())
        )
        super().__init__(
            f"période {period} : les livraisons à croiser ont été pseudonymisées sous des clés "
            f"différentes ({groups}) ; leurs pseudonymes ne peuvent pas être appariés. Terminer "
            "le changement de clé (recours keys rotate) pour que toute la zone pseudonymisée "
            "soit sous la même clé, puis relancer le croisement."
        )
        self.period, self.fingerprints = period, fingerprints


@dataclass(frozen=True)
class Delivery:
    convention: str
    schema_id: str
    extraction: date
    parquet: Path
    manifest: dict

    @property
    def file(self) -> str:
        return self.manifest["fichier"]


def month(day: date) -> str:
    return f"{day:%Y-%m}"


def shift(period: str, months: int) -> str:
    year, mon = map(int, period.split("-"))
    index = year * 12 + (mon - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def accepted(home: Home) -> list[Delivery]:
    """Every accepted delivery still in the pseudonymized zone, oldest first."""
    found = []
    for manifest in home.manifests():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        extraction = date.fromisoformat(data["extraction"])
        table = parquet(manifest.parent, data["schema"])
        found.append(Delivery(data["convention"], data["schema"], extraction, table, data))
    return sorted(found, key=lambda d: (d.extraction, d.convention))


def periods_served(delivery: Delivery, schemas: dict[str, Schema]) -> set[str]:
    span = schemas[delivery.schema_id].periodicity_months
    return {shift(month(delivery.extraction), k) for k in range(span)}


def for_period(home: Home, period: str, schemas: dict[str, Schema]) -> dict[str, Delivery]:
    """Convention id → the delivery the period uses (conventions with none are absent)."""
    chosen: dict[str, Delivery] = {}
    for delivery in accepted(home):
        if delivery.schema_id in schemas and period in periods_served(delivery, schemas):
            current = chosen.get(delivery.convention)
            if current is None or delivery.extraction >= current.extraction:
                chosen[delivery.convention] = delivery
    return chosen


def check_one_key(period: str, chosen: dict[str, Delivery]) -> str | None:
    """The one key fingerprint of the chosen deliveries (None when there are none); refuses a
    mix, which a key rotation left half-done or a delivery ingested under an old key would make."""
    fingerprints: dict[str, list[str]] = {}
    for convention, delivery in sorted(chosen.items()):
        fingerprint = str(delivery.manifest.get("empreinte_cle") or "inconnue")
        fingerprints.setdefault(fingerprint, []).append(convention)
    if len(fingerprints) > 1:
        raise MixedKeysError(period, fingerprints)
    return next(iter(fingerprints), None)


def served_periods(home: Home, schemas: dict[str, Schema]) -> set[str]:
    """Every period some accepted delivery serves (the candidates for a default period)."""
    served: set[str] = set()
    for delivery in accepted(home):
        if delivery.schema_id in schemas:
            served |= periods_served(delivery, schemas)
    return served
