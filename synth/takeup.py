"""Take-up behaviour: who claims a right they are entitled to, by territory and by public.

Take-up is a probability drawn per household or person: a logistic model whose intercept is
the national order of magnitude of take-up (RSA about 70 %, prime d'activité about 65 %, ASPA
about half, CSS between half and three quarters) and whose shifts come from the territory
(an EPCI effect, a commune effect, rurality and deprivation) and from the public (age, household
type, contact with a social worker). The published rates then differ between EPCIs, communes,
age bands and household types, which is what the pipeline has to reveal.
"""

from __future__ import annotations

import numpy as np

from synth.randomness import logistic, logit, stream
from synth.territory import CITY, RURAL, Territory

FAMILIES = ("rsa", "ppa", "aspa", "css", "contact")
BASE_TAKE_UP = {"rsa": 0.70, "ppa": 0.68, "aspa": 0.8, "css": 0.70}


def territorial_effects(territory: Territory, seed: int) -> dict[str, np.ndarray]:
    """Logit shift of take-up per commune of 31 (positive: more take-up), per family."""
    rng = stream(seed, 20)
    epcis = territory.epci_codes
    epci_index = np.array([epcis.index(code) for code in territory.epci])
    rurality = np.where(territory.kind == RURAL, -0.3, np.where(territory.kind == CITY, 0.1, 0.0))
    effects = {}
    for family in FAMILIES:
        by_epci = rng.normal(0.0, 0.35, len(epcis))
        by_commune = rng.normal(0.0, 0.2, territory.n31)
        effect = by_epci[epci_index] + by_commune + rurality + 0.1 * territory.deprivation
        # Centred on the département (population-weighted), so that the département's rates
        # stay near the national orders of magnitude whatever the seed.
        weights = territory.population / territory.population.sum()
        effects[family] = effect - float(np.dot(weights, effect))
    return effects


def probability(family: str, shift: np.ndarray) -> np.ndarray:
    return logistic(logit(BASE_TAKE_UP[family]) + shift)


def age_shift(age: np.ndarray, shifts: dict[tuple[int, int], float]) -> np.ndarray:
    """Sum of the shifts whose [low, high] age range holds each age."""
    out = np.zeros(len(age))
    for (low, high), value in shifts.items():
        out += np.where((age >= low) & (age <= high), value, 0.0)
    return out
