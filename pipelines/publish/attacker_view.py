"""The publication as an attacker sees it: published tables → a :class:`System` of cells.

Built from the published form of the tables only (withheld counts are NULL), plus what anybody
knows without the data: the territory hierarchy (``territoires``), the grid of breakdowns, the
rules of docs/regles.md (counts are whole numbers ≥ 0, totals add up, ``non_recours ≤
population``, ``non_recours_connus ≤ non_recours``, a withheld row is not empty because zero rows
are always published) and the relations between indicators of ``indicators/secret.yaml``. The
same function serves the release gate (on the tables about to be written) and the independent
check (on the Parquet files as published): it never looks at a true withheld value.

Cells, per row of ``indicateurs`` (``i<n>``, n its position): ``P`` population, ``N``
non_recours, and for a withheld row ``D`` = P − N. Per row of ``connus`` (``c<n>``): ``K``
non_recours_connus, ``E`` = N − K when something of the row is unknown; its ``non_recours`` is
the very same cell as the ``N`` of the indicator's ``ensemble`` row of that territory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import polars as pl

from anonymization.disclosure import Cell, System
from pipelines.publish.model import ENSEMBLE, PARENT_LEVEL
from pipelines.publish.protection import Relation

ROW_KEY = ("indicateur", "niveau", "code_territoire", "tranche_age", "type_menage")
CONNUS_KEY = ("indicateur", "niveau", "code_territoire")


@dataclass(frozen=True)
class Group:
    """``total = Σ parts``, over rows of one table (``"i"`` indicateurs, ``"c"`` connus)."""

    table: str
    total: int
    parts: tuple[int, ...]

    @property
    def members(self) -> tuple[int, ...]:
        return (self.total, *self.parts)


@dataclass
class AttackerView:
    """The system, and how its cells map back to published rows (for messages and the audit)."""

    system: System
    groups: list[Group]
    owner: dict[str, tuple[str, int, str]]  # cell -> (table, row, count name)
    indicateurs_cells: dict[int, dict[str, str]] = field(default_factory=dict)
    connus_cells: dict[int, dict[str, str]] = field(default_factory=dict)
    twin: dict[int, int] = field(default_factory=dict)  # connus row -> its indicateurs row
    values: dict[str, int | None] = field(default_factory=dict)  # cell -> published value

    def groups_of(self) -> dict[tuple[str, int], list[Group]]:
        found: dict[tuple[str, int], list[Group]] = defaultdict(list)
        for group in self.groups:
            for member in group.members:
                found[(group.table, member)].append(group)
        return found


def _records(frame: pl.DataFrame, columns: Iterable[str]) -> list[dict]:
    return frame.select(list(columns)).to_dicts()


def _breakdown_groups(rows: Mapping[tuple, int]) -> list[Group]:
    """Margins at one territory: ensemble = Σ bands = Σ types; band = Σ types; type = Σ bands."""
    by_place: dict[tuple, dict[tuple[str, str], int]] = defaultdict(dict)
    for (indicator, level, code, band, kind), rid in rows.items():
        by_place[(indicator, level, code)][(band, kind)] = rid
    groups = []
    for cells in by_place.values():
        bands = sorted({band for band, _ in cells if band != ENSEMBLE})
        kinds = sorted({kind for _, kind in cells if kind != ENSEMBLE})
        lines = [((ENSEMBLE, ENSEMBLE), [(band, ENSEMBLE) for band in bands])]
        lines.append(((ENSEMBLE, ENSEMBLE), [(ENSEMBLE, kind) for kind in kinds]))
        lines += [((band, ENSEMBLE), [(band, kind) for kind in kinds]) for band in bands]
        lines += [((ENSEMBLE, kind), [(band, kind) for band in bands]) for kind in kinds]
        for total, parts in lines:
            present = [cells[part] for part in parts if part in cells]
            if total in cells and present:
                groups.append(Group("i", cells[total], tuple(present)))
    return groups


def _territory_groups(
    rows: Mapping[tuple, int], parent: Mapping[tuple[str, str], str]
) -> list[Group]:
    """A territory row is the sum of the rows of its sub-territories, breakdown by breakdown."""
    children: dict[tuple, list[int]] = defaultdict(list)
    for (indicator, level, code, band, kind), rid in rows.items():
        if level in PARENT_LEVEL:
            above = (indicator, PARENT_LEVEL[level], parent[(level, code)], band, kind)
            children[above].append(rid)
    return [Group("i", rows[key], tuple(parts)) for key, parts in children.items() if key in rows]


def _count(cells: Mapping[str, str], count: str) -> dict[str, int]:
    if count == "population":
        return {cells["P"]: 1}
    if count == "non_recours":
        return {cells["N"]: 1}
    return {cells["P"]: 1, cells["N"]: -1}


def _add(relation: dict[str, int], terms: Mapping[str, int], sign: int) -> None:
    for name, coef in terms.items():
        relation[name] = relation.get(name, 0) + sign * coef


def build_view(
    indicateurs: pl.DataFrame,
    connus: pl.DataFrame,
    territoires: pl.DataFrame,
    relations: Iterable[Relation] = (),
) -> AttackerView:
    """The attacker's system for the published tables of one period.

    ``indicateurs`` / ``connus``: published form (NULL counts on secret rows), one period, row
    order kept (row ``n`` of each frame is ``i<n>`` / ``c<n>``). ``territoires``: the published
    hierarchy (``code_parent``).
    """
    parent = {
        (row["niveau"], row["code_territoire"]): row["code_parent"]
        for row in _records(territoires, ("niveau", "code_territoire", "code_parent"))
    }
    values: dict[str, int | None] = {}
    lower: dict[str, int] = {}
    equalities: list[dict[str, int]] = []
    inequalities: list[dict[str, int]] = []
    owner: dict[str, tuple[str, int, str]] = {}
    view_rows: dict[tuple, int] = {}
    ind_cells: dict[int, dict[str, str]] = {}

    def cell(name: str, value: int | None, low: int, where: tuple[str, int, str]) -> str:
        values[name], lower[name], owner[name] = value, low, where
        return name

    columns = (*ROW_KEY, "population", "non_recours", "secret")
    for rid, row in enumerate(_records(indicateurs, columns)):
        view_rows[tuple(row[key] for key in ROW_KEY)] = rid
        secret = bool(row["secret"])
        names = {
            "P": cell(f"i{rid}P", row["population"], 1 if secret else 0, ("i", rid, "P")),
            "N": cell(f"i{rid}N", row["non_recours"], 0, ("i", rid, "N")),
        }
        if secret or row["population"] is None or row["non_recours"] is None:
            names["D"] = cell(f"i{rid}D", None, 0, ("i", rid, "D"))
            equalities.append({names["D"]: 1, names["P"]: -1, names["N"]: 1})
        ind_cells[rid] = names

    groups = _breakdown_groups(view_rows) + _territory_groups(view_rows, parent)
    for group in groups:
        for count in ("P", "N"):
            relation = {ind_cells[group.total][count]: 1}
            for part in group.parts:
                _add(relation, {ind_cells[part][count]: 1}, -1)
            equalities.append(relation)

    con_cells: dict[int, dict[str, str]] = {}
    twins: dict[int, int] = {}
    by_place: dict[tuple, int] = {}
    connus_columns = (*CONNUS_KEY, "non_recours", "non_recours_connus", "secret")
    for cid, row in enumerate(_records(connus, connus_columns)):
        place = tuple(row[key] for key in CONNUS_KEY)
        by_place[place] = cid
        secret = bool(row["secret"])
        twin = view_rows.get((*place, ENSEMBLE, ENSEMBLE))
        if twin is not None:
            twins[cid] = twin
            n_name = ind_cells[twin]["N"]
            if values[n_name] is None and row["non_recours"] is not None:
                values[n_name] = row["non_recours"]  # published here, withheld there
        else:
            n_name = cell(f"c{cid}N", row["non_recours"], 0, ("c", cid, "N"))
        if secret:
            lower[n_name] = max(lower[n_name], 1)
        names = {"N": n_name, "K": cell(f"c{cid}K", row["non_recours_connus"], 0, ("c", cid, "K"))}
        if values[n_name] is None or values[names["K"]] is None:
            names["E"] = cell(f"c{cid}E", None, 0, ("c", cid, "E"))
            equalities.append({names["E"]: 1, n_name: -1, names["K"]: 1})
        con_cells[cid] = names

    children: dict[tuple, list[int]] = defaultdict(list)
    for (indicator, level, code), cid in by_place.items():
        if level == "epci":
            children[(indicator, "departement", parent[(level, code)])].append(cid)
    for place, parts in children.items():
        if place in by_place:
            total = by_place[place]
            groups.append(Group("c", total, tuple(parts)))
            relation = {con_cells[total]["K"]: 1}
            for part in parts:
                _add(relation, {con_cells[part]["K"]: 1}, -1)
            equalities.append(relation)

    for rule in relations:
        for key, rid in view_rows.items():
            indicator, level, code, band, kind = key
            if indicator != rule.small_indicator or band != ENSEMBLE:
                continue
            other = view_rows.get((rule.large_indicator, level, code, band, kind))
            if other is None:
                continue
            inequality: dict[str, int] = {}
            _add(inequality, _count(ind_cells[rid], rule.small_count), 1)
            _add(inequality, _count(ind_cells[other], rule.large_count), -1)
            inequalities.append({name: coef for name, coef in inequality.items() if coef})

    cells = [Cell(name, values[name], lower[name]) for name in values]
    system = System(cells=cells, equalities=equalities, inequalities=inequalities)
    return AttackerView(system, groups, owner, ind_cells, con_cells, twins, values)
