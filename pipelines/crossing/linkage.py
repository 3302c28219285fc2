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
"""

from __future__ import annotations

from dataclasses import dataclass
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
    most specific first, as ingest names them. A key held by one source only can never merge
    two clusters (``sql/passe_appariement.sql`` wants it held once by each of its sources and by
    two clusters at least), so such keys are left out before the passes.
    """
    if not sources:
        raise ValueError(f"croisement {crossing} sans source")
    create_measures(con)
    selects = []
    for source in sources:
        columns = set(con.read_parquet(str(source.parquet)).columns)
        nir = "pseudo_nir" if "pseudo_nir" in columns else "null::varchar"
        traits = "pseudo_traits" if "pseudo_traits" in columns else "null::varchar"
        keys = "cles_appariement" if "cles_appariement" in columns else "[]::varchar[]"
        selects.append(
            f"select '{source.convention}:' || ligne_source as rid, '{source.convention}' "
            f"as source, ligne_source, {nir} as nir, {traits} as traits, {keys} as cles "
            f"from read_parquet('{source.parquet}')"
        )
    con.execute("create or replace temp table brut as " + " union all ".join(selects))
    con.execute(
        "create or replace temp table enregistrements as "
        "select rid, source, ligne_source, nir from brut"
    )
    con.execute(sql("cles"))
    con.execute(
        "create or replace temp table grappes as select rid, case "
        "when nir is not null then 'a:' || nir when traits is not null then 'b:' || traits "
        "else 'c:' || rid end as grappe from brut"
    )
    moves = {}
    passes = [row[0] for row in con.sql("select distinct passe from cles order by 1").fetchall()]
    for name in passes:
        moves[name] = 0
        while True:
            mapping = con.sql(sql("passe_appariement"), params={"passe": name}).to_arrow_table()
            if mapping.num_rows == 0:
                break
            moves[name] += mapping.num_rows
            con.register("deplacements", mapping)
            con.execute(
                "update grappes set grappe = deplacements.nouvelle from deplacements "
                "where grappes.grappe = deplacements.ancienne"
            )
            con.unregister("deplacements")
    label = {"croisement": crossing}
    con.execute("create or replace temp table liens as " + sql("liens"), label)
    con.execute("insert into liens_paires " + sql("liens_paires"), label)
    con.execute("insert into liens_sources " + sql("liens_sources"), label)
    con.execute("insert into identites_inutilisables " + sql("identites_inutilisables"), label)
    con.execute("drop table brut; drop table cles; drop table grappes; drop table enregistrements")
    return moves


def create_measures(con: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's linkage measures, filled crossing by crossing by ``link``: counts of
    records only, never a record, so that a DPO can see which conventions were linked."""
    con.execute(sql("mesures_appariement"))
