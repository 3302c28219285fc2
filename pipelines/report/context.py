"""The territorial context: INSEE's poverty and unemployment rates per EPCI, beside each rate.

The figures come from ``recours/data/indicateurs_socio_31.csv`` (INSEE, comparateur de
territoires: census RP 2018, Filosofi 2019), shipped with the project and public. They are
commune figures, so the EPCI rates are rebuilt here, and said how:

- unemployment (census definition, 15-64): unemployed ÷ labour force, summed over the
  communes — exact;
- poverty (60 % of the median): INSEE publishes it only for the larger communes (86 of 586),
  so the EPCI figure is an estimate, the mean of those communes' rates weighted by their tax
  households, with the share of the EPCI's tax households it covers printed beside it.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from recours.reference import DATA

SOURCE = "indicateurs_socio_31.csv"
VINTAGES = (
    "Taux de chômage : INSEE, recensement de la population 2018 (chômeurs de 15 à 64 ans parmi "
    "les actifs, au sens du recensement, non du BIT). Taux de pauvreté : INSEE, Filosofi 2019 "
    "(seuil à 60 % du niveau de vie médian), publié seulement pour les communes les plus "
    "peuplées ; le taux d'un EPCI est ici estimé par la moyenne des taux de ces communes "
    "pondérée par leurs ménages fiscaux, et la couverture dit quelle part des ménages fiscaux "
    "de l'EPCI ces communes représentent. Source : INSEE, comparateur de territoires (édition "
    "2022), fichier embarqué recours/data/indicateurs_socio_31.csv."
)


@cache
def by_epci() -> pl.DataFrame:
    """One row per EPCI (and one for the département, code ``31``): ``chomage_pct``,
    ``pauvrete_pct`` (None when no commune of it is published), ``couverture_pct``."""
    communes = pl.read_csv(
        DATA / SOURCE,
        schema_overrides={"code_insee": pl.String, "epci_siren": pl.String},
    )

    def rates(frame: pl.DataFrame | pl.LazyFrame, key: pl.Expr) -> pl.DataFrame:
        published = pl.col("taux_pauvrete_60_filo2019_pct").is_not_null()
        weights = pl.col("menages_fiscaux_filo2019").fill_null(0)
        return (
            frame.lazy()
            .group_by(key.alias("code_territoire"))
            .agg(
                chomage_pct=100
                * pl.col("chomeurs_15_64_rp2018").sum()
                / pl.col("actifs_15_64_rp2018").sum(),
                pauvrete_pct=(pl.col("taux_pauvrete_60_filo2019_pct") * weights)
                .filter(published)
                .sum()
                / weights.filter(published).sum(),
                couverture_pct=100 * weights.filter(published).sum() / weights.sum(),
            )
            .with_columns(
                pl.when(pl.col("couverture_pct") > 0)
                .then(pl.col("pauvrete_pct"))
                .alias("pauvrete_pct")
            )
            .collect()
        )

    return pl.concat([rates(communes, pl.col("epci_siren")), rates(communes, pl.lit("31"))]).sort(
        "code_territoire"
    )
