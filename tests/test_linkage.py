"""Linkage: NIR first, then keyed multi-trait passes; measured against the planted truth."""

from __future__ import annotations

import os

import duckdb
import polars as pl
import pytest

from pipelines.crossing import deliveries
from pipelines.crossing.linkage import Source, link
from pipelines.ingest.run import ingest_all
from recours.home import Home
from recours.schemas import load_schemas
from recours.synth import synthesize
from recours.synth.scoring import score, truth_of_records


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
