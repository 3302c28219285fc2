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

from recours.sqlfile import execute_sql, read_sql

SQL = Path(__file__).resolve().parent / "sql"


@dataclass(frozen=True)
class Source:
    """One partner delivery used by a crossing: its convention and its Parquet file."""

    convention: str
    parquet: Path


def sql(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return read_sql(SQL / f"{name}.sql")


def run(con: duckdb.DuckDBPyConnection, name: str, **parameters: object) -> None:
    """Run ``sql/<name>.sql``, each statement with the ``parameters`` it names."""
    execute_sql(con, sql(name), parameters)


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
        # one projection per delivery, put together here since a delivery may lack a column
        # (then NULL, or no key); what is made of them is sql/enregistrements_tous.sql
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
        self.con.execute("create or replace temp view lectures as " + " union all ".join(selects))
        run(self.con, "enregistrements_tous")
        self.con.execute("drop view lectures")

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
        run(con, "enregistrements", conventions=sorted(wanted))
        con.execute(f"create or replace temp view grappes as select * from {linked.clusters}")
        label = {"croisement": crossing}
        con.execute("create or replace temp table liens as " + sql("liens"), label)
        con.execute("insert into liens_paires " + sql("liens_paires"), label)
        con.execute("insert into liens_sources " + sql("liens_sources"), label)
        con.execute("insert into identites_inutilisables " + sql("identites_inutilisables"), label)
        con.execute("drop view grappes; drop table enregistrements")
        moves = dict(
            con.execute(sql("deplacements_par_passe"), {"deplacements": linked.moves}).fetchall()
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
            linked = self._cascade("grappes_ensemble", conventions=sorted(wanted))
        self._linked[wanted] = linked
        return linked

    def _extend(self, base: Linked, base_set: frozenset[str], wanted: frozenset[str]) -> Linked:
        """The cascade on ``wanted`` from the one on ``base_set``: rerun on the records of the
        added conventions and on every record they reach through a shared value (NIR, traits,
        key), within ``wanted``; the others keep their cluster, and their moves."""
        con = self.con
        self._make_values()
        run(con, "atteinte_depart", ajoutees=sorted(wanted - base_set))
        while True:
            self.counts["itérations d'atteinte"] += 1
            run(con, "atteinte_etape", conventions=sorted(wanted))
            if con.execute("select count(*) from nouveaux").fetchall()[0][0] == 0:
                break
            run(con, "atteinte_suite")
        con.execute("drop table vus; drop table front; drop table nouveaux")
        reached = self._cascade("grappes_atteintes")
        number = self._number()
        # the base's clusters of the records not reached, and the moves of those clusters
        con.execute(
            f"create temp table grappes_{number} as " + sql("grappes_extension"),
            {"grappes_base": base.clusters, "grappes_atteintes": reached.clusters},
        )
        con.execute(
            f"create temp table deplacements_{number} as " + sql("deplacements_extension"),
            {"deplacements_base": base.moves, "deplacements_atteints": reached.moves},
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
        run(self.con, "valeurs")
        self._values = True

    def _number(self) -> int:
        self._numbered += 1
        return self._numbered

    def _cascade(self, start: str, **parameters: object) -> Linked:
        """The cascade on the records of ``enregistrements_tous`` that ``sql/<start>.sql``
        puts in ``grappes``, each in its first cluster."""
        con = self.con
        run(con, start, **parameters)
        self.counts["enregistrements passés par la cascade"] += con.execute(
            "select count(*) from grappes"
        ).fetchall()[0][0]
        run(con, "cles")
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
                run(con, "passe_appariement")
                if con.execute("select count(*) from deplacements").fetchall()[0][0] == 0:
                    break
                run(con, "appliquer_deplacements")
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


def create_measures(con: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's linkage measures, filled crossing by crossing by ``link``: counts of
    records only, never a record, so that a DPO can see which conventions were linked."""
    run(con, "mesures_appariement")
