"""Invariant 1 of docs/architecture.md, tested: no direct identifier outside ``landing/``.

The demo pipeline runs for real (Airflow DAGs in-process, Great Expectations, presidio) on a
synthetic Haute-Garonne (the session's ``airflow_world``, tests/conftest.py: slow tests), plus
``recours run`` from the command line on a second home with a refused delivery and set-aside
rows. Every identifier the generator wrote into the partner
files (NIRs, names, addresses, phones, e-mails, partner ids) is then looked for in every byte
outside ``landing/``, ``quarantine/`` (the refused files themselves) and ``truth/``: Parquet
values, manifests, the audit log, Airflow's logs, its SQLite database (XComs), the quarantine
reasons, and what the command line printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.ingest.read import read_delivery
from recours.conventions import load_conventions
from recours.reference import communes
from recours.schemas import load_schemas
from synth import synthesize

EXCLUDED = {"landing", "quarantine", "truth", "secrets"}
REPO = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r"[0-9A-Za-zÀ-ÖØ-öø-ÿŒœ@._+\-']+")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?:\+33\s?|0)[1-9](?:[\s.\-]?\d{2}){4}")
NIR_SPACED = re.compile(r"\b[1-478](?:\s?[0-9AB]){12}\s?\d{2}\b")


class Identifiers(dict):
    """Identifiers by kind; its repr shows counts only, so a failing test prints no value."""

    def __repr__(self) -> str:
        return f"Identifiers({ {kind: len(values) for kind, values in self.items()} })"


@dataclass(frozen=True)
class Run:
    home: Path
    secret: Identifiers
    printed: str = field(repr=False)  # what the command line printed ("" for Airflow)


def project_words() -> set[str]:
    """Upper-cased words of the project's fixed text, outside the synthetic generator."""
    words: set[str] = set()
    for folder in ("pipelines", "recours", "dags", "anonymization", "indicators", "conventions"):
        for path in (REPO / folder).rglob("*"):
            if "synth" in path.parts or path.suffix not in (".py", ".css", ".j2", ".yaml", ".sql"):
                continue
            words |= {w.upper() for w in TOKEN.findall(path.read_text(encoding="utf-8"))}
    return words


def identifiers(landing: Path) -> Identifiers:
    """Every direct identifier the partner files hold, by kind, as the outputs would show it."""
    conventions = load_conventions()
    schemas = load_schemas()
    found: dict[str, set[str]] = {
        "nir": set(),
        "nom": set(),
        "adresse": set(),
        "telephone": set(),
        "email": set(),
        "identifiant": set(),
    }
    for convention in conventions.values():
        for dataset in convention.datasets:
            schema = schemas[dataset.schema_id]
            for path in (landing / convention.id).glob("*"):
                if not schema.file_regex().match(path.name):
                    continue
                frame = read_delivery(path, schema)
                for name, rule in dataset.fields.items():
                    values = [v for v in frame[name].to_list() if v]
                    column = schema.column(name)
                    if column.role == "nir":
                        found["nir"].update(v.replace(" ", "") for v in values)
                    elif column.role in ("nom_naissance", "nom_usage", "prenoms"):
                        for value in values:
                            found["nom"].update(
                                w.upper() for w in re.split(r"[\s\-']+", value) if len(w) >= 4
                            )
                    elif column.role in ("foyer", "identifiant_partenaire"):
                        found["identifiant"].update(values)
                    elif name in ("ADRESSE",):
                        found["adresse"].update(values)
                    elif name == "TELEPHONE":
                        found["telephone"].update(re.sub(r"\D", "", v)[-9:] for v in values)
                    elif rule.category == "free_text":
                        for value in values:
                            found["email"].update(EMAIL.findall(value))
                            found["telephone"].update(
                                re.sub(r"\D", "", p)[-9:] for p in PHONE.findall(value)
                            )
                            found["nir"].update(
                                re.sub(r"\s", "", n) for n in NIR_SPACED.findall(value)
                            )
    found["nir"] = {n for n in found["nir"] if len(n) == 15}
    # Place names are public reference data published on purpose (libelle_territoire): a
    # surname that is also a word of a commune or EPCI name ("MARTIN") proves nothing there.
    places = communes()
    words = " ".join(places["nom"].to_list() + places["epci_nom"].to_list()).upper()
    found["nom"] -= set(TOKEN.findall(words))
    # Likewise the words of the project's own fixed text (report pages, CSS, DAG docs): "PETIT"
    # or "BARRE" are surnames in the generator's lists and plain French or CSS in our pages.
    # The generator's own lists (synth/) are of course not part of that vocabulary.
    before = len(found["nom"])
    found["nom"] -= project_words()
    assert before - len(found["nom"]) < 0.05 * before  # marginal (15 of 740 on 1,500 persons)
    assert all(found.values()), {k: len(v) for k, v in found.items()}
    return found


def leaks(text: str, secret: dict[str, set[str]]) -> list[str]:
    """Kinds of identifiers found in ``text`` (never the values: this is test output too)."""
    kinds = set()
    tokens = set(TOKEN.findall(text))
    upper = {t.upper() for t in tokens}
    digits = {re.sub(r"\D", "", t) for t in tokens}
    squeezed = {re.sub(r"\s", "", n) for n in NIR_SPACED.findall(text)}
    if (tokens | squeezed) & secret["nir"]:
        kinds.add("nir")
    if upper & secret["nom"]:
        kinds.add("nom")
    if tokens & secret["identifiant"]:
        kinds.add("identifiant")
    if any(a in text for a in secret["adresse"]):
        kinds.add("adresse")
    if {d[-9:] for d in digits if len(d) >= 9} & secret["telephone"]:
        phones = {re.sub(r"\D", "", p)[-9:] for p in PHONE.findall(text)}
        if phones & secret["telephone"]:
            kinds.add("telephone")
    if set(EMAIL.findall(text)) & secret["email"]:
        kinds.add("email")
    return sorted(kinds)


def outputs(home: Path):
    """(label, text) of every file outside the excluded zones, Parquet values included."""
    for path in sorted(home.rglob("*")):
        relative = path.relative_to(home)
        if not path.is_file():
            continue
        if relative.parts[0] in EXCLUDED and not path.name.endswith((".motif.txt", ".motif.json")):
            continue
        if path.suffix == ".duckdb":
            yield str(relative), duckdb_text(path)
            continue
        if path.suffix == ".parquet":
            # Values, column names and the footer's metadata; the pages themselves are
            # compressed, so their raw bytes are noise that spells random words.
            frame = pl.read_parquet(path)
            text = "\n".join(" ".join(map(str, frame[c].unique().to_list())) for c in frame.columns)
            metadata = pq.read_metadata(path)
            footer = f"{metadata.schema} {metadata.metadata}"
            yield str(relative), text + "\n" + " ".join(frame.columns) + "\n" + footer
            continue
        if path.suffix == ".xlsx":  # a zip: its XML parts, not the compressed bytes
            with zipfile.ZipFile(path) as workbook:
                parts = [workbook.read(name).decode("utf-8") for name in workbook.namelist()]
            yield str(relative), "\n".join(parts)
            continue
        yield str(relative), path.read_bytes().decode("utf-8", errors="replace")


def duckdb_text(path: Path) -> str:
    """Every distinct value of every column of every table (DuckDB compresses its pages)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        parts = []
        tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        for schema, table in tables:  # the warehouse has one schema per crossing
            frame = con.sql(f'select * from "{schema}"."{table}"').pl()
            parts += [" ".join(map(str, frame[c].unique().to_list())) for c in frame.columns]
        return "\n".join(parts)
    finally:
        con.close()


@pytest.fixture(scope="module")
def airflow_run(airflow_world) -> Run:
    """Home A: the session's home run through the Airflow DAGs (tests/conftest.py)."""
    home = airflow_world.root
    results = airflow_world.results()
    crossing = results.pop("crossing")
    assert {s["status"] for r in results.values() for s in r} == {"acceptee"}
    assert len(crossing["indicateurs_calcules"]) == 6
    return Run(home, identifiers(home / "landing"), "")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Run:
    """Home B: `recours run` from the command line, with a refused file and a set-aside row."""
    home = tmp_path_factory.mktemp("privacy") / "b"
    synthesize(home, persons=1500, seed=4, period="2025-06")
    secret = identifiers(home / "landing")
    caf = home / "landing" / "caf31" / "CAF31_ALLOCATAIRES_20250630.csv"
    lines = caf.read_bytes().decode("cp1252").splitlines(keepends=True)
    fields = lines[5].split(";")
    fields[6] = "31/02/1980"  # an impossible date: set aside, reported by line and column
    lines[5] = ";".join(fields)
    caf.write_bytes("".join(lines).encode("cp1252"))
    cd31 = home / "landing" / "cd31" / "CD31_USAGERS_20250630.csv"
    cd31.with_name("CD31_USAGERS_20250531.csv").write_bytes(
        cd31.read_bytes().decode("utf-8").encode("cp1252", errors="replace")
    )  # wrong encoding: refused
    cli = subprocess.run(
        [sys.executable, "-m", "app.cli", "run", "--home", str(home)],
        env={**os.environ, "RECOURS_PSEUDO_KEY": os.urandom(32).hex(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=True,
    )
    return Run(home, secret, cli.stdout + cli.stderr)


# Home A needs the real Airflow (a minute or more): a slow test; home B is in `make check`.
HOMES = [pytest.param("airflow_run", marks=pytest.mark.slow, id="airflow"), "cli_run"]


@pytest.fixture(params=HOMES)
def run(request) -> Run:
    return request.getfixturevalue(request.param)


@pytest.mark.slow
def test_the_airflow_pipeline_really_ran(airflow_run):
    home_a = airflow_run.home
    assert len(list((home_a / "pseudonymized").rglob("*.parquet"))) == 5
    assert (home_a / "warehouse.duckdb").is_file()
    assert list((home_a / "airflow").rglob("*.log"))
    assert (home_a / "airflow" / "airflow.db").is_file()


def test_the_command_line_pipeline_really_ran(cli_run):
    home_b, printed = cli_run.home, cli_run.printed
    assert (home_b / "warehouse.duckdb").is_file()
    assert "date_possible 1" in printed and "REFUSÉE" in printed
    assert list((home_b / "quarantine" / "cd31").glob("*.motif.txt"))


def test_no_identifier_outside_landing(run):
    found = {}
    for label, text in outputs(run.home):
        kinds = leaks(text, run.secret)
        if kinds:
            found[label] = kinds
    kinds = leaks(run.printed, run.secret)
    if kinds:
        found["sortie de recours run"] = kinds
    assert found == {}


def test_no_pseudonym_token_or_person_id_in_published(run):
    """published/ holds aggregates only: no 64-hex pseudonym or key, no person id."""
    pattern = re.compile(r"[0-9a-f]{64}|\bp[0-9a-f]{24}\b|\bt[123]:")
    files = sorted(f for f in (run.home / "published").rglob("*") if f.is_file())
    assert any(f.name == "recours.duckdb" for f in files)
    assert any(f.suffix == ".xlsx" for f in files)  # the analysts' exports are covered
    for path in files:
        if path.suffix == ".duckdb":
            text = duckdb_text(path)
        elif path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            text = "\n".join(" ".join(map(str, frame[c].to_list())) for c in frame.columns)
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as workbook:
                text = "\n".join(
                    workbook.read(name).decode("utf-8") for name in workbook.namelist()
                )
        else:
            text = path.read_text(encoding="utf-8-sig")
        assert not pattern.search(text), path.name


def test_the_detector_finds_what_it_should(cli_run):
    """A test that cannot fail is a defect: plant one of each kind and see it found."""
    secret = cli_run.secret
    planted = " ".join(
        ("0" if kind == "telephone" else "") + sorted(values)[0] for kind, values in secret.items()
    )
    assert leaks(planted, secret) == sorted(secret)
