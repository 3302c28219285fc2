"""HiGHS behind one small interface: minimise or maximise one withheld cell.

The attacker solves two linear programs per withheld cell that share everything but the
objective. scipy's public ``linprog`` rebuilds the model at each call; the HiGHS object that
scipy ships (``scipy.optimize._highspy._core``, private) can keep the model and the last simplex
basis and only change one cost, which makes the next solve a warm start. That private API may
change between scipy releases, so it is used only when it imports and builds the model, with
the public ``linprog`` as the fallback. MILPs (only when the LP optimum is fractional) go
through the public ``scipy.optimize.milp``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from anonymization.disclosure.model import LinearModel

Status = Literal["optimal", "unbounded", "infeasible"]


@dataclass
class Solution:
    """Result of one solve; ``x`` is a feasible point (``None`` unless ``optimal``)."""

    status: Status
    value: float
    x: np.ndarray | None


class LpSolver(Protocol):
    def solve(self, column: int, maximise: bool) -> Solution: ...


def _error(model: LinearModel, message: str) -> RuntimeError:
    return RuntimeError(f"HiGHS failed on a part of {len(model.names)} cells: {message}")


class PublicLpSolver:
    """One ``scipy.optimize.linprog(method="highs-ds")`` call per solve (dual simplex: vertex
    solutions, which are integral far more often than interior points)."""

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self.bounds = list(
            zip(model.lower, [None if math.isinf(u) else u for u in model.upper], strict=True)
        )

    def solve(self, column: int, maximise: bool) -> Solution:
        m = self.model
        c = np.zeros(len(m.names))
        c[column] = -1.0 if maximise else 1.0
        res = linprog(
            c,
            A_ub=m.a_ub if m.a_ub.shape[0] else None,
            b_ub=m.b_ub if m.a_ub.shape[0] else None,
            A_eq=m.a_eq if m.a_eq.shape[0] else None,
            b_eq=m.b_eq if m.a_eq.shape[0] else None,
            bounds=self.bounds,
            method="highs-ds",
        )
        if res.status == 0:
            return Solution("optimal", float(res.x[column]), np.asarray(res.x))
        if res.status == 3:
            return Solution("unbounded", math.inf if maximise else -math.inf, None)
        if res.status == 2:
            return Solution("infeasible", math.nan, None)
        raise _error(m, res.message)


class PersistentLpSolver:
    """One HiGHS model per part; each solve only changes the objective (warm start)."""

    def __init__(self, model: LinearModel) -> None:
        from scipy.optimize._highspy import _core as h  # private: see the module docstring

        self.h = h
        self.model = model
        n = len(model.names)
        a = _stack(model).tocsc()
        lp = h.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = a.shape[0]
        lp.a_matrix_.num_col_ = n
        lp.a_matrix_.num_row_ = a.shape[0]
        lp.a_matrix_.format_ = h.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = model.lower.astype(float)
        lp.col_upper_ = np.where(np.isinf(model.upper), h.kHighsInf, model.upper)
        lp.row_lower_ = np.concatenate([model.b_eq, np.full(len(model.b_ub), -h.kHighsInf)])
        lp.row_upper_ = np.concatenate([model.b_eq, model.b_ub])
        self.highs = h._Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("solver", "simplex")
        # Primal simplex: after a cost change the previous basis stays primal feasible, so each
        # solve is a short warm start (measured: ~25 iterations instead of ~550 from scratch
        # with the default dual simplex, which restarts; 4 ms instead of 54 ms per solve on an
        # 819-cell part).
        self.highs.setOptionValue("simplex_strategy", 4)
        if self.highs.passModel(lp) == h.HighsStatus.kError:
            raise _error(model, "the model was refused")
        self.previous: int | None = None

    def solve(self, column: int, maximise: bool) -> Solution:
        h, highs = self.h, self.highs
        if self.previous is not None and self.previous != column:
            highs.changeColCost(self.previous, 0.0)
        highs.changeColCost(column, -1.0 if maximise else 1.0)
        self.previous = column
        if highs.run() == h.HighsStatus.kError:
            raise _error(self.model, "run() returned an error")
        status = highs.getModelStatus()
        if status == h.HighsModelStatus.kOptimal:
            x = np.asarray(highs.getSolution().col_value, dtype=float)
            return Solution("optimal", float(x[column]), x)
        if status == h.HighsModelStatus.kUnbounded:
            return Solution("unbounded", math.inf if maximise else -math.inf, None)
        if status == h.HighsModelStatus.kInfeasible:
            return Solution("infeasible", math.nan, None)
        # kUnboundedOrInfeasible and friends: let the public path decide.
        return PublicLpSolver(self.model).solve(column, maximise)


def _stack(model: LinearModel):
    from scipy import sparse

    return sparse.vstack([model.a_eq, model.a_ub], format="csr")


def make_lp_solver(model: LinearModel, persistent: bool = True) -> LpSolver:
    """The persistent solver when the private HiGHS API is usable, else the public one."""
    if persistent:
        try:
            return PersistentLpSolver(model)
        except (ImportError, AttributeError, TypeError):
            pass
    return PublicLpSolver(model)


def feasible_points(model: LinearModel, directions: np.ndarray, cap: float) -> list[np.ndarray]:
    """Vertices of the part in a few directions, cells capped at ``cap`` (the cap only removes
    points, so every vertex found is feasible for the attacker too). Used to prove at once that
    most cells are wide, before any per-cell solve."""
    upper = np.where(np.isinf(model.upper), np.maximum(cap, model.lower), model.upper)
    bounds = list(zip(model.lower, upper, strict=True))
    points = []
    for c in directions:
        res = linprog(
            c,
            A_ub=model.a_ub if model.a_ub.shape[0] else None,
            b_ub=model.b_ub if model.a_ub.shape[0] else None,
            A_eq=model.a_eq if model.a_eq.shape[0] else None,
            b_eq=model.b_eq if model.a_eq.shape[0] else None,
            bounds=bounds,
            method="highs-ds",
        )
        if res.status == 0:
            points.append(np.asarray(res.x))
    return points


def solve_milp(model: LinearModel, column: int, maximise: bool) -> Solution:
    """Integer optimum of one cell (gap 0: the attacker's exact bound, not an approximation)."""
    n = len(model.names)
    c = np.zeros(n)
    c[column] = -1.0 if maximise else 1.0
    constraints = []
    if model.a_eq.shape[0]:
        constraints.append(LinearConstraint(model.a_eq, model.b_eq, model.b_eq))
    if model.a_ub.shape[0]:
        constraints.append(LinearConstraint(model.a_ub, -np.inf, model.b_ub))
    res = milp(
        c,
        integrality=np.ones(n),
        bounds=Bounds(model.lower, model.upper),
        constraints=constraints,
        options={"mip_rel_gap": 0.0},
    )
    if res.status == 0:
        return Solution("optimal", float(res.x[column]), np.asarray(res.x))
    if res.status == 2:
        return Solution("infeasible", math.nan, None)
    if res.status == 3:
        return Solution("unbounded", math.inf if maximise else -math.inf, None)
    raise _error(model, f"MILP: {res.message}")
