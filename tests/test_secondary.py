"""Secondary secret and release gate on our own tables (docs/regles.md, rule 2).

Each case is first shown broken with the primary secret alone (the attacker recomputes a small
count exactly from the published totals), then safe once ``protect`` has chosen complements: the
attacker's interval of every count between 1 and T − 1 is at least 5 wide. The attacker here is
rebuilt from the published form of the tables only (``withhold`` then ``build_view``), never from
the pattern's own state.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonymization.disclosure import attack
from pipelines.publish.aggregate import aggregate
from pipelines.publish.attacker_view import build_view
from pipelines.publish.model import UNIT_COLUMNS, IndicatorUnits, PublicationError
from pipelines.publish.protection import Protection, Relation, load_protection
from pipelines.publish.restricted_audit import audit_facts, write_restricted_audit
from pipelines.publish.secondary import check_gate, protect
from pipelines.publish.secret import flag_primary, withhold
from pipelines.publish.territories import commune_frame, territoires_table

T = 11
BANDS = ("25-34", "35-49", "50-64")
PERIOD = "2025-06"


def communes_of(epci: str) -> list[str]:
    frame = commune_frame().filter(pl.col("code_epci") == epci).sort("code_commune")
    return frame["code_commune"].to_list()


SMALL_EPCI = "243100815"  # 7 communes
OTHER_EPCI = "243100781"  # 8 communes
LARGE_ZONE = "31Z065"  # 28 communes of one EPCI


def communes_of_zone(zone: str) -> list[str]:
    frame = commune_frame().filter(pl.col("code_zone") == zone).sort("code_commune")
    return frame["code_commune"].to_list()


def units(
    indicator: str, cells: list[tuple[str, str, int, int]], bands: tuple[str, ...] = BANDS
) -> IndicatorUnits:
    """``cells``: (commune, band, population, non_recours) → one unit per person."""
    rows = []
    for commune, band, population, non_recours in cells:
        for n in range(population):
            rows.append(
                {
                    "unite_id": f"{indicator}-{commune}-{band}-{n}",
                    "code_commune": commune,
                    "tranche_age": band,
                    "type_menage": None,
                    "non_recours": n < non_recours,
                    "connu": n % 3 == 0,
                }
            )
    frame = pl.DataFrame(rows, schema=UNIT_COLUMNS)
    return IndicatorUnits(indicator, bands, (), T, frame)


def primary(*indicators: IndicatorUnits) -> tuple[pl.DataFrame, pl.DataFrame]:
    frames = [flag_primary(*aggregate(u, PERIOD)[:2], u.threshold) for u in indicators]
    return pl.concat([f[0] for f in frames]), pl.concat([f[1] for f in frames])


def row_of(frame: pl.DataFrame, **key: str) -> int:
    matches = [i for i, row in enumerate(frame.iter_rows(named=True)) if key.items() <= row.items()]
    assert len(matches) == 1, key
    return matches[0]


def attacker_intervals(indicateurs: pl.DataFrame, connus: pl.DataFrame):
    """The attacker's exact intervals, from the published form alone."""
    view = build_view(*withhold(indicateurs, connus), territoires_table())
    return view, attack(view.system)


def small_counts_wide(indicateurs: pl.DataFrame, connus: pl.DataFrame, true_i, true_c) -> None:
    """Rule 2 checked from outside: every count of a secret row between 1 and T − 1 (true
    value) gets an interval ≥ 5 wide; no row where everybody is non-take-up is proven so."""
    view, intervals = attacker_intervals(indicateurs, connus)
    checked = 0
    for rid, row in enumerate(true_i.iter_rows(named=True)):
        if not indicateurs["secret"][rid]:
            continue
        cells = view.indicateurs_cells[rid]
        p, n = row["population"], row["non_recours"]
        for count, value in (("P", p), ("N", n), ("D", p - n)):
            if 1 <= value <= T - 1:
                assert intervals[cells[count]].width >= 5, (row, count, intervals[cells[count]])
                checked += 1
        if n == p > 0:
            assert intervals[cells["D"]].high >= 1, row
    for cid, row in enumerate(true_c.iter_rows(named=True)):
        if not connus["secret"][cid]:
            continue
        cells = view.connus_cells[cid]
        n, k = row["non_recours"], row["non_recours_connus"]
        for count, value in (("K", k), ("E", n - k)):
            if 1 <= value <= T - 1:
                assert intervals[cells[count]].width >= 5, (row, count)
                checked += 1
    assert checked > 0


def test_commune_epci_departement_primary_alone_is_broken_and_secondary_holds():
    small, big = communes_of(SMALL_EPCI)[:2]
    other = communes_of(OTHER_EPCI)[0]
    indicator = units(
        "essai",
        [(small, "25-34", 3, 1), (big, "25-34", 40, 20), (other, "35-49", 60, 30)],
    )
    indicateurs, connus = primary(indicator)
    target = row_of(indicateurs, niveau="commune", code_territoire=small)
    assert indicateurs["secret"][target]  # primary: population 3

    view, intervals = attacker_intervals(indicateurs, connus)
    exposed = intervals[view.indicateurs_cells[target]["P"]]
    assert (exposed.low, exposed.high) == (3, 3)  # EPCI total minus the other communes

    pattern = protect(indicateurs, connus, territoires_table(), {"essai": T}, Protection())
    assert pattern.passed
    secondary = [key for key, reason in pattern.reasons.items() if reason == "secondaire"]
    assert ("i", row_of(indicateurs, niveau="commune", code_territoire=big)) in secondary
    small_counts_wide(pattern.indicateurs, pattern.connus, indicateurs, connus)


def test_age_band_margin_primary_alone_is_broken_and_secondary_holds():
    communes = communes_of(OTHER_EPCI)
    indicator = units(
        "essai",
        [
            (communes[0], "25-34", 30, 12),
            (communes[1], "35-49", 4, 2),
            (communes[2], "50-64", 25, 13),
            (communes[3], "25-34", 20, 11),
        ],
    )
    indicateurs, connus = primary(indicator)
    band = row_of(indicateurs, niveau="epci", code_territoire=OTHER_EPCI, tranche_age="35-49")
    assert indicateurs["secret"][band]
    view, intervals = attacker_intervals(indicateurs, connus)
    assert intervals[view.indicateurs_cells[band]["P"]].exact  # ensemble − the other bands

    pattern = protect(indicateurs, connus, territoires_table(), {"essai": T}, Protection())
    assert pattern.passed
    small_counts_wide(pattern.indicateurs, pattern.connus, indicateurs, connus)
    # never a zero row, and the département total stays published
    secret_rows = pattern.indicateurs.filter(pl.col("secret"))
    assert secret_rows["population"].min() >= 1
    departement = row_of(
        indicateurs, niveau="departement", tranche_age="ensemble", type_menage="ensemble"
    )
    assert not pattern.indicateurs["secret"][departement]


def test_same_data_same_pattern_and_last_period_mask_is_preferred():
    communes = communes_of_zone(LARGE_ZONE)
    indicator = units(
        "essai",
        [(communes[0], "25-34", 3, 1)] + [(c, "35-49", 30, 15) for c in communes[1:5]],
    )
    indicateurs, connus = primary(indicator)
    first = protect(indicateurs, connus, territoires_table(), {"essai": T}, Protection())
    again = protect(indicateurs, connus, territoires_table(), {"essai": T}, Protection())
    assert first.reasons == again.reasons

    chosen = {row for (table, row), why in first.reasons.items() if why == "secondaire"}
    candidates = [row_of(indicateurs, niveau="commune", code_territoire=c) for c in communes[1:5]]
    assert len(chosen & set(candidates)) == 1
    preferred = next(row for row in candidates if row not in chosen)
    key = tuple(
        indicateurs.row(preferred, named=True)[k]
        for k in ("indicateur", "niveau", "code_territoire", "tranche_age", "type_menage")
    )
    steered = protect(
        indicateurs,
        connus,
        territoires_table(),
        {"essai": T},
        Protection(),
        previous={"i": {key}, "c": set()},
    )
    assert ("i", preferred) in steered.reasons
    assert steered.reasons[("i", preferred)] == "secondaire"
    assert steered.passed


def test_a_relation_the_publication_cannot_protect_refuses_it_by_row_never_by_value(tmp_path):
    """rsa-like ``petit ≤ grand``: where ``grand`` is a published zero, every unit of ``petit``
    there is proven non-take-up; no complement can hide a zero row, so the gate refuses."""
    commune = communes_of(SMALL_EPCI)[0]
    others = communes_of(OTHER_EPCI)
    small = units("petit", [(commune, "25-34", 4, 4), (others[0], "25-34", 40, 10)])
    large = units("grand", [(others[0], "25-34", 60, 20)])
    indicateurs, connus = primary(small, large)
    relation = Relation("essai", "petit", "population - non_recours", "grand", "population")
    pattern = protect(
        indicateurs,
        connus,
        territoires_table(),
        {"petit": T, "grand": T},
        Protection(width=5, relations=(relation,)),
    )
    assert not pattern.passed
    json_path, html_path = write_restricted_audit(tmp_path, PERIOD, pattern)
    facts = json.loads(json_path.read_text(encoding="utf-8"))
    assert facts["verdict"] == "refusee"
    assert any(count["bloquant"] for row in facts["lignes"] for count in row["comptes"].values())
    with pytest.raises(PublicationError) as refused:
        check_gate(pattern, str(json_path))
    message = str(refused.value)
    assert f"commune {commune}" in message and "population − non_recours" in message
    assert "[" not in message  # no interval, no value: those are in the restricted audit only
    assert str(json_path) in message
    assert "secret statistique" in html_path.read_text(encoding="utf-8")


def test_a_relation_broken_by_the_data_is_named():
    commune = communes_of(OTHER_EPCI)[0]
    small = units("petit", [(commune, "25-34", 30, 0)])
    large = units("grand", [(commune, "25-34", 12, 6)])
    indicateurs, connus = primary(small, large)
    relation = Relation("fausse", "petit", "population", "grand", "population")
    with pytest.raises(PublicationError, match="« fausse »"):
        protect(
            indicateurs,
            connus,
            territoires_table(),
            {"petit": T, "grand": T},
            Protection(relations=(relation,)),
        )


def test_restricted_audit_lists_every_secret_row_with_reason_and_intervals(tmp_path):
    small, big = communes_of(SMALL_EPCI)[:2]
    indicator = units("essai", [(small, "25-34", 3, 1), (big, "25-34", 40, 20)])
    indicateurs, connus = primary(indicator)
    pattern = protect(indicateurs, connus, territoires_table(), {"essai": T}, Protection())
    facts = audit_facts(PERIOD, pattern)
    assert facts["verdict"] == "conforme"
    assert facts["lignes_secretes"] == int(pattern.indicateurs["secret"].sum()) + int(
        pattern.connus["secret"].sum()
    )
    assert facts["lignes_primaires"] + facts["lignes_secondaires"] == facts["lignes_secretes"]
    commune_row = next(
        row
        for row in facts["lignes"]
        if row["niveau"] == "commune" and row["code_territoire"] == small
    )
    assert commune_row["motif"] == "primaire"
    assert commune_row["regles"] == [
        "population entre 1 et 10",
        "non_recours entre 1 et 10",
        "population − non_recours entre 1 et 10",
    ]
    population = commune_row["comptes"]["population"]
    assert population["largeur_requise"] == 5 and not population["bloquant"]
    assert population["methode"] == "bornes exactes en nombres entiers"
    low, high = population["intervalle"]
    assert high - low >= 5
    assert facts["part_secret_par_niveau"]["essai"]["commune"] == pytest.approx(
        pattern.indicateurs.filter(
            (pl.col("indicateur") == "essai") & (pl.col("niveau") == "commune")
        )["secret"].mean(),
        abs=1e-4,
    )


def test_the_shipped_settings_are_read_from_secret_yaml():
    protection = load_protection()
    assert protection.width == 5
    assert protection.relations == ()  # catalogue v1: indicators are not linked (rule 2)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 13),  # commune index in the two EPCIs
            st.sampled_from(BANDS),
            st.integers(1, 25),  # population
            st.floats(0, 1),  # share non-take-up
        ),
        min_size=1,
        max_size=12,
    )
)
def test_property_random_small_hierarchical_tables_always_pass(cells):
    communes = communes_of(SMALL_EPCI) + communes_of(OTHER_EPCI)
    merged: dict[tuple[str, str], tuple[int, int]] = {}
    for index, band, population, share in cells:
        key = (communes[index], band)
        p, n = merged.get(key, (0, 0))
        merged[key] = (p + population, n + round(population * share))
    indicator = units("essai", [(c, b, p, n) for (c, b), (p, n) in merged.items()])
    indicateurs, connus = primary(indicator)
    pattern = protect(indicateurs, connus, territoires_table(), {"essai": T}, Protection())
    assert pattern.passed
    if indicateurs["secret"].any():
        small_counts_wide(pattern.indicateurs, pattern.connus, indicateurs, connus)
