"""Linkage: which records of the partners' files are the same person.

A deterministic cascade, simple to read and to audit (docs/appariement.md):

* tier 1 — records with a valid NIR start in the cluster of their NIR pseudonym, so equal NIRs
  are one person;
* tier 2 — records without a usable NIR start in the cluster of their traits pseudonym, then
  three passes of keyed multi-trait keys made at ingest (``t1`` name + first given name + birth
  date + sex, ``t2`` first given name + birth date + sex + commune, ``t3`` name + birth date +
  sex; under the birth and the usage name) merge clusters, each pass repeated until nothing
  moves, and never two NIRs together (``sql/passe_appariement.sql``).

Everything runs in DuckDB on pseudonyms: no clear-text identity, and no single-trait token
whose frequencies would show the surname distribution.

Several crossings share conventions (every crossing of the demo holds ``caf31`` and ``cd31``).
The cascade only ever looks at records that share a value (NIR, traits or key pseudonym), so
it is local to the connected groups of records joined by such values: adding a convention X to
a linked set B changes only the groups that X's records reach. ``Linker`` therefore links a
shared set once and, for a crossing B + X, reruns the cascade on X's records and the groups of
B they reach only; every other record keeps the cluster B gave it, which is the cluster the
whole cascade on B + X would give. A set is only ever linked as a part of the crossings that
hold it, so a pair computed once is a pair every crossing using it authorizes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import duckdb

SQL = Path(__file__).resolve().parent / "sql"


@dataclass(frozen=True)
class Source:
    """One partner delivery used by a crossing: its convention and its Parquet file."""

    convention: str
    parquet: Path


def sql(name: str) -> str:
    return (SQL / f"{name}.sql").read_text(encoding="utf-8")


def link(con: duckdb.DuckDBPyConnection, crossing: str, sources: list[Source]) -> dict[str, int]:
    """Link the records of one crossing's ``sources``, and no other: create the temporary
    ``liens(rid, source, ligne_source, personne_id, lien)``, where person ids are derived under
    the crossing's label so that ids of two crossings cannot be joined, and the linkage
    measures of this crossing (``liens_paires``, ``liens_sources``, ``identites_inutilisables``:
    counts only); return the moves made by each pass.

    Keys are ``<pass>:<pseudonym>``; passes run in the order of their names (``t1``, ``t2``…),
    most specific first, as ingest names them.
    """
    if not sources:
        raise ValueError(f"croisement {crossing} sans source")
    linker = Linker(con, sources)
    try:
        return linker.link(crossing, tuple(s.convention for s in sources))
    finally:
        linker.close()


def _in(conventions: frozenset[str] | tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{c}'" for c in sorted(conventions)) + ")"


@dataclass
class Linked:
    """The cascade's result on one set of conventions: its temporary tables."""

    clusters: str  # (n, grappe): the final cluster of each record of the set
    moves: str  # (passe, ancienne): every cluster moved, pass by pass
    passes: tuple[str, ...]  # the passes with a key shared by two sources of the set


@dataclass
class Linker:
    """Links the crossings of one warehouse, each shared set of conventions once.

    Each delivery's linkage columns are read once (temporary ``enregistrements_tous``). For
    each crossing, the largest set already linked (or shared with another crossing) inside it
    is its base: linked once, then extended. ``counts`` tells the work done: records that went
    through the cascade, pass runs, records reached by an extension."""

    con: duckdb.DuckDBPyConnection
    sources: list[Source]
    bases: set[frozenset[str]] = field(default_factory=set)
    counts: Counter = field(default_factory=Counter)
    _linked: dict[frozenset[str], Linked] = field(default_factory=dict)
    _values: bool = False
    _numbered: int = 0

    def __post_init__(self) -> None:
        create_measures(self.con)
        selects = []
        for source in self.sources:
            parquet = str(source.parquet).replace("'", "''")
            columns = set(self.con.read_parquet(str(source.parquet)).columns)
            nir = "pseudo_nir" if "pseudo_nir" in columns else "null::varchar"
            traits = "pseudo_traits" if "pseudo_traits" in columns else "null::varchar"
            keys = "cles_appariement" if "cles_appariement" in columns else "[]::varchar[]"
            selects.append(
                f"select '{source.convention}:' || ligne_source as rid, '{source.convention}' "
                f"as source, ligne_source, {nir} as nir, {traits} as traits, {keys} as cles "
                f"from read_parquet('{parquet}')"
            )
        # n: a record's number in this warehouse build, to join on a number, not a string
        self.con.execute(
            "create or replace temp table lus as select row_number() over () as n, * from ("
            + " union all ".join(selects)
            + ")"
        )
        self.con.execute(
            "create or replace temp table enregistrements_tous as "
            "select n, rid, source, ligne_source, nir, " + _initial("lus") + " as g0 from lus"
        )
        self.con.execute(
            "create or replace temp table cles_tous as select n, source, unnest(cles) as cle "
            "from lus"
        )
        self.con.execute("drop table lus")

    def share(self, crossings: list[tuple[str, ...]]) -> None:
        """Declare every crossing of the warehouse, so that the sets of conventions they share
        are linked once."""
        self.bases = shared_sets(crossings)

    def link(self, crossing: str, conventions: tuple[str, ...]) -> dict[str, int]:
        """Link one crossing (see ``link``): its temporary ``enregistrements``, ``grappes`` and
        ``liens``, and its measures; return its moves per pass, as its own cascade counts them."""
        wanted = frozenset(conventions)
        linked = self._link_set(wanted)
        con = self.con
        con.execute(
            "create or replace temp table enregistrements as select n, rid, source, "
            f"ligne_source, nir from enregistrements_tous where source in {_in(wanted)}"
        )
        con.execute(f"create or replace temp view grappes as select * from {linked.clusters}")
        label = {"croisement": crossing}
        con.execute("create or replace temp table liens as " + sql("liens"), label)
        con.execute("insert into liens_paires " + sql("liens_paires"), label)
        con.execute("insert into liens_sources " + sql("liens_sources"), label)
        con.execute("insert into identites_inutilisables " + sql("identites_inutilisables"), label)
        con.execute("drop view grappes; drop table enregistrements")
        moves = dict(
            con.execute(f"select passe, count(*) from {linked.moves} group by passe").fetchall()
        )
        return {name: moves.get(name, 0) for name in linked.passes}

    def close(self) -> None:
        """Drop every temporary table but ``liens``."""
        for linked in self._linked.values():
            self.con.execute(f"drop table {linked.clusters}; drop table {linked.moves}")
        self._linked.clear()
        if self._values:
            self.con.execute("drop table valeurs")
            self._values = False
        self.con.execute("drop table enregistrements_tous; drop table cles_tous")

    def _link_set(self, wanted: frozenset[str]) -> Linked:
        if wanted in self._linked:
            return self._linked[wanted]
        inside = [b for b in self.bases | set(self._linked) if b < wanted]
        if inside:
            base = max(inside, key=lambda b: (len(b), sorted(b)))
            linked = self._extend(self._link_set(base), base, wanted)
        else:
            self.counts["ensembles appariés entièrement"] += 1
            linked = self._cascade(f"where source in {_in(wanted)}")
        self._linked[wanted] = linked
        return linked

    def _extend(self, base: Linked, base_set: frozenset[str], wanted: frozenset[str]) -> Linked:
        """The cascade on ``wanted`` from the one on ``base_set``: rerun on the records of the
        added conventions and on every record they reach through a shared value (NIR, traits,
        key), within ``wanted``; the others keep their cluster, and their moves."""
        con = self.con
        self._make_values()
        added = _in(wanted - base_set)
        inside = f"source in {_in(wanted)}"
        con.execute(
            "create or replace temp table atteints as select distinct n from valeurs "
            f"where source in {added}"
        )
        con.execute(
            "create or replace temp table vus as select distinct v from valeurs "
            f"where source in {added}"
        )
        con.execute("create or replace temp table front as select v from vus")
        while True:
            self.counts["itérations d'atteinte"] += 1
            con.execute(
                "create or replace temp table nouveaux as select distinct n from valeurs "
                f"semi join front using (v) anti join atteints using (n) where {inside}"
            )
            if con.execute("select count(*) from nouveaux").fetchall()[0][0] == 0:
                break
            con.execute("insert into atteints select n from nouveaux")
            con.execute(
                "create or replace temp table front as select distinct v from valeurs "
                "semi join nouveaux using (n) anti join vus using (v)"
            )
            con.execute("insert into vus select v from front")
        con.execute("drop table vus; drop table front; drop table nouveaux")
        reached = self._cascade("semi join atteints using (n)")
        number = self._number()
        # the base's clusters of the records not reached, and the moves of those clusters (a
        # cluster id is the initial cluster of some records: reached or not, as a whole)
        con.execute(
            f"create temp table grappes_{number} as select n, grappe from {base.clusters} "
            f"anti join atteints using (n) union all select n, grappe from {reached.clusters}"
        )
        con.execute(
            f"create temp table deplacements_{number} as select passe, ancienne "
            f"from {base.moves} anti join (select g0 as ancienne from enregistrements_tous "
            "semi join atteints using (n)) "
            f"using (ancienne) union all select passe, ancienne from {reached.moves}"
        )
        self.counts["enregistrements atteints par une extension"] += con.execute(
            "select count(*) from atteints"
        ).fetchall()[0][0]
        con.execute(
            f"drop table atteints; drop table {reached.clusters}; drop table {reached.moves}"
        )
        return Linked(
            f"grappes_{number}",
            f"deplacements_{number}",
            tuple(sorted({*base.passes, *reached.passes})),
        )

    def _make_values(self) -> None:
        """Every value a record can share with another: its initial cluster and its keys,
        hashed to a number (two values with the same hash only make the reached part larger,
        never a link: the cascade itself runs on the values)."""
        if self._values:
            return
        self.con.execute(
            "create temp table valeurs as select n, source, hash(g0) as v "
            "from enregistrements_tous union all "
            "select n, source, hash(cle) as v from cles_tous"
        )
        self._values = True

    def _number(self) -> int:
        self._numbered += 1
        return self._numbered

    def _cascade(self, selection: str) -> Linked:
        """The cascade on the records of ``enregistrements_tous`` ``selection`` picks."""
        con = self.con
        con.execute(
            "create or replace temp table grappes as select n, g0 as grappe "
            "from enregistrements_tous " + selection
        )
        self.counts["enregistrements passés par la cascade"] += con.execute(
            "select count(*) from grappes"
        ).fetchall()[0][0]
        con.execute(sql("cles"))
        passes = tuple(
            row[0]
            for row in con.execute("select distinct passe from partagees order by 1").fetchall()
        )
        number = self._number()
        moves = f"deplacements_{number}"
        con.execute(f"create temp table {moves} (passe varchar, ancienne varchar)")
        for name in passes:
            con.execute(
                "create or replace temp table cles_passe as select n, cle from cles "
                "where passe = ?",
                [name],
            )
            while True:
                self.counts["passes"] += 1
                self.counts["clés examinées par les passes"] += con.execute(
                    "select count(*) from cles_passe"
                ).fetchall()[0][0]
                con.execute(sql("passe_appariement"))
                if con.execute("select count(*) from deplacements").fetchall()[0][0] == 0:
                    break
                con.execute(
                    "update grappes set grappe = deplacements.nouvelle from deplacements "
                    "where grappes.grappe = deplacements.ancienne"
                )
                con.execute(f"insert into {moves} select ?, ancienne from deplacements", [name])
            con.execute("drop table cles_passe; drop table deplacements")
        con.execute("drop table cles; drop table partagees")
        con.execute(f"alter table grappes rename to grappes_{number}")
        return Linked(f"grappes_{number}", moves, passes)


def shared_sets(crossings: list[tuple[str, ...]]) -> set[frozenset[str]]:
    """The crossings and their intersections of two conventions or more: the only sets ever
    linked. Each lies inside every crossing that builds on it, so each of its pairs is a pair
    that crossing authorizes."""
    sets = {frozenset(c) for c in crossings}
    changed = True
    while changed:
        changed = False
        for first, second in combinations(sorted(sets, key=sorted), 2):
            common = first & second
            if len(common) >= 2 and common not in sets:
                sets.add(common)
                changed = True
    return sets


def _initial(table: str) -> str:
    """A record's first cluster: its NIR pseudonym, else its traits pseudonym, else itself.
    Cluster ids sort NIR ('a:') before traits ('b:') before lone records ('c:')."""
    return (
        f"case when {table}.nir is not null then 'a:' || {table}.nir "
        f"when {table}.traits is not null then 'b:' || {table}.traits "
        f"else 'c:' || {table}.rid end"
    )


def create_measures(con: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's linkage measures, filled crossing by crossing by ``link``: counts of
    records only, never a record, so that a DPO can see which conventions were linked."""
    con.execute(sql("mesures_appariement"))
