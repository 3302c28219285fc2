"""Normalised identity traits, so that partners' spellings of one person meet.

Partners spell names their own way (accents, case, hyphen or space, apostrophes, particles);
the traits pseudonym is made from a normal form that erases those differences: upper case,
no accents, only letters; the first given name is the first word once hyphens become spaces
(``JEAN-PIERRE`` and ``JEAN PIERRE`` both give ``JEAN``; ``N'GOLO`` gives ``NGOLO``). Dates of
birth with an unknown day or month (``00``) take day 1 / January, as docs/regles.md says.
"""

from __future__ import annotations

import polars as pl


def plain_letters(column: pl.Expr) -> pl.Expr:
    """Upper case, accents and ligatures removed, then everything but A–Z dropped."""
    return (
        column.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_uppercase()
        .str.replace_all("Œ", "OE")
        .str.replace_all("Æ", "AE")
        .str.replace_all(r"[^A-Z]", "")
    )


def surname(column: pl.Expr) -> pl.Expr:
    """The name as plain letters; null when nothing is left."""
    return plain_letters(column).replace("", None)


def first_given_name(column: pl.Expr) -> pl.Expr:
    """The first word, hyphens separating words (apostrophes do not: ``N'GOLO`` is one)."""
    return surname(column.str.extract(r"^[\s\-]*([^\s\-]+)", 1))


def traits_key(name: pl.Expr, given: pl.Expr, birth_iso: pl.Expr, sex: pl.Expr) -> pl.Expr:
    """``NAME|GIVEN|AAAA-MM-JJ|S``, null when any trait is missing (then no traits pseudonym)."""
    return pl.concat_str([surname(name), first_given_name(given), birth_iso, sex], separator="|")
