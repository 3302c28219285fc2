"""The synthetic Haute-Garonne: communes, EPCIs, persons per commune, territorial contrasts.

Persons are spread over the 586 communes in proportion to the population municipale 2023,
with the largest-remainder method so that the total is exactly the requested number. The
socio-economic indicators (median living standard, unemployment, home ownership) give each
commune a deprivation score that shapes incomes, unemployment and take-up, so that rates of
presumed non-take-up differ between territories as they would in the real département.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from recours.reference import DATA

TOULOUSE = "31555"
RURAL, TOWN, CITY = 0, 1, 2

# Communes just outside the département where people who moved now live: (code, postal code,
# name). Lines with these codes test the "units outside 31 are left out" rule.
OUTSIDE = (
    ("81004", "81000", "Albi"),
    ("09122", "09000", "Foix"),
    ("11069", "11000", "Carcassonne"),
    ("82121", "82000", "Montauban"),
    ("32013", "32000", "Auch"),
    ("65440", "65000", "Tarbes"),
)


@dataclass(frozen=True)
class Territory:
    """Communes of 31 (indices 0..n31-1) followed by the outside communes."""

    codes: np.ndarray  # INSEE codes (str), 31 first then OUTSIDE
    names: np.ndarray
    postal_codes: list[tuple[str, ...]]
    epci: np.ndarray  # EPCI SIREN of each commune of 31
    population: np.ndarray  # population municipale 2023 (31 only)
    kind: np.ndarray  # RURAL, TOWN or CITY (31 only)
    deprivation: np.ndarray  # standardised: > 0 poorer than the département's typical commune
    income_factor: np.ndarray  # multiplier of earnings, around 1
    unemployment: np.ndarray  # census unemployment rate, share
    owners: np.ndarray  # share of households owning their home
    n31: int

    @property
    def epci_codes(self) -> list[str]:
        return sorted(set(self.epci.tolist()))


def load_territory() -> Territory:
    communes = pl.read_csv(
        DATA / "communes_31.csv",
        schema_overrides={"code_insee": pl.String, "epci_siren": pl.String},
    ).sort("code_insee")
    socio = pl.read_csv(
        DATA / "indicateurs_socio_31.csv",
        schema_overrides={"code_insee": pl.String, "epci_siren": pl.String},
    ).select(
        "code_insee",
        "mediane_niveau_vie_filo2019_eur",
        "taux_chomage_15_64_rp2018_pct",
        "part_proprietaires_rp2018_pct",
    )
    frame = communes.join(socio, on="code_insee", how="left").with_columns(
        pl.col("mediane_niveau_vie_filo2019_eur")
        .fill_null(pl.col("mediane_niveau_vie_filo2019_eur").median().over("epci_siren"))
        .fill_null(pl.col("mediane_niveau_vie_filo2019_eur").median())
        .alias("median_income"),
        pl.col("taux_chomage_15_64_rp2018_pct").fill_null(
            pl.col("taux_chomage_15_64_rp2018_pct").median()
        ),
        pl.col("part_proprietaires_rp2018_pct").fill_null(
            pl.col("part_proprietaires_rp2018_pct").median()
        ),
    )
    population = frame["population_municipale_2023"].to_numpy().astype(np.int64)
    log_income = np.log(frame["median_income"].to_numpy())
    income_z = (log_income - np.median(log_income)) / log_income.std()
    unemployment = frame["taux_chomage_15_64_rp2018_pct"].to_numpy() / 100.0
    unemployment_z = (unemployment - np.median(unemployment)) / unemployment.std()
    deprivation = np.clip(0.6 * unemployment_z - 0.6 * income_z, -2.5, 3.0)
    codes = frame["code_insee"].to_numpy()
    kind = np.where(codes == TOULOUSE, CITY, np.where(population >= 5000, TOWN, RURAL))
    postal = [tuple(str(p).split("|")) for p in frame["codes_postaux"].to_list()]
    return Territory(
        codes=np.concatenate([codes, np.array([o[0] for o in OUTSIDE])]).astype(object),
        names=np.concatenate([frame["nom"].to_numpy(), np.array([o[2] for o in OUTSIDE])]).astype(
            object
        ),
        postal_codes=postal + [(o[1],) for o in OUTSIDE],
        epci=frame["epci_siren"].to_numpy().astype(object),
        population=population,
        kind=kind.astype(np.int8),
        deprivation=deprivation,
        income_factor=np.exp(0.12 * np.clip(income_z, -2.5, 2.5)),
        unemployment=unemployment,
        owners=frame["part_proprietaires_rp2018_pct"].to_numpy() / 100.0,
        n31=len(codes),
    )


def allocate(weights: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` over ``weights`` (ties: first index)."""
    weights = np.asarray(weights, np.int64)
    exact = weights * total
    base = exact // weights.sum()
    remainder = exact - base * weights.sum()
    missing = total - int(base.sum())
    order = np.lexsort((np.arange(len(weights)), -remainder))
    base[order[:missing]] += 1
    return base
