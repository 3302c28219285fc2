"""The least loss the secret allows: an optimal secondary pattern, and what the analysts keep.

The secondary secret (:mod:`pipelines.publish.secondary`) withholds complements until the
attacker audit passes; how much it gives up beyond the primary rows is only meaningful against
the least any valid pattern must give up. This module computes that least loss as a
mixed-integer program (HiGHS through ``scipy.optimize.milp``), one per independent part of the
publication (an indicator with its ``connus`` rows; indicators linked by a relation of
``secret.yaml`` together), and the utility figures the restricted audit and the analysts'
"À propos" print (:func:`utility_figures`).

The program (one binary ``s_r`` per row: withheld or not) minimises the population withheld
by secondary rows (``population`` of an ``indicateurs`` row, ``non_recours`` of a ``connus``
row) under constraints that EVERY pattern passing the audit satisfies, so that its optimum is a
lower bound of the true optimum:

* primary rows are withheld, zero rows never (the publication's own rules), and a ``connus``
  row is withheld with its ``indicateurs`` twin (it publishes the twin's ``non_recours``);
* in every sum (``total = Σ parts``), a withheld row is never the only withheld member: for a
  primary row the attacker would recompute it; for a secondary row, whose counts the attacker
  would then recompute anyway, publishing it loses nothing, so an optimal pattern never does it;
* capacity: a sensitive count of a primary row that is a part of a sum whose total is published
  can only move as far as the other withheld parts let it (they are ≥ 1 for a population,
  ≥ 0 otherwise), so they must carry at least the protection width between them.

These are necessary, not sufficient. The optimum is therefore checked by the real audit, through
the very path :func:`~pipelines.publish.secondary.protect` uses (published form →
:func:`build_view` → :func:`requirements` → :func:`audit`). If it passes, it is an optimal valid
pattern. If not, each blocking count adds a cut that every valid pattern satisfies, and the
program is solved again:

* the attacker's linear relaxation at the failing pattern gives, by LP duality, an upper bound
  of the attacker's interval width for EVERY pattern, affine in ``s`` (the capacity cuts of
  Fischetti and Salazar, the exact method behind τ-Argus's "optimal" secondary suppression);
  the width must reach the protection width;
* when only integrality makes the count narrow (the relaxation is wide enough), withholding
  fewer rows can only narrow it further, so some row next to the withheld rows linked to it
  must be withheld too.

A part whose program hits its time limit, or whose pattern still fails after the last round,
reports the best lower bound found instead of an optimum.

The duality cuts are computed in floating point and loosened by a margin against the solver's
rounding, so they can only be weaker than the exact ones. Safety never rests on them: a pattern
is called optimal only once the audit has passed it, and ``protect()`` gates it again.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import polars as pl
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from anonymization.disclosure import audit, separable_parts
from pipelines.publish.attacker_view import ROW_KEY, build_view
from pipelines.publish.model import ENSEMBLE, LEVELS
from pipelines.publish.protection import Protection
from pipelines.publish.requirements import primary_rules, requirements

OPTIMAL, BOUND, TIME, INFEASIBLE = "optimal", "borne", "temps", "impossible"
# Branch-and-bound nodes one program may explore: on the synthetic département every program
# closes well within it (bench/bench_secret.py); a work limit, not a time limit, keeps the
# pattern the same whatever the machine's load.
NODE_LIMIT = 50_000
_TOL = 1e-6


@dataclass(frozen=True)
class PartOutcome:
    """One independent part: its optimum (``status == "optimal"``) or the best lower bound.

    ``bound``: no valid pattern withholds less (secondary cost) than this. ``cost``: the
    secondary cost of ``pattern``, the audited-safe optimal pattern (``None`` when the part was
    not solved to a safe pattern). ``pattern``: its secondary rows, as ``(table, row)`` with
    the row's position in the tables given to :func:`least_loss`; ``last``: the secondary rows
    of the last program solved, whether the audit passed or not (a start for a heuristic).
    """

    indicators: tuple[str, ...]
    candidates: int
    status: str
    bound: float
    cost: float | None
    rounds: int
    cuts: int
    seconds: float
    solve_seconds: float
    audit_seconds: float
    pattern: frozenset[tuple[str, int]] | None
    last: frozenset[tuple[str, int]] | None = None  # the last program's rows, safe or not


@dataclass
class LeastLoss:
    """Every part's outcome; ``secondary`` joins the parts' optimal patterns."""

    parts: list[PartOutcome] = field(default_factory=list)

    @property
    def optimal(self) -> bool:
        return all(part.status == OPTIMAL for part in self.parts)

    @property
    def secondary(self) -> set[tuple[str, int]]:
        return {row for part in self.parts for row in (part.pattern or ())}

    def summary(self) -> list[dict[str, object]]:
        """JSON-safe, per part, for the restricted audit: ``statut`` (``optimal``: the pattern
        is an optimum the audit passed; ``borne``: the program's last pattern still failed and
        ``borne`` is only a lower bound; ``temps``: out of time; ``impossible``: no pattern
        passes), the bound and the optimum's cost in the program's units (see ``costs``)."""
        return [
            {
                "indicateurs": list(part.indicators),
                "statut": part.status,
                "lignes_candidates": part.candidates,
                "programmes": part.rounds,
                "coupes": part.cuts,
                "borne": None if math.isinf(part.bound) else part.bound,
                "cout": part.cost,
                "duree_s": part.seconds,
            }
            for part in self.parts
        ]


def row_costs(indicateurs: pl.DataFrame, connus: pl.DataFrame) -> dict[str, np.ndarray]:
    """What withholding a row loses: the people it counts (``population`` of an
    ``indicateurs`` row, ``non_recours`` of a ``connus`` row, the population of that table)."""
    return {
        "i": indicateurs["population"].fill_null(0).to_numpy().astype(float),
        "c": connus["non_recours"].fill_null(0).to_numpy().astype(float),
    }


def _small(value: int, threshold: int) -> bool:
    return 1 <= value <= threshold - 1


class _Part:
    """One independent part, with rows renumbered: ``indicateurs`` rows first, then ``connus``."""

    def __init__(
        self,
        indicateurs: pl.DataFrame,
        connus: pl.DataFrame,
        territoires: pl.DataFrame,
        thresholds: Mapping[str, int],
        protection: Protection,
        names: Sequence[str],
        costs: Mapping[str, np.ndarray],
    ) -> None:

        self.names = tuple(names)
        self.territoires, self.thresholds, self.width = territoires, thresholds, protection.width
        self.relations = tuple(
            r
            for r in protection.relations
            if r.small_indicator in names and r.large_indicator in names
        )
        picked = pl.col("indicateur").is_in(list(names))
        self.gi = np.flatnonzero(indicateurs.select(picked).to_series().to_numpy())
        self.gc = np.flatnonzero(connus.select(picked).to_series().to_numpy())
        self.sub_i, self.sub_c = indicateurs.filter(picked), connus.filter(picked)
        self.ni, self.nc = self.sub_i.height, self.sub_c.height
        self.n = self.ni + self.nc

        self.p = self.sub_i["population"].to_numpy().astype(np.int64)
        self.nr = self.sub_i["non_recours"].to_numpy().astype(np.int64)
        self.cn = self.sub_c["non_recours"].to_numpy().astype(np.int64)
        self.ck = self.sub_c["non_recours_connus"].to_numpy().astype(np.int64)
        self.threshold_i = [thresholds[name] for name in self.sub_i["indicateur"].to_list()]
        self.threshold_c = [thresholds[name] for name in self.sub_c["indicateur"].to_list()]

        self.rules = primary_rules(self.sub_i, self.sub_c, thresholds)
        self.primary = np.zeros(self.n, dtype=bool)
        for table, row in self.rules:
            self.primary[self.var(table, row)] = True
        self.empty = np.concatenate([self.p == 0, self.cn == 0])
        self.cost = np.concatenate([costs["i"][self.gi], costs["c"][self.gc]])
        self.cost[self.primary | self.empty] = 0.0

        view = build_view(
            self.sub_i.with_columns(secret=pl.lit(False)),
            self.sub_c.with_columns(secret=pl.lit(False)),
            territoires,
            self.relations,
        )
        self.groups = [
            (group.table, [self.var(group.table, m) for m in group.members])
            for group in view.groups
        ]
        self.twin = {self.ni + cid: rid for cid, rid in view.twin.items()}  # c var -> i var
        self.twin_of = {rid: cvar for cvar, rid in self.twin.items()}  # i var -> c var
        self.neighbours: dict[int, set[int]] = defaultdict(set)
        for _, members in self.groups:
            for member in members:
                self.neighbours[member].update(members)
        for cvar, rid in self.twin.items():
            self.neighbours[cvar].add(rid)
            self.neighbours[rid].add(cvar)
        keys = {key: rid for rid, key in enumerate(self.sub_i.select(ROW_KEY).rows())}
        for relation in self.relations:  # the attacker's inequalities link rows too
            for (indicator, level, code, band, kind), rid in keys.items():
                if indicator == relation.small_indicator and band == ENSEMBLE:
                    other = keys.get((relation.large_indicator, level, code, band, kind))
                    if other is not None:
                        self.neighbours[rid].add(other)
                        self.neighbours[other].add(rid)
        self.cuts: list[tuple[dict[int, float], float]] = []
        self.settled: set[tuple] = set()
        self.base = self.base_constraints()
        self.groups_of: dict[int, list[int]] = defaultdict(list)
        for g, (_, members) in enumerate(self.groups):
            for member in members:
                self.groups_of[member].append(g)
        self._lps: dict[frozenset[int], dict] = {}

    def var(self, table: str, row: int) -> int:
        return row if table == "i" else self.ni + row

    def row(self, var: int) -> tuple[str, int]:
        return ("i", var) if var < self.ni else ("c", var - self.ni)

    def global_row(self, var: int) -> tuple[str, int]:
        table, row = self.row(var)
        return (table, int(self.gi[row] if table == "i" else self.gc[row]))

    # --- the program -----------------------------------------------------------------------

    def _k_small(self, var: int) -> bool:
        q = var - self.ni
        return self.primary[var] and _small(int(self.ck[q]), self.threshold_c[q])

    def base_constraints(self) -> list[tuple[dict[int, float], float]]:
        """``Σ coef · s ≥ rhs`` rows every valid pattern satisfies (see the module docstring)."""
        rows: list[tuple[dict[int, float], float]] = []
        for cvar, rid in self.twin.items():
            if not self.empty[cvar]:
                rows.append(({cvar: 1.0, rid: -1.0}, 0.0))
        for table, members in self.groups:
            for m in members:
                if self.empty[m]:
                    continue
                terms = {j: 1.0 for j in members if j != m and not self.empty[j]}
                terms[m] = terms.get(m, 0.0) - 1.0
                if table == "c" and m in self.twin and not self._k_small(m):
                    # N withheld by the twin: K recomputed alone is not yet E recomputed
                    terms[self.twin[m]] = terms.get(self.twin[m], 0.0) + 1.0
                rows.append((terms, 0.0))
            rows += self._capacity(table, members)
        return rows

    def _capacity(self, table: str, members: list[int]) -> list[tuple[dict[int, float], float]]:
        """A sensitive count of a primary part, total published: the other withheld parts
        must let it move by the width (populations ≥ 1, other counts ≥ 0)."""
        total, parts = members[0], members[1:]
        rows = []
        for m in parts:
            if not self.primary[m]:
                continue
            for slack, own, need in self._sensitive(table, m):
                terms = {j: float(slack[j]) for j in parts if j != m and slack[j] > 0}
                terms[total] = float(need)
                rhs = need - own
                if rhs > 0:
                    rows.append((terms, float(rhs)))
        return rows

    def _sensitive(self, table: str, m: int) -> list[tuple[dict[int, int], int, int]]:
        """(how far each other part can move the count, how far the row itself can, width)."""
        found = []
        if table == "i":
            t, p, n = self.threshold_i[m], int(self.p[m]), int(self.nr[m])
            d = p - n
            if _small(p, t):
                found.append((self._slack_i(lambda j: self.p[j] - 1), p - 1, self.width))
            if _small(n, t):
                found.append((self._slack_i(lambda j: self.nr[j]), n, self.width))
            if _small(d, t):
                found.append((self._slack_i(lambda j: self.p[j] - self.nr[j]), d, self.width))
            if d == 0 and p > 0:
                found.append((self._slack_i(lambda j: self.p[j] - self.nr[j]), 0, 1))
        else:
            q = m - self.ni
            k = int(self.ck[q])
            if _small(k, self.threshold_c[q]):
                slack = {self.ni + j: int(self.ck[j]) for j in range(self.nc)}
                found.append((slack, k, self.width))
        return found

    def _slack_i(self, value: Callable[[int], int]) -> dict[int, int]:
        return _LazySlack(value)

    def solve(
        self, time_limit: float | None, node_limit: int
    ) -> tuple[str, np.ndarray | None, float, float]:
        """(status, pattern, objective, lower bound) of the program with its cuts.

        ``node_limit`` bounds the branch and bound by work, not by the clock: the same data
        gives the same pattern on a quiet machine and on a loaded one."""
        constraints = self.base + self.cuts
        data, rows, cols, lower = [], [], [], []
        for r, (terms, rhs) in enumerate(constraints):
            for var, coef in terms.items():
                if coef:
                    rows.append(r)
                    cols.append(var)
                    data.append(coef)
            lower.append(rhs)
        matrix = sparse.csr_array((data, (rows, cols)), shape=(len(constraints), self.n))
        lb = self.primary.astype(float)
        ub = np.where(self.empty, 0.0, 1.0)
        result = milp(
            self.cost,
            integrality=np.ones(self.n),
            bounds=Bounds(lb, ub),
            constraints=[LinearConstraint(matrix, np.array(lower), np.inf)],
            options={
                "node_limit": node_limit,
                "mip_rel_gap": 1e-9,
                **({"time_limit": max(time_limit, 1.0)} if time_limit is not None else {}),
            },
        )
        bound = getattr(result, "mip_dual_bound", None)
        if result.status == 2:
            return INFEASIBLE, None, math.inf, math.inf
        if result.status == 0:
            x = np.round(result.x).astype(bool)
            objective = float(self.cost @ x)  # exact, without the solver's tolerance
            return OPTIMAL, x, objective, self._whole(result.fun if bound is None else bound)
        x = None if result.x is None else np.round(result.x).astype(bool)
        return TIME, x, math.nan, self._whole(bound if bound is not None else 0.0)

    def _whole(self, bound: float) -> float:
        """Whole costs have a whole optimum: a bound of 7078.9999999988 is 7079."""
        if np.all(self.cost == np.round(self.cost)):
            return float(math.ceil(bound - _TOL * max(1.0, abs(bound))))
        return float(bound)

    # --- the audit, as protect() runs it -----------------------------------------------------

    def blocking(self, withheld: np.ndarray) -> dict[str, tuple[str, int, str, int]]:
        """Blocking counts of the pattern: cell name -> (table, row, count, required width).

        The audit of :func:`~pipelines.publish.secondary.protect`'s gate, part by separable
        part; a part already found safe in an earlier round (same withheld cells, same needs)
        is safe still and is not solved again."""
        from pipelines.publish.secret import withhold

        indicateurs = self.sub_i.with_columns(secret=pl.Series(withheld[: self.ni].tolist()))
        connus = self.sub_c.with_columns(secret=pl.Series(withheld[self.ni :].tolist()))
        view = build_view(*withhold(indicateurs, connus), self.territoires, self.relations)
        required = requirements(
            view, self.sub_i, self.sub_c, set(self.rules), self.thresholds, self.width
        )
        found: dict[str, tuple[str, int, str, int]] = {}
        covered: set[str] = set()
        for part in separable_parts(view.system):
            need = {c.name: required[c.name] for c in part.cells if c.name in required}
            covered.update(need)
            if not need:
                continue
            signature = (
                tuple(sorted((c.name, c.lower) for c in part.cells if c.value is None)),
                tuple(sorted(need.items())),
            )
            if signature in self.settled:
                continue
            result = audit(part, sensitive=need)
            if result.passed:
                self.settled.add(signature)
            for name in result.blocking:
                table, row, count = view.owner[name]
                found[name] = (table, row, count, required[name])
        for name in set(required) - covered:  # a sensitive count published, in no relation
            table, row, count = view.owner[name]
            found[name] = (table, row, count, required[name])
        return found

    # --- cuts --------------------------------------------------------------------------------

    def component(self, withheld: np.ndarray, var: int) -> tuple[frozenset[int], frozenset[int]]:
        """The withheld rows linked to ``var`` through sums (and twins), and the other rows of
        those sums: the only rows the attacker's bounds on ``var`` depend on."""
        seen, todo, border = {var}, [var], set()
        while todo:
            current = todo.pop()
            for other in self.neighbours.get(current, ()):
                if other in seen:
                    continue
                seen.add(other)
                if withheld[other]:
                    todo.append(other)
                else:
                    border.add(other)
        return frozenset(seen - border), frozenset(border)

    def _attacker_lp(self, core: frozenset[int], border: frozenset[int]) -> dict:
        """The attacker's linear relaxation around ``core``: P, N per ``indicateurs`` row, K
        per ``connus`` row (N shared with the twin), over the core, its border and their twins,
        with the sums that hold a core row. Leaving the other sums out only weakens this
        attacker, so its bounds stay valid for every pattern."""
        rows = set(core | border)
        rows |= {self.twin[v] for v in rows if v in self.twin}
        rows |= {self.twin_of[v] for v in rows if v in self.twin_of}
        ni = self.ni
        columns: list[tuple[int | None, int, int]] = []  # (pattern var, true value, slack)
        index: dict[tuple[int, str], int] = {}

        def add(var: int, count: str, depends: int | None, value: int, slack: int) -> None:
            index[(var, count)] = len(columns)
            columns.append((depends, value, slack))

        for r in sorted(v for v in rows if v < ni):
            add(r, "P", r, int(self.p[r]), max(0, int(self.p[r]) - 1))
            cvar = self.twin_of.get(r)
            n_depends = r if cvar is None or not self.empty[cvar] else None
            add(r, "N", n_depends, int(self.nr[r]), int(self.nr[r]))
        for cvar in sorted(v for v in rows if v >= ni):
            q = cvar - ni
            add(cvar, "K", cvar, int(self.ck[q]), int(self.ck[q]))
            if cvar in self.twin:
                index[(cvar, "N")] = index[(self.twin[cvar], "N")]
            else:
                add(cvar, "N", cvar, int(self.cn[q]), int(self.cn[q]))

        eq_rows, eq_cols, eq_data, n_eq = [], [], [], 0
        groups = {g for v in core for g in self.groups_of.get(v, ())}
        for g in sorted(groups):
            table, members = self.groups[g]
            for count in ("P", "N") if table == "i" else ("K",):
                for position, m in enumerate(members):
                    eq_rows.append(n_eq)
                    eq_cols.append(index[(m, count)])
                    eq_data.append(1.0 if position == 0 else -1.0)
                n_eq += 1
        ub_rows, ub_cols, ub_data, n_ub = [], [], [], 0
        for var in sorted(rows):
            small, large = ("N", "P") if var < ni else ("K", "N")
            ub_rows += [n_ub, n_ub]
            ub_cols += [index[(var, small)], index[(var, large)]]
            ub_data += [1.0, -1.0]
            n_ub += 1
        size = len(columns)
        return {
            "index": index,
            "columns": columns,
            "values": np.array([value for _, value, _ in columns], dtype=float),
            "a_eq": sparse.csr_array((eq_data, (eq_rows, eq_cols)), shape=(n_eq, size)),
            "a_ub": sparse.csr_array((ub_data, (ub_rows, ub_cols)), shape=(n_ub, size)),
        }

    def lp_cut(
        self, withheld: np.ndarray, table: str, row: int, count: str, width: int
    ) -> tuple[dict[int, float], float] | None:
        """The duality cut of one count, or ``None`` when the relaxation is wide enough (only
        integrality narrows it) or unbounded."""
        var = self.var(table, row)
        core, border = self.component(withheld, var)
        lp = self._lps.get(core)
        if lp is None or lp["border"] != border:
            lp = self._lps[core] = {**self._attacker_lp(core, border), "border": border}
        columns, values = lp["columns"], lp["values"]
        solver = lp.get("solver")
        if solver is None or lp["pattern"] is not withheld:
            lower, upper = values.copy(), values.copy()
            for j, (depends, value, slack) in enumerate(columns):
                if depends is not None and withheld[depends]:
                    lower[j], upper[j] = value - slack, np.inf
            solver = lp["solver"] = _DualLp(lp["a_eq"], lp["a_ub"], lower, upper)
            lp["pattern"] = withheld
        objective = np.zeros(len(columns))
        terms = {"P": {"P": 1}, "N": {"N": 1}, "D": {"P": 1, "N": -1}, "K": {"K": 1}}
        terms["E"] = {"N": 1, "K": -1}
        for name, sign in terms[count].items():
            objective[lp["index"][(var, name)]] += sign
        found = []
        for direction in (1.0, -1.0):
            solved = solver.solve(direction * objective)
            if solved is None:
                return None
            found.append(solved)
        (low, rc_min), (neg_high, rc_max) = found
        if -neg_high - low >= width - _TOL:
            return None
        # width(s) ≤ U(s) − L(s) = constant + Σ coef · s (weak duality, any pattern s)
        constant = -float(rc_max @ values) - float(rc_min @ values)
        scale = float(np.abs(rc_max * values).sum() + np.abs(rc_min * values).sum())
        coefs: dict[int, float] = defaultdict(float)
        unbounded: set[int] = set()
        for j, (depends, _, slack) in enumerate(columns):
            if depends is None:
                continue
            for rc in (rc_min[j], rc_max[j]):
                if rc > 1e-9:
                    coefs[depends] += rc * slack
                elif rc < -1e-9:
                    unbounded.add(depends)  # that bound is infinite once the row is withheld
        rhs = width - constant - _TOL * max(1.0, scale)
        if rhs <= _TOL:  # within the solver's noise: no cut worth trusting
            return None
        for unbounded_var in unbounded:
            coefs[unbounded_var] = max(coefs[unbounded_var], rhs)
        return {v: coef for v, coef in coefs.items() if coef > 1e-9}, rhs

    def boundary_cut(self, withheld: np.ndarray, var: int) -> tuple[dict[int, float], float]:
        """Some row next to the withheld rows linked to ``var`` must be withheld too: with
        all of them published, the attacker's system around ``var`` can only shrink."""
        _, border = self.component(withheld, var)
        return {other: 1.0 for other in border if not self.empty[other]}, 1.0


class _DualLp:
    """The attacker's relaxation around one component, for one pattern: each solve changes
    only the objective, so HiGHS restarts from the last basis (the private HiGHS object that
    scipy ships, as in :mod:`anonymization.disclosure._solver`; ``linprog`` when it is not
    usable). Returns the optimum and the reduced costs (the duals of the bounds)."""

    def __init__(
        self,
        a_eq: sparse.csr_array,
        a_ub: sparse.csr_array,
        lower: np.ndarray,
        upper: np.ndarray,
    ) -> None:
        self.a_eq, self.a_ub, self.lower, self.upper = a_eq, a_ub, lower, upper
        self.highs = None
        self.previous: np.ndarray | None = None
        try:
            self._persistent()
        except (ImportError, AttributeError, TypeError):
            self.highs = None

    def _persistent(self) -> None:
        from scipy.optimize._highspy import _core as h  # private: see the class docstring

        a = sparse.vstack([self.a_eq, self.a_ub], format="csc")
        rows, n = a.shape
        lp = h.HighsLp()
        lp.num_col_, lp.num_row_ = n, rows
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, rows
        lp.a_matrix_.format_ = h.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = self.lower.astype(float)
        lp.col_upper_ = np.where(np.isinf(self.upper), h.kHighsInf, self.upper)
        lp.row_lower_ = np.concatenate(
            [np.zeros(self.a_eq.shape[0]), np.full(self.a_ub.shape[0], -h.kHighsInf)]
        )
        lp.row_upper_ = np.zeros(rows)
        highs = h._Highs()
        highs.setOptionValue("output_flag", False)
        if highs.passModel(lp) == h.HighsStatus.kError:
            raise TypeError("model refused")
        self.h, self.highs = h, highs

    def solve(self, objective: np.ndarray) -> tuple[float, np.ndarray] | None:
        if self.highs is None:
            return self._public(objective)
        h, highs = self.h, self.highs
        if self.previous is not None:
            for j in np.flatnonzero(self.previous):
                highs.changeColCost(int(j), 0.0)
        for j in np.flatnonzero(objective):
            highs.changeColCost(int(j), float(objective[j]))
        self.previous = objective
        if highs.run() == h.HighsStatus.kError:
            return self._public(objective)
        if highs.getModelStatus() != h.HighsModelStatus.kOptimal:
            return None
        solution = highs.getSolution()
        if not solution.dual_valid:
            return self._public(objective)
        return highs.getInfo().objective_function_value, np.asarray(solution.col_dual)

    def _public(self, objective: np.ndarray) -> tuple[float, np.ndarray] | None:
        result = linprog(
            objective,
            A_ub=self.a_ub,
            b_ub=np.zeros(self.a_ub.shape[0]),
            A_eq=self.a_eq if self.a_eq.shape[0] else None,
            b_eq=np.zeros(self.a_eq.shape[0]) if self.a_eq.shape[0] else None,
            bounds=np.column_stack([self.lower, self.upper]),
            method="highs-ds",
        )
        if result.status != 0:
            return None
        return float(result.fun), result.lower.marginals + result.upper.marginals


class _LazySlack(dict):
    """Slack of a count per row, computed on first use (most rows are never asked)."""

    def __init__(self, value: Callable[[int], int]) -> None:
        super().__init__()
        self.value = value

    def __missing__(self, var: int) -> int:
        found = max(0, int(self.value(var)))
        self[var] = found
        return found


def independent_parts(indicators: Iterable[str], protection: Protection) -> list[tuple[str, ...]]:
    """Indicators linked by a relation of ``secret.yaml`` share a part; the others are alone."""
    parent = {name: name for name in indicators}

    def find(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    for relation in protection.relations:
        if relation.small_indicator in parent and relation.large_indicator in parent:
            parent[find(relation.small_indicator)] = find(relation.large_indicator)
    groups: dict[str, list[str]] = defaultdict(list)
    for name in parent:
        groups[find(name)].append(name)
    return sorted(tuple(sorted(names)) for names in groups.values())


def least_loss(
    indicateurs: pl.DataFrame,
    connus: pl.DataFrame,
    territoires: pl.DataFrame,
    thresholds: Mapping[str, int],
    protection: Protection,
    *,
    time_limit: float | None = None,
    rounds: int = 40,
    node_limit: int = NODE_LIMIT,
    costs: Mapping[str, np.ndarray] | None = None,
    progress: Callable[[str], None] | None = None,
) -> LeastLoss:
    """The least secondary loss of the period, part by part, checked by the real audit.

    ``indicateurs`` / ``connus``: as :func:`~pipelines.publish.secondary.protect` receives them
    (every indicator of the period, true counts, ``secret`` = the primary secret). ``rounds``:
    programs per part at most; ``node_limit``: branch-and-bound nodes per program. Both bound
    the work, so that a publication never depends on how loaded the machine was. ``time_limit``
    (seconds per part) is for the bench's measurements only.
    ``costs``: what withholding each row loses, by table (default :func:`row_costs`).
    """
    costs = costs or row_costs(indicateurs, connus)
    outcome = LeastLoss()
    names = indicateurs["indicateur"].unique(maintain_order=True).to_list()
    for part_names in independent_parts(names, protection):
        start = time.perf_counter()
        part = _Part(indicateurs, connus, territoires, thresholds, protection, part_names, costs)
        spent_solve = spent_audit = 0.0
        status, bound, cost, pattern, last, done = TIME, 0.0, None, None, None, 0
        for done in range(1, rounds + 1):
            left = None if time_limit is None else time_limit - (time.perf_counter() - start)
            if left is not None and left <= 0:
                status = TIME
                break
            step = time.perf_counter()
            found, withheld, objective, lower = part.solve(left, node_limit)
            spent_solve += time.perf_counter() - step
            bound = max(bound, lower)
            if withheld is not None:
                last = frozenset(
                    part.global_row(int(v)) for v in np.flatnonzero(withheld & ~part.primary)
                )
            if found != OPTIMAL:
                status = found
                break
            # an optimal program always comes with its pattern (``_Part.solve``)
            withheld = cast(np.ndarray, withheld)
            step = time.perf_counter()
            blocking = part.blocking(withheld)
            spent_audit += time.perf_counter() - step
            if not blocking:
                status, cost, pattern = OPTIMAL, objective, last
                break
            status = BOUND
            added = 0
            for _name, (table, row, count, width) in sorted(blocking.items()):
                cut = part.lp_cut(withheld, table, row, count, width)
                if cut is None:
                    cut = part.boundary_cut(withheld, part.var(table, row))
                    if not cut[0]:
                        status = INFEASIBLE
                        break
                part.cuts.append(cut)
                added += 1
            if status == INFEASIBLE:
                break
            if progress:
                progress(
                    f"secret secondaire, {', '.join(part_names)} : programme {done}, "
                    f"{len(blocking)} comptes encore trop étroits, {added} coupes de plus"
                )
        outcome.parts.append(
            PartOutcome(
                indicators=tuple(part_names),
                candidates=int((~part.primary & ~part.empty).sum()),
                status=status,
                bound=bound,
                cost=cost,
                rounds=done,
                cuts=len(part.cuts),
                seconds=round(time.perf_counter() - start, 3),
                solve_seconds=round(spent_solve, 3),
                audit_seconds=round(spent_audit, 3),
                pattern=pattern,
                last=last,
            )
        )
    return outcome


# --- what the analysts keep --------------------------------------------------------------------


UTILITY_COUNTS = (
    "lignes",
    "lignes_secretes",
    "lignes_primaires",
    "lignes_secondaires",
    "territoires",
    "territoires_avec_valeur",
    "territoires_non_vides_avec_valeur",
    "population_cible",
    "population_montree",
)


def utility_figures(
    indicateurs: pl.DataFrame, reasons: Mapping[tuple[str, int], str] | None = None
) -> pl.DataFrame:
    """Per period, indicator and level: what the secret leaves the analysts.

    ``indicateurs``: either the pattern's table (true counts, ``secret`` set, row positions as
    in ``reasons``) or the published one (counts NULL on secret rows): both give the same
    figures. ``reasons``: ``(table, row) -> "primaire" | "secondaire"`` (the restricted audit's
    :attr:`SecretPattern.reasons`); without it the primary/secondary split is NULL, as it must be
    wherever the analysts read (saying which rows are primary points at small cells).

    Columns: ``lignes`` (rows of the level, every breakdown), ``lignes_secretes``,
    ``lignes_primaires``, ``lignes_secondaires``; over the territories' ``ensemble`` rows:
    ``territoires``, ``territoires_avec_valeur`` (row not secret, zero rows included),
    ``territoires_non_vides_avec_valeur`` (not secret and population > 0),
    ``population_cible`` (the département's ``ensemble`` population, NULL if it is secret),
    ``population_montree`` (population of the published ``ensemble`` rows of the level) and
    ``part_population_montree`` (their ratio to 6 decimals, NULL when the target is unknown or
    0).
    """
    frame = indicateurs.with_row_index("_row")
    if "periode" not in frame.columns:
        frame = frame.with_columns(periode=pl.lit(None, dtype=pl.String))
    reason = pl.lit(None, dtype=pl.String)
    if reasons is not None:
        primary = [
            row for (table, row), why in reasons.items() if table == "i" and why == "primaire"
        ]
        secondary = [
            row for (table, row), why in reasons.items() if table == "i" and why != "primaire"
        ]
        reason = (
            pl.when(pl.col("_row").is_in(primary))
            .then(pl.lit("primaire"))
            .when(pl.col("_row").is_in(secondary))
            .then(pl.lit("secondaire"))
        )
    frame = frame.with_columns(_reason=reason, _shown=~pl.col("secret").fill_null(False))
    ensemble = (pl.col("tranche_age") == ENSEMBLE) & (pl.col("type_menage") == ENSEMBLE)
    keys = ["periode", "indicateur", "niveau"]
    split = reasons is not None
    rows = frame.group_by(keys).agg(
        lignes=pl.len(),
        lignes_secretes=(~pl.col("_shown")).sum(),
        lignes_primaires=(pl.col("_reason") == "primaire").sum() if split else pl.lit(None),
        lignes_secondaires=(pl.col("_reason") == "secondaire").sum() if split else pl.lit(None),
    )
    places = (
        frame.filter(ensemble)
        .group_by(keys)
        .agg(
            territoires=pl.len(),
            territoires_avec_valeur=pl.col("_shown").sum(),
            territoires_non_vides_avec_valeur=(
                pl.col("_shown") & (pl.col("population").fill_null(0) > 0)
            ).sum(),
            population_montree=pl.col("population").filter(pl.col("_shown")).sum(),
        )
    )
    target = frame.filter(ensemble & (pl.col("niveau") == "departement")).select(
        "periode",
        "indicateur",
        population_cible=pl.when(pl.col("_shown")).then(pl.col("population")),
    )
    level_order = pl.col("niveau").replace_strict(
        {level: i for i, level in enumerate(LEVELS)}, default=len(LEVELS)
    )
    return (
        rows.join(places, on=keys, how="left", nulls_equal=True)
        .join(target, on=["periode", "indicateur"], how="left", nulls_equal=True)
        .with_columns(
            part_population_montree=pl.when(pl.col("population_cible") > 0).then(
                (pl.col("population_montree") / pl.col("population_cible")).round(6)
            )
        )
        .with_columns(pl.col(column).cast(pl.Int64) for column in UTILITY_COUNTS)
        .sort(pl.col("periode"), pl.col("indicateur"), level_order)
        .select(*keys, *UTILITY_COUNTS, "part_population_montree")
    )
