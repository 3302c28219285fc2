"""What the secret protects, row by row: why a row is primary (rule 1) and the width each of
its counts needs from the attacker (rule 2), see docs/regles.md.

Shared by the secondary secret (:mod:`pipelines.publish.secondary`) and the least-loss program
(:mod:`pipelines.publish.least_loss`), which must agree on them exactly.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import polars as pl

from pipelines.publish.attacker_view import AttackerView


def _small(value: int, threshold: int) -> bool:
    return 1 <= value <= threshold - 1


def primary_rules(
    indicateurs: pl.DataFrame, connus: pl.DataFrame, thresholds: Mapping[str, int]
) -> dict[tuple[str, int], list[str]]:
    """Why each primary row is secret, in the words of rule 1 (for the restricted audit)."""
    rules: dict[tuple[str, int], list[str]] = {}
    columns = ("indicateur", "population", "non_recours", "secret")
    for rid, row in enumerate(indicateurs.select(columns).iter_rows(named=True)):
        if not row["secret"]:
            continue
        t, p, n = thresholds[row["indicateur"]], row["population"], row["non_recours"]
        found = [
            f"{label} entre 1 et {t - 1}"
            for label, value in (
                ("population", p),
                ("non_recours", n),
                ("population − non_recours", p - n),
            )
            if _small(value, t)
        ]
        if n == p > 0:
            found.append("non_recours = population")
        rules[("i", rid)] = found
    columns = ("indicateur", "non_recours", "non_recours_connus", "secret")
    for cid, row in enumerate(connus.select(columns).iter_rows(named=True)):
        if not row["secret"]:
            continue
        t, n, k = thresholds[row["indicateur"]], row["non_recours"], row["non_recours_connus"]
        rules[("c", cid)] = [
            f"{label} entre 1 et {t - 1}"
            for label, value in (
                ("non_recours_connus", k),
                ("non_recours − non_recours_connus", n - k),
            )
            if _small(value, t)
        ]
    return rules


def requirements(
    view: AttackerView,
    indicateurs: pl.DataFrame,
    connus: pl.DataFrame,
    primary: Collection[tuple[str, int]],
    thresholds: Mapping[str, int],
    width: int,
) -> dict[str, int]:
    """Rule 2: the width each count of a primary row needs (counts between 1 and T − 1: the
    protection width; a row where everybody is presumed non-take-up: ``P − N`` not provable 0)."""
    required: dict[str, int] = {}

    def need(name: str, minimum: int) -> None:
        required[name] = max(required.get(name, 0), minimum)

    ind = indicateurs.select("indicateur", "population", "non_recours").rows()
    con = connus.select("indicateur", "non_recours", "non_recours_connus").rows()
    for table, row in primary:
        if table == "i":
            indicator, p, n = ind[row]
            cells, counts = view.indicateurs_cells[row], {"P": p, "N": n, "D": p - n}
        else:
            indicator, n, k = con[row]
            cells, counts = view.connus_cells[row], {"N": n, "K": k, "E": n - k}
        for count, value in counts.items():
            if _small(value, thresholds[indicator]):
                need(cells[count], width)
        if table == "i" and counts["D"] == 0 and counts["P"] > 0:
            need(cells["D"], 1)
    return required
