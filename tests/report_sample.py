"""A small synthetic publication for the report, export and query tests.

Hand-built units spread over the 586 real communes in proportion to their population (so
Toulouse is full, small villages are empty or secret), for every indicator of the real
catalogue, published for two periods with ``pipelines.publish``'s own aggregation, primary
secret and writer: the same grid, types and files as a real run, in a second. The secondary
secret (an audit that takes longer) is left out: what the report must show of a secret row
does not depend on why the row is secret.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.crossing.indicators import load_catalogue
from pipelines.crossing.run import catalogue_rows
from pipelines.publish import IndicatorUnits, aggregate, apply_primary_secret
from pipelines.publish.model import conform, empty
from pipelines.publish.tables import rows_frame
from pipelines.publish.territories import territoires_table
from pipelines.publish.write import merge, read_previous, write_publication
from recours.reference import communes

PERIODS = ("2026-09", "2026-10")
CONVENTIONS = ("caf31", "carsatmp", "cd31", "cpam31", "ftocc")
# The one poorly linked source, and when: 60 % of its records linked (the others 95 %), in the
# last period only. It feeds aspa (carsatmp × caf31), whose rates of that period, and no other,
# carry the report's linkage warning.
WEAK_SOURCE, WEAK_PERIOD, WEAK_SHARE, GOOD_SHARE = "carsatmp", "2026-10", 0.60, 0.95


def _frame(indicator, seed: int, codes, types, non_recours, rng) -> pl.DataFrame:
    size = len(codes)
    return pl.DataFrame(
        {
            "unite_id": [
                hashlib.sha256(f"{indicator.id}/{seed}/{n}".encode()).hexdigest()
                for n in range(size)
            ],
            "code_commune": list(codes),
            "tranche_age": rng.choice(np.array(indicator.age_bands), size=size).tolist(),
            "type_menage": list(types),
            "non_recours": list(non_recours),
            "connu": (rng.random(size) < 0.35).tolist(),
        },
        schema={
            "unite_id": pl.String,
            "code_commune": pl.String,
            "tranche_age": pl.String,
            "type_menage": pl.String,
            "non_recours": pl.Boolean,
            "connu": pl.Boolean,
        },
    )


def _draw(indicator, seed: int, size: int) -> pl.DataFrame:
    """Units in proportion to the communes' population, a rate that differs between EPCIs
    (so that the maps have several classes)."""
    rng = np.random.default_rng(seed)
    reference = communes()
    weights = reference["population_municipale_2023"].to_numpy().astype(float)
    codes = rng.choice(reference["code_insee"].to_numpy(), size=size, p=weights / weights.sum())
    epci = dict(zip(reference["code_insee"], reference["epci_siren"], strict=True))
    base = {code: 0.15 + 0.5 * (int(code[-3:]) % 7) / 7 for code in set(epci.values())}
    probability = np.array([base[epci[code]] for code in codes])
    types = indicator.household_types or ("ensemble",)
    return _frame(
        indicator,
        seed,
        codes.tolist(),
        rng.choice(np.array(types), size=size).tolist(),
        (rng.random(size) < probability).tolist(),
        rng,
    )


def _members(indicator, seed: int, households: pl.DataFrame, extra: int) -> pl.DataFrame:
    """Person-level units made of CAF households (1 to 3 members each, same commune and type),
    plus ``extra`` other units: keeps indicators/secret.yaml's relations true."""
    rng = np.random.default_rng(seed)
    repeat = rng.integers(1, 4, size=households.height)
    codes = np.repeat(households["code_commune"].to_numpy(), repeat)
    types = np.repeat(households["type_menage"].to_numpy(), repeat)
    members = _frame(
        indicator,
        seed,
        codes.tolist(),
        types.tolist(),
        (rng.random(len(codes)) < 0.3).tolist(),
        rng,
    )
    others = _draw(indicator, seed + 7, extra).with_columns(pl.col("unite_id") + pl.lit("x"))
    return pl.concat([members, others])


def _indicators(seed: int, size: int) -> list[IndicatorUnits]:
    catalogue = load_catalogue()
    frames = {"rsa": _draw(catalogue["rsa"], seed, size)}
    rsa = frames["rsa"]
    frames["css_rsa"] = _members(
        catalogue["css_rsa"], seed + 1, rsa.filter(~pl.col("non_recours")), size // 5
    )
    frames["css_bas_revenus"] = _members(
        catalogue["css_bas_revenus"], seed + 2, rsa.filter(pl.col("non_recours")), size
    )
    units = []
    for number, (name, indicator) in enumerate(catalogue.items()):
        frame = frames.get(name)
        if frame is None:
            frame = _draw(indicator, seed + 10 + number, size)
        units.append(
            IndicatorUnits(name, indicator.age_bands, indicator.household_types, 11, frame)
        )
    return units


def _quality(period: str, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for convention in CONVENTIONS:
        read = int(rng.integers(2_000, 30_000))
        set_aside = int(rng.integers(0, 40))
        share = WEAK_SHARE if (convention, period) == (WEAK_SOURCE, WEAK_PERIOD) else GOOD_SHARE
        by_nir = int((read - set_aside) * (share - 0.15))
        by_traits = int((read - set_aside) * 0.15)
        measures = {
            "lignes_lues": read,
            "lignes_ecartees": set_aside,
            "lignes_ecartees_date_invalide": set_aside,
            "doublons": int(rng.integers(0, 5)),
            "nir_invalide": int(rng.integers(0, 20)),
            "nir_absent": int(rng.integers(0, 500)),
            "hors_departement": int(rng.integers(0, 60)),
            "liees_nir": by_nir,
            "liees_traits": by_traits,
            "non_liees": read - set_aside - by_nir - by_traits,
        }
        for other in CONVENTIONS:
            if other != convention:
                measures[f"liees_nir_avec_{other}"] = int(rng.integers(0, by_nir))
                measures[f"liees_traits_avec_{other}"] = int(rng.integers(0, by_traits))
        rows += [
            {"periode": period, "convention": convention, "mesure": name, "valeur": value}
            for name, value in measures.items()
        ]
    return rows


def sample_publication(
    published_dir: Path, periods: tuple[str, ...] = PERIODS, size: int = 5_000
) -> Path:
    """Publish ``periods`` into ``published_dir``; the folder."""
    catalogue = load_catalogue()
    for number, period in enumerate(periods):
        indicators = _indicators(seed=100 * number, size=size)
        metadata = [
            {"cle": "execution", "valeur": f"essai{number}"},
            {"cle": "date_execution", "valeur": "2026-11-27T10:00:00+00:00"},
            {"cle": "periode", "valeur": period},
            {"cle": "conventions", "valeur": ", ".join(CONVENTIONS)},
            {"cle": "seuil_publication", "valeur": "11"},
            {"cle": "protection", "valeur": "secret primaire seulement (règle 1)"},
        ]
        _publish(published_dir, period, indicators, catalogue_rows(catalogue), metadata, number)
    return published_dir


def _publish(folder: Path, period: str, indicators, catalogue, metadata, seed: int) -> None:
    rows, known = [], []
    for units in indicators:
        indicateurs, connus, _ = aggregate(units, period)
        indicateurs, connus = apply_primary_secret(indicateurs, connus, units.threshold)
        rows.append(indicateurs)
        known.append(connus)
    fresh = {
        "indicateurs": conform(pl.concat([empty("indicateurs"), *rows]), "indicateurs"),
        "connus": conform(pl.concat([empty("connus"), *known]), "connus"),
        "catalogue": rows_frame("catalogue", catalogue),
        "territoires": territoires_table(),
        "metadonnees": rows_frame("metadonnees", metadata),
        "qualite": rows_frame("qualite", _quality(period, seed)),
    }
    tables = merge(read_previous(folder), fresh, period)
    periods = sorted(set(tables["indicateurs"]["periode"].to_list()))
    extra = pl.DataFrame({"cle": ["periodes_publiees"], "valeur": [", ".join(periods)]})
    tables["metadonnees"] = pl.concat([tables["metadonnees"], extra])
    write_publication(folder, tables)
