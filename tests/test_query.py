"""``recours query``: reads the published tables, in five formats, and nothing else.

The other zones sit on the same disk (a pseudonymized Parquet, the warehouse): every way SQL
could reach them, write a file, or unlock the configuration must fail with a French
``QueryError``, never a traceback. ``--out`` never writes inside the home nor over a file
without ``--force``; a runaway query is stopped by its time or memory limit.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner
from report_sample import sample_publication

from app.cli import cli
from pipelines.publish import IndicatorUnits, publish
from pipelines.publish.model import TABLES
from pipelines.publish.query import Limits, QueryError, data_dictionary, parse_size, run_query
from recours.zoning import zoning

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
        {"niveau": "zone", "lignes": 150},
    ]
    tables = run_query(published, "SHOW TABLES", "csv-rfc").splitlines()
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


def test_csv_rfc_output(published):
    records = list(csv.reader(io.StringIO(run_query(published, SQL, "csv-rfc"))))
    assert records == [
        ["code_territoire", "population", "non_recours", "taux", "secret"],
        ["31001", "0", "0", "", "false"],
        ["31004", "", "", "", "true"],
        ["31555", "48", "16", str(16 / 48), "false"],
    ]


def test_csv_is_the_french_excel_dialect_of_the_published_csvs(published):
    assert run_query(published, SQL, "csv") == (
        "\ufeffcode_territoire;population;non_recours;taux;secret\n"
        "31001;0;0;;non\n"
        "31004;;;;oui\n"
        "31555;48;16;0,3333333333333333;non\n"
    )
    for table in TABLES:  # byte for byte what the publication wrote beside recours.duckdb
        published_csv = (published / f"{table}.csv").read_text(encoding="utf-8")
        assert run_query(published, f"SELECT * FROM {table}", "csv") == published_csv, table


def test_french_csv_keeps_types_and_quotes_what_excel_would_split(published):
    sql = (
        "SELECT true AS b, NULL::BOOLEAN AS n, 1.5::DOUBLE AS x, 1.25::DECIMAL(5, 2) AS d, "
        "[1, 2] AS l, {'a': 'x;y'} AS s, DATE '2025-01-02' AS j, 'a;b' AS t"
    )
    assert run_query(published, sql, "csv") == (
        '\ufeffb;n;x;d;l;s;j;t\noui;;1,5;1,25;[1, 2];"{""a"": ""x;y""}";2025-01-02;"a;b"\n'
    )
    assert run_query(published, sql, "csv-rfc") == (
        "b,n,x,d,l,s,j,t\ntrue,,1.5,1.25,\"[1, 2]\",{'a': 'x;y'},2025-01-02,a;b\n"
    )
    with pytest.raises(QueryError) as caught:
        run_query(published, "SELECT 1 AS x, 2 AS x", "csv")
    assert str(caught.value) == (
        "plusieurs colonnes du résultat s'appellent x : les renommer avec AS "
        "(SELECT a.x AS x_a, b.x AS x_b …) pour le format csv"
    )


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
    with pytest.raises(
        QueryError, match="format inconnu « xls » : choisir parmi table, csv, csv-rfc"
    ):
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
    for fmt in ("table", "csv", "csv-rfc", "json"):
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
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "resultat.csv",
        "resultat.csv-rfc",
        "resultat.json",
        "resultat.table",
        "resultat.xlsx",
    ]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def inside_home_message(home: Path, shown: Path, resolved: Path | None = None) -> str:
    via = f" (c'est-à-dire {resolved})" if resolved else ""
    return (
        f"--out {shown}{via} est dans le dossier de travail {home}, où sont la publication, "
        "le journal d'audit et les données pseudonymisées : `recours query` n'y écrit jamais ; "
        "donner un fichier hors de ce dossier, par exemple dans votre dossier personnel"
    )


def test_out_never_writes_inside_the_home_even_with_force(home, tmp_path):
    (home / "audit").mkdir(exist_ok=True)
    (home / "audit" / "journal.jsonl").write_text("{}\n", encoding="utf-8")
    link = tmp_path / "lien.csv"
    link.symlink_to(home / "published" / "recours.duckdb")
    folder_link = tmp_path / "vers_la_maison"
    folder_link.symlink_to(home)
    before = snapshot(home)
    database = home / "published" / "recours.duckdb"
    cases = [
        (database, None),
        (home / "audit" / "journal.jsonl", None),
        (home / "nouveau.csv", None),
        (home / "published" / ".." / "x.csv", (home / "x.csv")),
        (link, database),
        (folder_link / "pseudonymized" / "y.csv", home / "pseudonymized" / "y.csv"),
    ]
    for out, resolved in cases:
        for force in (False, True):
            with pytest.raises(QueryError) as caught:
                run_query(home / "published", SQL, "csv", out, force=force)
            assert str(caught.value) == inside_home_message(home, out, resolved), out
    assert snapshot(home) == before


def test_out_inside_home_from_a_relative_path(home, tmp_path, monkeypatch):
    monkeypatch.chdir(home / "published")
    with pytest.raises(QueryError) as caught:
        run_query(home / "published", SQL, "json", Path("x.json"), home=home)
    assert str(caught.value) == inside_home_message(
        home, Path("x.json"), home / "published" / "x.json"
    )
    assert not (home / "published" / "x.json").exists()


def test_out_does_not_replace_a_file_without_force(published, tmp_path):
    target = tmp_path / "resultat.csv"
    target.write_text("à garder\n", encoding="utf-8")
    with pytest.raises(QueryError) as caught:
        run_query(published, SQL, "csv", target)
    assert str(caught.value) == (
        f"--out {target} existe déjà : choisir un autre nom, ou ajouter --force pour le remplacer"
    )
    assert target.read_text(encoding="utf-8") == "à garder\n"
    assert run_query(published, SQL, "csv", target, force=True) == (
        f"3 lignes écrites dans {target}\n"
    )
    assert target.read_text(encoding="utf-8") == run_query(published, SQL, "csv")
    assert [p.name for p in tmp_path.iterdir()] == ["resultat.csv"]  # nothing written aside
    with pytest.raises(QueryError) as caught:
        run_query(published, SQL, "csv", tmp_path, force=True)
    assert str(caught.value) == f"--out {tmp_path} est un dossier : donner un nom de fichier"


RUNAWAY = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t"


def test_a_runaway_recursive_query_is_stopped_by_its_delay(published):
    with pytest.raises(QueryError) as caught:
        run_query(published, RUNAWAY, limits=Limits(seconds=1))
    assert str(caught.value) == (
        "requête arrêtée au bout de 1 s (limite --delai) : elle tournait encore (requête "
        "récursive sans fin, jointure sans condition ?) ; la corriger, ou relancer avec un "
        "--delai plus grand, par exemple --delai 5"
    )
    assert caught.value.__cause__ is None


def memory_message(limit: str, bigger: str) -> str:
    return (
        f"requête arrêtée : elle demandait plus de {limit} de mémoire (limite --memoire) ; la "
        "restreindre (WHERE, LIMIT, agrégats, moins de jointures), ou relancer avec une "
        f"--memoire plus grande, par exemple --memoire {bigger}"
    )


def test_a_query_beyond_its_memory_is_stopped(published):
    # In DuckDB: a hash table of 100 million distinct values, with nowhere to spill.
    with pytest.raises(QueryError) as caught:
        run_query(
            published,
            "SELECT count(DISTINCT range) FROM range(100000000)",
            limits=Limits(memory="100MB"),
        )
    assert str(caught.value) == memory_message("100MB", "200MB")
    # In Python: ten million rows brought back, which DuckDB's limit does not count.
    with pytest.raises(QueryError) as caught:
        run_query(published, "SELECT * FROM range(10000000)", "json", limits=Limits(memory="0,1Go"))
    assert str(caught.value) == memory_message("0,1Go", "0,2Go")


def test_limits_are_set_before_the_lock_down_and_nothing_spills_to_disk(published):
    settings = (
        "SELECT current_setting('memory_limit') AS memoire, "
        "current_setting('temp_directory') AS temporaire, "
        "current_setting('max_temp_directory_size') AS temporaire_max"
    )
    assert json.loads(run_query(published, settings, "json", limits=Limits(memory="100MB"))) == [
        {"memoire": "95.3 MiB", "temporaire": "", "temporaire_max": "0 bytes"}
    ]
    assert json.loads(run_query(published, settings, "json"))[0]["memoire"] == "1.8 GiB"
    with pytest.raises(QueryError, match="verrouillée"):
        run_query(published, "SET memory_limit = '100GB'")


def test_sizes_and_bad_limits(published):
    assert parse_size("2GB") == 2_000_000_000
    assert parse_size("500 mb") == 500_000_000
    assert parse_size("1,5Go") == 1_500_000_000
    assert parse_size("512MiB") == 512 * 2**20
    refusals = {
        Limits(memory="2"): (
            "taille illisible pour --memoire : « 2 » ; écrire un nombre et une unité, par "
            "exemple --memoire 2GB ou --memoire 500MB"
        ),
        Limits(memory="10MB"): (
            "--memoire 10MB est trop peu : il faut au moins 64MB pour lire la publication ; "
            "donner par exemple --memoire 500MB"
        ),
        Limits(seconds=0): (
            "--delai 0 : donner une durée en secondes, plus grande que zéro (par défaut 60)"
        ),
        Limits(seconds=-2.5): (
            "--delai -2,5 : donner une durée en secondes, plus grande que zéro (par défaut 60)"
        ),
    }
    for limits, message in refusals.items():
        with pytest.raises(QueryError) as caught:
            run_query(published, "SELECT 1", limits=limits)
        assert str(caught.value) == message


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
    excel = runner.invoke(cli, ["query", "--home", str(home), "--format", "csv", SQL])
    assert excel.output == run_query(home / "published", SQL, "csv")
    assert excel.output.startswith("\ufeffcode_territoire;population;")
    replaced = runner.invoke(
        cli, ["query", "--home", str(home), "--format", "xlsx", "--out", str(target), SQL]
    )
    assert isinstance(replaced.exception, QueryError)
    assert "existe déjà" in str(replaced.exception)
    forced = runner.invoke(
        cli,
        ["query", "--home", str(home), "--format", "csv", "--out", str(target), "--force", SQL],
    )
    assert forced.exit_code == 0 and target.read_bytes().startswith(b"\xef\xbb\xbf")
    stopped = runner.invoke(cli, ["query", "--home", str(home), "--delai", "1", RUNAWAY])
    assert isinstance(stopped.exception, QueryError)
    assert str(stopped.exception).startswith("requête arrêtée au bout de 1 s (limite --delai)")
    heavy = runner.invoke(
        cli,
        ["query", "--home", str(home), "--memoire", "100MB", "SELECT * FROM range(10000000)"],
    )
    assert str(heavy.exception) == memory_message("100MB", "200MB")


def test_the_real_command_refuses_out_into_the_home_in_french(home):
    """Through the installed entry point: a French message, exit code 2, no traceback."""
    target = home / "published" / "recours.duckdb"
    before = target.read_bytes()
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("recours")),
            "query",
            "--home",
            str(home),
            "--format",
            "csv",
            "--out",
            str(target),
            "--force",
            SQL,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    output = " ".join((done.stdout + done.stderr).split())
    assert output == f"Erreur : {inside_home_message(home, target)}"
    assert target.read_bytes() == before


def sql_examples() -> list[str]:
    text = (ROOT / "docs" / "analystes.md").read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```sql\n")[1:]]


@pytest.fixture(scope="module")
def two_periods(tmp_path_factory) -> Path:
    return sample_publication(tmp_path_factory.mktemp("exemples") / "published")


def test_the_analysts_guide_examples_run(two_periods):
    examples = sql_examples()
    assert len(examples) == 5
    results = [json.loads(run_query(two_periods, sql, "json")) for sql in examples]
    top, evolution, known, communes, zones = results
    assert 1 <= len(top) <= 10
    assert [r["taux_pct"] for r in top] == sorted((r["taux_pct"] for r in top), reverse=True)
    assert [r["periode"] for r in evolution] == ["2026-09", "2026-10"]
    assert known and all(r["connus_pct"] is None or 0 <= r["connus_pct"] <= 100 for r in known)
    assert len(communes) == 37  # the communes of Toulouse Métropole
    metropole_zones = zoning().frame.filter(pl.col("code_epci") == "243100518")
    shown = [r["zone"] for r in zones]
    assert 1 <= len(shown) <= metropole_zones["code_zone"].n_unique()
    assert set(shown) <= set(metropole_zones["libelle_zone"])
    assert [r["taux_pct"] for r in zones] == sorted((r["taux_pct"] for r in zones), reverse=True)
