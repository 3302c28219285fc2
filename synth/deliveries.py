"""What each partner knows, line by line: the record tables behind the five files.

A delivery is a polars frame in file order (``record`` 1 = first data line) holding the true
ids (``person_id``, ``household_id`` for the CAF), the values the file will show (commune as
shown, amounts in cents, dates in epoch days) and every random decision about how the partner
writes the line (spelling style, typo draw, NIR absent/spaced/mistyped, day-month typo). The
writers format these columns without drawing anything; the truth reads the same columns.

``same_spelling`` removes every identity discrepancy: one spelling, no typos, no usage names,
the NIR present and valid wherever the layout allows it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from synth import economy, nir
from synth.population import ADULT2, CHILD, Population
from synth.randomness import sample_without_replacement, stream
from synth.spelling import (
    MIXED_ACCENTS,
    MIXED_PLAIN,
    UPPER_ACCENTS,
    UPPER_JOINED,
    UPPER_PLAIN,
    UPPER_SPACED,
)

QUALITE = ("ALL", "CJT", "ENF", "AUT")
NIR_ABSENT, NIR_PLAIN, NIR_SPACED, NIR_TYPO, NIR_OTHER_NIA = range(5)
CONVENTIONS = ("caf31", "cpam31", "carsatmp", "ftocc", "cd31")


@dataclass(frozen=True)
class SourceHabits:
    """How a partner writes identities (probabilities per line)."""

    surname_styles: dict[int, float]
    given_styles: dict[int, float]
    typo: float  # per name field
    moved_shown: float  # a mover's line shows the new commune (outside 31)


HABITS = {
    "caf31": SourceHabits(
        {UPPER_PLAIN: 0.80, UPPER_ACCENTS: 0.12, UPPER_SPACED: 0.05, UPPER_JOINED: 0.03},
        {UPPER_PLAIN: 0.60, UPPER_SPACED: 0.25, UPPER_ACCENTS: 0.12, UPPER_JOINED: 0.03},
        0.003,
        0.75,
    ),
    "cpam31": SourceHabits(
        {UPPER_ACCENTS: 0.5, UPPER_PLAIN: 0.5},
        {UPPER_ACCENTS: 0.5, UPPER_PLAIN: 0.45, UPPER_SPACED: 0.05},
        0.002,
        0.6,
    ),
    "carsatmp": SourceHabits(
        {UPPER_PLAIN: 0.75, UPPER_SPACED: 0.15, UPPER_ACCENTS: 0.10},
        {UPPER_PLAIN: 0.45, UPPER_SPACED: 0.45, UPPER_ACCENTS: 0.10},
        0.002,
        0.5,
    ),
    "ftocc": SourceHabits(
        {MIXED_ACCENTS: 0.55, UPPER_ACCENTS: 0.3, MIXED_PLAIN: 0.15},
        {MIXED_ACCENTS: 0.6, UPPER_ACCENTS: 0.25, MIXED_PLAIN: 0.15},
        0.005,
        0.6,
    ),
    "cd31": SourceHabits(
        {MIXED_ACCENTS: 0.75, UPPER_ACCENTS: 0.15, MIXED_PLAIN: 0.10},
        {MIXED_ACCENTS: 0.75, UPPER_ACCENTS: 0.15, MIXED_PLAIN: 0.10},
        0.01,
        0.4,
    ),
}


def _pick(rng: np.random.Generator, choices: dict[int, float], size: int) -> np.ndarray:
    keys = np.array(list(choices))
    weights = np.array(list(choices.values()))
    return keys[
        np.searchsorted(np.cumsum(weights) / weights.sum(), rng.random(size) * 0.999999, "right")
    ]


def _identity_habits(
    rng: np.random.Generator, convention: str, size: int, same: bool
) -> dict[str, np.ndarray]:
    """Spelling style and typo draws of the name fields of ``size`` lines."""
    habits = HABITS[convention]
    if same:
        zero = np.zeros(size, np.int64)
        return {
            "style_nom": np.full(size, UPPER_ACCENTS, np.int8),
            "style_prenom": np.full(size, UPPER_ACCENTS, np.int8),
            "typo_nom": zero,
            "typo_prenom": zero,
        }
    draws = rng.integers(1, 2**31, (2, size))
    surname_style = _pick(rng, habits.surname_styles, size)
    given_style = _pick(rng, habits.given_styles, size)
    # One piece of software writes both names of a line, mostly alike.
    alike = np.isin(surname_style, list(habits.given_styles)) & (rng.random(size) < 0.75)
    return {
        "style_nom": surname_style.astype(np.int8),
        "style_prenom": np.where(alike, surname_style, given_style).astype(np.int8),
        "typo_nom": np.where(rng.random(size) < habits.typo, draws[0], 0),
        "typo_prenom": np.where(rng.random(size) < habits.typo, draws[1], 0),
    }


def _shown_commune(
    rng: np.random.Generator, pop: Population, persons: np.ndarray, convention: str
) -> np.ndarray:
    """The residence commune a partner holds: the new one (outside 31) for some movers."""
    hid = pop.pp["hid"][persons]
    moved = pop.hh["moved_to"][hid]
    shown = (moved >= 0) & (rng.random(len(persons)) < HABITS[convention].moved_shown)
    return np.where(shown, moved, pop.hh["commune"][hid]).astype(np.int16)


def _dob_typos(rng: np.random.Generator, size: int, same: bool) -> np.ndarray:
    """0, or 1 (day and month swapped when possible) or 2 (day one off), on 0.5 % of lines.
    Only sources that never give the age of an indicator's unit get them."""
    if same:
        return np.zeros(size, np.int8)
    u = rng.random(size)
    return np.where(u < 0.0025, 1, np.where(u < 0.005, 2, 0)).astype(np.int8)


def build_deliveries(pop: Population, seed: int, same: bool) -> dict[str, pl.DataFrame]:
    return {
        "caf31": _caf(pop, seed, same),
        "cpam31": _cpam(pop, seed, same),
        "carsatmp": _carsat(pop, seed, same),
        "ftocc": _ft(pop, seed, same),
        "cd31": _cd31(pop, seed, same),
    }


def _person_columns(pop: Population, persons: np.ndarray) -> dict[str, np.ndarray]:
    pp = pop.pp
    return {
        "person_id": persons.astype(np.int64) + 1,
        "birth_year": pp["birth_year"][persons],
        "birth_month": pp["birth_month"][persons],
        "birth_day": pp["birth_day"][persons],
        "sex": pp["sex"][persons],
    }


def _caf(pop: Population, seed: int, same: bool) -> pl.DataFrame:
    rng = stream(seed, 60)
    hh, pp = pop.hh, pop.pp
    households = np.flatnonzero(hh["caf"])
    numalloc = np.zeros(pop.households, np.int64)
    numalloc[households] = 1_000_000 + sample_without_replacement(rng, 9_000_000, len(households))
    # The new commune of a household that moved, known to the CAF or not (household level).
    moved = hh["moved_to"]
    shown_h = np.where(
        (moved >= 0) & (rng.random(pop.households) < HABITS["caf31"].moved_shown),
        moved,
        hh["commune"],
    )
    persons = np.flatnonzero(hh["caf"][pp["hid"]])
    hid = pp["hid"][persons]
    role = pp["role"][persons]
    is_allocataire = hh["allocataire"][hid] == persons
    qualite = np.select(
        [(role <= ADULT2) & is_allocataire, role <= ADULT2, role == CHILD], [0, 1, 2], 3
    ).astype(np.int8)
    age = pp["age"][persons]
    order = np.lexsort((persons, -age, qualite, numalloc[hid]))
    persons, hid, qualite = persons[order], hid[order], qualite[order]
    n = len(persons)
    p_nir = np.select([qualite <= 1, qualite == 2], [0.92, 0.15], 0.5)
    p_nir = np.where(pp["nia"][persons], 0.5 * p_nir, p_nir)
    nir_mode = np.where(same | (rng.random(n) < p_nir), NIR_PLAIN, NIR_ABSENT)
    usage = pp["usage"][persons]
    usage_shown = (usage >= 0) & (rng.random(n) < 0.85) & (not same)
    frame = {
        "record": np.arange(1, n + 1, dtype=np.int64),
        **_person_columns(pop, persons),
        "household_id": hid.astype(np.int64) + 1,
        "numalloc": numalloc[hid],
        "qualite": qualite,
        "commune": shown_h[hid].astype(np.int16),
        "nir_mode": nir_mode.astype(np.int8),
        "usage": np.where(usage_shown, usage, -1).astype(np.int32),
        "prenoms_all": (rng.random(n) < 0.2) & (not same),
        "sitfam": hh["sitfam"][hid],
        "nbenfcharge": hh["nbenf"][hid],
        "resstrim": hh["resstrim"][hid],
        "revacttrim": hh["revacttrim"][hid],
        "mtal": hh["mtal"][hid],
        "droitrsa": hh["rsa"][hid],
        "droitppa": hh["ppa"][hid],
        "droitaah": hh["aah"][hid],
        **_identity_habits(rng, "caf31", n, same),
    }
    return pl.DataFrame(frame)


def _sorted_by_nir(shown: pl.Series) -> np.ndarray:
    """Mainframe and CPAM extracts come sorted by NIR."""
    return np.asarray(shown.arg_sort().to_numpy(), np.int64)


def _cpam(pop: Population, seed: int, same: bool) -> pl.DataFrame:
    rng = stream(seed, 61)
    hh, pp = pop.hh, pop.pp
    state = hh["css_state"][pp["hid"]]
    persons = np.flatnonzero(
        pp["css"] & ((state == economy.CSS_OPEN) | (state == economy.CSS_ENDED))
    )
    n = len(persons)
    shown = pop.nir.gather(persons)
    # A few people born abroad still appear under an older temporary number (NIA).
    other_nia = (
        ~np.asarray(same) & pp["abroad"][persons] & ~pp["nia"][persons] & (rng.random(n) < 0.005)
    )
    if other_nia.any():
        rows = np.flatnonzero(other_nia)
        who = persons[rows]
        order, commune3 = nir.unique_orders(
            rng,
            pp["sex"][who].astype(np.int64) + 6,
            pp["birth_year"][who] % 100,
            np.full(len(who), 99),
            np.full(len(who), 99),
            pp["birth_commune"][who],
        )
        alternative = nir.to_text(
            pp["sex"][who].astype(np.int64) + 6,
            pp["birth_year"][who] % 100,
            np.full(len(who), 99),
            np.full(len(who), 99),
            commune3,
            order,
        )
        shown = shown.scatter(rows, alternative)
    order = _sorted_by_nir(shown)
    persons, shown, other_nia = persons[order], shown.gather(order), other_nia[order]
    hid = pp["hid"][persons]
    frame = {
        "record": np.arange(1, n + 1, dtype=np.int64),
        **_person_columns(pop, persons),
        "nir_shown": shown,
        "nir_mode": np.where(other_nia, NIR_OTHER_NIA, NIR_PLAIN).astype(np.int8),
        "commune": _shown_commune(rng, pop, persons, "cpam31"),
        "type_css": hh["css_type"][hid],
        "date_debut": hh["css_start"][hid],
        "date_fin": hh["css_end"][hid],
        "dob_typo": _dob_typos(rng, n, same),
        **_identity_habits(rng, "cpam31", n, same),
    }
    return pl.DataFrame(frame)


def _carsat(pop: Population, seed: int, same: bool) -> pl.DataFrame:
    rng = stream(seed, 62)
    pp = pop.pp
    persons = np.flatnonzero(pp["carsat"])
    shown = pop.nir.gather(persons)
    order = _sorted_by_nir(shown)
    persons = persons[order]
    n = len(persons)
    frame = {
        "record": np.arange(1, n + 1, dtype=np.int64),
        **_person_columns(pop, persons),
        "dob_unknown": pp["dob_unknown"][persons],
        "commune": _shown_commune(rng, pop, persons, "carsatmp"),
        "pension": pp["pension"][persons],
        "aspa": pp["aspa"][persons],
        "pension_start": pp["pension_start"][persons],
        **_identity_habits(rng, "carsatmp", n, same),
    }
    return pl.DataFrame(frame)


def _ft(pop: Population, seed: int, same: bool) -> pl.DataFrame:
    rng = stream(seed, 63)
    pp = pop.pp
    persons = np.flatnonzero(pp["ft"])
    n = len(persons)
    number = sample_without_replacement(rng, 10_000_000, n)
    letter = rng.integers(0, 26, n)
    key = number * 26 + letter
    order = np.argsort(key, kind="stable")
    persons, number, letter = persons[order], number[order], letter[order]
    u = rng.random(n)
    nir_mode = np.where(u < 0.10, NIR_ABSENT, np.where(u < 0.103, NIR_TYPO, NIR_PLAIN))
    if same:
        nir_mode = np.full(n, NIR_PLAIN)
    usage = pp["usage"][persons]
    frame = {
        "record": np.arange(1, n + 1, dtype=np.int64),
        **_person_columns(pop, persons),
        "ft_number": number,
        "ft_letter": letter.astype(np.int8),
        "nir_mode": nir_mode.astype(np.int8),
        "nir_draw": rng.integers(0, 2**20, n),
        "usage": np.where(same, -1, usage).astype(np.int32),
        "commune": _shown_commune(rng, pop, persons, "ftocc"),
        "categorie": pp["ft_category"][persons],
        "indemnisation": pp["ft_benefit"][persons],
        "date_inscription": pp["ft_registration"][persons],
        **_identity_habits(rng, "ftocc", n, same),
    }
    return pl.DataFrame(frame)


def _cd31(pop: Population, seed: int, same: bool) -> pl.DataFrame:
    rng = stream(seed, 64)
    pp = pop.pp
    persons = np.flatnonzero(pp["cd31"])
    n = len(persons)
    ids = 100_000 + sample_without_replacement(rng, 900_000 if n < 400_000 else 9_000_000, n)
    order = np.argsort(ids, kind="stable")
    persons, ids = persons[order], ids[order]
    u = rng.random(n)
    nir_mode = np.where(u < 0.5, NIR_ABSENT, np.where(u < 0.6, NIR_SPACED, NIR_PLAIN))
    if same:
        nir_mode = np.full(n, NIR_PLAIN)
    usage = pp["usage"][persons]
    frame = {
        "record": np.arange(1, n + 1, dtype=np.int64),
        **_person_columns(pop, persons),
        "id_usager": ids,
        "nir_mode": nir_mode.astype(np.int8),
        "usage": np.where(same, -1, usage).astype(np.int32),
        "commune": _shown_commune(rng, pop, persons, "cd31"),
        "accompagnement": pp["cd31_support"][persons],
        "apa": pp["apa"][persons],
        "pch": pp["pch"][persons],
        "date_contact": pp["cd31_contact"][persons],
        "dob_typo": _dob_typos(rng, n, same),
        "phone_style": rng.integers(0, 5, n).astype(np.int8),
        "phone_missing": rng.random(n) < 0.15,
        "notes": rng.integers(0, 2**31, n),
        **_identity_habits(rng, "cd31", n, same),
    }
    return pl.DataFrame(frame)
