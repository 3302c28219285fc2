"""Exports per indicator and level (CSV for Excel, Parquet) and the workbook: the published
rows, unchanged, in every format, and nothing of a secret row."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from report_sample import sample_publication

from pipelines.report import ReportError, write_exports

LEVELS = ("departement", "epci", "zone", "commune")
COUNTS = {
    "indicateurs": ("population", "non_recours", "taux"),
    "connus": ("non_recours", "non_recours_connus", "part_connus"),
}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return sample_publication(tmp_path_factory.mktemp("exports") / "published")


@pytest.fixture(scope="module")
def written(published) -> list[Path]:
    return write_exports(published)


@pytest.fixture(scope="module")
def db(published) -> dict[str, pl.DataFrame]:
    connection = duckdb.connect(str(published / "recours.duckdb"), read_only=True)
    try:
        return {
            table: connection.sql(f"SELECT * FROM {table} WHERE periode = '2026-10'").pl()
            for table in ("indicateurs", "connus")
        }
    finally:
        connection.close()


def expected_files(db) -> dict[str, tuple[str, pl.DataFrame]]:
    """File stem → (table, the published rows it must hold, in the published order)."""
    files = {}
    for indicator in sorted(db["indicateurs"]["indicateur"].unique()):
        rows = db["indicateurs"].filter(pl.col("indicateur") == indicator)
        for level in LEVELS:
            files[f"{indicator}_{level}"] = ("indicateurs", rows.filter(pl.col("niveau") == level))
        known = db["connus"].filter(pl.col("indicateur") == indicator)
        files[f"{indicator}_connus"] = ("connus", known)
    return files


def ordered(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns[:7] if "tranche_age" in frame.columns else frame.columns[:4])


def test_one_csv_and_one_parquet_per_indicator_and_level_and_a_workbook(published, written, db):
    folder = published / "exports" / "2026-10"
    stems = expected_files(db)
    assert len(stems) == 30  # 6 indicators × (4 levels + connus)
    expected = {folder / f"{stem}.{ext}" for stem in stems for ext in ("csv", "parquet")}
    expected.add(folder / "recours_2026-10.xlsx")
    assert set(written) == expected
    assert {p for p in folder.iterdir()} == expected  # no temporary file left


def test_csv_is_the_french_excel_dialect_and_holds_the_published_rows(published, written, db):
    folder = published / "exports" / "2026-10"
    for stem, (table, rows) in expected_files(db).items():
        raw = (folder / f"{stem}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), stem
        text = raw.decode("utf-8-sig")
        header, *lines = text.splitlines()
        assert header == ";".join(rows.columns)
        assert len(lines) == rows.height
        read = pl.read_csv(
            folder / f"{stem}.csv",
            separator=";",
            decimal_comma=True,
            schema={
                name: (pl.String if kind == pl.Boolean else kind)
                for name, kind in rows.schema.items()
            },
        )
        assert set(read["secret"]) <= {"oui", "non"}
        read = read.with_columns(pl.col("secret") == "oui")
        assert ordered(read).equals(ordered(rows)), stem
        rate = COUNTS[table][2]
        shown = rows.filter(pl.col(rate).is_not_null() & (pl.col(rate) > 0) & (pl.col(rate) < 1))
        if shown.height:
            assert "," in text and "." not in "".join(text.split(";")[len(rows.columns) :]), stem


def test_parquet_holds_the_published_rows_and_types(published, written, db):
    folder = published / "exports" / "2026-10"
    for stem, (_, rows) in expected_files(db).items():
        read = pl.read_parquet(folder / f"{stem}.parquet")
        assert read.schema == rows.schema
        assert ordered(read).equals(ordered(rows)), stem


def test_workbook_has_a_readme_and_a_sheet_per_indicator(published, written, db):
    workbook = published / "exports" / "2026-10" / "recours_2026-10.xlsx"
    sheets = pl.read_excel(workbook, sheet_id=0, has_header=False)
    indicators = sorted(db["indicateurs"]["indicateur"].unique())
    assert list(sheets) == ["lisez-moi", *indicators_in_order(indicators), "connus"]
    readme = "\n".join(
        " ".join(str(value) for value in row if value is not None)
        for row in sheets["lisez-moi"].iter_rows()
    )
    for words in ("Secret statistique", "présomptions, pas des preuves", "Filosofi 2019"):
        assert words in readme, words
    for indicator in indicators:
        assert indicator in readme
    for column in db["indicateurs"].columns + db["connus"].columns:
        assert f"  {column} " in readme, column
    for indicator in indicators:
        sheet = pl.read_excel(workbook, sheet_name=indicator)
        rows = db["indicateurs"].filter(pl.col("indicateur") == indicator)
        assert set(sheet["secret"]) <= {"oui", "non"}
        sheet = sheet.with_columns(
            pl.col("secret") == "oui",
            pl.col("population", "non_recours").cast(pl.Int64),
            pl.col("taux").cast(pl.Float64),
        ).select(rows.columns)
        assert ordered(sheet).equals(ordered(excel_precision(rows, "taux"))), indicator
    known = pl.read_excel(workbook, sheet_name="connus").with_columns(
        pl.col("secret") == "oui",
        pl.col("non_recours", "non_recours_connus").cast(pl.Int64),
        pl.col("part_connus").cast(pl.Float64),
    )
    expected = excel_precision(db["connus"], "part_connus")
    assert ordered(known.select(db["connus"].columns)).equals(ordered(expected))


def excel_precision(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """A rate as a workbook holds it: xlsx stores a number as text with 16 significant
    digits (Excel itself computes with 15), the last binary digits of a double are lost."""
    return frame.with_columns(
        pl.col(column).map_elements(lambda value: float(f"{value:.16G}"), return_dtype=pl.Float64)
    )


def indicators_in_order(names: list[str]) -> list[str]:
    order = ["rsa", "prime_activite", "aspa", "css_rsa", "css_bas_revenus"]
    order.append("demandeurs_sans_revenu")
    return [name for name in order if name in names]


def test_no_secret_row_carries_a_value_in_any_export(published, written, db):
    folder = published / "exports" / "2026-10"
    checked = 0
    for stem, (table, rows) in expected_files(db).items():
        counts = COUNTS[table]
        secret = rows.filter(pl.col("secret"))
        assert secret.select(pl.col(counts).is_null().all()).row(0) == (True,) * 3
        header, *lines = (folder / f"{stem}.csv").read_text(encoding="utf-8-sig").splitlines()
        names = header.split(";")
        for line in lines:
            fields = dict(zip(names, line.split(";"), strict=True))
            if fields["secret"] == "oui":
                assert [fields[name] for name in counts] == ["", "", ""], stem
                checked += 1
        parquet = pl.read_parquet(folder / f"{stem}.parquet").filter(pl.col("secret"))
        assert parquet.select(pl.col(counts).is_null().all()).row(0) == (True,) * 3
    assert checked > 500


def test_an_earlier_period_and_errors(published, tmp_path):
    files = write_exports(published, "2026-09")
    assert {p.parent.name for p in files} == {"2026-09"}
    with pytest.raises(ReportError, match="la période 2024-01 n'est pas publiée"):
        write_exports(published, "2024-01")
    with pytest.raises(ReportError, match="aucune publication"):
        write_exports(tmp_path)
