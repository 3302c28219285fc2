"""Households and persons of the synthetic Haute-Garonne.

Each commune receives exactly its share of persons, as households (single persons, couples
with or without children, single parents; some with another dependent person, the CAF's
``AUT``), drawn commune by commune so that a household never spans two communes and the
commune totals are exact. Everything else (ages, sexes, birthplaces, names, NIRs) is then drawn
for the whole population at once, with numpy, from seeded streams.

Persons carry true identities: a date of birth (1 January, or the 1st of the month, for the
people born abroad whose day or month is unknown), a unique NIR (or a temporary NIA), a birth
name, possibly a usage name, one to three given names as vocabulary indices. How each partner
spells them is decided later, when files are written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from synth import names, nir
from synth.dates import age_at, days_from_parts, days_in_month
from synth.randomness import stream
from synth.territory import CITY, RURAL, TOWN, Territory

SINGLE, COUPLE, FAMILY, SINGLE_PARENT = 0, 1, 2, 3
ADULT1, ADULT2, CHILD, OTHER = 0, 1, 2, 3  # role of a person in the household
SITFAM = ("CEL", "MAR", "PAC", "VIM", "DIV", "SEP", "VEU")
CEL, MAR, PAC, VIM, DIV, SEP, VEU = range(7)

KIND_SHARES = {
    RURAL: (0.30, 0.32, 0.29, 0.09),
    TOWN: (0.36, 0.27, 0.27, 0.10),
    CITY: (0.50, 0.21, 0.18, 0.11),
}
FAMILY_CHILDREN = (0.42, 0.40, 0.13, 0.04, 0.01)  # 1 to 5 children
SINGLE_PARENT_CHILDREN = (0.56, 0.31, 0.10, 0.03)  # 1 to 4 children
OTHER_SHARE = (0.015, 0.03, 0.045, 0.04)  # households with an AUT member, by kind
GROUP_SHARES = {
    RURAL: (0.87, 0.09, 0.03, 0.007, 0.003),
    TOWN: (0.80, 0.10, 0.07, 0.02, 0.01),
    CITY: (0.70, 0.10, 0.12, 0.055, 0.025),
}
# Countries of birth (INSEE code without the 99 prefix) by origin group.
COUNTRIES = {
    names.FR: ((109, 131, 140), (0.4, 0.4, 0.2)),
    names.IBE: ((134, 139, 127), (0.55, 0.3, 0.15)),
    names.MAG: ((350, 352, 351), (0.45, 0.4, 0.15)),
    names.AFR: ((341, 335, 326, 322, 330), (0.3, 0.25, 0.2, 0.15, 0.1)),
    names.ASIE: ((243, 216, 234, 241), (0.5, 0.25, 0.15, 0.1)),
}
# Départements of birth for people born in France outside 31, with neighbours first.
BIRTH_DEPARTMENTS = (9, 11, 32, 65, 81, 82, 12, 46, 33, 34, 64, 75, 13, 69, 92, 93, 59, 24, 47)
BIRTH_DEPARTMENT_WEIGHTS = (6, 5, 6, 6, 7, 6, 4, 4, 4, 4, 4, 5, 3, 2, 2, 2, 2, 2, 3)
OTHER_DEPARTMENTS = tuple(d for d in range(1, 96) if d not in (20, 31, *BIRTH_DEPARTMENTS))

Progress = Callable[[str, int, int], None]


@dataclass
class Population:
    """Households (``hh``) and persons (``pp``) as column arrays; ``nir`` is the person's
    identifier (NIR, or NIA for a few recent arrivals), always valid."""

    hh: dict[str, np.ndarray]
    pp: dict[str, np.ndarray]
    nir: pl.Series
    reference: date

    @property
    def households(self) -> int:
        return len(self.hh["commune"])

    @property
    def persons(self) -> int:
        return len(self.pp["hid"])


def _commune_households(
    rng: np.random.Generator, persons: int, kind_shares: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kind, children, has_other) of households totalling exactly ``persons``."""
    kinds, children, others = [], [], []
    total = 0
    while total < persons:
        m = max(16, (persons - total) // 2 + 8)
        kind = rng.choice(4, m, p=kind_shares)
        n_children = np.where(
            kind == FAMILY,
            1 + rng.choice(5, m, p=FAMILY_CHILDREN),
            np.where(kind == SINGLE_PARENT, 1 + rng.choice(4, m, p=SINGLE_PARENT_CHILDREN), 0),
        )
        other = rng.random(m) < np.array(OTHER_SHARE)[kind]
        size = np.where((kind == COUPLE) | (kind == FAMILY), 2, 1) + n_children + other
        cumulative = total + np.cumsum(size)
        fit = int(np.searchsorted(cumulative, persons, side="right"))
        kinds.append(kind[:fit])
        children.append(n_children[:fit])
        others.append(other[:fit])
        if fit:
            total = int(cumulative[fit - 1])
        if fit < m:
            break
    gap = persons - total  # fewer persons than the next household: single persons
    kinds.append(np.full(gap, SINGLE))
    children.append(np.zeros(gap, np.int64))
    others.append(np.zeros(gap, bool))
    return np.concatenate(kinds), np.concatenate(children), np.concatenate(others)


def _age_table(components: list[tuple[float, float, float]], low: int, high: int) -> np.ndarray:
    """Cumulative distribution over ages ``low``..100 of a mixture of (weight, mean, sd)."""
    ages = np.arange(low, 101)
    density = np.zeros(len(ages))
    for weight, mean, sd in components:
        density += weight * np.exp(-0.5 * ((ages - mean) / sd) ** 2) / sd
    density[ages > high] = 0
    return np.cumsum(density) / density.sum()


# (household kind, commune class) → (age mixture of (weight, mean, sd), lowest age, highest age)
REFERENCE_AGES: dict[tuple[int, int], tuple[list[tuple[float, float, float]], int, int]] = {
    (SINGLE, CITY): ([(0.36, 23, 4), (0.34, 48, 13), (0.30, 79, 9)], 18, 100),
    (SINGLE, TOWN): ([(0.18, 24, 4), (0.40, 52, 11), (0.42, 78, 9)], 18, 100),
    (SINGLE, RURAL): ([(0.10, 25, 5), (0.42, 54, 11), (0.48, 78, 9)], 18, 100),
    (COUPLE, CITY): ([(0.35, 28, 5), (0.35, 60, 6), (0.30, 73, 7)], 19, 98),
    (COUPLE, TOWN): ([(0.22, 29, 5), (0.38, 61, 6), (0.40, 73, 7)], 19, 98),
    (COUPLE, RURAL): ([(0.18, 30, 5), (0.40, 61, 6), (0.42, 73, 7)], 19, 98),
    (FAMILY, CITY): ([(1.0, 41, 8)], 20, 64),
    (FAMILY, TOWN): ([(1.0, 43, 8)], 20, 64),
    (FAMILY, RURAL): ([(1.0, 44, 8)], 20, 64),
    (SINGLE_PARENT, CITY): ([(1.0, 40, 8.5)], 19, 64),
    (SINGLE_PARENT, TOWN): ([(1.0, 42, 8.5)], 19, 64),
    (SINGLE_PARENT, RURAL): ([(1.0, 43, 8.5)], 19, 64),
}


def _triangular(rng: np.random.Generator, mode: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Triangular draws on [0, high + 1) with the given mode (vectorised, degenerate-safe)."""
    upper = high + 1.0
    u = rng.random(len(mode))
    split = np.where(upper > 0, mode / upper, 0)
    left = np.sqrt(u * upper * np.maximum(mode, 1e-9))
    right = upper - np.sqrt((1 - u) * upper * np.maximum(upper - mode, 1e-9))
    return np.where(u < split, left, right)


def build_population(
    territory: Territory,
    persons_per_commune: np.ndarray,
    seed: int,
    reference: date,
    progress: Progress | None = None,
) -> Population:
    hh = _households(territory, persons_per_commune, seed, progress)
    pp = _members(hh)
    _ages(hh, pp, territory, seed, reference)
    _sexes_and_situations(hh, pp, seed)
    _birthplaces(hh, pp, territory, seed, reference)
    identifier = _identifiers(pp, seed)
    _names(hh, pp, seed)
    return Population(hh=hh, pp=pp, nir=identifier, reference=reference)


def _households(
    territory: Territory, counts: np.ndarray, seed: int, progress: Progress | None
) -> dict[str, np.ndarray]:
    kinds, children, others, communes = [], [], [], []
    n = len(counts)
    for c in range(n):
        if counts[c]:
            rng = stream(seed, 1, c)
            kind, n_children, other = _commune_households(
                rng, int(counts[c]), KIND_SHARES[int(territory.kind[c])]
            )
            kinds.append(kind)
            children.append(n_children)
            others.append(other)
            communes.append(np.full(len(kind), c, np.int16))
        if progress is not None and (c % 25 == 0 or c == n - 1):
            progress("population", c + 1, n)
    kind = np.concatenate(kinds).astype(np.int8)
    adults = np.where((kind == COUPLE) | (kind == FAMILY), 2, 1).astype(np.int8)
    n_children = np.concatenate(children).astype(np.int8)
    other = np.concatenate(others)
    size = adults + n_children + other
    first = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    return {
        "commune": np.concatenate(communes),
        "kind": kind,
        "adults": adults,
        "children": n_children,
        "other": other,
        "size": size.astype(np.int8),
        "first": first,
    }


def _members(hh: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    size = hh["size"].astype(np.int64)
    hid = np.repeat(np.arange(len(size), dtype=np.int64), size)
    position = np.arange(len(hid)) - np.repeat(hh["first"], size)
    adults = np.repeat(hh["adults"], size)
    children = np.repeat(hh["children"], size)
    role = np.where(
        position < adults,
        position,
        np.where(position < adults + children, CHILD, OTHER),
    ).astype(np.int8)
    return {"hid": hid, "role": role, "rank": (position - adults).astype(np.int16)}


def _ages(
    hh: dict[str, np.ndarray],
    pp: dict[str, np.ndarray],
    territory: Territory,
    seed: int,
    reference: date,
) -> None:
    rng = stream(seed, 2)
    h = len(hh["kind"])
    klass = territory.kind[hh["commune"]]
    reference_age = np.zeros(h, np.int64)
    u = rng.random(h)
    for (kind, cls), (components, low, high) in REFERENCE_AGES.items():
        mask = (hh["kind"] == kind) & (klass == cls)
        table = _age_table(components, low, high)
        reference_age[mask] = low + np.searchsorted(table, u[mask], side="right")
    reference_age = np.minimum(reference_age, 100)
    hid, role = pp["hid"], pp["role"]
    ref = reference_age[hid]
    age = np.zeros(len(hid), np.int64)
    age[role == ADULT1] = ref[role == ADULT1]
    spouse = role == ADULT2
    age[spouse] = np.clip(ref[spouse] + np.rint(rng.normal(-2, 4, spouse.sum())), 18, 100)
    # Children: the eldest about 28 years younger than the reference adult (triangular
    # law, so that no age piles up), the others 1 to 3 years apart.
    highest = np.clip(np.minimum(24, reference_age - 19), 0, None).astype(np.float64)
    mode = np.clip(reference_age - 28, 0, highest)
    oldest = np.floor(_triangular(rng, mode, highest))
    child = role == CHILD
    rank = pp["rank"][child].astype(np.int64)
    gaps = rng.integers(1, 4, child.sum()) * rank
    younger = oldest[hid[child]].astype(np.int64) - gaps
    spread = (rng.random(child.sum()) * (oldest[hid[child]] + 1)).astype(np.int64)
    age[child] = np.clip(np.where(younger < 0, spread, younger), 0, 24)
    other = role == OTHER
    elder = ref[other] >= 40
    elder_age = ref[other] + 27 + np.rint(rng.normal(0, 4, other.sum()))
    elder_age = np.where(elder_age > 99, 99 - rng.integers(0, 12, other.sum()), elder_age)
    age[other] = np.where(elder, np.maximum(elder_age, 65), rng.integers(25, 61, other.sum()))
    # A date of birth consistent with the age at R (see dates.age_at).
    month = rng.integers(1, 13, len(age))
    year = reference.year - age - (month > reference.month)
    day = 1 + (rng.random(len(age)) * days_in_month(year, month)).astype(np.int64)
    pp["birth_year"], pp["birth_month"], pp["birth_day"] = year, month, day
    hh["reference_age"] = reference_age


def _sexes_and_situations(hh: dict[str, np.ndarray], pp: dict[str, np.ndarray], seed: int) -> None:
    rng = stream(seed, 3)
    hid, role = pp["hid"], pp["role"]
    kind = hh["kind"][hid]
    n = len(hid)
    u = rng.random(n)
    ref_age = hh["reference_age"][hid]
    p_female_single = np.where(ref_age >= 75, 0.72, np.where(ref_age >= 60, 0.6, 0.48))
    same_sex = rng.random(len(hh["kind"])) < 0.03
    same_sex_female = rng.random(len(hh["kind"])) < 0.5
    couple = (kind == COUPLE) | (kind == FAMILY)
    female = np.select(
        [
            (role == ADULT1) & (kind == SINGLE),
            (role == ADULT1) & (kind == SINGLE_PARENT),
            (role <= ADULT2) & couple & same_sex[hid],
            (role == ADULT1) & couple,
            (role == ADULT2) & couple,
            role == CHILD,
        ],
        [
            u < p_female_single,
            u < 0.84,
            same_sex_female[hid],
            np.zeros(n, bool),
            np.ones(n, bool),
            u < 0.488,
        ],
        default=u < np.where(ref_age >= 40, 0.68, 0.5),
    )
    pp["sex"] = np.where(female, 2, 1).astype(np.int8)
    # Family situation of the household (SITFAM), from the reference adult's age.
    h = len(hh["kind"])
    ref = hh["reference_age"]
    v = rng.random(h)
    couple_h = (hh["kind"] == COUPLE) | (hh["kind"] == FAMILY)
    married = 0.42 + 0.4 * (ref >= 55)
    couple_situation = np.where(v < married, MAR, np.where(v < married + 0.15, PAC, VIM))
    single_situation = np.select(
        [ref < 35, ref < 60, ref < 70],
        [
            np.where(v < 0.9, CEL, np.where(v < 0.95, DIV, SEP)),
            np.where(v < 0.5, CEL, np.where(v < 0.85, DIV, np.where(v < 0.95, SEP, VEU))),
            np.where(v < 0.25, CEL, np.where(v < 0.55, DIV, np.where(v < 0.6, SEP, VEU))),
        ],
        default=np.where(v < 0.15, CEL, np.where(v < 0.3, DIV, np.where(v < 0.33, SEP, VEU))),
    )
    parent_situation = np.where(v < 0.45, CEL, np.where(v < 0.8, DIV, np.where(v < 0.98, SEP, VEU)))
    hh["sitfam"] = np.where(
        couple_h,
        couple_situation,
        np.where(hh["kind"] == SINGLE, single_situation, parent_situation),
    ).astype(np.int8)
    # Who is the CAF's allocataire in a couple: often the woman in a family.
    w = rng.random(h)
    adult2_female = np.zeros(h, bool)
    adult2_female[hid[role == ADULT2]] = pp["sex"][role == ADULT2] == 2
    adult1_female = np.zeros(h, bool)
    adult1_female[hid[role == ADULT1]] = pp["sex"][role == ADULT1] == 2
    female_first = np.where(hh["kind"] == FAMILY, 0.72, 0.45)
    hh["allocataire_is_adult2"] = couple_h & adult2_female & ~adult1_female & (w < female_first)


def _birthplaces(
    hh: dict[str, np.ndarray],
    pp: dict[str, np.ndarray],
    territory: Territory,
    seed: int,
    reference: date,
) -> None:
    rng = stream(seed, 4)
    hid, role = pp["hid"], pp["role"]
    n = len(hid)
    h = len(hh["kind"])
    klass = territory.kind[hh["commune"]]
    u = rng.random(h)
    group_h = np.zeros(h, np.int8)
    for cls, shares in GROUP_SHARES.items():
        mask = klass == cls
        group_h[mask] = np.searchsorted(np.cumsum(shares), u[mask] * 0.999999, side="right")
    hh["group"] = group_h
    group = group_h[hid].copy()
    spouse_other = (role == ADULT2) & (rng.random(n) < 0.25)
    group[spouse_other] = np.where(group[spouse_other] == names.FR, names.IBE, names.FR)
    pp["group"] = group
    age = age_at(pp["birth_year"], pp["birth_month"], reference)
    adult = role != CHILD
    p_abroad = np.select(
        [group == names.FR, group == names.IBE, group == names.MAG, group == names.AFR],
        [
            np.where(adult, 0.02, 0.01),
            np.where(adult, np.where(age >= 55, 0.55, 0.15), 0.02),
            np.where(adult, np.where(age >= 40, 0.6, 0.35), 0.05),
            np.where(adult, 0.7, 0.15),
        ],
        default=np.where(adult, 0.6, 0.05),
    )
    abroad = rng.random(n) < p_abroad
    pp["abroad"] = abroad
    # Department and commune of birth (NIR digits 6-10).
    department = np.zeros(n, np.int64)
    commune3 = np.zeros(n, np.int64)
    v = rng.random(n)
    for g, (codes, weights) in COUNTRIES.items():
        mask = abroad & (group == g)
        pick = np.searchsorted(np.cumsum(weights), rng.random(mask.sum()) * 0.999999, "right")
        department[mask] = 99
        commune3[mask] = np.array(codes)[pick]
    in_france = ~abroad
    born31 = in_france & (v < np.where(role == CHILD, 0.8, 0.5))
    corsica = in_france & ~born31 & (v > 0.996)
    elsewhere = in_france & ~born31 & ~corsica
    department[born31] = 31
    weights31 = territory.population / territory.population.sum()
    communes31 = np.array([int(code[2:]) for code in territory.codes[: territory.n31]])
    toulouse = rng.random(n) < 0.6
    pick = np.searchsorted(np.cumsum(weights31), rng.random(n) * 0.999999, "right")
    commune3[born31] = np.where(toulouse, 555, communes31[pick])[born31]
    department[corsica] = np.where(rng.random(corsica.sum()) < 0.5, nir.CORSE_SUD, nir.HAUTE_CORSE)
    commune3[corsica] = np.where(department[corsica] == nir.CORSE_SUD, 4, 33)
    near = rng.random(elsewhere.sum()) < 0.75
    near_weights = np.array(BIRTH_DEPARTMENT_WEIGHTS) / sum(BIRTH_DEPARTMENT_WEIGHTS)
    near_pick = np.array(BIRTH_DEPARTMENTS)[
        np.searchsorted(np.cumsum(near_weights), rng.random(elsewhere.sum()) * 0.999999, "right")
    ]
    far_pick = np.array(OTHER_DEPARTMENTS)[rng.integers(0, len(OTHER_DEPARTMENTS), elsewhere.sum())]
    department[elsewhere] = np.where(near, near_pick, far_pick)
    commune3[elsewhere] = rng.integers(1, 400, elsewhere.sum())
    pp["birth_department"], pp["birth_commune"] = department, commune3
    # Unknown day/month of birth: some people born abroad before 1975. Their true date of
    # birth is the 1st of the month, or 1 January when the month is unknown too.
    unknown = abroad & (pp["birth_year"] < 1975) & (rng.random(n) < 0.08)
    day_only = unknown & (rng.random(n) < 0.2)
    pp["dob_unknown"] = np.where(day_only, 1, np.where(unknown, 2, 0)).astype(np.int8)
    pp["birth_day"] = np.where(unknown, 1, pp["birth_day"])
    pp["birth_month"] = np.where(unknown & ~day_only, 1, pp["birth_month"])
    pp["age"] = age_at(pp["birth_year"], pp["birth_month"], reference)
    pp["dob"] = days_from_parts(pp["birth_year"], pp["birth_month"], pp["birth_day"])


def _identifiers(pp: dict[str, np.ndarray], seed: int) -> pl.Series:
    rng = stream(seed, 5)
    n = len(pp["hid"])
    sex = pp["sex"].astype(np.int64)
    # A few recent arrivals only have a temporary number (NIA, 7 for men, 8 for women).
    nia = (
        pp["abroad"]
        & (pp["group"] != names.FR)
        & (pp["age"] >= 18)
        & (pp["age"] <= 55)
        & (rng.random(n) < 0.07)
    )
    pp["nia"] = nia
    sex_digit = np.where(nia, sex + 6, sex)
    month_code = np.where(
        pp["dob_unknown"] == 2,
        np.where(rng.random(n) < 0.5, rng.integers(20, 43, n), rng.integers(50, 100, n)),
        pp["birth_month"],
    )
    year2 = pp["birth_year"] % 100
    order, pp["birth_commune"] = nir.unique_orders(
        rng, sex_digit, year2, month_code, pp["birth_department"], pp["birth_commune"]
    )
    return nir.to_text(
        sex_digit, year2, month_code, pp["birth_department"], pp["birth_commune"], order
    )


def _names(hh: dict[str, np.ndarray], pp: dict[str, np.ndarray], seed: int) -> None:
    rng = stream(seed, 6)
    hid, role, sex = pp["hid"], pp["role"], pp["sex"]
    n = len(hid)
    h = len(hh["kind"])
    own = names.draw_surnames(rng, pp["group"])
    adult1 = np.flatnonzero(role == ADULT1)
    adult2 = np.flatnonzero(role == ADULT2)
    first_surname = np.full(h, -1, np.int64)
    first_surname[hid[adult1]] = own[adult1]
    father = np.full(h, -1, np.int64)  # birth name of a male adult, for the children
    mother = np.full(h, -1, np.int64)
    for index in (adult2, adult1):
        male = sex[index] == 1
        father[hid[index[male]]] = own[index[male]]
        mother[hid[index[~male]]] = own[index[~male]]
    surname = own.copy()
    child = role == CHILD
    u = rng.random(n)
    from_father = np.where(father[hid] >= 0, father[hid], mother[hid])
    from_mother = np.where(mother[hid] >= 0, mother[hid], father[hid])
    single_parent = hh["kind"][hid] == SINGLE_PARENT
    surname[child] = np.where(
        single_parent[child],
        np.where(u[child] < 0.45, first_surname[hid[child]], own[child]),
        np.where(u[child] < 0.88, from_father[child], from_mother[child]),
    )
    other = (role == OTHER) & (u < 0.5)
    surname[other] = first_surname[hid[other]]
    pp["surname"] = surname.astype(np.int32)
    # Usage name: a married woman often uses her husband's; a widow or divorcee may keep it.
    usage = np.full(n, -1, np.int64)
    sitfam = hh["sitfam"][hid]
    spouse_of = np.full(n, -1, np.int64)
    spouse_of[adult1] = np.where(hh["adults"][hid[adult1]] == 2, adult1 + 1, -1)
    spouse_of[adult2] = adult2 - 1
    married_woman = (sex == 2) & (role <= ADULT2) & (sitfam == MAR) & (spouse_of >= 0)
    married_woman &= sex[np.maximum(spouse_of, 0)] == 1
    v = rng.random(n)
    takes = married_woman & (v < 0.78)
    usage[takes] = surname[spouse_of[takes]]
    former = (
        (sex == 2)
        & (role == ADULT1)
        & (((sitfam == VEU) & (v < 0.75)) | ((sitfam == DIV) & (v < 0.2)))
    )
    usage[former] = names.draw_surnames(rng, pp["group"][former])
    pp["usage"] = usage.astype(np.int32)
    # Given names: one to three; children of immigrants often get names from the French lists.
    born_here = ~pp["abroad"]
    given_group = np.where(
        born_here & (pp["group"] != names.FR) & (rng.random(n) < 0.5), 0, pp["group"]
    )
    pp["given1"] = names.draw_given(rng, sex, given_group, pp["birth_year"])
    count_u = rng.random(n)
    old = pp["birth_year"] < 1970
    count = np.where(
        count_u < np.where(old, 0.2, 0.4), 1, np.where(count_u < np.where(old, 0.65, 0.82), 2, 3)
    )
    for slot in (2, 3):
        drawn = names.draw_given(rng, sex, given_group, pp["birth_year"] - rng.integers(0, 40, n))
        keep = (count >= slot) & (drawn != pp["given1"])
        pp[f"given{slot}"] = np.where(keep, drawn, -1).astype(np.int32)
    pp["given3"] = np.where(pp["given2"] >= 0, pp["given3"], -1).astype(np.int32)
