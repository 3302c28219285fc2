"""Numbers, rates and dates the French way: one convention for the console and every report.

Thousands are separated and the percent sign preceded by a narrow no-break space (U+202F),
as the Imprimerie nationale and CLDR's ``fr`` locale write them: ``1 234``, ``18,3 %``. The
decimal mark is the comma. Rates are rounded half up from their shortest decimal form, so that
0.1835 reads ``18,4 %`` whatever binary noise the double carries.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

NNBSP = "\u202f"
SECRET = "s"  # a withheld cell, as INSEE and the SSM print it
MISSING = "–"  # no rate: nobody in the population
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def integer(value: int | None) -> str:
    """``1234567`` → ``1 234 567`` (narrow no-break spaces); None → the missing mark."""
    if value is None:
        return MISSING
    return f"{int(value):,}".replace(",", NNBSP)


def decimal(value: float | Decimal, digits: int = 1) -> str:
    """A number with ``digits`` decimals, comma as the decimal mark, half up."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    text = f"{int(whole):,}".replace(",", NNBSP)
    return f"{sign}{text},{fraction}" if digits > 0 else f"{sign}{text}"


def rate(value: float | None, digits: int = 1) -> str:
    """A proportion (0 to 1) as a percentage: ``0.18333`` → ``18,3 %``."""
    if value is None:
        return MISSING
    return percent(Decimal(repr(float(value))) * 100, digits)


def percent(value: float | Decimal | None, digits: int = 1) -> str:
    """A value already in percent (INSEE's ``14.5``) → ``14,5 %``."""
    if value is None:
        return MISSING
    return f"{decimal(value, digits)}{NNBSP}%"


def period_label(period: str) -> str:
    """``2026-10`` → ``octobre 2026``."""
    year, month = period.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def points(value: float | Decimal, digits: int = 1) -> str:
    """A difference of two rates, in percentage points, signed: ``+3,2 pts``, ``−0,4 pt``,
    ``0,0 pt`` (singular under two, as French writes units; a true minus sign)."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    sign = "+" if rounded > 0 else "−" if rounded < 0 else ""
    unit = "pts" if abs(rounded) >= 2 else "pt"
    return f"{sign}{decimal(abs(rounded), digits)}{NNBSP}{unit}"
