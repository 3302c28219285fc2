"""The indicator rules of docs/regles.md, in exact integer arithmetic.

The planted truth must not depend on binary floating point: a household whose resources sit
exactly on a threshold must fall on the side the rule says. Amounts are integer cents and every
inequality is scaled so that both sides are integers:

- scale coefficient c in tenths (``c10``: 15 for 1.5);
- the forfait logement rate × its multiplier in thousandths: 12 % × 1 = 120, 16 % × 1.5 = 240,
  16.5 % × 1.8 = 297, so FL(base) = base × 120 / 1000 for one person (FL(646.52) = 77.5824);
- RSA: RESSTRIM / 3 < 646.52 × c − FL  ⇔  1000 × RESSTRIM < 3 × 64652 × (100 × c10 − fl);
- prime d'activité: every term multiplied by 30 000 (3 for the quarter, 10 000 for the
  4-decimal 59.85 % share), compared with 15 € × 30 000.

The vectorised functions take numpy integer arrays (int64) so the truth runs on a whole
population at once; ``forfait_logement`` and ``prime_activite_amount`` return ``Decimal`` for
readers and tests who want the amount itself.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np

from synth.dates import minus_months, to_days

# Parameters in force from 2025-04-01 (ASPA from 2025-01-01), in cents.
RSA_BASE = 64652
PA_BASE = 63321
PA_EARNINGS_SHARE = 5985  # 59.85 % in ten-thousandths
PA_MINIMUM = 1500
ASPA_SINGLE = 103428
ASPA_COUPLE = 160573
CSS_CEILINGS = (13957, 20936, 25123, 29311)  # euros a year, 1 to 4 persons
CSS_FURTHER_PERSON = 5583

AGE_BANDS = ("0-17", "18-24", "25-34", "35-49", "50-64", "65-74", "75+")
AGE_BAND_LOWER = (0, 18, 25, 35, 50, 65, 75)
HOUSEHOLD_TYPES = (
    "personne_seule",
    "famille_monoparentale",
    "couple_sans_enfant",
    "couple_avec_enfants",
)


def scale_tenths(adults: np.ndarray, children: np.ndarray) -> np.ndarray:
    """Scale coefficient × 10: 10 for the first adult, +5 for a second; children in order
    +5 (first, one adult) or +3 (first, two adults), +3 (second), +4 (each further)."""
    adults = np.asarray(adults, np.int64)
    children = np.asarray(children, np.int64)
    first = np.where(children >= 1, np.where(adults >= 2, 3, 5), 0)
    return 10 + 5 * (adults >= 2) + first + 3 * (children >= 2) + 4 * np.maximum(children - 2, 0)


def forfait_thousandths(persons: np.ndarray) -> np.ndarray:
    """Forfait logement as thousandths of the base: 120, 240, 297 for 1, 2, 3+ persons."""
    persons = np.asarray(persons, np.int64)
    return np.where(persons <= 1, 120, np.where(persons == 2, 240, 297))


def forfait_logement(base: Decimal, persons: int) -> Decimal:
    """FL(base) in euros, exact: ``forfait_logement(Decimal("646.52"), 1) == 77.5824``."""
    return base * int(forfait_thousandths(np.array([persons]))[0]) / Decimal(1000)


def rsa_resources_below(
    resstrim: np.ndarray, c10: np.ndarray, persons: np.ndarray, mtal: np.ndarray
) -> np.ndarray:
    """RESSTRIM / 3 < 646.52 × c − FL(646.52), FL deducted only when MTAL > 0 (all in cents)."""
    fl = np.where(np.asarray(mtal) > 0, forfait_thousandths(persons), 0)
    right = 3 * RSA_BASE * (100 * np.asarray(c10, np.int64) - fl)
    return 1000 * np.asarray(resstrim, np.int64) < right


def prime_activite_scaled(
    resstrim: np.ndarray,
    revacttrim: np.ndarray,
    c10: np.ndarray,
    persons: np.ndarray,
    mtal: np.ndarray,
) -> np.ndarray:
    """PA × 30 000, in cents, where PA = 633.21 c + 0.5985 × REVACTTRIM / 3
    − max(RESSTRIM / 3 + FL(633.21), 633.21 c), FL counted when MTAL > 0."""
    c10 = np.asarray(c10, np.int64)
    fl = np.where(np.asarray(mtal) > 0, forfait_thousandths(persons), 0)
    lump = 3000 * PA_BASE * c10
    resources = 10000 * np.asarray(resstrim, np.int64) + 30 * PA_BASE * fl
    return lump + PA_EARNINGS_SHARE * np.asarray(revacttrim, np.int64) - np.maximum(resources, lump)


def prime_activite_at_least_minimum(
    resstrim: np.ndarray,
    revacttrim: np.ndarray,
    c10: np.ndarray,
    persons: np.ndarray,
    mtal: np.ndarray,
) -> np.ndarray:
    """PA ≥ 15 €."""
    scaled = prime_activite_scaled(resstrim, revacttrim, c10, persons, mtal)
    return scaled >= PA_MINIMUM * 30000


def prime_activite_amount(
    resstrim_cents: int, revacttrim_cents: int, c10: int, persons: int, mtal_cents: int
) -> Decimal:
    """PA in euros, exact (for a reader who checks a household by hand)."""
    scaled = prime_activite_scaled(
        np.array([resstrim_cents]),
        np.array([revacttrim_cents]),
        np.array([c10]),
        np.array([persons]),
        np.array([mtal_cents]),
    )
    return Decimal(int(scaled[0])) / Decimal(3_000_000)


def css_ceiling(persons: np.ndarray) -> np.ndarray:
    """CSS-with-participation yearly ceiling in euros: 13 957, 20 936, 25 123, 29 311, then
    + 5 583 per further person."""
    persons = np.maximum(np.asarray(persons, np.int64), 1)
    table = np.array((0,) + CSS_CEILINGS, np.int64)
    within = table[np.minimum(persons, 4)]
    return within + CSS_FURTHER_PERSON * np.maximum(persons - 4, 0)


def css_low_income(resstrim: np.ndarray, persons: np.ndarray) -> np.ndarray:
    """4 × RESSTRIM ≤ the ceiling for the household's number of persons (cents vs euros)."""
    return 4 * np.asarray(resstrim, np.int64) <= 100 * css_ceiling(persons)


def aspa_under_ceiling(
    own_pension: np.ndarray, two_adult_caf: np.ndarray, couple_pensions: np.ndarray
) -> np.ndarray:
    """Couple rule: for an adult of a two-adult CAF household, both adults' CARSAT pensions
    (0 for a spouse not at the CARSAT) < 1 605.73; otherwise the own pension < 1 034.28."""
    return np.where(
        np.asarray(two_adult_caf, bool),
        np.asarray(couple_pensions, np.int64) < ASPA_COUPLE,
        np.asarray(own_pension, np.int64) < ASPA_SINGLE,
    )


def css_open_at(start_days: np.ndarray, end_days: np.ndarray, reference: date) -> np.ndarray:
    """A CSS line is open at R when start ≤ R ≤ end."""
    r = to_days(reference)
    return (np.asarray(start_days) <= r) & (r <= np.asarray(end_days))


def registered_three_months(registration_days: np.ndarray, reference: date) -> np.ndarray:
    """DATE_INSCRIPTION ≤ R minus 3 months."""
    return np.asarray(registration_days) <= to_days(minus_months(reference, 3))


def contact_within_24_months(contact_days: np.ndarray, reference: date) -> np.ndarray:
    """DATE_DERNIER_CONTACT strictly after R minus 24 months."""
    return np.asarray(contact_days) > to_days(minus_months(reference, 24))


def household_type(adults: np.ndarray, children: np.ndarray) -> np.ndarray:
    """Index into HOUSEHOLD_TYPES from the number of adults and NBENFCHARGE."""
    adults = np.asarray(adults)
    children = np.asarray(children)
    return np.where(adults >= 2, 2, 0) + (children > 0)


def age_band(age: np.ndarray) -> np.ndarray:
    """Index into AGE_BANDS (ages below 0 do not occur)."""
    return np.searchsorted(np.array(AGE_BAND_LOWER), np.asarray(age), side="right") - 1
