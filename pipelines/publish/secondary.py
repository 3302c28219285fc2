"""Secondary secret and release gate (docs/regles.md, "Secret statistique", rules 2 and 4).

Withholding only the small rows is broken as soon as a total is published: the département
minus the published EPCIs gives back the one withheld EPCI. So, after the primary secret:

1. the complements are those of the least-loss pattern (:mod:`pipelines.publish.least_loss`):
   a mixed-integer program chooses the rows that withhold the fewest people, and the attacker
   audit (:func:`anonymization.disclosure.audit`) checks them, the program being solved again
   with cuts until the audit passes;
2. a part the program does not settle within its work limits keeps its last pattern, and rounds
   finish it: the attacker's system is built from what would be published
   (:mod:`attacker_view`), the audit finds the counts of primary rows that can be recomputed or
   narrowed below the protection width (rule 2), more rows are withheld in the sums around each
   such row, and the loop starts again until the audit passes, or nothing is left to withhold;
3. the exact intervals of every withheld count are then computed for the restricted audit; the
   gate's verdict is that of the audit on those exact intervals.

Why a program rather than the rounds alone: on the synthetic département (1.47 M persons,
bench/bench_secret.py), the rounds withheld 3.2 times as many people beyond the primary secret
as the optimum, mostly EPCI and département breakdowns; the program reaches the optimum on every
indicator in about a minute in all.

The program's cost is deterministic (HiGHS is): the people a complement withholds, a row
withheld last period counting half (the mask stays stable from month to month where that costs
little). A zero row is never a complement: it is always published, which the attacker knows.
The rounds choose cheapest first: a row withheld last period, then the lowest level (commune,
then zone, then EPCI, then département; a detailed breakdown before a margin), then a row whose
``non_recours`` is neither 0 nor the whole population (it lends slack to both counts), then
the smallest population, then the row's position.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from anonymization.disclosure import Interval, attack, audit, separable_parts
from anonymization.disclosure.attacker import IntegerMode, rounded_to_integers
from pipelines.publish.attacker_view import CONNUS_KEY, ROW_KEY, AttackerView, Group, build_view
from pipelines.publish.least_loss import LeastLoss, least_loss, row_costs
from pipelines.publish.model import ENSEMBLE, PublicationError
from pipelines.publish.protection import Protection
from pipelines.publish.requirements import primary_rules, requirements
from pipelines.publish.secret import withhold

LEVEL_RANK = {"commune": 0, "zone": 1, "epci": 2, "departement": 3}
PRIMARY, SECONDARY = "primaire", "secondaire"


@dataclass
class SecretPattern:
    """The final pattern and its audit: what the restricted audit and the gate report.

    ``indicateurs`` / ``connus`` keep the true counts (``secret`` set): only ``withhold`` makes
    them publishable. ``reasons``: ``(table, row) -> primaire | secondaire`` for secret rows;
    ``rules``: why a primary row is primary. ``intervals``: the attacker's exact interval for
    every withheld cell; ``required``: the width each sensitive cell needs; ``blocking``: the
    sensitive cells that do not get it (empty when the gate passes).
    """

    indicateurs: pl.DataFrame
    connus: pl.DataFrame
    view: AttackerView
    reasons: dict[tuple[str, int], str]
    rules: dict[tuple[str, int], list[str]]
    required: dict[str, int]
    intervals: dict[str, Interval]
    blocking: dict[str, Interval]
    thresholds: dict[str, int]
    width: int
    rounds: int
    seconds: dict[str, float] = field(default_factory=dict)
    optimum: LeastLoss | None = None  # the optimal pattern's program, part by part

    @property
    def passed(self) -> bool:
        return not self.blocking


def previous_secrets(previous: pl.DataFrame | None, key: tuple[str, ...]) -> set[tuple]:
    """Rows secret in the latest earlier period, by key without the period."""
    if previous is None or previous.is_empty():
        return set()
    latest = previous.filter(pl.col("periode") == pl.col("periode").max())
    return set(latest.filter(pl.col("secret")).select(key).rows())


class _Chooser:
    """Ranks the candidate complements of each table once; picks the cheapest free member."""

    def __init__(
        self,
        indicateurs: pl.DataFrame,
        connus: pl.DataFrame,
        previous: Mapping[str, set[tuple]],
    ) -> None:
        self.cost: dict[tuple[str, int], tuple] = {}
        self.empty: set[tuple[str, int]] = set()
        for rid, row in enumerate(indicateurs.select(*ROW_KEY, "population", "non_recours").rows()):
            *key, p, n = row
            if p == 0:
                self.empty.add(("i", rid))
            breakdown_rank = (key[3] == ENSEMBLE) + (key[4] == ENSEMBLE)
            self.cost[("i", rid)] = (
                tuple(key) not in previous["i"],
                LEVEL_RANK[key[1]],
                breakdown_rank,
                n in (0, p),
                p,
                rid,
            )
        for cid, row in enumerate(
            connus.select(*CONNUS_KEY, "non_recours", "non_recours_connus").rows()
        ):
            *key, n, k = row
            if n == 0:
                self.empty.add(("c", cid))
            self.cost[("c", cid)] = (
                tuple(key) not in previous["c"],
                LEVEL_RANK[key[1]],
                0,
                k in (0, n),
                n,
                cid,
            )

    def pick(self, group: Group, secret: Callable[[str, int], bool]) -> tuple[str, int] | None:
        free = [
            (group.table, member)
            for member in group.members
            if not secret(group.table, member) and (group.table, member) not in self.empty
        ]
        return min(free, key=self.cost.__getitem__) if free else None


def protect(
    indicateurs: pl.DataFrame,
    connus: pl.DataFrame,
    territoires: pl.DataFrame,
    thresholds: Mapping[str, int],
    protection: Protection,
    previous: Mapping[str, set[tuple]] | None = None,
    progress: Callable[[str], None] | None = None,
    optimise: bool = True,
    time_limit: float | None = None,
) -> SecretPattern:
    """Primary-flagged tables of one period → the final pattern, audited.

    ``indicateurs`` / ``connus``: every indicator of the period, true counts, ``secret`` = the
    primary secret. Never raises on a failing pattern: the caller writes the restricted audit
    first, then refuses the publication (see :func:`check_gate`).

    The complements are those of the least-loss pattern (:mod:`pipelines.publish.least_loss`,
    bounded by work — programs per part, nodes per program — never by the clock, so that the
    same data always publishes the same pattern; ``time_limit`` is for the bench only); a part
    not solved to an audited pattern within that work keeps the program's last pattern and the
    cheapest-first rounds finish it. ``optimise=False``
    runs the rounds alone (the former method, kept to measure what the program gains).
    """
    previous = previous or {"i": set(), "c": set()}
    width = protection.width
    _check_relations(indicateurs, protection)
    rules = primary_rules(indicateurs, connus, thresholds)
    primary = set(rules)
    secret_i = indicateurs["secret"].to_list()
    secret_c = connus["secret"].to_list()
    twin_of = _twins(indicateurs, connus)
    chooser = _Chooser(indicateurs, connus, previous)
    spent = {"secret_secondaire": 0.0, "audit": 0.0}

    optimum: LeastLoss | None = None
    if optimise:
        step = time.perf_counter()
        optimum = least_loss(
            indicateurs,
            connus,
            territoires,
            thresholds,
            protection,
            time_limit=time_limit,
            costs=_costs(indicateurs, connus, previous),
            progress=progress,
        )
        for part in optimum.parts:
            for table, row in part.pattern or part.last or ():
                (secret_i if table == "i" else secret_c)[row] = True
        spent["secret_secondaire"] += time.perf_counter() - step

    def is_secret(table: str, row: int) -> bool:
        return secret_i[row] if table == "i" else secret_c[row]

    def view_now() -> AttackerView:
        for cid, rid in twin_of.items():  # a connus row publishes the N of its indicateurs twin
            if secret_i[rid] and not secret_c[cid] and ("c", cid) not in chooser.empty:
                secret_c[cid] = True  # (a zero row stays published: N = 0 is not sensitive)
        published_i, published_c = withhold(
            indicateurs.with_columns(secret=pl.Series(secret_i)),
            connus.with_columns(secret=pl.Series(secret_c)),
        )
        return build_view(published_i, published_c, territoires, protection.relations)

    # Rounds decide on the linear relaxation (fast); the gate then solves the exact integer
    # bounds, and when integrality narrows a count further, the rounds go on in integers. An
    # optimal pattern was audited part by part already: straight to the gate.
    rounds = 0
    integer: IntegerMode = False
    audited = optimum is not None and optimum.optimal
    settled: set[tuple] = set()  # parts already audited safe, by content
    while True:
        rounds += 1
        step = time.perf_counter()
        view = view_now()
        required = requirements(view, indicateurs, connus, primary, thresholds, width)
        blocking = {} if audited else _audit_changed_parts(view, required, integer, settled)
        audited = False
        spent["secret_secondaire"] += time.perf_counter() - step
        intervals: dict[str, Interval] | None = None
        if not blocking:
            intervals, blocking = _gate(view, required, spent)
            if not blocking:
                break
            integer = "auto"
        added = _complements(view, blocking, chooser, is_secret)
        if not added:  # nothing left to withhold around the blocking rows: the gate refuses
            if intervals is None:
                intervals, blocking = _gate(view, required, spent)
            break
        for table, row in added:
            (secret_i if table == "i" else secret_c)[row] = True
        if progress:
            progress(f"secret secondaire, tour {rounds} : {len(added)} lignes de plus")
    reasons = {
        (table, row): PRIMARY if (table, row) in primary else SECONDARY
        for table, flags in (("i", secret_i), ("c", secret_c))
        for row, flag in enumerate(flags)
        if flag
    }
    return SecretPattern(
        indicateurs=indicateurs.with_columns(secret=pl.Series(secret_i)),
        connus=connus.with_columns(secret=pl.Series(secret_c)),
        view=view,
        reasons=reasons,
        rules=rules,
        required=required,
        intervals=intervals,
        blocking=blocking,
        thresholds=dict(thresholds),
        width=width,
        rounds=rounds,
        seconds={step: round(value, 3) for step, value in spent.items()},
        optimum=optimum,
    )


def _costs(
    indicateurs: pl.DataFrame, connus: pl.DataFrame, previous: Mapping[str, set[tuple]]
) -> dict[str, np.ndarray]:
    """What the optimal pattern minimises: the people a complement withholds (``population``;
    ``non_recours`` for a ``connus`` row), a row withheld last period counting half, so that
    the mask stays stable from month to month where that costs little. Doubled, to stay whole
    numbers (HiGHS then knows the optimum is a whole number)."""
    costs = row_costs(indicateurs, connus)
    for table, frame, key in (("i", indicateurs, ROW_KEY), ("c", connus, CONNUS_KEY)):
        again = np.array([tuple(k) in previous[table] for k in frame.select(key).rows()], bool)
        costs[table] = np.where(again, costs[table], 2 * costs[table])
    return costs


def _audit_changed_parts(
    view: AttackerView, required: Mapping[str, int], integer: IntegerMode, settled: set[tuple]
) -> dict[str, Interval]:
    """The blocking cells of the round, auditing only the parts that changed.

    A part is fixed by its withheld cells and their bounds (published values never change
    between rounds, and the relations are those of the grid), so a part found safe in an earlier
    round and untouched since is safe still: most of the département is settled after the first
    round, and later rounds only re-solve the few parts that received complements.
    """
    blocking: dict[str, Interval] = {}
    for part in separable_parts(view.system):
        withheld = [cell for cell in part.cells if cell.value is None]
        need = {cell.name: required[cell.name] for cell in withheld if cell.name in required}
        if not need:
            continue
        signature = (
            integer,
            tuple(sorted((cell.name, cell.lower) for cell in withheld)),
            tuple(sorted(need.items())),
        )
        if signature in settled:
            continue
        result = audit(part, sensitive=need, integer=integer)
        if result.passed:
            settled.add(signature)
        blocking.update(result.blocking)
    return blocking


def _gate(
    view: AttackerView, required: Mapping[str, int], spent: dict[str, float]
) -> tuple[dict[str, Interval], dict[str, Interval]]:
    """The release gate: the attacker's exact interval of every sensitive cell (integer bounds;
    the linear relaxation rounded on very large parts, see ``MILP_MAX_CELLS``), and the cells it
    leaves too narrow. The other withheld counts (no width required: 0 or at least T) get the
    linear relaxation's bounds rounded to whole numbers (``method="relaxation"``), an outer
    bound of what the attacker reaches: exact integer bounds there would cost MILPs for nothing
    the gate uses."""
    step = time.perf_counter()
    exact = audit(view.system, sensitive=required, exact=True)
    others = {
        name: 0
        for name, (_, _, count) in view.owner.items()
        if count in "PNK" and name not in required and view.values[name] is None
    }
    intervals = {
        name: rounded_to_integers(interval)
        for name, interval in attack(view.system, integer=False, cells=others).items()
    }
    spent["audit"] += time.perf_counter() - step
    intervals.update(exact.intervals)
    return intervals, dict(exact.blocking)


def _twins(indicateurs: pl.DataFrame, connus: pl.DataFrame) -> dict[int, int]:
    rows = {key: rid for rid, key in enumerate(indicateurs.select(ROW_KEY).rows())}
    return {
        cid: rows[(*key, ENSEMBLE, ENSEMBLE)]
        for cid, key in enumerate(connus.select(CONNUS_KEY).rows())
        if (*key, ENSEMBLE, ENSEMBLE) in rows
    }


def _complements(
    view: AttackerView,
    blocking: Mapping[str, Interval],
    chooser: _Chooser,
    is_secret: Callable[[str, int], bool],
) -> set[tuple[str, int]]:
    """One more withheld row in the sums around each blocking row.

    Sums where the blocking row is the only withheld member come first (the classic
    "total minus the others" attack); when every sum already holds another withheld row, the
    interval is too narrow rather than exact, and each sum gets one more member. A sum gets at
    most one new member per round, so that the audit decides before more is spent.
    """
    groups_of = view.groups_of()
    rows = {view.owner[name][:2] for name in blocking}
    rows |= {("i", view.twin[row]) for table, row in rows if table == "c" and row in view.twin}
    added: set[tuple[str, int]] = set()
    served: set[Group] = set()

    def secret_now(table: str, row: int) -> bool:
        return is_secret(table, row) or (table, row) in added

    for key in sorted(rows):
        groups = groups_of.get(key, [])
        alone = [g for g in groups if sum(secret_now(g.table, member) for member in g.members) == 1]
        found = False
        for group in alone or groups:
            if group in served:
                found = True
                continue
            choice = chooser.pick(group, secret_now)
            if choice is not None:
                added.add(choice)
                served.add(group)
                found = True
        if not found:
            _further(key, groups_of, chooser, secret_now, added, served)
    return added


def _further(
    key: tuple[str, int],
    groups_of: Mapping[tuple[str, int], list[Group]],
    chooser: _Chooser,
    secret_now: Callable[[str, int], bool],
    added: set[tuple[str, int]],
    served: set[Group],
    depth: int = 6,
) -> None:
    """Every sum around the row is already withheld, yet the row stays narrow: some published
    total further away still pins it (an EPCI total recomputed from its published communes,
    say). Walk out through the sums, nearest first, and withhold the cheapest free row of the
    first ring that has one."""
    seen_groups: set[Group] = set(groups_of.get(key, []))
    seen_rows = {key}
    ring = list(seen_groups)
    for _ in range(depth):
        rows = {
            (group.table, member)
            for group in ring
            for member in group.members
            if (group.table, member) not in seen_rows
        }
        seen_rows |= rows
        ring = [g for row in sorted(rows) for g in groups_of.get(row, []) if g not in seen_groups]
        seen_groups.update(ring)
        options = [
            (chooser.cost[choice], choice, group)
            for group in ring
            if group not in served and (choice := chooser.pick(group, secret_now)) is not None
        ]
        if options:
            _, choice, group = min(options, key=lambda option: option[0])
            added.add(choice)
            served.add(group)
            return


def _check_relations(indicateurs: pl.DataFrame, protection: Protection) -> None:
    """A relation of ``secret.yaml`` that the true counts break is wrong: refuse, by name."""
    if not protection.relations:
        return
    ensemble = indicateurs.filter(pl.col("tranche_age") == ENSEMBLE)
    key = ["niveau", "code_territoire", "type_menage"]

    def side(indicator: str, count: str) -> pl.DataFrame:
        value = {
            "population": pl.col("population"),
            "non_recours": pl.col("non_recours"),
        }.get(count, pl.col("population") - pl.col("non_recours"))
        return ensemble.filter(pl.col("indicateur") == indicator).select(*key, value.alias("v"))

    for relation in protection.relations:
        small = side(relation.small_indicator, relation.small_count)
        large = side(relation.large_indicator, relation.large_count)
        broken = small.join(large, on=key, suffix="_grand").filter(pl.col("v") > pl.col("v_grand"))
        if broken.height:
            first = broken.row(0, named=True)
            raise PublicationError(
                f"la relation « {relation.id} » de indicators/secret.yaml est fausse sur ces "
                f"données ({broken.height} lignes, par exemple {first['niveau']} "
                f"{first['code_territoire']}, type {first['type_menage']}) : corrigez-la avant de "
                "publier, l'audit du secret en dépend"
            )


def check_gate(pattern: SecretPattern, audit_file: str) -> None:
    """Refuse the publication when a sensitive count stays recomputable or too narrow.

    The message names the rows (indicator, territory, breakdown) and what breaks, never a
    value: the intervals themselves are only in the restricted audit.
    """
    if pattern.passed:
        return
    rows: dict[tuple[str, int], list[str]] = {}
    for name in sorted(pattern.blocking):
        table, row, count = pattern.view.owner[name]
        rows.setdefault((table, row), []).append(count)
    lines = []
    for (table, row), counts in sorted(rows.items())[:10]:
        lines.append(
            f"  - {_describe(pattern, table, row)} : {', '.join(COUNT_WORDS[c] for c in counts)}"
        )
    more = f"\n  … et {len(rows) - 10} autres" if len(rows) > 10 else ""
    raise PublicationError(
        f"publication refusée : le secret statistique ne tient pas pour {len(rows)} lignes "
        f"(un attaquant recalcule un compte ou le resserre sous {pattern.width}) :\n"
        + "\n".join(lines)
        + more
        + f"\nDétail (accès restreint, DPO) : {audit_file}"
    )


COUNT_WORDS = {
    "P": "population",
    "N": "non_recours",
    "D": "population − non_recours",
    "K": "non_recours_connus",
    "E": "non_recours − non_recours_connus",
}


def _describe(pattern: SecretPattern, table: str, row: int) -> str:
    if table == "i":
        r = pattern.indicateurs.row(row, named=True)
        return (
            f"indicateurs {r['indicateur']}, {r['niveau']} {r['code_territoire']}, "
            f"tranche {r['tranche_age']}, ménage {r['type_menage']}"
        )
    r = pattern.connus.row(row, named=True)
    return f"connus {r['indicateur']}, {r['niveau']} {r['code_territoire']}"
