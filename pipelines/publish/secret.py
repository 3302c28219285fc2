"""Primary statistical secret (docs/regles.md, "Secret statistique", rule 1).

Flagging and withholding are two steps on purpose: the secondary secret (rule 2,
:mod:`pipelines.publish.secondary`) needs the true counts of the primary-secret rows to decide
which further rows to withhold, so it runs between ``flag_primary`` and ``withhold``.
``apply_primary_secret`` chains the two for tests of rule 1 alone. The ``secret`` flag carries
no reason: saying "primary" would tell an attacker which cells are small.
"""

from __future__ import annotations

import polars as pl

from pipelines.publish.model import PublicationError

INDICATEURS_WITHHELD = ("population", "non_recours", "taux")
CONNUS_WITHHELD = ("non_recours", "non_recours_connus", "part_connus")


def _small(count: pl.Expr, threshold: int) -> pl.Expr:
    """Between 1 and T − 1: a count small enough to point at a few people."""
    return (count >= 1) & (count <= threshold - 1)


def _check_threshold(threshold: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise PublicationError(f"seuil de publication invalide : {threshold!r}")


def flag_primary(
    indicateurs: pl.DataFrame, connus: pl.DataFrame, threshold: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Set ``secret`` on the rows rule 1 withholds; counts are left as they are.

    A row already secret stays secret. A zero row (nobody in the cell) is never secret: all
    its counts are 0, which no condition below catches.
    """
    _check_threshold(threshold)
    population, non_recours = pl.col("population"), pl.col("non_recours")
    known = pl.col("non_recours_connus")
    rule_indicateurs = (
        _small(population, threshold)
        | _small(non_recours, threshold)
        | _small(population - non_recours, threshold)
        | ((non_recours == population) & (population > 0))
    )
    rule_connus = _small(known, threshold) | _small(non_recours - known, threshold)

    def already(frame: pl.DataFrame) -> pl.Expr:
        return pl.col("secret").fill_null(False) if "secret" in frame.columns else pl.lit(False)

    return (
        indicateurs.with_columns(secret=already(indicateurs) | rule_indicateurs.fill_null(False)),
        connus.with_columns(secret=already(connus) | rule_connus.fill_null(False)),
    )


def withhold(indicateurs: pl.DataFrame, connus: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """NULL every count and rate of the secret rows: nothing of them is published."""

    def blank(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
        return frame.with_columns(
            pl.when(~pl.col("secret").cast(pl.Boolean)).then(pl.col(column)).alias(column)
            for column in columns
        )

    return blank(indicateurs, INDICATEURS_WITHHELD), blank(connus, CONNUS_WITHHELD)


def apply_primary_secret(
    indicateurs: pl.DataFrame, connus: pl.DataFrame, threshold: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rule 1, flagged and withheld, for rows that all share the threshold ``threshold``."""
    return withhold(*flag_primary(indicateurs, connus, threshold))
