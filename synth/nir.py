"""NIR (numéro d'inscription au répertoire) construction, checks and partner quirks.

A NIR is sex (1/2; 7/8 for a temporary NIA), year (2), month (2; 20-42 or 50-99 when the month
of birth is unknown), département of birth (2, ``2A``/``2B`` for Corsica, ``99`` abroad),
commune of birth (3; the country code for people born abroad), order (3), key (2). The key is
97 − (13-digit number mod 97), Corsica counting as 19/18. Every number built here is unique in
the population and has a valid key; the partner quirks (spaces, key typos) are applied on
top, where the files are written.
"""

from __future__ import annotations

import numpy as np
import polars as pl

CORSE_SUD, HAUTE_CORSE = 201, 202  # internal codes for 2A and 2B
DEPARTMENT_LABEL = {CORSE_SUD: "2A", HAUTE_CORSE: "2B"}
KEY_NUMBER = {CORSE_SUD: 19, HAUTE_CORSE: 18}
ABROAD = 99


def key_of(number13: np.ndarray) -> np.ndarray:
    return 97 - np.asarray(number13, np.int64) % 97


def numbers(
    sex_digit: np.ndarray,
    year2: np.ndarray,
    month_code: np.ndarray,
    department: np.ndarray,
    commune3: np.ndarray,
    order: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(13-digit number used for the key, unique identity key) of each NIR."""
    department = np.asarray(department, np.int64)
    dep_number = np.where(department == CORSE_SUD, 19, department)
    dep_number = np.where(department == HAUTE_CORSE, 18, dep_number)
    head = (
        np.asarray(sex_digit, np.int64) * 10**12
        + np.asarray(year2, np.int64) * 10**10
        + np.asarray(month_code, np.int64) * 10**8
    )
    tail = np.asarray(commune3, np.int64) * 1000 + np.asarray(order, np.int64)
    number13 = head + dep_number * 10**6 + tail
    identity = head * 1000 + department * 10**6 + tail  # 2A/2B stay apart from 19/18
    return number13, identity


def unique_orders(
    rng: np.random.Generator,
    sex_digit: np.ndarray,
    year2: np.ndarray,
    month_code: np.ndarray,
    department: np.ndarray,
    commune3: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(order, commune of birth) such that no two persons share a NIR.

    Persons sharing sex, year, month and place of birth get distinct order numbers, scattered
    over 001-999 by an affine map with a random multiplier coprime with 999. A cell with more
    than 999 persons (never seen at the real scale) spills over to the next commune code.
    """
    commune3 = np.asarray(commune3, np.int64).copy()
    zeros = np.zeros(len(commune3), np.int64)
    units = np.array([a for a in range(1, 999) if a % 3 and a % 37])
    for _ in range(20):
        _, identity = numbers(sex_digit, year2, month_code, department, commune3, zeros)
        ordering = np.argsort(identity, kind="stable")
        ranked = identity[ordering]
        new_cell = np.concatenate([[True], ranked[1:] != ranked[:-1]])
        cell = np.cumsum(new_cell) - 1
        start = np.flatnonzero(new_cell)
        rank = np.empty(len(identity), np.int64)
        rank[ordering] = np.arange(len(identity)) - start[cell]
        overflow = rank >= 999
        if overflow.any():
            commune3[overflow] = (commune3[overflow] + rank[overflow] // 999) % 1000
            continue
        multiplier = units[rng.integers(0, len(units), len(start))]
        shift = rng.integers(0, 999, len(start))
        cell_of = np.empty(len(identity), np.int64)
        cell_of[ordering] = cell
        order = 1 + (multiplier[cell_of] * rank + shift[cell_of]) % 999
        return order, commune3
    raise RuntimeError("impossible d'attribuer des NIR uniques (population trop concentrée)")


def to_text(
    sex_digit: np.ndarray,
    year2: np.ndarray,
    month_code: np.ndarray,
    department: np.ndarray,
    commune3: np.ndarray,
    order: np.ndarray,
) -> pl.Series:
    """The 15-character NIR of each person."""
    number13, _ = numbers(sex_digit, year2, month_code, department, commune3, order)
    frame = pl.DataFrame(
        {
            "s": np.asarray(sex_digit, np.int64),
            "y": np.asarray(year2, np.int64),
            "m": np.asarray(month_code, np.int64),
            "d": np.asarray(department, np.int64),
            "c": np.asarray(commune3, np.int64),
            "o": np.asarray(order, np.int64),
            "k": key_of(number13),
        }
    )

    def padded(name: str, width: int) -> pl.Expr:
        return pl.col(name).cast(pl.String).str.zfill(width)

    department_text = (
        pl.when(pl.col("d") == CORSE_SUD)
        .then(pl.lit("2A"))
        .when(pl.col("d") == HAUTE_CORSE)
        .then(pl.lit("2B"))
        .otherwise(padded("d", 2))
    )
    return frame.select(
        pl.concat_str(
            [
                pl.col("s").cast(pl.String),
                padded("y", 2),
                padded("m", 2),
                department_text,
                padded("c", 3),
                padded("o", 3),
                padded("k", 2),
            ]
        ).alias("nir")
    ).to_series()


def is_valid(text: str) -> bool:
    """Key check of a 15-character NIR (spaces allowed), for tests and assertions."""
    compact = text.replace(" ", "")
    if len(compact) != 15:
        return False
    body = compact[:5] + compact[5:7].replace("2A", "19").replace("2B", "18") + compact[7:13]
    return body.isdigit() and 97 - int(body) % 97 == int(compact[13:])


def spaced(text: str) -> str:
    """``1 85 03 31 555 042 17``: how a NIR is written on a card or in a note."""
    return f"{text[0]} {text[1:3]} {text[3:5]} {text[5:7]} {text[7:10]} {text[10:13]} {text[13:]}"


def with_typo(text: str, position: int, shift: int) -> str:
    """One digit of the 13-digit body changed (never a Corsica letter): the key then fails,
    since 97 is prime and divides no single-digit change d × 10^k."""
    digits = [i for i in range(1, 13) if text[i].isdigit()]
    i = digits[position % len(digits)]
    new = (int(text[i]) + 1 + shift % 9) % 10
    return text[:i] + str(new) + text[i + 1 :]
