"""Key rotation, end to end with the real publication (disclosure control included): the
published tables are the same, value for value and secret for secret, under the new key.
(tests/test_keys.py checks the pseudonyms themselves, with the publication recorded only.)"""

from __future__ import annotations

import os

import duckdb
import polars as pl

from pipelines.keys import rotate
from recours.home import Home

PERIOD = "2025-06"


def tables(home: Home) -> dict[str, pl.DataFrame]:
    con = duckdb.connect(str(home.published / "recours.duckdb"), read_only=True)
    try:
        return {
            table: con.sql(f"select * exclude (periode) from {table} order by all").pl()
            for table in ("indicateurs", "connus")
        }
    finally:
        con.close()


def test_rotation_publishes_the_same_tables(world, tmp_path, monkeypatch):
    """On a copy of the session's world (tests/conftest.py): ingested, crossed and published."""
    assert world.period == PERIOD
    home = world.copy_to(tmp_path / "home")
    monkeypatch.setenv("RECOURS_PSEUDO_KEY", world.key)
    monkeypatch.delenv("RECOURS_PSEUDO_KEY_FILE", raising=False)
    before = tables(home)
    assert before["indicateurs"]["secret"].any() and not before["indicateurs"]["secret"].all()

    rotate(home, None, os.urandom(32).hex())
    after = tables(home)
    for table in before:
        assert after[table].equals(before[table]), table
