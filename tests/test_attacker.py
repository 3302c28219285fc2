"""The attacker audit engine, on public worked examples and on small hierarchies."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymization.disclosure import (
    Cell,
    Interval,
    System,
    _solver,
    attack,
    audit,
    separable_parts,
)
from anonymization.disclosure import attacker as attacker_module

# --------------------------------------------------------------------------- helpers


def table(rows: dict[str, list[int]], columns: str, withheld: set[str], prefix: str = "") -> System:
    """A two-way table with row, column and grand totals (all totals published)."""
    cells, equalities = [], []
    for r, values in rows.items():
        for c, v in zip(columns, values, strict=True):
            name = f"{prefix}{r}{c}"
            cells.append(Cell(name, None if name in withheld else v))
        cells.append(Cell(f"{prefix}{r}T", sum(values)))
        equalities.append({f"{prefix}{r}T": 1, **{f"{prefix}{r}{c}": -1 for c in columns}})
    for j, c in enumerate(columns):
        cells.append(Cell(f"{prefix}T{c}", sum(values[j] for values in rows.values())))
        equalities.append({f"{prefix}T{c}": 1, **{f"{prefix}{r}{c}": -1 for r in rows}})
    cells.append(Cell(f"{prefix}TT", sum(map(sum, rows.values()))))
    equalities.append({f"{prefix}TT": 1, **{f"{prefix}{r}T": -1 for r in rows}})
    return System(cells, equalities)


def merge(*systems: System) -> System:
    return System(
        [c for s in systems for c in s.cells],
        [e for s in systems for e in s.equalities],
        [i for s in systems for i in s.inequalities],
    )


SDC_ROWS = {
    "w": [30, 47, 64, 89],
    "x": [90, 124, 5, 31],
    "y": [92, 100, 59, 85],
    "z": [800, 991, 651, 685],
}
SDC_WITHHELD = {"wa", "wb", "wc", "xa", "xc", "yb", "yd", "zb", "zd"}


@pytest.fixture
def public_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the public ``linprog`` path (no private HiGHS object)."""
    monkeypatch.setattr(attacker_module, "make_lp_solver", _solver.PublicLpSolver)


# --------------------------------------------------------------------------- sdcTable


@pytest.mark.parametrize("integer", [False, "auto", True])
def test_sdctable_two_per_line_is_broken(integer) -> None:
    # Totals are 230 250 336 3127 / 1012 1262 779 890 / 3943, as in sdcTable's fixture.
    system = table(SDC_ROWS, "abcd", SDC_WITHHELD)
    totals = {c.name: c.value for c in system.cells if "T" in c.name}
    assert [totals[f"{r}T"] for r in "wxyz"] == [230, 250, 336, 3127]
    assert [totals[f"T{c}"] for c in "abcd"] == [1012, 1262, 779, 890]
    assert totals["TT"] == 3943
    intervals = attack(system, integer=integer)
    assert set(intervals) == SDC_WITHHELD
    assert intervals["wb"] == Interval(47, 47)
    assert intervals["wb"].exact


@pytest.mark.parametrize("integer", [False, "auto", True])
def test_sdctable_one_more_complement_protects(integer) -> None:
    system = table(SDC_ROWS, "abcd", SDC_WITHHELD | {"xd"})
    intervals = attack(system, integer=integer)
    assert intervals["wb"] == Interval(0, 78)
    assert not intervals["wb"].exact
    assert intervals["wb"].width == 78
    for name, interval in intervals.items():
        true = SDC_ROWS[name[0]]["abcd".index(name[1])]
        assert true in interval


def test_public_solver_gives_the_same_intervals(public_solver) -> None:
    for withheld in (SDC_WITHHELD, SDC_WITHHELD | {"xd"}):
        system = table(SDC_ROWS, "abcd", withheld)
        assert attack(system, integer=False)["wb"] == (
            Interval(47, 47) if withheld == SDC_WITHHELD else Interval(0, 78)
        )


# --------------------------------------------------------------------------- τ-Argus


def test_tau_argus_continuous_bounds() -> None:
    rows = {"01": [100, 50], "02": [30, 20], "06": [60, 40]}
    withheld = {"02tr1", "06tr2", "02tr2", "06tr1"}
    system = table({k: v for k, v in rows.items()}, ["tr1", "tr2"], withheld)  # type: ignore[arg-type]
    intervals = attack(system, integer=False)
    assert intervals["02tr1"] == Interval(0, 50)  # the 30
    assert intervals["06tr2"] == Interval(10, 60)  # the 40
    assert intervals["02tr2"] == Interval(0, 50)
    assert intervals["06tr1"] == Interval(40, 90)
    assert attack(system) == intervals  # integrality changes nothing here


# --------------------------------------------------------------------------- zeros and ones


def _fifteen(lower: int) -> System:
    return System(
        cells=[
            Cell("total", 15),
            Cell("a", 10),
            Cell("b", 3),
            Cell("x", None, lower=lower),
            Cell("y", None, lower=lower),
        ],
        equalities=[{"total": 1, "a": -1, "b": -1, "x": -1, "y": -1}],
    )


def test_withheld_zeros_leave_room() -> None:
    assert attack(_fifteen(0)) == {"x": Interval(0, 2), "y": Interval(0, 2)}


def test_non_empty_withheld_cells_are_recomputed() -> None:
    intervals = attack(_fifteen(1))
    assert intervals == {"x": Interval(1, 1), "y": Interval(1, 1)}
    assert intervals["x"].exact
    result = audit(_fifteen(1))
    assert set(result.blocking) == {"x", "y"}
    assert not result.passed


def test_integrality_tightens_fractional_lp_bounds() -> None:
    # x + 4y = 7: the LP lets y reach 1.75, whole numbers stop it at 1 (and then x ≥ 3).
    system = System(
        cells=[Cell("t", 7), Cell("x", None), Cell("y", None)],
        equalities=[{"t": 1, "x": -1, "y": -4}],
    )
    assert attack(system, integer=False) == {"x": Interval(0, 7), "y": Interval(0, 1.75)}
    assert attack(system, integer="auto") == {"x": Interval(3, 7), "y": Interval(0, 1)}
    assert attack(system, integer=True) == {"x": Interval(3, 7), "y": Interval(0, 1)}
    # 3x + 5y = 8 with y ≥ 1: the LP leaves y ∈ [1, 1.6]; integers force x = y = 1.
    system = System(
        cells=[Cell("t", 8), Cell("x", None), Cell("y", None, lower=1)],
        equalities=[{"t": 1, "x": -3, "y": -5}],
    )
    assert attack(system, integer="auto") == {"x": Interval(1, 1), "y": Interval(1, 1)}


def test_no_integer_solution_is_inconsistent() -> None:
    # 2x + 2y = 5 has real solutions but no whole ones: the tables cannot be right.
    system = System(
        cells=[Cell("t", 5), Cell("x", None), Cell("y", None)],
        equalities=[{"t": 1, "x": -2, "y": -2}],
    )
    assert attack(system, integer=False) == {"x": Interval(0, 2.5), "y": Interval(0, 2.5)}
    with pytest.raises(ValueError, match="inconsistent"):
        attack(system, integer="auto")


def test_unbounded_cell() -> None:
    system = System(cells=[Cell("free", None)])
    assert attack(system) == {"free": Interval(0, math.inf)}
    assert audit(system, sensitive={"free"}).passed


def test_inconsistent_published_values_are_refused() -> None:
    system = System(cells=[Cell("t", 3), Cell("a", 2)], equalities=[{"t": 1, "a": -1}])
    with pytest.raises(ValueError, match="published values break"):
        attack(system)


# --------------------------------------------------------------------------- hierarchy


COMMUNES = {  # EPCI → commune → (population, non_recours)
    "A": {"a1": (40, 12), "a2": (8, 3), "a3": (55, 20)},
    "B": {"b1": (30, 10), "b2": (25, 15)},
}


def hierarchy(withheld_rows: set[str], communes=COMMUNES) -> System:
    """commune → EPCI → département, with population, non_recours and population − non_recours.

    A withheld row withholds its three counts; it is known to be non-empty (population ≥ 1),
    and non_recours ≤ population everywhere.
    """
    cells: list[Cell] = []
    equalities: list[dict[str, int]] = []
    inequalities: list[dict[str, int]] = []

    def row(name: str, pop: int, nr: int) -> None:
        hidden = name in withheld_rows
        cells.append(Cell(f"{name}.p", None if hidden else pop, lower=1 if hidden else 0))
        cells.append(Cell(f"{name}.n", None if hidden else nr))
        cells.append(Cell(f"{name}.d", None if hidden else pop - nr))
        equalities.append({f"{name}.d": 1, f"{name}.p": -1, f"{name}.n": 1})
        inequalities.append({f"{name}.n": 1, f"{name}.p": -1})

    dept = [0, 0]
    for epci, members in communes.items():
        pop = sum(p for p, _ in members.values())
        nr = sum(n for _, n in members.values())
        dept[0] += pop
        dept[1] += nr
        row(epci, pop, nr)
        for commune, (p, n) in members.items():
            row(commune, p, n)
        for var in "pnd":
            equalities.append({f"{epci}.{var}": 1, **{f"{c}.{var}": -1 for c in members}})
    row("31", *dept)
    for var in "pnd":
        equalities.append({f"31.{var}": 1, **{f"{e}.{var}": -1 for e in communes}})
    return System(cells, equalities, inequalities)


def test_primary_only_suppression_is_broken() -> None:
    system = hierarchy({"a2"})
    intervals = attack(system)
    assert intervals == {
        "a2.p": Interval(8, 8),
        "a2.n": Interval(3, 3),
        "a2.d": Interval(5, 5),
    }
    result = audit(system, sensitive={"a2.p", "a2.n", "a2.d"})
    assert not result.passed
    assert result.blocking == intervals


def test_a_complement_makes_it_pass() -> None:
    system = hierarchy({"a2", "a1"})
    result = audit(system, sensitive={"a2.p", "a2.n", "a2.d"}, exact=True)
    assert result.passed
    assert result.intervals == {
        "a2.p": Interval(1, 47),  # a1.p + a2.p = 48, both rows non-empty
        "a2.n": Interval(0, 15),  # a1.n + a2.n = 15
        "a2.d": Interval(0, 33),  # a1.d + a2.d = 33
    }
    # The fast gate (no exact intervals) reaches the same verdict.
    assert audit(system, sensitive={"a2.p", "a2.n", "a2.d"}).passed


def test_proven_everybody_non_take_up_is_blocking() -> None:
    # a2: non_recours = population = 8 (primary because everybody is presumed non-take-up), and
    # the complement a1 happens to be in the same situation: the EPCI's population − non_recours
    # leaves nothing for them, so the attacker proves a2.d = 0.
    communes = {
        "A": {"a1": (12, 12), "a2": (8, 8), "a3": (55, 20)},
        "B": {"b1": (30, 10), "b2": (25, 15)},
    }
    system = hierarchy({"a1", "a2"}, communes)
    result = audit(system, sensitive={"a2.d": 1})
    assert result.blocking == {"a2.d": Interval(0, 0)}
    # With a3 as complement instead, a2.d is not proven 0.
    system = hierarchy({"a2", "a3"}, communes)
    assert audit(system, sensitive={"a2.d": 1}).passed


def test_published_sensitive_cell_is_blocking() -> None:
    result = audit(hierarchy(set()), sensitive={"a2.p"})
    assert result.blocking == {"a2.p": Interval(8, 8)}


def test_audit_rejects_unknown_cells() -> None:
    with pytest.raises(ValueError, match="not in the system"):
        audit(hierarchy({"a2"}), sensitive={"nowhere"})


# --------------------------------------------------------------------------- separable parts


def test_two_blocks_split_and_give_the_same_intervals() -> None:
    left = table(SDC_ROWS, "abcd", {f"L{n}" for n in SDC_WITHHELD | {"xd"}}, prefix="L")
    right = hierarchy({"a1", "a2"})
    whole = merge(left, right)
    parts = separable_parts(whole)
    assert len(parts) == 2
    withheld = [set(p.withheld()) for p in parts]
    assert {frozenset(w) for w in withheld} == {
        frozenset(left.withheld()),
        frozenset(right.withheld()),
    }
    together = attack(whole)
    apart = {}
    for part in parts:
        apart.update(attack(part))
    assert together == apart
    assert together == {**attack(left), **attack(right)}
    assert together["Lwb"] == Interval(0, 78)


def test_isolated_withheld_cells_are_their_own_part() -> None:
    system = System(cells=[Cell("a", None), Cell("b", None), Cell("t", 4)])
    assert len(separable_parts(system)) == 2


# --------------------------------------------------------------------------- property


@st.composite
def additive_tables(draw):
    n_rows = draw(st.integers(2, 4))
    n_cols = draw(st.integers(2, 4))
    values = draw(
        st.lists(
            st.lists(st.integers(0, 12), min_size=n_cols, max_size=n_cols),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
    rows = {f"r{i}": v for i, v in enumerate(values)}
    columns = [f"c{j}" for j in range(n_cols)]
    names = [f"{r}{c}" for r in rows for c in columns]
    mask = draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
    withheld = {n for n, m in zip(names, mask, strict=True) if m}
    truth = {f"{r}{c}": rows[r][j] for r in rows for j, c in enumerate(columns)}
    return table(rows, columns, withheld), truth  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(additive_tables())
def test_intervals_contain_the_truth(case) -> None:
    system, truth = case
    continuous = attack(system, integer=False)
    integral = attack(system, integer="auto")
    assert set(continuous) == set(integral) == set(system.withheld())
    for name, interval in integral.items():
        assert truth[name] in interval
        assert truth[name] in continuous[name]
        # integrality can only help the attacker
        assert continuous[name].low <= interval.low <= interval.high <= continuous[name].high
    assert attack(system, integer=True) == integral
