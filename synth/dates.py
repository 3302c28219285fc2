"""Calendar arithmetic shared by the generator and the planted truth.

Dates are epoch days (``int``, days since 1970-01-01) so that a whole population is built,
shifted and compared in one vectorised numpy step; the calendar rules of docs/regles.md
("R minus k months", completed years at R) are written once, here.

Age at R: completed years at R (docs/regles.md). R is always the last day of a month, so
whether a birthday has passed by R depends on the month of birth only: everybody born in R's
month has had their birthday by the month's last day. That includes a person born on
29 February when R is 28 February of a common year: such a person reaches their birthday at the
end of February. The pipeline, which keeps only the month of birth, computes the same age.
A date of birth with an unknown day or month (``00``) counts as day 1 / month 1 (docs/regles.md),
which is also the person's true date of birth in the synthetic population.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

import numpy as np

EPOCH = date(1970, 1, 1)
EXCEL_EPOCH_SHIFT = 25569  # Excel serial number of 1970-01-01 (1900 date system)
PERIOD_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def default_period(today: date | None = None) -> str:
    """The month before ``today``: the latest month whose deliveries can be complete."""
    today = today or date.today()
    previous = today.replace(day=1) - timedelta(days=1)
    return f"{previous.year:04d}-{previous.month:02d}"


def parse_period(period: str) -> tuple[int, int]:
    match = PERIOD_PATTERN.match(period)
    if match is None:
        raise ValueError(f"période invalide : {period!r} (format attendu AAAA-MM, ex. 2025-06)")
    return int(match.group(1)), int(match.group(2))


def last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def reference_date(period: str) -> date:
    """R: the last day of the period's month."""
    return last_day(*parse_period(period))


def minus_months(reference: date, months: int) -> date:
    """ "R minus k months": the last day of the month ``months`` months before R's month."""
    index = reference.year * 12 + reference.month - 1 - months
    return last_day(index // 12, index % 12 + 1)


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def to_days(day: date) -> int:
    return (day - EPOCH).days


def from_days(days: int) -> date:
    return EPOCH + timedelta(days=int(days))


def days_from_parts(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Epoch days of (year, month, day) arrays; the day must exist in its month."""
    months = (np.asarray(year, np.int64) - 1970) * 12 + (np.asarray(month, np.int64) - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return first + np.asarray(day, np.int64) - 1


def days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    months = (np.asarray(year, np.int64) - 1970) * 12 + (np.asarray(month, np.int64) - 1)
    start = months.astype("datetime64[M]").astype("datetime64[D]")
    end = (months + 1).astype("datetime64[M]").astype("datetime64[D]")
    return (end - start).astype(np.int64)


def parts_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) arrays of epoch days."""
    as_date = np.asarray(days, np.int64).astype("datetime64[D]")
    months = as_date.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (as_date - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def age_at(birth_year: np.ndarray, birth_month: np.ndarray, reference: date) -> np.ndarray:
    """Completed years at R (the last day of a month), from the year and month of birth.

    A month of birth 0 (unknown) counts as January. See the module docstring for 29 February.
    """
    month = np.where(np.asarray(birth_month) == 0, 1, birth_month)
    return reference.year - np.asarray(birth_year, np.int64) - (month > reference.month)
