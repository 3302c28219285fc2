"""What the attacker knows: cells, linear links between them, and per-cell bounds.

The model is deliberately generic (no notion of indicator, territory or breakdown): the
publication code describes what it published as a :class:`System`, and the attacker engine
(:mod:`anonymization.disclosure.attacker`) computes what can be deduced from it. Keeping the two
apart lets the gate be tested on public worked examples (sdcTable, τ-Argus) as well as on our own
tables.

Conventions:

* every cell is a count: a whole number ≥ ``lower`` (default 0) and ≤ ``upper`` (default
  unbounded);
* an *equality* is a mapping ``{cell: coefficient}`` meaning ``Σ coefficient · cell = 0`` (a total
  ``t = a + b`` is ``{"t": 1, "a": -1, "b": -1}``; a derived cell ``d = p − n`` is
  ``{"d": 1, "p": -1, "n": 1}``);
* an *inequality* is a mapping meaning ``Σ coefficient · cell ≤ 0`` (``n ≤ p`` is
  ``{"n": 1, "p": -1}``).

Writing every relation with a zero right-hand side keeps the published values in one place (the
cells): the same equalities serve whatever is published or withheld.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

Coefficients = Mapping[str, int]


@dataclass(frozen=True)
class Cell:
    """One count of a publication.

    ``value`` is the published value, or ``None`` when the cell is withheld (the attacker does
    not see it). ``lower`` / ``upper`` are what the attacker knows besides the tables: counts are
    ≥ 0, and a withheld row is known to be non-empty when zero rows are always published (so its
    population is ≥ 1).
    """

    name: str
    value: int | None = None
    lower: int = 0
    upper: int | None = None

    @property
    def withheld(self) -> bool:
        return self.value is None

    def __post_init__(self) -> None:
        if self.upper is not None and self.upper < self.lower:
            raise ValueError(f"cell {self.name!r}: upper {self.upper} < lower {self.lower}")
        if self.value is not None and not self.lower <= self.value <= _inf_if_none(self.upper):
            raise ValueError(
                f"cell {self.name!r}: published value {self.value} outside its own bounds "
                f"[{self.lower}, {self.upper}]"
            )


@dataclass
class System:
    """Everything published for a period, as the attacker sees it.

    ``cells`` lists every cell (published and withheld); ``equalities`` and ``inequalities`` are
    the linear relations the attacker knows (see the module docstring for their sign
    convention). Names must be unique and every relation must only name known cells.
    """

    cells: list[Cell]
    equalities: list[dict[str, int]] = field(default_factory=list)
    inequalities: list[dict[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for cell in self.cells:
            if cell.name in seen:
                raise ValueError(f"duplicate cell name {cell.name!r}")
            seen.add(cell.name)
        for relation in (*self.equalities, *self.inequalities):
            unknown = [name for name in relation if name not in seen]
            if unknown:
                raise ValueError(f"relation {relation!r} names unknown cells {unknown}")

    def by_name(self) -> dict[str, Cell]:
        return {cell.name: cell for cell in self.cells}

    def withheld(self) -> list[str]:
        return [cell.name for cell in self.cells if cell.value is None]

    def check_published(self) -> None:
        """Raise ``ValueError`` when the published values alone break a relation.

        Relations that only involve published cells say nothing about withheld ones; they are
        checked once here (an inconsistency means the tables are wrong, not that they are safe).
        """
        cells = self.by_name()
        for kind, relations in (("equality", self.equalities), ("inequality", self.inequalities)):
            for relation in relations:
                if any(cells[name].value is None for name in relation):
                    continue
                total = sum(coef * (cells[name].value or 0) for name, coef in relation.items())
                if (kind == "equality" and total != 0) or (kind == "inequality" and total > 0):
                    raise ValueError(f"published values break the {kind} {relation!r}")


def _inf_if_none(bound: int | None) -> float:
    return math.inf if bound is None else bound


def separable_parts(system: System) -> list[System]:
    """Split ``system`` into independent sub-systems, one per group of linked withheld cells.

    Two withheld cells are linked when a relation (equality or inequality) names both;
    published cells are constants and do not link anything. The attacker's interval for a
    withheld cell only depends on its own part, so each part can be solved alone: smaller
    linear programs, and a département audit that does not grow with the square of the
    publication. Every withheld cell is in exactly one part (alone when no relation names it);
    each part also carries the published cells its relations need. Relations without any
    withheld cell are dropped (see :meth:`System.check_published`).
    """
    cells = system.by_name()
    withheld = [cell.name for cell in system.cells if cell.value is None]
    index = {name: i for i, name in enumerate(withheld)}
    parent = list(range(len(withheld)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    relations: list[tuple[str, dict[str, int]]] = [
        *(("eq", r) for r in system.equalities),
        *(("ub", r) for r in system.inequalities),
    ]
    for _, relation in relations:
        members = [index[name] for name in relation if name in index]
        for other in members[1:]:
            a, b = find(members[0]), find(other)
            if a != b:
                parent[b] = a

    groups: dict[int, list[str]] = {}
    for name in withheld:
        groups.setdefault(find(index[name]), []).append(name)
    group_relations: dict[int, list[tuple[str, dict[str, int]]]] = {root: [] for root in groups}
    for kind, relation in relations:
        first = next((name for name in relation if name in index), None)
        if first is not None:
            group_relations[find(index[first])].append((kind, relation))

    parts = []
    for root, names in groups.items():
        rels = group_relations[root]
        published = sorted({name for _, r in rels for name in r if cells[name].value is not None})
        parts.append(
            System(
                cells=[cells[name] for name in names] + [cells[name] for name in published],
                equalities=[r for kind, r in rels if kind == "eq"],
                inequalities=[r for kind, r in rels if kind == "ub"],
            )
        )
    return parts


@dataclass
class LinearModel:
    """A system compiled to matrices over its withheld cells only.

    Published cells are moved to the right-hand side: ``A_eq @ x == b_eq``,
    ``A_ub @ x <= b_ub``, ``lower <= x <= upper``, with ``x`` the withheld cells in
    ``names`` order.
    """

    names: list[str]
    a_eq: sparse.csr_array
    b_eq: np.ndarray
    a_ub: sparse.csr_array
    b_ub: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def compile_system(system: System, names: Iterable[str] | None = None) -> LinearModel:
    """Compile ``system`` to a :class:`LinearModel` (variables: ``names``, default withheld)."""
    cells = system.by_name()
    variables = list(names) if names is not None else system.withheld()
    index = {name: i for i, name in enumerate(variables)}

    def build(relations: list[dict[str, int]]) -> tuple[sparse.csr_array, np.ndarray]:
        rows: list[int] = []
        cols: list[int] = []
        data: list[float] = []
        rhs: list[float] = []
        for relation in relations:
            if not any(name in index for name in relation):
                continue
            constant = 0
            row = len(rhs)
            for name, coef in relation.items():
                if name in index:
                    rows.append(row)
                    cols.append(index[name])
                    data.append(float(coef))
                else:
                    constant += coef * (cells[name].value or 0)
            rhs.append(-float(constant))
        shape = (len(rhs), len(variables))
        matrix = sparse.csr_array((data, (rows, cols)), shape=shape)
        matrix.sum_duplicates()
        return matrix, np.asarray(rhs, dtype=float)

    a_eq, b_eq = build(system.equalities)
    a_ub, b_ub = build(system.inequalities)
    lower = np.array([float(cells[n].lower) for n in variables], dtype=float)
    upper = np.array([_inf_if_none(cells[n].upper) for n in variables], dtype=float)
    return LinearModel(variables, a_eq, b_eq, a_ub, b_ub, lower, upper)
