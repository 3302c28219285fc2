"""``recours query``: reads the published tables, in four formats, and nothing else.

The other zones sit on the same disk (a pseudonymized Parquet, the warehouse): every way SQL
could reach them, write a file, or unlock the configuration must fail with a French
``QueryError``, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner
from report_sample import sample_publication

from pipelines.publish import IndicatorUnits, publish
from pipelines.publish.model import TABLES
from recours.cli import cli
from recours.query import QueryError, data_dictionary, run_query

ROOT = Path(__file__).resolve().parent.parent

PERIOD = "2025-06"


def units() -> IndicatorUnits:
    # 31004 (12 people) is secret; 31025, in the same EPCI, is there so that the secondary
    # secret finds its complement beside it rather than in the Toulouse communes queried below.
    frame = pl.DataFrame(
        {
            "unite_id": [f"{number:064x}" for number in range(93)],
            "code_commune": ["31555"] * 48 + ["31004"] * 12 + ["31025"] * 33,
            "tranche_age": ["25-34"] * 93,
            "type_menage": ["personne_seule"] * 93,
            "non_recours": [number % 3 == 0 for number in range(93)],
            "connu": [number % 2 == 0 for number in range(93)],
        }
    )
    return IndicatorUnits("rsa", ("25-34", "35-49"), ("personne_seule",), 11, frame)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A home folder with a publication, a pseudonymized Parquet and a warehouse."""
    root = tmp_path_factory.mktemp("home")
    publish(root / "published", PERIOD, [units()], [], [{"cle": "seuil", "valeur": "11"}], [])
    zone = root / "pseudonymized" / "caf31"
    zone.mkdir(parents=True)
    pl.DataFrame({"pseudo_nir": ["a" * 64]}).write_parquet(zone / "allocataires.parquet")
    with duckdb.connect(str(root / "warehouse.duckdb")) as warehouse:
        warehouse.execute("CREATE TABLE personnes AS SELECT 'b' AS pseudo_nir")
    return root


@pytest.fixture(scope="module")
def published(home) -> Path:
    return home / "published"


def test_reads_published_tables(published):
    result = run_query(
        published,
        "SELECT niveau, count(*) AS lignes FROM indicateurs GROUP BY niveau ORDER BY niveau",
        "json",
    )
    assert json.loads(result) == [
        {"niveau": "commune", "lignes": 586},
        {"niveau": "departement", "lignes": 6},
        {"niveau": "epci", "lignes": 108},
    ]
    tables = run_query(published, "SHOW TABLES", "csv").splitlines()
    assert tables == [
        "name",
        "catalogue",
        "connus",
        "indicateurs",
        "metadonnees",
        "qualite",
        "territoires",
    ]


SQL = (
    "SELECT code_territoire, population, non_recours, taux, secret FROM indicateurs "
    "WHERE niveau = 'commune' AND code_territoire IN ('31555', '31004', '31001') "
    "ORDER BY code_territoire"
)


def test_table_output_is_aligned(published):
    lines = run_query(published, SQL).splitlines()
    assert lines[0].split() == ["code_territoire", "population", "non_recours", "taux", "secret"]
    assert set(lines[1]) == {"-", " "}
    assert lines[-1] == "(3 lignes)"
    body = lines[2:-1]
    assert body[0].split() == ["31001", "0", "0", "false"]  # taux NULL: blank
    assert body[1].split() == ["31004", "true"]  # 12 people, 4 presumed: withheld
    assert body[2].split() == ["31555", "48", "16", "0.333333", "false"]
    header = lines[0]
    population_end = header.index("population") + len("population")
    assert all(line[population_end - 1] != " " for line in (body[0], body[2]))  # right-aligned


def test_csv_output(published):
    records = list(csv.reader(io.StringIO(run_query(published, SQL, "csv"))))
    assert records == [
        ["code_territoire", "population", "non_recours", "taux", "secret"],
        ["31001", "0", "0", "", "false"],
        ["31004", "", "", "", "true"],
        ["31555", "48", "16", str(16 / 48), "false"],
    ]


def test_json_output(published):
    assert json.loads(run_query(published, SQL, "json")) == [
        {
            "code_territoire": "31001",
            "population": 0,
            "non_recours": 0,
            "taux": None,
            "secret": False,
        },
        {
            "code_territoire": "31004",
            "population": None,
            "non_recours": None,
            "taux": None,
            "secret": True,
        },
        {
            "code_territoire": "31555",
            "population": 48,
            "non_recours": 16,
            "taux": 16 / 48,
            "secret": False,
        },
    ]


def forbidden(home: Path) -> dict[str, str]:
    parquet = home / "pseudonymized" / "caf31" / "allocataires.parquet"
    return {
        "read_parquet": f"SELECT * FROM read_parquet('{parquet}')",
        "parquet_by_name": f"SELECT * FROM '{parquet}'",
        "glob": f"SELECT * FROM glob('{home}/pseudonymized/**')",
        "read_csv": f"SELECT * FROM read_csv('{home}/published/indicateurs.csv')",
        "read_text": "SELECT * FROM read_text('/etc/hostname')",
        "attach": f"ATTACH '{home}/warehouse.duckdb' AS entrepot",
        "attach_read_only": f"ATTACH '{home}/warehouse.duckdb' AS entrepot (READ_ONLY)",
        "copy_to": f"COPY indicateurs TO '{home}/fuite.csv'",
        "copy_query_to": f"COPY (SELECT 1) TO '{home}/fuite.parquet' (FORMAT parquet)",
        "export": f"EXPORT DATABASE '{home}/fuite'",
        "enable_external_access": "SET enable_external_access = true",
        "reset_external_access": "RESET enable_external_access",
        "unlock": "SET lock_configuration = false",
        "allowed_configs": "SET allowed_configs = ['enable_external_access']",
        "allowed_directories": f"SET allowed_directories = ['{home}']",
        "install": "INSTALL httpfs",
        "load": "LOAD httpfs",
        "unlock_then_read": (
            f"SET enable_external_access = true; SELECT * FROM read_parquet('{parquet}')"
        ),
        "write": "DROP TABLE indicateurs",
        "insert": "INSERT INTO metadonnees VALUES ('x', 'y')",
    }


@pytest.mark.parametrize(
    "case",
    sorted(forbidden(Path("/x"))),
)
def test_everything_but_the_published_tables_is_out_of_reach(home, case):
    before = (home / "published" / "recours.duckdb").read_bytes()
    with pytest.raises(QueryError) as caught:
        run_query(home / "published", forbidden(home)[case])
    message = str(caught.value)
    assert any(words in message for words in ("accès refusé", "verrouillée", "lecture seule")), (
        message
    )
    assert "Traceback" not in message and caught.value.__cause__ is None
    assert not list(home.glob("fuite*"))
    assert (home / "published" / "recours.duckdb").read_bytes() == before


def test_the_lock_down_does_not_leak_to_other_connections(published, tmp_path):
    """The query runs in its own DuckDB instance: the pipeline's connections keep their rights."""
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "x.parquet")
    other = duckdb.connect(str(published / "recours.duckdb"), read_only=True)
    try:
        run_query(published, "SELECT 1")
        assert other.execute(f"SELECT a FROM read_parquet('{tmp_path}/x.parquet')").fetchall() == [
            (1,)
        ]
    finally:
        other.close()


def test_unknown_table_is_named(published):
    with pytest.raises(QueryError) as caught:
        run_query(published, "SELECT * FROM indicateur")
    message = str(caught.value)
    assert "la table « indicateur » n'existe pas" in message
    assert "indicateurs" in message  # the published tables are listed


def test_unknown_column_is_named(published):
    with pytest.raises(QueryError, match="la colonne « taux_non_recours » n'existe pas"):
        run_query(published, "SELECT taux_non_recours FROM indicateurs")
    with pytest.raises(QueryError) as caught:
        run_query(published, "SELECT connus.part FROM connus")
    assert "la table « connus » n'a pas de colonne « part »" in str(caught.value)
    assert "part_connus" in str(caught.value)


def test_syntax_and_other_errors_are_french(published):
    with pytest.raises(QueryError, match="erreur de syntaxe SQL"):
        run_query(published, "SELEC * FROM indicateurs")
    with pytest.raises(QueryError, match="la fonction « moyenne » n'existe pas"):
        run_query(published, "SELECT moyenne(taux) FROM indicateurs")
    with pytest.raises(QueryError, match="requête vide"):
        run_query(published, "  ")
    with pytest.raises(QueryError, match="format inconnu « xls »"):
        run_query(published, "SELECT 1", "xls")  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="le format xlsx s'écrit dans un fichier"):
        run_query(published, "SELECT 1", "xlsx")


def test_missing_publication(tmp_path):
    with pytest.raises(QueryError) as caught:
        run_query(tmp_path / "published", "SELECT 1")
    assert str(caught.value) == (
        f"aucune publication dans {tmp_path / 'published'} : lancer d'abord `recours run`"
    )


def test_results_go_to_a_file_in_every_format(published, tmp_path):
    for fmt in ("table", "csv", "json"):
        target = tmp_path / f"resultat.{fmt}"
        message = run_query(published, SQL, fmt, target)
        assert message == f"3 lignes écrites dans {target}\n"
        assert target.read_text(encoding="utf-8") == run_query(published, SQL, fmt)
    workbook = tmp_path / "resultat.xlsx"
    assert run_query(published, SQL, "xlsx", workbook) == f"3 lignes écrites dans {workbook}\n"
    sheet = pl.read_excel(workbook, sheet_name="resultat")
    assert sheet.columns == ["code_territoire", "population", "non_recours", "taux", "secret"]
    assert sheet.rows() == [
        ("31001", 0, 0, None, False),
        ("31004", None, None, None, True),
        ("31555", 48, 16, 16 / 48, False),
    ]
    with pytest.raises(QueryError, match="dossier introuvable pour --out"):
        run_query(published, SQL, "csv", tmp_path / "absent" / "x.csv")


def dictionary_rows() -> dict[tuple[str, str], str]:
    """The dictionary's column rows, read here on their own from docs/publication.md."""
    text = (ROOT / "docs" / "publication.md").read_text(encoding="utf-8")
    rows = {}
    for part in text.split("\n## Table `")[1:]:
        table = part.split("`", 1)[0]
        for line in part.split("\n## ", 1)[0].splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            if len(cells) == 3 and cells[0].startswith("`"):
                rows[(table, cells[0].strip("`"))] = cells[2].replace("`", "")
    return rows


def test_tables_lists_every_published_column_with_its_documented_meaning(published):
    listing = json.loads(run_query(published, "tables", "json"))
    documented = dictionary_rows()
    columns = {(r["table"], r["colonne"]): r for r in listing if r["colonne"] is not None}
    assert set(columns) == {(t, c) for t, cols in TABLES.items() for c, _ in cols}
    for (table, column), row in columns.items():
        assert row["signification"] == documented[(table, column)], (table, column)
        assert row["type"] == dict(TABLES[table])[column]
    described = {r["table"]: r["signification"] for r in listing if r["colonne"] is None}
    assert set(described) == set(TABLES)
    assert described["qualite"] == "Une ligne par mesure, agrégée, jamais par personne."
    text = run_query(published, "tables")
    assert "indicateurs — Une ligne par indicateur" in text
    assert "  taux_non_recours" not in text and "  part_connus " in text


def test_tables_says_when_a_column_is_not_documented(published, tmp_path):
    folder = tmp_path / "published"
    folder.mkdir()
    (folder / "recours.duckdb").write_bytes((published / "recours.duckdb").read_bytes())
    with duckdb.connect(str(folder / "recours.duckdb")) as connection:
        connection.execute("ALTER TABLE connus ADD COLUMN nouvelle VARCHAR")
        connection.execute("CREATE TABLE brouillon (x INTEGER)")
    rows = json.loads(run_query(folder, "tables", "json"))
    meaning = {(r["table"], r["colonne"]): r["signification"] for r in rows}
    assert meaning[("connus", "nouvelle")] == "(non documentée)"
    assert meaning[("brouillon", None)] == "(non documentée)"


def test_the_dictionary_documents_every_table_of_the_contract():
    dictionary = data_dictionary()
    assert set(dictionary) == set(TABLES)
    for table, columns in TABLES.items():
        assert list(dictionary[table].columns) == [name for name, _ in columns]


def test_command_line_query_tables_out_and_errors(home, tmp_path):
    runner = CliRunner()
    listing = runner.invoke(cli, ["query", "--home", str(home), "tables"])
    assert listing.exit_code == 0, listing.output
    assert listing.output.startswith("indicateurs — ")
    target = tmp_path / "communes.xlsx"
    written = runner.invoke(
        cli, ["query", "--home", str(home), "--format", "xlsx", "--out", str(target), SQL]
    )
    assert written.exit_code == 0 and written.output == f"3 lignes écrites dans {target}\n"
    plain = runner.invoke(cli, ["query", "--home", str(home), SQL])
    assert plain.output == run_query(home / "published", SQL)


def sql_examples() -> list[str]:
    text = (ROOT / "docs" / "analystes.md").read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```sql\n")[1:]]


@pytest.fixture(scope="module")
def two_periods(tmp_path_factory) -> Path:
    return sample_publication(tmp_path_factory.mktemp("exemples") / "published")


def test_the_analysts_guide_examples_run(two_periods):
    examples = sql_examples()
    assert len(examples) == 4
    results = [json.loads(run_query(two_periods, sql, "json")) for sql in examples]
    top, evolution, known, communes = results
    assert 1 <= len(top) <= 10
    assert [r["taux_pct"] for r in top] == sorted((r["taux_pct"] for r in top), reverse=True)
    assert [r["periode"] for r in evolution] == ["2026-09", "2026-10"]
    assert known and all(r["connus_pct"] is None or 0 <= r["connus_pct"] <= 100 for r in known)
    assert len(communes) == 37  # the communes of Toulouse Métropole
