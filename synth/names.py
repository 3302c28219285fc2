"""Surname and given-name vocabularies, and sampling with realistic frequencies.

Surnames: faker's fr_FR list (ranked by frequency, so weights fall with the rank) plus the
embedded ``data/noms.csv`` (South-West names, particles, apostrophes, and the names of the
main immigrant origins of Toulouse). Given names: ``data/prenoms.csv`` with a popularity per
birth era, so that a woman born in 1950 is more likely a Monique and one born in 2015 an Emma.
Names are drawn with numpy over index arrays (never one Faker call per row: far too slow);
persons carry vocabulary indices and each partner's spelling is applied when files are written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
GROUPS = ("FR", "IBE", "MAG", "AFR", "ASIE")
FR, IBE, MAG, AFR, ASIE = range(5)
ERA_STARTS = (1950, 1970, 1990, 2010)  # era 0 before 1950, era 4 from 2010


@dataclass(frozen=True)
class Vocabulary:
    surnames: np.ndarray  # natural spelling ("Da Silva", "N'Diaye", "Lefèvre")
    surname_cdf: np.ndarray  # (groups, surnames) cumulative weights
    given: np.ndarray  # natural spelling ("Jean-Pierre", "Hélène")
    given_cdf: np.ndarray  # (sex 0/1, groups, eras, given) cumulative weights


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _cumulative(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, axis=-1)
    total = cdf[..., -1:]
    return np.where(total > 0, cdf / np.where(total > 0, total, 1), 0)


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    from faker.providers.person.fr_FR import Provider

    surname_index: dict[str, int] = {}
    weights: list[list[float]] = []

    def add(name: str, group: int, weight: float) -> None:
        if name not in surname_index:
            surname_index[name] = len(weights)
            weights.append([0.0] * len(GROUPS))
        weights[surname_index[name]][group] += weight

    for rank, name in enumerate(dict.fromkeys(Provider.last_names), start=1):
        add(name, FR, 3.5 * (16 / (rank + 15)) ** 0.8)
    for row in _rows("noms.csv"):
        add(row["nom"], GROUPS.index(row["groupe"]), float(row["poids"]))
    surnames = np.array(list(surname_index), dtype=object)

    given_rows = _rows("prenoms.csv")
    given = np.array([row["prenom"] for row in given_rows], dtype=object)
    given_weights = np.zeros((2, len(GROUPS), 5, len(given_rows)))
    for i, row in enumerate(given_rows):
        eras = [float(row[f"e{k}"]) for k in range(1, 6)]
        given_weights[int(row["sexe"]) - 1, GROUPS.index(row["groupe"]), :, i] = eras
    # A group without a name for some era borrows the group's names of every era.
    empty = given_weights.sum(axis=-1, keepdims=True) == 0
    given_weights = np.where(empty, given_weights.sum(axis=2, keepdims=True), given_weights)
    for text in list(surnames) + list(given):
        text.encode("latin-1")  # every partner file must be able to hold every name
    return Vocabulary(
        surnames=surnames,
        surname_cdf=_cumulative(np.array(weights).T),
        given=given,
        given_cdf=_cumulative(given_weights),
    )


def era_of(birth_year: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(ERA_STARTS), np.asarray(birth_year), side="right")


def draw_surnames(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    vocabulary = load_vocabulary()
    out = np.empty(len(group), np.int32)
    u = rng.random(len(group))
    for g in range(len(GROUPS)):
        mask = group == g
        out[mask] = np.searchsorted(vocabulary.surname_cdf[g], u[mask], side="right")
    return np.minimum(out, len(vocabulary.surnames) - 1)


def draw_given(
    rng: np.random.Generator, sex: np.ndarray, group: np.ndarray, birth_year: np.ndarray
) -> np.ndarray:
    """One given name per person, from the list of the person's sex, group and birth era."""
    vocabulary = load_vocabulary()
    era = era_of(birth_year)
    out = np.empty(len(sex), np.int32)
    u = rng.random(len(sex))
    key = ((np.asarray(sex) - 1) * len(GROUPS) + group) * 5 + era
    for k in np.unique(key):
        mask = key == k
        s, rest = divmod(int(k), len(GROUPS) * 5)
        g, e = divmod(rest, 5)
        out[mask] = np.searchsorted(vocabulary.given_cdf[s, g, e], u[mask], side="right")
    return np.minimum(out, len(vocabulary.given) - 1)
