"""Benchmark of the secondary secret against the least loss it allows (run on demand).

Reads the planted truth of a synthetic home (``<home>/truth/indicateurs.csv`` and
``connus.csv``, written by ``recours synth``: the full true grid, communes included), builds the
tables ``protect()`` receives (zone rows = sums of their communes by the shipped zoning when the
truth has none, primary secret with T = 11), then runs:

* the secondary secret by rounds alone (``protect(optimise=False)``, the former method, "avant");
* the secondary secret as published (``protect()``, the least-loss program then the gate,
  "après");
* the least-loss program alone on the population withheld (``least_loss``), the reference.

and prints, per part (indicator), the program's status, rounds, cuts, lower bound and times,
and the optimality ratio (population withheld beyond the primary secret ÷ the optimum) before
and after; then per indicator and level: rows withheld (primary, secondary before → after, and
the optimum's), population withheld by the secondary secret, share of the target population
shown and areas with a value, before → after.

    .venv/bin/python bench/bench_secret.py --home /path/to/home [--limite 120]

The truth is never published: this reads it to measure, as ``truth/README.md`` says.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.publish.least_loss import least_loss, row_costs, utility_figures  # noqa: E402
from pipelines.publish.model import ENSEMBLE, LEVELS, conform  # noqa: E402
from pipelines.publish.protection import load_protection  # noqa: E402
from pipelines.publish.secondary import SecretPattern, protect  # noqa: E402
from pipelines.publish.secret import flag_primary  # noqa: E402
from pipelines.publish.territories import commune_frame, territoires_table  # noqa: E402

THRESHOLD = 11


def truth_tables(home: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The pre-secret ``indicateurs`` and ``connus`` of the home's truth, zones summed from their
    communes, rows in the publication's order (indicator, then département, EPCI, zone,
    commune)."""
    truth = home / "truth"
    schema = {"population": pl.Int64, "non_recours": pl.Int64, "code_territoire": pl.String}
    rows = pl.read_csv(truth / "indicateurs.csv", schema_overrides=schema)
    if "zone" not in rows["niveau"].unique().to_list():  # a truth written before the zones
        rows = pl.concat([rows, _zone_rows(rows)], how="diagonal")
    names = territoires_table().select("niveau", "code_territoire", "libelle_territoire")
    order = rows["indicateur"].unique(maintain_order=True).to_list()
    level_rank = {level: i for i, level in enumerate(LEVELS)}
    indicateurs = (
        rows.with_row_index("_pos")
        .join(names, on=["niveau", "code_territoire"], how="left", maintain_order="left")
        .with_columns(
            _ind=pl.col("indicateur").replace_strict({n: i for i, n in enumerate(order)}),
            _lvl=pl.col("niveau").replace_strict(level_rank),
            taux=pl.when(pl.col("population") > 0).then(
                pl.col("non_recours") / pl.col("population")
            ),
            secret=pl.lit(False),
        )
        .sort("_ind", "_lvl", "_pos")
    )
    known = (
        pl.read_csv(truth / "connus.csv", schema_overrides=schema)
        .join(names, on=["niveau", "code_territoire"], how="left", maintain_order="left")
        .with_columns(
            part_connus=pl.when(pl.col("non_recours") > 0).then(
                pl.col("non_recours_connus") / pl.col("non_recours")
            ),
            secret=pl.lit(False),
        )
    )
    return flag_primary(conform(indicateurs, "indicateurs"), conform(known, "connus"), THRESHOLD)


def _zone_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """Zone rows summed from their communes by the shipped zoning."""
    zone_of = commune_frame().select(pl.col("code_commune").alias("code_territoire"), "code_zone")
    return (
        rows.filter(pl.col("niveau") == "commune")
        .join(zone_of, on="code_territoire")
        .group_by("indicateur", "periode", "code_zone")
        .agg(pl.col("population").sum(), pl.col("non_recours").sum())
        .select(
            "indicateur",
            "periode",
            niveau=pl.lit("zone"),
            code_territoire=pl.col("code_zone"),
            tranche_age=pl.lit(ENSEMBLE),
            type_menage=pl.lit(ENSEMBLE),
            population="population",
            non_recours="non_recours",
        )
        .sort("indicateur", "code_territoire")
    )


def _secondary_cost(
    pattern: SecretPattern, indicateurs: pl.DataFrame, connus: pl.DataFrame, costs: dict
) -> dict[str, float]:
    """Population withheld beyond the primary secret, per indicator."""
    found: dict[str, float] = {}
    for (table, row), why in pattern.reasons.items():
        if why == "secondaire":
            name = (indicateurs if table == "i" else connus)["indicateur"][row]
            found[name] = found.get(name, 0.0) + float(costs[table][row])
    return found


def _by_level(indicateurs: pl.DataFrame, rows: set[int], label: str) -> pl.DataFrame:
    """Rows and population of ``rows`` per indicator and level."""
    chosen = pl.col("_row").is_in(sorted(rows))
    return (
        indicateurs.with_row_index("_row")
        .group_by("indicateur", "niveau")
        .agg(
            pl.col("population").filter(chosen).sum().alias(f"pop_{label}"),
            chosen.sum().alias(f"secondaires_{label}"),
        )
    )


def _secondary_rows(reasons: dict[tuple[str, int], str]) -> set[int]:
    return {row for (table, row), why in reasons.items() if table == "i" and why == "secondaire"}


def _ratio(value: float, reference: float) -> str:
    if reference:
        return f"{value / reference:.3f}"
    return "1.000" if not value else "  inf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True, help="dossier de travail synthétique")
    parser.add_argument("--limite", type=float, default=120.0, help="secondes par partie (MILP)")
    parser.add_argument("--tours", type=int, default=40, help="programmes par partie, au plus")
    args = parser.parse_args()
    if not (args.home / "truth" / "indicateurs.csv").is_file():
        sys.exit(
            f"vérité absente : {args.home / 'truth' / 'indicateurs.csv'} — créer le dossier avec "
            "« recours synth --home DOSSIER --persons N »"
        )

    start = time.perf_counter()
    indicateurs, connus = truth_tables(args.home)
    thresholds = {name: THRESHOLD for name in indicateurs["indicateur"].unique()}
    protection = load_protection()
    territoires = territoires_table()
    print(
        f"tables : {indicateurs.height} lignes indicateurs, {connus.height} lignes connus "
        f"({time.perf_counter() - start:.1f} s)"
    )
    runs = {}
    for label, optimise in (("avant", False), ("après", True)):
        start = time.perf_counter()
        runs[label] = protect(
            indicateurs,
            connus,
            territoires,
            thresholds,
            protection,
            optimise=optimise,
            time_limit=args.limite,
        )
        pattern = runs[label]
        print(
            f"protect ({label}, {'programme puis porte' if optimise else 'tours seuls'}) : "
            f"{time.perf_counter() - start:.1f} s, {pattern.rounds} tours de porte, "
            f"{'conforme' if pattern.passed else 'REFUSÉ'}, durées {pattern.seconds}"
        )

    start = time.perf_counter()
    optimum = least_loss(
        indicateurs,
        connus,
        territoires,
        thresholds,
        protection,
        time_limit=args.limite,
        rounds=args.tours,
    )
    print(f"least_loss (référence, population retirée) : {time.perf_counter() - start:.1f} s")
    costs = row_costs(indicateurs, connus)
    spent = {label: _secondary_cost(runs[label], indicateurs, connus, costs) for label in runs}
    print(
        f"  {'partie':<24} {'statut':<9} {'cand.':>5} {'tours':>5} {'coupes':>6} "
        f"{'optimum':>9} {'avant':>9} {'après':>9} {'r.avant':>7} {'r.après':>7} "
        f"{'MILP s':>6} {'audit s':>7} {'total s':>7}"
    )
    totals = {"optimum": 0.0, "avant": 0.0, "après": 0.0}
    for part in optimum.parts:
        before = sum(spent["avant"].get(name, 0.0) for name in part.indicators)
        after = sum(spent["après"].get(name, 0.0) for name in part.indicators)
        totals["optimum"] += part.bound
        totals["avant"] += before
        totals["après"] += after
        print(
            f"  {', '.join(part.indicators):<24} {part.status:<9} {part.candidates:>5} "
            f"{part.rounds:>5} {part.cuts:>6} {part.bound:>9,.0f} {before:>9,.0f} "
            f"{after:>9,.0f} {_ratio(before, part.bound):>7} {_ratio(after, part.bound):>7} "
            f"{part.solve_seconds:>6.1f} {part.audit_seconds:>7.1f} {part.seconds:>7.1f}"
        )
    print(
        f"  {'total':<24} {'':<9} {'':>5} {'':>5} {'':>6} {totals['optimum']:>9,.0f} "
        f"{totals['avant']:>9,.0f} {totals['après']:>9,.0f} "
        f"{_ratio(totals['avant'], totals['optimum']):>7} "
        f"{_ratio(totals['après'], totals['optimum']):>7}"
    )

    keys = ["indicateur", "niveau"]
    figures = {
        label: utility_figures(runs[label].indicateurs, runs[label].reasons) for label in runs
    }
    table = (
        figures["après"]
        .join(figures["avant"], on=keys, suffix="_avant", maintain_order="left")
        .join(
            _by_level(indicateurs, _secondary_rows(runs["avant"].reasons), "avant"),
            on=keys,
            maintain_order="left",
        )
        .join(
            _by_level(indicateurs, _secondary_rows(runs["après"].reasons), "apres"),
            on=keys,
            maintain_order="left",
        )
        .join(
            _by_level(indicateurs, {r for t, r in optimum.secondary if t == "i"}, "optimum"),
            on=keys,
            maintain_order="left",
        )
    )
    print(
        "\npar indicateur et niveau (table indicateurs ; avant → après, [optimum]) : lignes "
        "retirées, primaires, secondaires ; population retirée par le secondaire ; part de la "
        "population cible montrée ; territoires avec une valeur"
    )
    for row in table.iter_rows(named=True):
        print(
            f"  {row['indicateur']:<22} {row['niveau']:<11} {row['lignes']:>4} lignes : "
            f"{row['lignes_primaires']:>4} prim., sec. {row['secondaires_avant']:>3} → "
            f"{row['secondaires_apres']:>3} [{row['secondaires_optimum']:>3}] ; pop. sec. "
            f"{row['pop_avant']:>7,} → {row['pop_apres']:>7,} [{row['pop_optimum']:>7,}] ; "
            f"montrée {row['part_population_montree_avant'] or 0:6.1%} → "
            f"{row['part_population_montree'] or 0:6.1%} ; avec valeur "
            f"{row['territoires_avec_valeur_avant']:>3} → {row['territoires_avec_valeur']:>3}"
            f"/{row['territoires']}"
        )
    rows = {label: sum(table[f"secondaires_{label}"]) for label in ("avant", "apres", "optimum")}
    print(
        f"  lignes secondaires (indicateurs) : avant {rows['avant']}, après {rows['apres']}, "
        f"optimum {rows['optimum']} ; ratio après {_ratio(rows['apres'], rows['optimum'])}"
    )


if __name__ == "__main__":
    main()
