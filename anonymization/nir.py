"""NIR (French social security number) checks, vectorised.

A NIR whose key fails is never used for linkage (INDICATORS.md): the row stays, the NIR is
counted invalid. The key is 97 − (13-digit number mod 97), Corsica's ``2A``/``2B`` standing
for 19/18. Numbers starting with 7 or 8 are temporary NIA numbers: usable, but flagged.
"""

from __future__ import annotations

import polars as pl

# sex/kind, year, month (01-12, 20-42, 50-99 for unknown or incomplete dates), département
# (2 digits, or 2A/2B), commune, order, key.
NIR_SHAPE = r"^[1-478]\d{2}(0[1-9]|1[0-2]|[23]\d|4[0-2]|[5-9]\d)(\d{2}|2[AB])\d{6}\d{2}$"

ABSENT, INVALID, VALID, TEMPORARY = "absent", "invalide", "valide", "nia"


def normalize(column: pl.Expr) -> pl.Expr:
    """The NIR as 15 characters: spaces and dots removed, letters upper-cased."""
    return column.str.replace_all(r"[\s.]", "").str.to_uppercase()


def key_matches(normalized: pl.Expr) -> pl.Expr:
    """True when a well-shaped NIR's key checks (null for malformed input)."""
    department = normalized.str.slice(5, 2).replace({"2A": "19", "2B": "18"})
    number = pl.concat_str(
        [normalized.str.slice(0, 5), department, normalized.str.slice(7, 6)]
    ).cast(pl.Int64, strict=False)
    key = normalized.str.slice(13, 2).cast(pl.Int64, strict=False)
    return (97 - number % 97) == key


def status(column: pl.Expr) -> pl.Expr:
    """``absent``, ``invalide``, ``valide`` or ``nia`` (a temporary number whose key checks)."""
    nir = normalize(column)
    well_formed = nir.str.contains(NIR_SHAPE).fill_null(False)
    checks = well_formed & key_matches(nir).fill_null(False)
    return (
        pl.when(column.is_null() | (nir == ""))
        .then(pl.lit(ABSENT))
        .when(~checks)
        .then(pl.lit(INVALID))
        .when(nir.str.slice(0, 1).is_in(["7", "8"]))
        .then(pl.lit(TEMPORARY))
        .otherwise(pl.lit(VALID))
    )
