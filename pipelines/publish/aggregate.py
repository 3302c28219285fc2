"""From units to counts: the complete grid of one indicator for one period.

Every territory of every level gets every breakdown of the indicator, with zeros where nobody
is: the grid comes from the reference and the indicator's declared bands and types, never from
the data, so that the set of published rows says nothing about where people are. Units are
first counted per commune × age band × household type (a few thousand cells at most), then
those cells are rolled up: the zone, EPCI and département rows are sums of the very same cells, so
the totals add up exactly by construction.
"""

from __future__ import annotations

import polars as pl

from pipelines.publish.model import (
    DEPARTEMENT_CODE,
    ENSEMBLE,
    UNIT_COLUMNS,
    IndicatorUnits,
    PublicationError,
    conform,
)
from pipelines.publish.territories import commune_frame, level_frame

COUNTS = ("population", "non_recours", "non_recours_connus")

# Why a unit is left out of the grid (keys of the excluded counts, and of ``qualite``).
EXCLUSIONS = {
    "hors_departement": "commune de résidence hors de la Haute-Garonne",
    "commune_inconnue": "commune de résidence absente",
    "tranche_age_hors_grille": "tranche d'âge absente ou hors des tranches de l'indicateur",
    "type_menage_hors_grille": "type de ménage absent ou hors des types de l'indicateur",
}


def check_units(units: IndicatorUnits) -> None:
    """Refuse an input that would give a wrong grid rather than publish it."""
    name = units.indicator
    if not name or not isinstance(name, str):
        raise PublicationError("indicateur sans identifiant")
    if not isinstance(units.threshold, int) or units.threshold < 1:
        raise PublicationError(f"{name} : seuil de publication invalide ({units.threshold!r})")
    if not units.age_bands:
        raise PublicationError(f"{name} : aucune tranche d'âge déclarée")
    for label, values in (("tranches d'âge", units.age_bands), ("types", units.household_types)):
        if ENSEMBLE in values or len(set(values)) != len(values):
            raise PublicationError(f"{name} : {label} en double ou nommées « {ENSEMBLE} »")
    frame = units.units
    for column, kind in UNIT_COLUMNS.items():
        if column not in frame.columns:
            raise PublicationError(f"{name} : colonne {column} absente des unités")
        if frame.schema[column] not in (kind, pl.Null):
            raise PublicationError(
                f"{name} : colonne {column} de type {frame.schema[column]}, attendu {kind}"
            )
    for column in ("unite_id", "non_recours", "connu"):
        if frame[column].null_count():
            raise PublicationError(f"{name} : valeurs manquantes dans la colonne {column}")
    if frame["unite_id"].is_duplicated().any():
        raise PublicationError(f"{name} : une unité apparaît plusieurs fois (unite_id en double)")


def _classify(units: IndicatorUnits) -> tuple[pl.DataFrame, dict[str, int]]:
    """The units that fit the grid, and how many were left out, by reason."""
    known_communes = commune_frame()["code_commune"]
    text, flag = pl.String, pl.Boolean  # an all-NULL column may come typed Null
    frame = units.units.select(
        pl.col("code_commune").cast(text),
        pl.col("tranche_age").cast(text),
        (pl.col("type_menage").cast(text) if units.household_types else pl.lit(ENSEMBLE)).alias(
            "type_menage"
        ),
        pl.col("non_recours").cast(flag),
        pl.col("connu").cast(flag),
    )
    commune, band, kind = pl.col("code_commune"), pl.col("tranche_age"), pl.col("type_menage")
    reason = (
        pl.when(commune.is_null())
        .then(pl.lit("commune_inconnue"))
        .when(~commune.is_in(known_communes.implode()))
        .then(pl.lit("hors_departement"))
        .when(band.is_null() | ~band.is_in(pl.Series(units.age_bands, dtype=pl.String).implode()))
        .then(pl.lit("tranche_age_hors_grille"))
    )
    if units.household_types:
        allowed = pl.Series(units.household_types, dtype=pl.String).implode()
        reason = reason.when(kind.is_null() | ~kind.is_in(allowed)).then(
            pl.lit("type_menage_hors_grille")
        )
    frame = frame.with_columns(_motif=reason.otherwise(pl.lit(None, dtype=pl.String)))
    counted = frame["_motif"].value_counts()
    found = dict(zip(counted["_motif"].to_list(), counted["count"].to_list(), strict=True))
    excluded = {motif: int(found.get(motif, 0)) for motif in EXCLUSIONS}
    return frame.filter(pl.col("_motif").is_null()).drop("_motif"), excluded


def _cells(kept: pl.DataFrame) -> pl.DataFrame:
    """Counts per commune × band × type, with the commune's zone and EPCI."""
    return (
        kept.group_by("code_commune", "tranche_age", "type_menage")
        .agg(
            population=pl.len().cast(pl.Int64),
            non_recours=pl.col("non_recours").sum().cast(pl.Int64),
            non_recours_connus=(pl.col("non_recours") & pl.col("connu")).sum().cast(pl.Int64),
        )
        .join(commune_frame().select("code_commune", "code_zone", "code_epci"), on="code_commune")
    )


def _breakdowns(units: IndicatorUnits) -> pl.DataFrame:
    """tranche_age × type_menage of the département and EPCI grids, ``ensemble`` first."""
    bands = [ENSEMBLE, *units.age_bands]
    types = [ENSEMBLE, *units.household_types]
    return pl.DataFrame(
        {
            "tranche_age": [band for band in bands for _ in types],
            "type_menage": [kind for _ in bands for kind in types],
        }
    )


def _rolled_up(cells: pl.DataFrame, territory: pl.Expr, has_types: bool) -> pl.DataFrame:
    """Sums per territory for each of band/ensemble × type/ensemble."""
    ensemble = pl.lit(ENSEMBLE)
    type_choices = [pl.col("type_menage"), ensemble] if has_types else [ensemble]
    parts = [
        cells.select(
            territory.alias("code_territoire"),
            band.alias("tranche_age"),
            kind.alias("type_menage"),
            *COUNTS,
        )
        for band in (pl.col("tranche_age"), ensemble)
        for kind in type_choices
    ]
    return (
        pl.concat(parts)
        .group_by("code_territoire", "tranche_age", "type_menage")
        .agg(pl.col(column).sum().cast(pl.Int64) for column in COUNTS)
    )


def _grid(level: str, breakdowns: pl.DataFrame, counts: pl.DataFrame) -> pl.DataFrame:
    """Every territory of the level × every breakdown, in order, zeros where nobody is."""
    return (
        level_frame(level)
        .join(breakdowns, how="cross")
        .join(
            counts,
            on=["code_territoire", "tranche_age", "type_menage"],
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col(column).fill_null(0).cast(pl.Int64) for column in COUNTS)
        .with_columns(niveau=pl.lit(level))
    )


def aggregate(
    units: IndicatorUnits, period: str
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """The ``indicateurs`` and ``connus`` rows of one indicator, before any secret.

    Returns the two tables (``secret`` all false, counts unrounded) and the number of units
    left out of the grid by reason (see ``EXCLUSIONS``), which go to ``qualite``.
    """
    check_units(units)
    kept, excluded = _classify(units)
    cells = _cells(kept)
    has_types = bool(units.household_types)
    breakdowns = _breakdowns(units)
    ensemble_only = pl.DataFrame({"tranche_age": [ENSEMBLE], "type_menage": [ENSEMBLE]})
    grids = pl.concat(
        [
            _grid(
                "departement",
                breakdowns,
                _rolled_up(cells, pl.lit(DEPARTEMENT_CODE), has_types),
            ),
            _grid("epci", breakdowns, _rolled_up(cells, pl.col("code_epci"), has_types)),
            *(
                _grid(
                    level,
                    ensemble_only,
                    _rolled_up(cells, pl.col(column), has_types).filter(
                        (pl.col("tranche_age") == ENSEMBLE) & (pl.col("type_menage") == ENSEMBLE)
                    ),
                )
                for level, column in (("zone", "code_zone"), ("commune", "code_commune"))
            ),
        ],
        how="diagonal",
    ).with_columns(indicateur=pl.lit(units.indicator), periode=pl.lit(period))

    population, non_recours = pl.col("population"), pl.col("non_recours")
    indicateurs = conform(
        grids.with_columns(
            taux=pl.when(population > 0).then(non_recours / population),
            secret=pl.lit(False),
        ),
        "indicateurs",
    )
    connus = conform(
        grids.filter(
            pl.col("niveau").is_in(["departement", "epci"])
            & (pl.col("tranche_age") == ENSEMBLE)
            & (pl.col("type_menage") == ENSEMBLE)
        ).with_columns(
            part_connus=pl.when(non_recours > 0).then(pl.col("non_recours_connus") / non_recours),
            secret=pl.lit(False),
        ),
        "connus",
    )
    return indicateurs, connus, excluded
