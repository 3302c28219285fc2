"""Activity, incomes and rights of the synthetic population: the world the partners observe.

Order matters, as in real life: activity, then earnings, unemployment benefits and pensions,
then the ASPA and the AAH (which count in the CAF's resources), then the household's quarterly
resources (``RESSTRIM``, ``REVACTTRIM``), the housing aid (``MTAL``), and only then the RSA, the
prime d'activité and the CSS, each granted to an eligible household with its take-up
probability (``takeup.py``). Eligibility uses the same exact formulas as the indicators
(``rules.py``): the RSA a household gets is the RSA the rules say it may get. Then who is at the
CAF, at the CPAM, at France Travail, and who is followed by the département's social services.

All amounts are integer cents: monthly for persons, quarterly for the CAF's resources.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from synth import rules
from synth.dates import days_from_parts, days_in_month, minus_months, to_days
from synth.population import ADULT2, CHILD, OTHER, SINGLE, SINGLE_PARENT, Population
from synth.randomness import categorical, logistic, stream
from synth.takeup import age_shift, probability
from synth.territory import CITY, RURAL, Territory

EMPLOYED, UNEMPLOYED, INACTIVE, STUDENT, RETIRED, DISABLED, MINOR = range(7)
NO_BENEFIT, ARE, ASS = 0, 1, 2
CSS_NONE, CSS_OPEN, CSS_ENDED, CSS_FUTURE = 0, 1, 2, 3
GRATUITE, PARTICIPATION = 0, 1
SUPPORT = ("SOCIAL", "PRO", "AUCUN")
SOCIAL, PRO, NO_SUPPORT = 0, 1, 2
CATEGORIES = ("A", "B", "C", "D", "E")
CAT_A, CAT_B, CAT_C, CAT_D, CAT_E = range(5)
ASS_MONTHLY = 58200  # cents
AAH_FULL = 103332

# Activity by age: employed, unemployed, inactive, student, retired, disabled.
ACTIVITY = (
    ((18, 24), (0.45, 0.18, 0.07, 0.28, 0.0, 0.02)),
    ((25, 34), (0.76, 0.11, 0.08, 0.02, 0.0, 0.03)),
    ((35, 49), (0.80, 0.08, 0.08, 0.0, 0.0, 0.04)),
    ((50, 59), (0.76, 0.08, 0.09, 0.0, 0.0, 0.07)),
    ((60, 61), (0.52, 0.07, 0.10, 0.0, 0.25, 0.06)),
    ((62, 64), (0.28, 0.04, 0.06, 0.0, 0.59, 0.03)),
    ((65, 69), (0.04, 0.0, 0.03, 0.0, 0.93, 0.0)),
    ((70, 200), (0.0, 0.0, 0.03, 0.0, 0.97, 0.0)),
)


def build_economy(pop: Population, territory: Territory, effects: dict, seed: int) -> None:
    """Adds the economic columns to ``pop.hh`` and ``pop.pp`` (see the module docstring)."""
    reference = pop.reference
    _structure(pop)
    _activity(pop, territory, seed)
    _incomes(pop, territory, seed)
    _old_age(pop, effects, seed)
    _disability(pop, seed)
    _resources(pop, seed)
    _contact(pop, territory, effects, seed)
    _housing(pop, territory, seed)
    _minimum_income(pop, effects, seed)
    _caf(pop, seed)
    _css(pop, effects, seed, reference)
    _job_seekers(pop, seed, reference)
    _social_services(pop, seed, reference)
    _movers(pop, territory, seed)


def _sum_by_household(pop: Population, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = np.where(mask, values, 0).astype(np.float64)  # integer cents: exact below 2**53
    return np.bincount(pop.pp["hid"], weights=weights, minlength=pop.households).astype(np.int64)


def _structure(pop: Population) -> None:
    """Dependent children (under 20), scale, allocataire of each household."""
    hh, pp = pop.hh, pop.pp
    child = pp["role"] == CHILD
    hh["nbenf"] = np.bincount(pp["hid"][child & (pp["age"] < 20)], minlength=pop.households).astype(
        np.int64
    )
    youngest = np.full(pop.households, 99)
    np.minimum.at(youngest, pp["hid"][child], pp["age"][child])
    hh["youngest"] = youngest
    hh["persons"] = hh["adults"].astype(np.int64) + hh["nbenf"]
    hh["c10"] = rules.scale_tenths(hh["adults"], hh["nbenf"])
    hh["allocataire"] = hh["first"] + hh["allocataire_is_adult2"]
    hh["allocataire_age"] = pp["age"][hh["allocataire"]]
    hh["type"] = rules.household_type(hh["adults"], hh["nbenf"])
    pp["adult"] = pp["role"] <= ADULT2


def _activity(pop: Population, territory: Territory, seed: int) -> None:
    rng = stream(seed, 30)
    pp, hh = pop.pp, pop.hh
    age, role = pp["age"], pp["role"]
    n = len(age)
    probabilities = np.zeros((n, 6))
    for (low, high), row in ACTIVITY:
        probabilities[(age >= low) & (age <= high)] = row
    deprivation = territory.deprivation[hh["commune"][pp["hid"]]]
    single_parent = hh["kind"][pp["hid"]] == SINGLE_PARENT
    probabilities[:, 1] *= np.exp(0.3 * deprivation) * np.where(single_parent, 1.6, 1.0)
    probabilities[:, 2] *= np.where(single_parent, 1.3, 1.0)
    probabilities[:, 2] *= np.where(pop.hh["kind"][pp["hid"]] == SINGLE, 0.6, 1.0)
    probabilities[:, 2] *= np.where((role == ADULT2) & (pp["sex"] == 2), 1.2, 1.0)
    child = role == CHILD
    probabilities[child & (age >= 18)] = (0.24, 0.12, 0.03, 0.61, 0.0, 0.0)
    other = role == OTHER
    probabilities[other & (age >= 62)] = (0.0, 0.0, 0.1, 0.0, 0.9, 0.0)
    probabilities[other & (age < 62)] = (0.3, 0.2, 0.15, 0.0, 0.0, 0.35)
    status = np.full(n, MINOR, np.int8)
    grown = age >= 18
    status[grown] = categorical(rng, probabilities[grown])
    pp["status"] = status


def _incomes(pop: Population, territory: Territory, seed: int) -> None:
    rng = stream(seed, 31)
    pp, hh = pop.pp, pop.hh
    n = len(pp["age"])
    age, sex, status = pp["age"], pp["sex"], pp["status"]
    factor = territory.income_factor[hh["commune"][pp["hid"]]]
    age_factor = np.select([age < 25, age < 35, age < 50], [0.7, 0.9, 1.05], 1.1)
    median = 2250 * factor * age_factor * np.where(sex == 2, 0.87, 1.0)
    wage = median * np.exp(rng.normal(0, 0.38, n))
    part_time = rng.random(n) < np.where(age < 25, 0.3, np.where(sex == 2, 0.26, 0.08))
    wage = np.where(part_time, wage * rng.uniform(0.4, 0.7, n), wage)
    small_job = rng.uniform(150, 700, n)
    earnings = np.select(
        [
            status == EMPLOYED,
            (status == UNEMPLOYED) & (rng.random(n) < 0.12),
            (status == DISABLED) & (rng.random(n) < 0.2),
            (status == STUDENT) & (rng.random(n) < 0.5),
        ],
        [np.maximum(wage, 150), small_job, small_job, small_job + 200],
        0.0,
    )
    pp["earnings"] = np.rint(earnings * 100).astype(np.int64)
    # Unemployment benefits: ARE (insurance) or ASS (solidarity), or nothing.
    u = rng.random(n)
    p_are = np.select([age < 25, age >= 50], [0.25, 0.55], 0.45)
    p_ass = np.where(age >= 35, 0.10, 0.06)
    unemployed = status == UNEMPLOYED
    low_wage_complement = (status == EMPLOYED) & (earnings < 1000) & (u < 0.1)
    kind = np.where(
        unemployed & (u < p_are),
        ARE,
        np.where(unemployed & (u < p_are + p_ass), ASS, NO_BENEFIT),
    )
    kind = np.where(low_wage_complement, ARE, kind)
    are = np.where(
        low_wage_complement,
        rng.uniform(300, 700, n),
        np.clip(1000 * np.exp(rng.normal(0, 0.3, n)), 500, 2500),
    )
    amount = np.select([kind == ARE, kind == ASS], [np.rint(are * 100), ASS_MONTHLY], 0)
    pp["benefit_kind"] = kind.astype(np.int8)
    pp["benefit"] = amount.astype(np.int64)
    # Pensions: régime général (CARSAT) for most retirees; farmers' households are at the MSA.
    klass = territory.kind[hh["commune"]]
    msa_share = np.select([klass == RURAL, klass == CITY], [0.06, 0.005], 0.015)
    hh["msa"] = rng.random(pop.households) < msa_share
    msa = hh["msa"][pp["hid"]]
    retired = status == RETIRED
    pp["carsat"] = retired & ~msa & (rng.random(n) < 0.88)
    short_share = np.where(pp["abroad"], 0.45, np.where(sex == 2, 0.07, 0.04))
    in_couple = pp["adult"] & (hh["adults"][pp["hid"]] == 2)
    short_share = np.where(in_couple, 0.4 * short_share, short_share)
    short = rng.random(n) < short_share
    full = 103428 + np.rint(
        100 * np.where(sex == 2, 420, 650) * np.exp(rng.normal(0, 0.55, n))
    ).astype(np.int64)
    full = np.minimum(full, 193200)
    carsat_amount = np.where(short, np.rint(rng.uniform(120, 1000, n) * 100), full)
    pp["pension"] = np.where(pp["carsat"], carsat_amount, 0).astype(np.int64)
    complement_rate = np.where(short, rng.uniform(0.0, 0.25, n), rng.uniform(0.15, 0.6, n))
    other_regime = np.rint(1900 * 100 * np.exp(rng.normal(0, 0.4, n)))
    other = np.where(pp["carsat"], np.rint(pp["pension"] * complement_rate), other_regime)
    pp["other_pension"] = np.where(retired, other, 0).astype(np.int64)
    # First pension payment: at 60 for the older generations, 62 later, up to 3 years after.
    start_age = np.where(pp["birth_year"] < 1951, 60, 62) + rng.integers(0, 4, n)
    start_age = np.minimum(start_age, np.maximum(pp["age"], 55))  # early (long-career) exits
    start_year = pp["birth_year"] + start_age
    start_month = pp["birth_month"] % 12 + 1
    start_year = start_year + (pp["birth_month"] == 12)
    effective = days_from_parts(np.maximum(start_year, 1950), start_month, np.ones(n, np.int64))
    latest = to_days(pop.reference.replace(day=1))
    pp["pension_start"] = np.minimum(effective, latest)


def _old_age(pop: Population, effects: dict, seed: int) -> None:
    """ASPA: retirees of 65 or more under the ceiling (couple or single), CARSAT only."""
    rng = stream(seed, 32)
    pp, hh = pop.pp, pop.hh
    n = len(pp["age"])
    total = pp["pension"] + pp["other_pension"]
    adults = pp["adult"]
    couple_total = _sum_by_household(pop, total, adults)[pp["hid"]]
    in_couple = (hh["adults"][pp["hid"]] == 2) & adults
    eligible = (
        pp["carsat"]
        & (pp["age"] >= 65)
        & np.where(in_couple, couple_total < rules.ASPA_COUPLE, total < rules.ASPA_SINGLE)
    )
    commune = hh["commune"][pp["hid"]]
    shift = (
        effects["aspa"][commune]
        + age_shift(pp["age"], {(75, 200): -0.3})
        - 0.3 * in_couple
        - 0.4 * pp["abroad"]
    )
    takes = eligible & (rng.random(n) < probability("aspa", shift))
    ceiling = np.where(in_couple, rules.ASPA_COUPLE - couple_total, rules.ASPA_SINGLE - total)
    pp["aspa"] = takes
    pp["aspa_amount"] = np.where(takes, np.maximum(ceiling, 0), 0).astype(np.int64)


def _disability(pop: Population, seed: int) -> None:
    rng = stream(seed, 33)
    pp = pop.pp
    n = len(pp["age"])
    other_resources = _sum_by_household(
        pop, pp["earnings"] + pp["benefit"] + pp["pension"] + pp["other_pension"], pp["adult"]
    )[pp["hid"]]
    limit = np.where(pop.hh["adults"][pp["hid"]] == 2, 230000, 130000)
    eligible = pp["adult"] & (pp["status"] == DISABLED) & (other_resources < limit)
    pp["aah"] = eligible & (rng.random(n) < 0.9)
    amount = np.maximum(AAH_FULL - np.rint(0.3 * pp["earnings"]).astype(np.int64), 0)
    pp["aah_amount"] = np.where(pp["aah"], amount, 0)
    pop.hh["aah"] = np.bincount(pp["hid"][pp["aah"]], minlength=pop.households) > 0


def _resources(pop: Population, seed: int) -> None:
    """Quarterly resources as the CAF counts them (adults only; never housing aid, RSA, PPA)."""
    rng = stream(seed, 34)
    pp, hh = pop.pp, pop.hh
    h = pop.households
    earnings = _sum_by_household(pop, pp["earnings"], pp["adult"])
    other = _sum_by_household(
        pop,
        pp["benefit"] + pp["pension"] + pp["other_pension"] + pp["aspa_amount"] + pp["aah_amount"],
        pp["adult"],
    )
    drift = np.exp(rng.normal(0, 0.04, h))  # three months are never three equal months
    revact = np.where(earnings > 0, np.rint(3 * earnings * drift), 0).astype(np.int64)
    rest = np.where(other > 0, 3 * other + rng.integers(-300, 301, h), 0).astype(np.int64)
    hh["revacttrim"] = revact
    hh["resstrim"] = revact + np.maximum(rest, 0)
    hh["monthly"] = hh["resstrim"] / 300.0  # euros, for the behavioural models only


def _contact(pop: Population, territory: Territory, effects: dict, seed: int) -> None:
    """Households in touch with a social worker (before any right: it helps take-up)."""
    rng = stream(seed, 35)
    hh = pop.hh
    poor = hh["monthly"] < 750 * hh["c10"] / 10
    score = (
        -4.6
        + 2.2 * poor
        + 0.6 * (hh["kind"] == SINGLE_PARENT)
        + 0.3 * territory.deprivation[hh["commune"]]
        + 0.5 * effects["contact"][hh["commune"]]
    )
    hh["contact"] = rng.random(pop.households) < logistic(score)


def _housing(pop: Population, territory: Territory, seed: int) -> None:
    rng = stream(seed, 36)
    hh = pop.hh
    h = pop.households
    m = hh["monthly"]
    owners = territory.owners[hh["commune"]]
    tenant_share = np.clip(
        1
        - owners
        + 0.3 * (m < 1500)
        + 0.2 * (hh["reference_age"] < 30)
        - 0.2 * (hh["reference_age"] >= 65),
        0.05,
        0.97,
    )
    tenant = rng.random(h) < tenant_share
    ceiling = np.minimum(290 + 70 * (hh["persons"] - 1), 600)
    aid = ceiling - 0.35 * np.maximum(0, m - 450 * hh["c10"] / 10)
    cents = np.rint(aid * 100) + rng.integers(0, 100, h)
    paid = tenant & (aid >= 15) & (rng.random(h) < 0.92)
    hh["mtal"] = np.where(paid, cents, 0).astype(np.int64)


def _minimum_income(pop: Population, effects: dict, seed: int) -> None:
    """RSA and prime d'activité: eligible by the rules, granted with the take-up probability."""
    rng = stream(seed, 37)
    hh = pop.hh
    h = pop.households
    resstrim, revact, c10, persons, mtal = (
        hh["resstrim"],
        hh["revacttrim"],
        hh["c10"],
        hh["persons"],
        hh["mtal"],
    )
    age = hh["allocataire_age"]
    kind_type = hh["type"]
    type_shift = np.array([0.0, 0.4, -0.5, -0.2])[kind_type]
    below = rules.rsa_resources_below(resstrim, c10, persons, mtal)
    eligible = below & ((age >= 25) | (hh["nbenf"] > 0)) & ~hh["aah"]
    threshold = rules.RSA_BASE * c10 / 10.0
    shift = (
        effects["rsa"][hh["commune"]]
        + age_shift(age, {(18, 24): -0.5, (50, 64): -0.2, (65, 200): -0.9})
        + type_shift
        + 0.8 * hh["contact"]
        - 0.8 * np.clip(resstrim / 3.0 / threshold, 0, 1)
    )
    hh["rsa"] = eligible & (rng.random(h) < probability("rsa", shift))
    pa = rules.prime_activite_scaled(resstrim, revact, c10, persons, mtal)
    eligible_pa = (pa >= rules.PA_MINIMUM * 30000) & (revact > 0) & (age >= 18)
    shift_pa = (
        effects["ppa"][hh["commune"]]
        + age_shift(age, {(18, 24): -0.5, (65, 200): -0.6})
        + np.array([0.0, 0.25, -0.25, -0.25])[kind_type]
        + 0.4 * hh["contact"]
        - 0.4 * (pa < 5000 * 30000)
    )
    hh["ppa"] = eligible_pa & (rng.random(h) < probability("ppa", shift_pa))
    # Resources move during a quarter: a few RSA households are now just above the threshold.
    moved = hh["rsa"] & (rng.random(h) < 0.015)
    fl = np.where(mtal > 0, rules.forfait_thousandths(persons), 0)
    limit = 3 * rules.RSA_BASE * (100 * c10 - fl) // 1000
    hh["resstrim"] = np.where(moved, limit + rng.integers(1, 30000, h), resstrim)


def _caf(pop: Population, seed: int) -> None:
    """At the CAF: any household with at least one right open (family benefits included)."""
    rng = stream(seed, 38)
    hh = pop.hh
    h = pop.households
    u = rng.random(h)
    family = (
        (hh["nbenf"] >= 2)
        | ((hh["youngest"] < 3) & (hh["nbenf"] >= 1))
        | ((hh["nbenf"] >= 1) & (hh["monthly"] < 2500) & (u < 0.6))
        | ((hh["nbenf"] == 1) & (u < 0.15))
    )
    hh["caf"] = hh["rsa"] | hh["ppa"] | hh["aah"] | (hh["mtal"] > 0) | family


def _css(pop: Population, effects: dict, seed: int, reference: date) -> None:
    """Complémentaire santé solidaire: per household, with its start and end dates."""
    rng = stream(seed, 39)
    hh, pp = pop.hh, pop.pp
    h = pop.households
    ceiling = 100 * rules.css_ceiling(hh["persons"])
    annual = 4 * hh["resstrim"]
    low = annual <= ceiling
    near = (annual <= 13 * ceiling // 10) & ~low & (rng.random(h) < 0.12)
    eligible = hh["rsa"] | low | near
    base = np.where(hh["rsa"], 0.3, 0.0) + np.where(near, 2.0, 0.0)
    shift = (
        base
        + effects["css"][hh["commune"]]
        + np.array([-0.2, 0.3, 0.0, 0.1])[hh["type"]]
        + age_shift(hh["reference_age"], {(18, 24): -0.5, (65, 200): -0.3})
        + 0.6 * hh["contact"]
    )
    takes = eligible & ~hh["msa"] & (rng.random(h) < probability("css", shift))
    v = rng.random(h)
    state = np.where(
        takes, np.where(v < 0.94, CSS_OPEN, np.where(v < 0.98, CSS_ENDED, CSS_FUTURE)), CSS_NONE
    )
    hh["css_state"] = state.astype(np.int8)
    hh["css_type"] = np.where(
        hh["rsa"] | (annual * 100 <= 72 * ceiling), GRATUITE, PARTICIPATION
    ).astype(np.int8)
    # Start: the 1st of one of the last 12 months (ended: 12 or 13 months ago), sometimes
    # another day; end: 12 months later minus one day.
    back = np.where(state == CSS_ENDED, rng.integers(12, 14, h), rng.integers(0, 12, h))
    month_index = reference.year * 12 + reference.month - 1 - back
    year, month = month_index // 12, month_index % 12 + 1
    other_day = rng.random(h) < 0.1
    day = np.where(other_day, 1 + (rng.random(h) * days_in_month(year, month)).astype(int), 1)
    start = days_from_parts(year, month, day)
    end = _plus_year_minus_day(year, month, day)
    hh["css_start"], hh["css_end"] = start, end
    member = (hh["css_state"][pp["hid"]] > 0) & (rng.random(len(pp["hid"])) < 0.97)
    member &= (pp["role"] != OTHER) | (rng.random(len(pp["hid"])) < 0.6)
    pp["css"] = member


def _plus_year_minus_day(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Epoch day of (date + 12 months − 1 day), the day clamped to the month's end."""
    next_year = year + 1
    clamped = np.minimum(day, days_in_month(next_year, month))
    return days_from_parts(next_year, month, clamped) - 1


def _job_seekers(pop: Population, seed: int, reference: date) -> None:
    rng = stream(seed, 40)
    pp = pop.pp
    n = len(pp["age"])
    status, age, earnings = pp["status"], pp["age"], pp["earnings"]
    working_age = (age >= 18) & (age <= 67) & ~((pp["role"] == OTHER) & (age >= 62))
    u = rng.random(n)
    low_paid = (status == EMPLOYED) & (earnings < 130000)
    p = np.select(
        [
            status == UNEMPLOYED,
            low_paid,
            status == EMPLOYED,
            (status == INACTIVE) & (age <= 62),
            status == DISABLED,
            status == STUDENT,
        ],
        [0.9, 0.14, 0.02, 0.07, 0.12, 0.01],
        0.0,
    )
    registered = working_age & (u < p)
    v = rng.random(n)
    category = np.select(
        [
            status == UNEMPLOYED,
            low_paid,
            status == EMPLOYED,
            status == INACTIVE,
            status == DISABLED,
        ],
        [
            np.where(earnings > 0, CAT_B, np.where(v < 0.89, CAT_A, CAT_D)),
            np.where(v < 0.45, CAT_B, np.where(v < 0.9, CAT_C, CAT_E)),
            np.where(v < 0.6, CAT_C, CAT_E),
            np.where(v < 0.5, CAT_A, CAT_D),
            np.where(v < 0.7, CAT_A, CAT_D),
        ],
        CAT_D,
    )
    benefit = np.where(pp["benefit_kind"] == ASS, 2, np.where(pp["benefit_kind"] == ARE, 1, 0))
    benefit = np.where(np.isin(category, (CAT_D, CAT_E)) & (benefit != 1), 0, benefit)
    # Time since registration, in days: short for ARE, long for ASS, both for the others.
    w = rng.random(n)
    duration = np.select(
        [benefit == 1, benefit == 2],
        [rng.exponential(240, n), 400 + rng.exponential(900, n)],
        np.where(w < 0.5, rng.exponential(150, n), 200 + rng.exponential(700, n)),
    )
    duration = np.minimum(duration, 12 * 365).astype(np.int64)
    r = to_days(reference)
    registration = r - duration
    boundary = to_days(minus_months(reference, 3))
    x = rng.random(n)
    registration = np.where(x < 0.008, boundary, registration)
    registration = np.where((x >= 0.008) & (x < 0.016), boundary + 1, registration)
    pp["ft"] = registered
    pp["ft_category"] = category.astype(np.int8)
    pp["ft_benefit"] = benefit.astype(np.int8)
    pp["ft_registration"] = registration


def _social_services(pop: Population, seed: int, reference: date) -> None:
    """Followed by the CD31: RSA support, households in contact, APA, PCH, a few others."""
    rng = stream(seed, 41)
    pp, hh = pop.pp, pop.hh
    n = len(pp["age"])
    hid, age, role = pp["hid"], pp["age"], pp["role"]
    is_allocataire = np.zeros(n, bool)
    is_allocataire[hh["allocataire"]] = True
    u = rng.random(n)
    rsa_support = pp["adult"] & hh["rsa"][hid] & (u < np.where(is_allocataire, 0.5, 0.3))
    contact = (
        pp["adult"] & hh["contact"][hid] & (rng.random(n) < np.where(is_allocataire, 1.0, 0.35))
    )
    apa = (age >= 75) & (rng.random(n) < np.where(age >= 85, 0.22, 0.06))
    pch = ((pp["status"] == DISABLED) & (rng.random(n) < 0.2)) | (
        (role == CHILD) & (rng.random(n) < 0.002)
    )
    occasional = (age >= 18) & (rng.random(n) < 0.004)
    followed = rsa_support | contact | apa | pch | occasional
    v = rng.random(n)
    support = np.select(
        [rsa_support, contact, occasional & ~apa & ~pch],
        [
            np.where(v < 0.55, PRO, SOCIAL),
            np.where(v < 0.65, SOCIAL, NO_SUPPORT),
            np.where(v < 0.5, SOCIAL, NO_SUPPORT),
        ],
        NO_SUPPORT,
    )
    # Days since the last contact: recent for RSA support, anything up to 24 months otherwise;
    # a few exactly on (or just past) the 24-month boundary.
    ago = np.select(
        [rsa_support, apa | pch],
        [np.minimum(rng.exponential(60, n), 700), np.minimum(rng.exponential(120, n), 700)],
        rng.uniform(0, 725, n),
    ).astype(np.int64)
    r = to_days(reference)
    contact_day = r - ago
    boundary = to_days(minus_months(reference, 24))
    x = rng.random(n)
    contact_day = np.select(
        [x < 0.004, x < 0.008, x < 0.011],
        [boundary, boundary + 1, boundary - rng.integers(1, 41, n)],
        contact_day,
    )
    pp["cd31"] = followed
    pp["cd31_support"] = support.astype(np.int8)
    pp["apa"] = apa
    pp["pch"] = pch
    pp["cd31_contact"] = contact_day


def _movers(pop: Population, territory: Territory, seed: int) -> None:
    """A few households moved out of 31; some partners already have the new address."""
    rng = stream(seed, 42)
    h = pop.households
    moved = rng.random(h) < 0.008
    destination = territory.n31 + rng.integers(0, len(territory.codes) - territory.n31, h)
    pop.hh["moved_to"] = np.where(moved, destination, -1).astype(np.int16)
