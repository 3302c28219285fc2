"""Linkage: NIR first, then keyed multi-trait passes; measured against the planted truth."""

from __future__ import annotations

import os

import duckdb
import polars as pl
import pytest

from pipelines.crossing import deliveries
from pipelines.crossing.linkage import Linker, Source, link, shared_sets
from pipelines.ingest.run import ingest_all
from recours.home import Home
from recours.schemas import load_schemas
from synth import synthesize
from synth.scoring import score, truth_of_records


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    """A realistic synthetic département (each partner spells names its own way), ingested
    and linked by the real pipeline."""
    home = Home(tmp_path_factory.mktemp("linkage"))
    synthesize(home.root, persons=8000, seed=21, period="2025-06")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECOURS_PSEUDO_KEY", os.urandom(32).hex())
        ingest_all(home)
    chosen = deliveries.for_period(home, "2025-06", load_schemas())
    # the algorithm measured on every source at once: a crossing of all five conventions, which
    # the real pipeline never makes (plan.py links only what the conventions authorize)
    con = duckdb.connect()
    link(con, "essai", [Source(c, d.parquet) for c, d in sorted(chosen.items())])
    liens = con.sql("select rid, source, personne_id, lien from liens").pl()
    return home, chosen, liens


def test_precision_and_recall_against_the_planted_truth(linked):
    home, chosen, liens = linked
    truth = truth_of_records(home.root, {c: d.parquet for c, d in chosen.items()})
    assert truth.height == liens.height
    result = score(liens, truth)
    assert result.true_pairs > 2000
    assert result.precision >= 0.995, result
    assert result.recall >= 0.99, result


def test_every_tier_is_used(linked):
    _, _, liens = linked
    tiers = dict(liens.group_by("lien").len().iter_rows())
    assert set(tiers) == {"nir", "traits", "aucun"}
    assert tiers["traits"] > 100  # CAF children, CD31 and France Travail records without NIR


# the crossings of the demo's plan: every one holds caf31 and cd31
CROSSINGS = [
    ("caf31", "cd31"),
    ("caf31", "carsatmp", "cd31"),
    ("caf31", "cd31", "cpam31"),
    ("caf31", "cd31", "ftocc"),
]
MEASURES = ("liens_paires", "liens_sources", "identites_inutilisables")


def linked_alone(chosen, crossing: tuple[str, ...]) -> tuple[dict, dict, dict]:
    """A crossing linked on its own, from scratch: its persons, measures and moves."""
    con = duckdb.connect()
    moves = link(con, "+".join(crossing), [Source(c, chosen[c].parquet) for c in crossing])
    return (
        dict(con.execute("select rid, personne_id || lien from liens").fetchall()),
        {m: sorted(con.execute(f"select * from {m}").fetchall()) for m in MEASURES},
        moves,
    )


def test_a_shared_set_is_linked_once_and_each_crossing_is_as_if_linked_alone(linked):
    """The warehouse's linker links caf31+cd31 once and extends it: each crossing gets exactly
    the persons, links, measures and moves its own cascade gives, with less work."""
    _, chosen, _ = linked
    con = duckdb.connect()
    linker = Linker(con, [Source(c, chosen[c].parquet) for c in sorted(chosen)])
    linker.share(CROSSINGS)
    sizes = 0
    for crossing in CROSSINGS:
        moves = linker.link("+".join(crossing), crossing)
        persons = dict(con.execute("select rid, personne_id || lien from liens").fetchall())
        alone_persons, alone_measures, alone_moves = linked_alone(chosen, crossing)
        assert persons == alone_persons
        assert moves == alone_moves
        label = "+".join(crossing)
        for measure in MEASURES:
            rows = con.execute(f"select * from {measure} where croisement = ?", [label]).fetchall()
            assert sorted(rows) == alone_measures[measure]
        sizes += len(persons)
    assert set(con.execute("select croisement from liens_sources").fetchall()) == {
        ("+".join(c),) for c in CROSSINGS
    }
    linker.close()
    assert linker.counts["ensembles appariés entièrement"] == 1  # caf31+cd31, once
    assert linker.counts["enregistrements passés par la cascade"] < 0.75 * sizes


def test_an_extension_reruns_what_the_added_source_reaches(tmp_path):
    """Linked alone, a and b are one person through key k; c brings a second NIR on the same
    key, which makes it ambiguous: in a+b+c nobody is linked, although a+b was linked first."""
    a = write(
        tmp_path,
        "a",
        [
            {
                "ligne_source": 2,
                "pseudo_nir": "N1",
                "pseudo_traits": "T1",
                "cles_appariement": ["t1:k"],
            }
        ],
    )
    b = write(
        tmp_path,
        "b",
        [
            {
                "ligne_source": 2,
                "pseudo_nir": None,
                "pseudo_traits": "T2",
                "cles_appariement": ["t1:k"],
            },
            {
                "ligne_source": 3,
                "pseudo_nir": None,
                "pseudo_traits": "T3",
                "cles_appariement": ["t1:other"],
            },
        ],
    )
    c = write(
        tmp_path,
        "c",
        [
            {
                "ligne_source": 2,
                "pseudo_nir": "N2",
                "pseudo_traits": "T4",
                "cles_appariement": ["t1:k"],
            }
        ],
    )
    con = duckdb.connect()
    linker = Linker(con, [a, b, c])
    linker.share([("a", "b"), ("a", "b", "c")])
    assert linker.link("a+b", ("a", "b")) == {"t1": 1}
    ids = dict(con.execute("select rid, personne_id from liens").fetchall())
    assert ids["a:2"] == ids["b:2"]
    assert linker.link("a+b+c", ("a", "b", "c")) == {"t1": 0}
    ids = dict(con.execute("select rid, personne_id from liens").fetchall())
    assert len(set(ids.values())) == 4
    # b:3 shares nothing with c: it kept its cluster from a+b without a second cascade
    assert linker.counts["enregistrements atteints par une extension"] == 3


def test_only_sets_inside_every_crossing_that_uses_them_are_shared():
    """A shared set is an intersection of crossings (two conventions at least): each of its
    pairs is a pair of every crossing that uses it, so a pair never authorized is never
    linked, and a single shared convention links nothing on its own."""
    assert shared_sets([("a", "b", "c"), ("a", "b", "d"), ("a", "e")]) == {
        frozenset("abc"),
        frozenset("abd"),
        frozenset("ab"),
        frozenset("ae"),
    }


def write(tmp_path, name: str, rows: list[dict]) -> Source:
    path = tmp_path / f"{name}.parquet"
    pl.DataFrame(
        rows,
        schema={
            "ligne_source": pl.Int64,
            "pseudo_nir": pl.String,
            "pseudo_traits": pl.String,
            "cles_appariement": pl.List(pl.String),
        },
    ).write_parquet(path)
    return Source(name, path)


def persons(sources: list[Source]) -> dict[str, str]:
    con = duckdb.connect()
    link(con, "essai", sources)
    return dict(con.sql("select rid, personne_id from liens").fetchall())


def test_two_nirs_are_never_merged_and_an_ambiguous_key_links_nobody(tmp_path):
    a = write(
        tmp_path,
        "a",
        [
            {
                "ligne_source": 2,
                "pseudo_nir": "N1",
                "pseudo_traits": "T1",
                "cles_appariement": ["t1:k"],
            }
        ],
    )
    b = write(
        tmp_path,
        "b",
        [
            {
                "ligne_source": 2,
                "pseudo_nir": "N2",
                "pseudo_traits": "T2",
                "cles_appariement": ["t1:k"],
            }
        ],
    )
    c = write(
        tmp_path,
        "c",
        [
            {
                "ligne_source": 2,
                "pseudo_nir": None,
                "pseudo_traits": "T3",
                "cles_appariement": ["t1:k"],
            }
        ],
    )
    ids = persons([a, b, c])
    assert len(set(ids.values())) == 3


def test_a_record_without_nir_joins_the_one_person_its_keys_point_to(tmp_path):
    a = write(
        tmp_path,
        "a",
        [
            {
                "ligne_source": 2,
                "pseudo_nir": "N1",
                "pseudo_traits": "T1",
                "cles_appariement": ["t1:x", "t2:y"],
            }
        ],
    )
    b = write(
        tmp_path,
        "b",
        [
            {
                "ligne_source": 5,
                "pseudo_nir": None,
                "pseudo_traits": "T9",
                "cles_appariement": ["t1:other", "t2:y"],
            }
        ],
    )
    ids = persons([a, b])
    assert ids["a:2"] == ids["b:5"]


def test_a_key_held_twice_in_one_source_is_not_used(tmp_path):
    a = write(
        tmp_path,
        "a",
        [
            {
                "ligne_source": 2,
                "pseudo_nir": None,
                "pseudo_traits": "T1",
                "cles_appariement": ["t2:y"],
            },
            {
                "ligne_source": 3,
                "pseudo_nir": None,
                "pseudo_traits": "T2",
                "cles_appariement": ["t2:y"],
            },
        ],
    )
    b = write(
        tmp_path,
        "b",
        [
            {
                "ligne_source": 2,
                "pseudo_nir": None,
                "pseudo_traits": "T3",
                "cles_appariement": ["t2:y"],
            }
        ],
    )
    ids = persons([a, b])
    assert len(set(ids.values())) == 3


def test_person_ids_are_stable_across_deliveries(tmp_path):
    first = persons(
        [
            write(
                tmp_path,
                "a",
                [
                    {
                        "ligne_source": 2,
                        "pseudo_nir": "N1",
                        "pseudo_traits": "T1",
                        "cles_appariement": [],
                    }
                ],
            ),
        ]
    )
    second = persons(
        [
            write(
                tmp_path,
                "a",
                [
                    {
                        "ligne_source": 7,
                        "pseudo_nir": "N0",
                        "pseudo_traits": "T0",
                        "cles_appariement": [],
                    },
                    {
                        "ligne_source": 9,
                        "pseudo_nir": "N1",
                        "pseudo_traits": "T1",
                        "cles_appariement": [],
                    },
                ],
            ),
        ]
    )
    assert first["a:2"] == second["a:9"]
