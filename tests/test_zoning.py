"""Observation zones: the shipped zoning keeps its rules, rebuilds identically, and a broken
zoning file is refused with the file, the line, the commune and the rule.

The zoning is public reference data (INSEE populations, IGN outlines), so these tests read the
shipped files themselves; no synthetic population is involved. Every broken file is the shipped
CSV edited the way a person would (a row dropped, a code changed, a commune moved), written to
``tmp_path``; the commune each case breaks is chosen from ``commune_adjacency`` and the
reference, so that the expected line and message are exact.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from app.cli import cli
from recours import zoning as zoning_module
from recours.reference import communes
from recours.zoning import (
    COLUMNS,
    ZONING_CSV,
    ZONING_DESCRIPTION,
    ZONING_GEOJSON,
    ZoningError,
    commune_adjacency,
    read_zoning,
    zoning,
)
from recours.zoning_build import build_zoning, write_zoning

DESCRIPTION = yaml.safe_load(ZONING_DESCRIPTION.read_text(encoding="utf-8"))
HEADER, *ROWS = list(csv.reader(io.StringIO(ZONING_CSV.read_text(encoding="utf-8"))))
AT = {column: HEADER.index(column) for column in COLUMNS}


def _n(number: int) -> str:
    return f"{number:,}".replace(",", "\u202f")


def _refused(path: Path, message: str, line: int | None) -> str:
    where = f"{path}, ligne {line}" if line is not None else str(path)
    return (
        f"zonage refusé — {where} : {message}. Rien n'est publié avec ce zonage : corrigez le "
        "fichier ou reconstruisez-le avec « recours zonage construire »."
    )


def _write(folder: Path, rows: Sequence[Sequence[str]], header: list[str] = HEADER) -> Path:
    path = folder / "zonage_31.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return path


def _copy() -> list[list[str]]:
    return [list(row) for row in ROWS]


def _line(rows: list[list[str]], code: str) -> int:
    """The file line of a commune's row (line 1 is the header)."""
    return next(i for i, row in enumerate(rows) if row[AT["code_commune"]] == code) + 2


def _connected(members: set[str], adjacency: dict[str, frozenset[str]]) -> bool:
    start = min(members)
    reached, todo = {start}, [start]
    while todo:
        for other in adjacency[todo.pop()] & members:
            if other not in reached:
                reached.add(other)
                todo.append(other)
    return reached == members


@pytest.fixture(scope="module")
def reference() -> dict[str, dict]:
    return {row["code_insee"]: row for row in communes().to_dicts()}


@pytest.fixture(scope="module")
def shipped() -> pl.DataFrame:
    return read_zoning(ZONING_CSV)


@pytest.fixture(scope="module")
def zones(shipped) -> dict[str, set[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    for zone, code in shipped.select("code_zone", "code_commune").iter_rows():
        members[zone].add(code)
    return dict(members)


# --- the shipped zoning --------------------------------------------------------------------


def test_shipped_zoning_covers_every_commune_once_in_150_zones(shipped, reference):
    assert shipped.columns == list(COLUMNS)
    assert shipped["code_zone"].n_unique() == 150
    assert sorted(shipped["code_zone"].unique()) == [f"31Z{n:03d}" for n in range(1, 151)]
    assert shipped["code_commune"].to_list() == sorted(reference)  # each once, none else
    assert len(ROWS) == len(reference) == 586
    names = shipped.group_by("code_zone").agg(pl.col("libelle_zone").n_unique())
    assert names["libelle_zone"].to_list() == [1] * 150


def test_every_shipped_zone_lies_in_one_epci(shipped, reference):
    epci = [reference[code]["epci_siren"] for code in shipped["code_commune"]]
    assert shipped["code_epci"].to_list() == epci
    per_zone = (
        shipped.with_columns(ref=pl.Series(epci))
        .group_by("code_zone")
        .agg(pl.col("ref").n_unique())
    )
    assert per_zone["ref"].to_list() == [1] * 150


def test_every_shipped_zone_is_of_one_piece(zones):
    adjacency = commune_adjacency()
    assert all(code in adjacency[other] for code in adjacency for other in adjacency[code])
    assert "31069" in adjacency["31555"]  # Blagnac touches Toulouse
    broken = [zone for zone, members in zones.items() if not _connected(members, adjacency)]
    assert broken == []


def test_geojson_has_one_feature_per_zone_with_the_csv_figures(shipped, zones, reference):
    features = json.loads(ZONING_GEOJSON.read_text(encoding="utf-8"))["features"]
    names = dict(shipped.select("code_zone", "libelle_zone").unique().iter_rows())
    epcis = dict(shipped.select("code_zone", "code_epci").unique().iter_rows())
    assert [f["properties"]["code"] for f in features] == sorted(zones)
    for feature in features:
        zone, properties = feature["properties"]["code"], feature["properties"]
        members = zones[zone]
        assert properties == {
            "code": zone,
            "nom": names[zone],
            "epci_siren": epcis[zone],
            "epci_nom": reference[min(members)]["epci_nom"],
            "population_municipale_2023": sum(
                reference[code]["population_municipale_2023"] for code in members
            ),
            "communes": len(members),
        }
        assert feature["geometry"]["type"] == "Polygon"  # of one piece on the map as well


def test_description_records_the_csv_fingerprint_and_figures(zones, reference):
    populations = sorted(
        sum(reference[code]["population_municipale_2023"] for code in members)
        for members in zones.values()
    )
    assert DESCRIPTION["empreinte_csv"] == hashlib.sha256(ZONING_CSV.read_bytes()).hexdigest()
    assert DESCRIPTION["zones"] == len(zones) == 150
    assert DESCRIPTION["plancher"] == 2700
    assert DESCRIPTION["zones_d_une_commune"] == sum(len(m) == 1 for m in zones.values())
    assert DESCRIPTION["zones_sous_le_plancher"] == sum(p < 2700 for p in populations)
    assert DESCRIPTION["population_min"] == populations[0]
    assert DESCRIPTION["population_mediane"] == int(statistics.median(populations))
    assert DESCRIPTION["population_max"] == populations[-1]


def test_the_zoning_is_rebuilt_identically_from_its_floor():
    frame, figures = build_zoning(DESCRIPTION["plancher"])
    assert frame.write_csv() == ZONING_CSV.read_text(encoding="utf-8")
    assert frame.equals(pl.read_csv(ZONING_CSV, infer_schema=False))
    assert figures.zones == DESCRIPTION["zones"]


# --- the floor -----------------------------------------------------------------------------


@pytest.mark.parametrize("floor", [2700, 5000])
def test_every_zone_reaches_the_floor_unless_it_has_no_neighbour(floor, reference, tmp_path):
    frame, figures = build_zoning(floor)
    read_zoning(_write(tmp_path, frame.rows()))  # the three rules hold at any floor
    adjacency = commune_adjacency()
    members: dict[str, set[str]] = defaultdict(set)
    for zone, code in frame.select("code_zone", "code_commune").iter_rows():
        members[zone].add(code)
    population = {
        zone: sum(reference[c]["population_municipale_2023"] for c in codes)
        for zone, codes in members.items()
    }
    below = sorted(zone for zone, people in population.items() if people < floor)
    assert [code for code, _, _ in figures.below_floor] == below
    assert [people for _, _, people in figures.below_floor] == [population[z] for z in below]
    for zone in below:
        epci = reference[min(members[zone])]["epci_siren"]
        touching = set().union(*(adjacency[c] for c in members[zone])) - members[zone]
        assert [c for c in touching if reference[c]["epci_siren"] == epci] == []
    assert figures.zones == len(members)
    assert below == ["31Z001"]  # Azas, the one commune of CC Tarn-Agout in the département


def test_a_higher_floor_gives_fewer_zones():
    at_2700, at_5000 = build_zoning(2700)[1], build_zoning(5000)[1]
    assert at_2700.zones == 150
    assert at_5000.zones < at_2700.zones


# --- bad input -----------------------------------------------------------------------------


def _refusal(path: Path) -> str:
    with pytest.raises(ZoningError) as caught:
        read_zoning(path)
    return str(caught.value)


def test_a_missing_commune_is_refused(tmp_path):
    rows = [row for row in _copy() if row[AT["code_commune"]] != "31001"]
    path = _write(tmp_path, rows)
    message = "communes absentes du zonage : 31001 (Agassac) : chaque commune du département "
    assert _refusal(path) == _refused(path, message + "est dans une zone", None)


def test_a_commune_placed_twice_is_refused(tmp_path):
    rows = _copy()
    rows.append(list(rows[_line(rows, "31555") - 2]))
    path = _write(tmp_path, rows)
    first = _line(rows, "31555")
    assert _refusal(path) == _refused(
        path,
        f"commune 31555 (Toulouse) placée deux fois (déjà ligne {first}) : chaque commune est "
        "dans une seule zone",
        len(rows) + 1,
    )


def test_an_unknown_commune_is_refused(tmp_path, reference):
    assert "32013" not in reference
    rows = _copy()
    rows[0][AT["code_commune"]], rows[0][AT["libelle_commune"]] = "32013", "Auch"
    path = _write(tmp_path, rows)
    assert _refusal(path) == _refused(
        path,
        "commune 32013 (Auch) inconnue du référentiel INSEE de la Haute-Garonne "
        "(communes_31.csv) : le zonage couvre les communes du département, chacune une fois",
        2,
    )


def test_a_commune_moved_into_a_zone_of_another_epci_is_refused(tmp_path, reference, zones):
    """A border commune moved into the neighbouring zone across the EPCI limit."""
    adjacency, rows = commune_adjacency(), _copy()
    zone_of = {code: zone for zone, members in zones.items() for code in members}
    moved, target = next(
        (code, zone_of[other])
        for code in sorted(reference)
        for other in sorted(adjacency[code])
        if other < code and reference[other]["epci_siren"] != reference[code]["epci_siren"]
    )
    row = rows[_line(rows, moved) - 2]
    first = min(zones[target])
    row[AT["code_zone"]] = target
    row[AT["libelle_zone"]] = rows[_line(rows, first) - 2][AT["libelle_zone"]]
    path = _write(tmp_path, rows)
    assert _refusal(path) == _refused(
        path,
        f"commune {moved} ({reference[moved]['nom']}, EPCI {reference[moved]['epci_nom']}) "
        f"placée dans la zone {target} dont la commune {first} (ligne {_line(rows, first)}) est "
        "dans un autre EPCI : une zone reste dans un seul EPCI",
        _line(rows, moved),
    )


def test_a_wrong_code_epci_is_refused(tmp_path, reference):
    rows = _copy()
    rows[0][AT["code_epci"]] = "243100518"  # Toulouse Métropole, for Agassac
    path = _write(tmp_path, rows)
    assert _refusal(path) == _refused(
        path,
        f"commune 31001 (Agassac) : code_epci 243100518 alors que son EPCI est "
        f"{reference['31001']['epci_siren']} ({reference['31001']['epci_nom']}) dans "
        "communes_31.csv : code_epci est l'EPCI de la commune",
        2,
    )


def test_a_zone_made_of_two_pieces_is_refused(tmp_path, reference, zones):
    """A commune moved, inside its EPCI, into a zone it does not touch."""
    adjacency, rows = commune_adjacency(), _copy()
    zone_of = {code: zone for zone, members in zones.items() for code in members}
    moved, target = next(
        (code, zone)
        for code in sorted(reference)
        if len(zones[zone_of[code]]) == 1 or _connected(zones[zone_of[code]] - {code}, adjacency)
        for zone in sorted(zones)
        if len(zones[zone]) > 1
        and zone != zone_of[code]
        and reference[min(zones[zone])]["epci_siren"] == reference[code]["epci_siren"]
        and not adjacency[code] & zones[zone]
    )
    name = rows[_line(rows, min(zones[target])) - 2][AT["libelle_zone"]]
    row = rows[_line(rows, moved) - 2]
    row[AT["code_zone"]], row[AT["libelle_zone"]] = target, name
    path = _write(tmp_path, rows)
    assert _refusal(path) == _refused(
        path,
        f"zone {target} ({name}) pas d'un seul tenant : la commune {moved} "
        f"({reference[moved]['nom']}) ne touche pas le reste de la zone",
        _line(rows, moved),
    )


def test_a_commune_without_a_zone_name_is_refused(tmp_path):
    rows = _copy()
    rows[0][AT["libelle_zone"]] = ""
    path = _write(tmp_path, rows)
    assert _refusal(path) == _refused(
        path,
        "commune 31001 : zone sans code ou sans nom : chaque commune est dans une zone qui a un "
        "code et un nom",
        2,
    )


def test_a_missing_column_is_refused(tmp_path):
    keep = [i for i, column in enumerate(HEADER) if column != "code_epci"]
    rows = [[row[i] for i in keep] for row in _copy()]
    path = _write(tmp_path, rows, [HEADER[i] for i in keep])
    assert _refusal(path) == _refused(path, "colonnes manquantes : code_epci", 1)


def test_two_names_for_one_zone_are_refused(tmp_path, zones, reference):
    rows = _copy()
    zone = min(z for z, members in zones.items() if len(members) > 1)
    first, second = sorted(zones[zone])[:2]
    original = rows[_line(rows, first) - 2][AT["libelle_zone"]]
    rows[_line(rows, second) - 2][AT["libelle_zone"]] = "Secteur renommé"
    path = _write(tmp_path, rows)
    assert _refusal(path) == _refused(
        path,
        f"zone {zone} nommée « Secteur renommé » pour la commune {second} "
        f"({reference[second]['nom']}) mais « {original} » ligne {_line(rows, first)} : une zone "
        "porte un seul nom",
        _line(rows, second),
    )


# --- the command line ----------------------------------------------------------------------


def _recours(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("recours")), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_verifier_refuses_a_broken_file_with_the_message(tmp_path):
    rows = [row for row in _copy() if row[AT["code_commune"]] != "31001"]
    path = _write(tmp_path, rows)
    done = _recours("zonage", "verifier", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    expected = "Erreur : " + _refused(
        path,
        "communes absentes du zonage : 31001 (Agassac) : chaque commune du département est "
        "dans une zone",
        None,
    )
    assert " ".join(done.stdout.split()) == " ".join(expected.split())
    assert "Traceback" not in done.stdout + done.stderr


def test_verifier_says_the_shipped_zoning_is_conforme():
    done = _recours("zonage", "verifier")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == f"{ZONING_CSV} : 150 zones, 586 communes, conforme.\n"


def test_construire_prints_the_figures_and_writes_the_shipped_files(
    tmp_path, shipped, zones, reference
):
    out = tmp_path / "zonage"
    result = CliRunner().invoke(
        cli,
        ["zonage", "construire", "--plancher", "2700", "--version", "test", "--sortie", str(out)],
    )
    assert result.exit_code == 0, result.output
    names = dict(shipped.select("code_zone", "libelle_zone").unique().iter_rows())
    populations = {
        zone: sum(reference[c]["population_municipale_2023"] for c in members)
        for zone, members in sorted(zones.items())
    }
    below = [(zone, names[zone], p) for zone, p in populations.items() if p < 2700]
    assert result.output.splitlines() == [
        "plancher : 2\u202f700 habitants",
        f"zones : 150 (dont {DESCRIPTION['zones_d_une_commune']} d'une seule commune)",
        f"population par zone : min {_n(DESCRIPTION['population_min'])}, médiane "
        f"{_n(DESCRIPTION['population_mediane'])}, max {_n(DESCRIPTION['population_max'])}",
        f"zones sous le plancher : {DESCRIPTION['zones_sous_le_plancher']}",
        *(f"  {z} {n} : {p} habitants (aucune voisine dans son EPCI)" for z, n, p in below),
        f"écrit : {out / 'zonage_31.csv'}",
        f"écrit : {out / 'zonage_31.geojson'}",
        f"écrit : {out / 'zonage_31.yaml'}",
    ]
    assert len(below) == DESCRIPTION["zones_sous_le_plancher"] == 1
    assert (out / "zonage_31.csv").read_bytes() == ZONING_CSV.read_bytes()
    assert (out / "zonage_31.geojson").read_bytes() == ZONING_GEOJSON.read_bytes()
    written = (out / "zonage_31.yaml").read_text(encoding="utf-8").splitlines()
    reviewed = ZONING_DESCRIPTION.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(written, reviewed, strict=True) if a != b]
    assert changed == [("version: 'test'", f"version: '{DESCRIPTION['version']}'")]


# --- the zoning in use ---------------------------------------------------------------------


@pytest.fixture
def copied(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """The zoning read from copies, with ``zoning()``'s cache emptied before and after."""
    csv_copy, description = tmp_path / "zonage_31.csv", tmp_path / "zonage_31.yaml"
    csv_copy.write_bytes(ZONING_CSV.read_bytes())
    description.write_bytes(ZONING_DESCRIPTION.read_bytes())
    monkeypatch.setattr(zoning_module, "ZONING_CSV", csv_copy)
    monkeypatch.setattr(zoning_module, "ZONING_DESCRIPTION", description)
    zoning.cache_clear()
    yield csv_copy, description
    zoning.cache_clear()


def test_zoning_in_use_carries_its_version_floor_and_fingerprint(copied, shipped):
    csv_copy, _ = copied
    fingerprint = hashlib.sha256(csv_copy.read_bytes()).hexdigest()
    used = zoning()
    assert (used.version, used.floor, used.fingerprint) == ("2026-1", 2700, fingerprint)
    assert used.frame.equals(shipped)
    assert used.label() == (
        "zonage_31 version 2026-1 : 150 zones d'observation, plancher 2700 habitants "
        f"(empreinte sha256 {fingerprint[:12]})"
    )


def test_zoning_refuses_a_csv_changed_without_its_description(copied):
    csv_copy, description = copied
    text = csv_copy.read_text(encoding="utf-8")
    assert text.count("Secteur d'Aurignac,") > 1
    csv_copy.write_text(text.replace("Secteur d'Aurignac,", "Secteur d'Aurignac-Est,"), "utf-8")
    read_zoning(csv_copy)  # still a valid zoning: only its fingerprint has changed
    with pytest.raises(ZoningError) as caught:
        zoning()
    assert str(caught.value) == _refused(
        description,
        "l'empreinte du zonage ne correspond pas au fichier zonage_31.csv : le fichier a changé "
        "sans que sa description (version, plancher) soit revue",
        None,
    )


def test_write_zoning_checks_what_it_writes(tmp_path):
    frame, figures = build_zoning(2700)
    with pytest.raises(ZoningError, match="communes absentes du zonage : 31001 "):
        write_zoning(frame.filter(pl.col("code_commune") != "31001"), figures, "test", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zonage_31.csv"]  # no outlines


def test_a_run_with_a_broken_zoning_publishes_nothing(copied, tmp_path):
    """The crossing checks the zoning before anything else: a broken zoning file stops the run
    with its French message, and no publication (not even an empty one) is written."""
    from pipelines.cycle import cross_and_publish
    from recours.home import Home

    csv_copy, _ = copied
    lines = csv_copy.read_text(encoding="utf-8").splitlines()
    csv_copy.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # last commune gone
    home = Home(tmp_path / "home")
    home.ensure()
    with pytest.raises(ZoningError, match=r"communes absentes du zonage : 31593 \(Cazac\)"):
        cross_and_publish(home)
    assert [path for path in home.published.rglob("*") if path.is_file()] == []
