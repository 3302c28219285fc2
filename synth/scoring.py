"""Linkage measured against the planted truth (``truth/records/<convention>.parquet``).

Pairs of records from two different sources are counted: a predicted pair shares a
``personne_id``, a true pair shares the generator's person id. Used by the tests and the
benchmark; it needs ``truth/``, so it only ever runs on synthetic data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from recours.sqlfile import read_sql

PAIRS_SQL = Path(__file__).resolve().parent / "sql" / "paires_appariement.sql"


@dataclass(frozen=True)
class LinkageScore:
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def truth_of_records(home: Path, parquets: dict[str, Path]) -> pl.DataFrame:
    """``rid`` → true person, through each delivery's record order (record 1 = first line)."""
    frames = []
    for convention, parquet in parquets.items():
        lines = pl.read_parquet(parquet, columns=["ligne_source"]).sort("ligne_source")
        truth = pl.read_parquet(home / "truth" / "records" / f"{convention}.parquet")
        frames.append(
            lines.with_row_index("record", offset=1)
            .with_columns(pl.col("record").cast(pl.Int64))
            .join(truth.select("record", "person_id"), on="record")
            .select(
                (pl.lit(f"{convention}:") + pl.col("ligne_source").cast(pl.String)).alias("rid"),
                pl.col("person_id").cast(pl.String),
            )
        )
    return pl.concat(frames)


def score(liens: pl.DataFrame, truth: pl.DataFrame) -> LinkageScore:
    """Pairwise precision and recall over records of different sources."""
    con = duckdb.connect()
    con.register("liens", liens.join(truth, on="rid"))
    predicted, actual, correct = con.sql(read_sql(PAIRS_SQL)).fetchall()[0]
    return LinkageScore(predicted, actual, correct)
