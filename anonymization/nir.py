"""NIR (French social security number) checks, vectorised.

A NIR whose key fails is never used for linkage (docs/regles.md, "Le NIR"): the row stays, the NIR
counted invalid. The key is 97 − (13-digit number mod 97), Corsica's ``2A``/``2B`` standing
for 19/18. Numbers starting with 7 or 8 are temporary NIA numbers: usable, but flagged.
"""

from __future__ import annotations

import polars as pl

# sex/kind, year, month (01-12, 20-42, 50-99 for unknown or incomplete dates), département
# (2 digits, or 2A/2B), commune, order, key. Written for both engines that apply it: Python's
# `re` (pandas, hence Great Expectations) and Rust's regex (polars): `[0-9]` because `\d` is
# Unicode-wide, and `\Z` (end of text) which polars spells `\z` (see ``polars_regex``).
NIR_SHAPE = (
    r"^[1-478][0-9]{2}(?:0[1-9]|1[0-2]|[23][0-9]|4[0-2]|[5-9][0-9])"
    r"(?:[0-9]{2}|2[AB])[0-9]{6}[0-9]{2}\Z"
)

ABSENT, INVALID, VALID, TEMPORARY = "absent", "invalide", "valide", "nia"


def normalize(column: pl.Expr) -> pl.Expr:
    """The NIR as 15 characters: spaces and dots removed, letters upper-cased."""
    return column.str.replace_all(r"[\s.]", "").str.to_uppercase()


def polars_regex(regex: str) -> str:
    return regex.replace(r"\Z", r"\z")


def key_parts(normalized: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(key given, key computed) of a well-shaped NIR, both null otherwise."""
    well_formed = normalized.str.contains(polars_regex(NIR_SHAPE))
    department = normalized.str.slice(5, 2).replace({"2A": "19", "2B": "18"})
    number = pl.concat_str(
        [normalized.str.slice(0, 5), department, normalized.str.slice(7, 6)]
    ).cast(pl.Int64, strict=False)
    given = normalized.str.slice(13, 2).cast(pl.Int64, strict=False)
    return pl.when(well_formed).then(given), pl.when(well_formed).then(97 - number % 97)


def key_matches(normalized: pl.Expr) -> pl.Expr:
    """True when a well-shaped NIR's key checks (null for malformed input)."""
    given, computed = key_parts(normalized)
    return given == computed


def status(column: pl.Expr) -> pl.Expr:
    """``absent``, ``invalide``, ``valide`` or ``nia`` (a temporary number whose key checks)."""
    nir = normalize(column)
    checks = key_matches(nir).fill_null(False)
    return (
        pl.when(column.is_null() | (nir == ""))
        .then(pl.lit(ABSENT))
        .when(~checks)
        .then(pl.lit(INVALID))
        .when(nir.str.slice(0, 1).is_in(["7", "8"]))
        .then(pl.lit(TEMPORARY))
        .otherwise(pl.lit(VALID))
    )
