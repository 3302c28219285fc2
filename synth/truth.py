"""The planted truth: the indicators as a perfect pipeline would publish them.

Computed from the deliveries' values (what the files show) and the true identities (who each
line really is), i.e. with perfect linkage, implementing docs/regles.md independently of any
pipeline code: exact integer rules from ``rules.py``, ages from the defining source's date of
birth (with the month-of-birth convention of ``dates.py``), territory from the defining source's
commune, units outside 31 left out, no disclosure control (the truth is not published).

The inputs are *views*: one polars frame per convention with the columns below, so a test can
build a tiny hand-made household and check the figures by hand.

- ``caf31``: person_id, household_id, qualite, birth_year, birth_month, commune, nbenfcharge,
  resstrim, revacttrim, mtal (cents), droitrsa, droitppa, droitaah (``O``/``N``)
- ``cpam31``: person_id, date_debut, date_fin (epoch days)
- ``carsatmp``: person_id, birth_year, birth_month, commune, pension (cents), aspa (``0``/``1``)
- ``ftocc``: person_id, birth_year, birth_month, commune, categorie, indemnisation,
  date_inscription (epoch days)
- ``cd31``: person_id, date_contact (epoch days)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from recours.zoning import zoning
from synth import rules
from synth.dates import age_at

ENSEMBLE = "ensemble"
LEVELS = ("departement", "epci", "zone", "commune")
ADULT_QUALITES = ("ALL", "CJT")


@dataclass(frozen=True)
class Indicator:
    id: str
    bands: tuple[str, ...]
    types: tuple[str, ...]  # empty: no household-type breakdown


CATALOGUE = (
    Indicator("rsa", rules.AGE_BANDS[1:], rules.HOUSEHOLD_TYPES),
    Indicator("prime_activite", rules.AGE_BANDS[1:], rules.HOUSEHOLD_TYPES),
    Indicator("aspa", ("65-74", "75+"), ()),
    Indicator("css_rsa", rules.AGE_BANDS, rules.HOUSEHOLD_TYPES),
    Indicator("css_bas_revenus", rules.AGE_BANDS, rules.HOUSEHOLD_TYPES),
    Indicator("demandeurs_sans_revenu", rules.AGE_BANDS[2:], ()),
)


def _bands(age: np.ndarray) -> np.ndarray:
    return np.array(rules.AGE_BANDS, dtype=object)[rules.age_band(age)]


def _types(adults: np.ndarray, children: np.ndarray) -> np.ndarray:
    return np.array(rules.HOUSEHOLD_TYPES, dtype=object)[rules.household_type(adults, children)]


def _units(commune, band, kind, non_recours, known) -> pl.DataFrame:  # noqa: ANN001
    n = len(non_recours)
    return pl.DataFrame(
        {
            "commune": pl.Series(list(commune), dtype=pl.String),
            "tranche_age": pl.Series(list(band), dtype=pl.String),
            "type_menage": pl.Series(
                list(kind) if kind is not None else [ENSEMBLE] * n, dtype=pl.String
            ),
            "non_recours": pl.Series(np.asarray(non_recours, bool)),
            "connu": pl.Series(np.asarray(known, bool)),
        }
    )


def indicator_units(views: dict[str, pl.DataFrame], reference: date) -> dict[str, pl.DataFrame]:
    """One row per unit of each indicator's target population."""
    caf = views["caf31"]
    cd31 = views["cd31"]
    contact = rules.contact_within_24_months(cd31["date_contact"].to_numpy(), reference)
    known_persons = cd31.filter(pl.Series(contact))["person_id"].unique()
    members = caf.with_columns(
        pl.col("qualite").is_in(ADULT_QUALITES).alias("adult"),
        pl.col("person_id").is_in(known_persons.implode()).alias("known"),
    )
    allocataire = pl.col("qualite") == "ALL"
    households = (
        members.group_by("household_id")
        .agg(
            pl.col("adult").sum().alias("adults"),
            pl.col("birth_year").filter(allocataire).first().alias("alloc_year"),
            pl.col("birth_month").filter(allocataire).first().alias("alloc_month"),
            pl.col("commune").filter(allocataire).first(),
            pl.col("known").any().alias("household_known"),
            *[
                pl.col(c).sort_by(~allocataire).first()
                for c in (
                    "nbenfcharge",
                    "resstrim",
                    "revacttrim",
                    "mtal",
                    "droitrsa",
                    "droitppa",
                    "droitaah",
                )
            ],
        )
        .sort("household_id")
    )
    h = {c: households[c].to_numpy() for c in households.columns}
    adults, children = h["adults"].astype(np.int64), h["nbenfcharge"].astype(np.int64)
    persons = adults + children
    c10 = rules.scale_tenths(adults, children)
    age = age_at(h["alloc_year"], h["alloc_month"], reference)
    kind = _types(adults, children)
    units = {}
    rsa = (
        ((age >= 25) | (children > 0))
        & (h["droitaah"] == "N")
        & rules.rsa_resources_below(h["resstrim"], c10, persons, h["mtal"])
    )
    units["rsa"] = _units(
        h["commune"][rsa],
        _bands(age[rsa]),
        kind[rsa],
        h["droitrsa"][rsa] == "N",
        h["household_known"][rsa],
    )
    pa = (
        (h["mtal"] > 0)
        & (h["revacttrim"] > 0)
        & (age >= 18)
        & rules.prime_activite_at_least_minimum(
            h["resstrim"], h["revacttrim"], c10, persons, h["mtal"]
        )
    )
    units["prime_activite"] = _units(
        h["commune"][pa],
        _bands(age[pa]),
        kind[pa],
        h["droitppa"][pa] == "N",
        h["household_known"][pa],
    )
    # CSS: person units of CAF households, no open CSS at R.
    cpam = views["cpam31"]
    open_css = rules.css_open_at(
        cpam["date_debut"].to_numpy(), cpam["date_fin"].to_numpy(), reference
    )
    covered = cpam.filter(pl.Series(open_css))["person_id"].unique()
    household_info = pl.DataFrame(
        {
            "household_id": h["household_id"],
            "h_commune": h["commune"],
            "h_type": kind.astype(str),
            "h_rsa": h["droitrsa"] == "O",
            "h_low": rules.css_low_income(h["resstrim"], persons),
            "h_known": h["household_known"],
        }
    )
    people = members.join(household_info, on="household_id", how="left")
    person_age = age_at(
        people["birth_year"].to_numpy(), people["birth_month"].to_numpy(), reference
    )
    uncovered = ~people["person_id"].is_in(covered.implode()).to_numpy()
    for indicator, mask in (
        ("css_rsa", people["h_rsa"].to_numpy()),
        ("css_bas_revenus", ~people["h_rsa"].to_numpy() & people["h_low"].to_numpy()),
    ):
        units[indicator] = _units(
            people["h_commune"].to_numpy()[mask],
            _bands(person_age[mask]),
            people["h_type"].to_numpy()[mask],
            uncovered[mask],
            people["h_known"].to_numpy()[mask],
        )
    # Persons reached through a CAF household followed by a social worker.
    reached = people.filter(pl.col("h_known"))["person_id"].unique()

    def known_person(ids: pl.Series) -> np.ndarray:
        return (ids.is_in(known_persons.implode()) | ids.is_in(reached.implode())).to_numpy()

    units["aspa"] = _aspa_units(views["carsatmp"], members, households, reference, known_person)
    ft = views["ftocc"]
    ft_age = age_at(ft["birth_year"].to_numpy(), ft["birth_month"].to_numpy(), reference)
    seeker = (
        ft["categorie"].is_in(["A", "B"]).to_numpy()
        & (ft["indemnisation"] == "AUCUNE").to_numpy()
        & rules.registered_three_months(ft["date_inscription"].to_numpy(), reference)
        & (ft_age >= 25)
    )
    paid = households.filter((pl.col("droitrsa") == "O") | (pl.col("droitppa") == "O"))
    income_adults = members.filter(
        pl.col("adult") & pl.col("household_id").is_in(paid["household_id"].implode())
    )["person_id"].unique()
    ft_ids = ft["person_id"]
    units["demandeurs_sans_revenu"] = _units(
        ft["commune"].to_numpy()[seeker],
        _bands(ft_age[seeker]),
        None,
        ~ft_ids.is_in(income_adults.implode()).to_numpy()[seeker],
        known_person(ft_ids)[seeker],
    )
    return units


def _aspa_units(
    carsat: pl.DataFrame,
    members: pl.DataFrame,
    households: pl.DataFrame,
    reference: date,
    known_person,  # noqa: ANN001
) -> pl.DataFrame:
    """Couple rule: an adult of a two-adult CAF household is compared on both adults' CARSAT
    pensions, the spouse counting 0 when absent from the CARSAT file (whatever their age)."""
    two_adults = households.filter(pl.col("adults") == 2)["household_id"]
    adults = members.filter(pl.col("adult") & pl.col("household_id").is_in(two_adults.implode()))
    pairs = (
        adults.select("household_id", "person_id")
        .join(
            adults.select("household_id", pl.col("person_id").alias("spouse_id")),
            on="household_id",
        )
        .filter(pl.col("person_id") != pl.col("spouse_id"))
        .sort("household_id", "person_id")
        .unique("person_id", keep="first", maintain_order=True)
    )
    pensions = carsat.select("person_id", "pension")
    spouse_pension = pairs.join(
        pensions.rename({"person_id": "spouse_id", "pension": "spouse_pension"}),
        on="spouse_id",
        how="left",
    ).select("person_id", pl.col("spouse_pension").fill_null(0), pl.lit(True).alias("couple"))
    retirees = carsat.join(spouse_pension, on="person_id", how="left").with_columns(
        pl.col("couple").fill_null(False), pl.col("spouse_pension").fill_null(0)
    )
    age = age_at(retirees["birth_year"].to_numpy(), retirees["birth_month"].to_numpy(), reference)
    own = retirees["pension"].to_numpy().astype(np.int64)
    couple_total = own + retirees["spouse_pension"].to_numpy().astype(np.int64)
    target = (age >= 65) & rules.aspa_under_ceiling(
        own, retirees["couple"].to_numpy(), couple_total
    )
    return _units(
        retirees["commune"].to_numpy()[target],
        _bands(age[target]),
        None,
        (retirees["aspa"] == "0").to_numpy()[target],
        known_person(retirees["person_id"])[target],
    )


def _combinations(indicator: Indicator, level: str) -> list[tuple[bool, bool]]:
    """(keep the band, keep the type) pairs published at a level."""
    if level in ("zone", "commune"):
        return [(False, False)]
    bands = [True, False]
    types = [True, False] if indicator.types else [False]
    return [(b, t) for b in bands for t in types]


def truth_geography(codes: Iterable[str], epci: Iterable[str]) -> pl.DataFrame:
    """code_insee, epci and observation zone of every commune of 31: where a unit is counted."""
    zones = zoning().frame.select(
        pl.col("code_commune").alias("code_insee"), pl.col("code_zone").alias("zone")
    )
    frame = pl.DataFrame({"code_insee": list(codes), "epci": [str(e) for e in epci]})
    return frame.join(zones, on="code_insee", how="left", validate="1:1")


def aggregate(
    indicator: Indicator, units: pl.DataFrame, period: str, geography: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(indicateurs rows, connus rows) of one indicator: complete grid, zeros included.

    ``geography``: code_insee, zone and epci of every commune of 31 (units elsewhere are left
    out).
    """
    inside = units.join(geography, left_on="commune", right_on="code_insee", how="inner")
    codes = {
        "departement": ["31"],
        "epci": sorted(geography["epci"].unique().to_list()),
        "zone": sorted(geography["zone"].unique().to_list()),
        "commune": sorted(geography["code_insee"].to_list()),
    }
    place = {
        "departement": pl.lit("31"),
        "epci": pl.col("epci"),
        "zone": pl.col("zone"),
        "commune": pl.col("commune"),
    }
    counted, grids = [], []
    for level in LEVELS:
        for keep_band, keep_type in _combinations(indicator, level):
            counted.append(
                inside.group_by(
                    pl.lit(level).alias("niveau"),
                    place[level].alias("code_territoire"),
                    (pl.col("tranche_age") if keep_band else pl.lit(ENSEMBLE)).alias("tranche_age"),
                    (pl.col("type_menage") if keep_type else pl.lit(ENSEMBLE)).alias("type_menage"),
                ).agg(
                    pl.len().cast(pl.Int64).alias("population"),
                    pl.col("non_recours").sum().cast(pl.Int64),
                    (pl.col("non_recours") & pl.col("connu")).sum().cast(pl.Int64).alias("connus"),
                )
            )
            grids.append(
                pl.DataFrame({"code_territoire": codes[level]})
                .join(
                    pl.DataFrame(
                        {"tranche_age": list(indicator.bands) if keep_band else [ENSEMBLE]}
                    ),
                    how="cross",
                )
                .join(
                    pl.DataFrame(
                        {"type_menage": list(indicator.types) if keep_type else [ENSEMBLE]}
                    ),
                    how="cross",
                )
                .with_columns(pl.lit(level).alias("niveau"))
            )
    counts = pl.concat(counted)
    band_order = {b: i for i, b in enumerate((ENSEMBLE, *indicator.bands))}
    type_order = {t: i for i, t in enumerate((ENSEMBLE, *indicator.types))}
    level_order = {lv: i for i, lv in enumerate(LEVELS)}
    table = (
        pl.concat(grids)
        .join(counts, on=["niveau", "code_territoire", "tranche_age", "type_menage"], how="left")
        .with_columns(pl.col("population", "non_recours", "connus").fill_null(0))
        .with_columns(
            pl.lit(indicator.id).alias("indicateur"),
            pl.lit(period).alias("periode"),
            pl.col("niveau").replace_strict(level_order).alias("_l"),
            pl.col("tranche_age").replace_strict(band_order).alias("_b"),
            pl.col("type_menage").replace_strict(type_order).alias("_t"),
        )
        .sort("_l", "code_territoire", "_b", "_t")
    )
    indicateurs = table.select(
        "indicateur",
        "periode",
        "niveau",
        "code_territoire",
        "tranche_age",
        "type_menage",
        "population",
        "non_recours",
    )
    connus = table.filter(
        pl.col("niveau").is_in(["departement", "epci"])
        & (pl.col("tranche_age") == ENSEMBLE)
        & (pl.col("type_menage") == ENSEMBLE)
    ).select(
        "indicateur",
        "periode",
        "niveau",
        "code_territoire",
        "non_recours",
        pl.col("connus").alias("non_recours_connus"),
    )
    return indicateurs, connus


def planted_truth(
    views: dict[str, pl.DataFrame], reference: date, period: str, geography: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(indicateurs, connus) for every indicator of the catalogue."""
    units = indicator_units(views, reference)
    tables = [aggregate(i, units[i.id], period, geography) for i in CATALOGUE]
    return pl.concat([t[0] for t in tables]), pl.concat([t[1] for t in tables])
