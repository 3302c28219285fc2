"""Street addresses, phone numbers and e-mail addresses, realistic enough to be found.

They exist so that the pipeline's privacy checks have something real to catch: a French
mobile or landline number in any of its usual spellings, an e-mail built from the person's
names, a street address of the commune. Each is drawn as numbers for the whole population
(cheap) and turned into text only for the lines that need it.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np

from synth.randomness import stream
from synth.spelling import plain

DATA = Path(__file__).resolve().parent / "data"
DOMAINS = (
    "gmail.com",
    "orange.fr",
    "free.fr",
    "hotmail.fr",
    "laposte.net",
    "yahoo.fr",
    "sfr.fr",
    "wanadoo.fr",
    "outlook.fr",
)
LANDLINE_PREFIXES = (561, 562, 534, 567, 581, 582)  # 05 61..., the Toulouse area


@lru_cache(maxsize=1)
def streets() -> list[tuple[str, str]]:
    with (DATA / "voies.csv").open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return [(row["type"], row["nom"]) for row in csv.DictReader(lines)]


def household_addresses(seed: int, households: int, city: np.ndarray) -> dict[str, np.ndarray]:
    """Street, number, repetition index (bis/ter) and flat of each household."""
    rng = stream(seed, 50)
    flat = rng.random(households) < np.where(city, 0.35, 0.12)
    return {
        "street": rng.integers(0, len(streets()), households).astype(np.int16),
        "number": (1 + rng.exponential(25, households)).astype(np.int16) % 300 + 1,
        "bis": (rng.random(households) < 0.04).astype(np.int8) + (rng.random(households) < 0.01),
        "flat": np.where(flat, rng.integers(1, 120, households), 0).astype(np.int16),
        "building": rng.integers(0, 6, households).astype(np.int8),
    }


def address_text(street: int, number: int, bis: int, flat: int, building: int, upper: bool) -> str:
    kind, name = streets()[street]
    repeat = ("", " bis", " ter")[bis]
    text = f"{number}{repeat} {kind} {name}"
    if flat:
        text = f"Bât. {'ABCDEF'[building]}, appt {flat}, {text}"
    return plain(text).upper().replace(".", "") if upper else text


def phone_numbers(seed: int, persons: int) -> np.ndarray:
    """The 9 national digits of each person's phone (06/07 mobiles, 05 landlines)."""
    rng = stream(seed, 51)
    kind = rng.random(persons)
    mobile6 = 600000000 + rng.integers(0, 100000000, persons)
    mobile7 = 730000000 + rng.integers(0, 70000000, persons)
    landline = np.array(LANDLINE_PREFIXES)[rng.integers(0, len(LANDLINE_PREFIXES), persons)]
    landline = landline * 1000000 + rng.integers(0, 1000000, persons)
    return np.where(kind < 0.55, mobile6, np.where(kind < 0.8, mobile7, landline)).astype(np.int64)


def phone_text(digits: int, style: int) -> str:
    """``06 12 34 56 78``, ``0612345678``, ``+33 6 12 34 56 78``, ``06.12.34.56.78``,
    ``+33612345678``."""
    national = f"0{digits:09d}"
    pairs = [national[i : i + 2] for i in range(0, 10, 2)]
    style %= 5
    if style == 0:
        return " ".join(pairs)
    if style == 1:
        return national
    if style == 2:
        return "+33 " + national[1] + " " + " ".join(pairs[1:])
    if style == 3:
        return ".".join(pairs)
    return "+33" + national[1:]


def email_text(given: str, surname: str, draw: int) -> str:
    def slug(text: str) -> str:
        return "".join(ch for ch in plain(text).lower() if ch.isalnum() or ch == "-")

    first, last = slug(given.split(" ")[0]), slug(surname)
    shape = draw % 4
    local = (
        f"{first}.{last}",
        f"{first}{last}{draw % 97}",
        f"{first[:1]}{last}",
        f"{last}.{first}{31 if draw % 3 else ''}",
    )[shape]
    return f"{local}@{DOMAINS[(draw >> 3) % len(DOMAINS)]}"
