"""The analysts' report, rendered in headless Chromium: complete, offline, faithful, and secret.

Every number the report prints carries the key of the published cell it shows; the test
recomputes each one from ``recours.duckdb`` (and the INSEE context from the shipped CSV) on its
own, so a figure that drifts, a secret that leaks into a table, a tooltip or a colour, or a
request to the network fails here.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest
from report_sample import sample_publication

from pipelines.report import ReportError, build_report
from recours.browser import Rendered, chromium_path, render
from recours.reference import DATA

NNBSP = "\u202f"
COUNT = re.compile(r"^\d{1,3}(\u202f\d{3})*$")
RATE = re.compile(r"^(\d{1,3}),(\d)\u202f%$")
NUMBER = re.compile(r"^-?[\d\u202f]+(,\d+)?(\u202f%)?$|^s$")
VOID = {"meta", "link", "br", "img", "hr", "input", "source", "wbr", "col", "area", "base"}


class Collector(HTMLParser):
    """The parts of the DOM the tests read, with the text under each element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[dict] = []
        self.keyed: list[dict] = []  # elements with data-k
        self.cells: list[dict] = []  # td of table.donnees
        self.paths: list[dict] = []  # map paths, with their svg
        self.sections: list[dict] = []
        self.captions: list[dict] = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "parent": None}
        if self.stack:
            element["parent"] = self.stack[-1]
        if tag in VOID:
            return
        self.stack.append(element)

    def handle_endtag(self, tag):
        while self.stack:
            element = self.stack.pop()
            if self.stack:
                self.stack[-1]["text"] += element["text"]
            self._classify(element)
            if element["tag"] == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1]["text"] += data

    def _ancestor(self, element, test):
        node = element["parent"]
        while node is not None:
            if test(node):
                return node
            node = node["parent"]
        return None

    def _classify(self, element):
        attrs = element["attrs"]
        if "data-k" in attrs:
            self.keyed.append(element)
        if element["tag"] == "td" and self._ancestor(
            element, lambda n: n["tag"] == "table" and "donnees" in n["attrs"].get("class", "")
        ):
            self.cells.append(element)
        if element["tag"] == "path" and "data-code" in attrs:
            element["svg"] = self._ancestor(element, lambda n: n["tag"] == "svg")
            self.paths.append(element)
        if element["tag"] == "title" and element["parent"] and element["parent"]["tag"] == "path":
            element["parent"]["title"] = element["text"]
        if element["tag"] == "section" and "data-indicateur" in attrs:
            self.sections.append(element)
        if element["tag"] == "h2":
            section = self._ancestor(element, lambda n: n["tag"] == "section")
            if section is not None:
                section["h2"] = element["text"]


def parse(html: str) -> Collector:
    collector = Collector()
    collector.feed(html)
    collector.close()
    return collector


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return sample_publication(tmp_path_factory.mktemp("rapport") / "published")


@pytest.fixture(scope="module")
def report(published) -> Path:
    return build_report(published)


@pytest.fixture(scope="module")
def rendered(report, tmp_path_factory) -> Rendered:
    if chromium_path() is None:
        pytest.fail("Chromium est nécessaire à ce test : `apt-get install chromium`")
    return render(report, tmp_path_factory.mktemp("capture") / "rapport.png")


@pytest.fixture(scope="module")
def dom(rendered) -> Collector:
    return parse(rendered.dom)


@pytest.fixture(scope="module")
def db(published) -> dict[str, pl.DataFrame]:
    connection = duckdb.connect(str(published / "recours.duckdb"), read_only=True)
    try:
        return {
            table: connection.sql(f"SELECT * FROM {table}").pl()
            for table in ("indicateurs", "connus", "catalogue", "territoires", "qualite")
        }
    finally:
        connection.close()


PERIOD = "2026-10"


def rounded_rate(value: float) -> str:
    """The published proportion as the report must print it (half up, one decimal)."""
    percent = (Decimal(repr(value)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{percent}".replace(".", ",") + NNBSP + "%"


def check_count(text: str, value: int | None, where: str) -> None:
    assert COUNT.match(text), f"{where}: {text!r} n'est pas un entier à la française"
    assert int(text.replace(NNBSP, "")) == value, where


def check_rate(text: str, value: float | None, where: str) -> None:
    if value is None:
        assert text == "–", where
        return
    assert RATE.match(text), f"{where}: {text!r} n'est pas un taux à la française"
    assert text == rounded_rate(value), where


def insee_context() -> dict[tuple[str, str], float | None]:
    """The INSEE figures per EPCI and for the département, recomputed here on their own."""
    socio = pl.read_csv(
        DATA / "indicateurs_socio_31.csv",
        schema_overrides={"code_insee": pl.String, "epci_siren": pl.String},
    )
    expected: dict[tuple[str, str], float | None] = {}
    groups = [(code, socio.filter(pl.col("epci_siren") == code)) for code in socio["epci_siren"]]
    for code, frame in [*dict(groups).items(), ("31", socio)]:
        expected[(code, "chomage_pct")] = (
            100 * frame["chomeurs_15_64_rp2018"].sum() / frame["actifs_15_64_rp2018"].sum()
        )
        known = frame.filter(pl.col("taux_pauvrete_60_filo2019_pct").is_not_null())
        households = frame["menages_fiscaux_filo2019"].fill_null(0).sum()
        covered = known["menages_fiscaux_filo2019"].fill_null(0).sum()
        expected[(code, "couverture_pct")] = 100 * covered / households
        expected[(code, "pauvrete_pct")] = (
            (known["taux_pauvrete_60_filo2019_pct"] * known["menages_fiscaux_filo2019"]).sum()
            / covered
            if covered
            else None
        )
    return expected


def expected_value(db, key: str, insee) -> tuple[str, object, bool]:
    """(kind, value, secret) of a key, straight from the published tables."""
    parts = key.split("|")
    if parts[0] == "i":
        indicator, period, level, code, band, kind, column = parts[1:]
        rows = db["indicateurs"].filter(
            (pl.col("indicateur") == indicator)
            & (pl.col("periode") == period)
            & (pl.col("niveau") == level)
            & (pl.col("code_territoire") == code)
            & (pl.col("tranche_age") == band)
            & (pl.col("type_menage") == kind)
        )
        assert rows.height == 1, key
        row = rows.row(0, named=True)
        return ("rate" if column == "taux" else "count"), row[column], row["secret"]
    if parts[0] == "c":
        indicator, period, level, code, column = parts[1:]
        rows = db["connus"].filter(
            (pl.col("indicateur") == indicator)
            & (pl.col("periode") == period)
            & (pl.col("niveau") == level)
            & (pl.col("code_territoire") == code)
        )
        assert rows.height == 1, key
        row = rows.row(0, named=True)
        return ("rate" if column == "part_connus" else "count"), row[column], row["secret"]
    if parts[0] == "q":
        period, convention, measure = parts[1:]
        rows = db["qualite"].filter(
            (pl.col("periode") == period)
            & (pl.col("convention") == convention)
            & (pl.col("mesure") == measure)
        )
        assert rows.height == 1, key
        return "count", rows["valeur"][0], False
    if parts[0] == "l":
        period, convention = parts[1:]
        measures = dict(
            db["qualite"]
            .filter((pl.col("periode") == period) & (pl.col("convention") == convention))
            .select("mesure", "valeur")
            .iter_rows()
        )
        linked = measures["liees_nir"] + measures["liees_traits"]
        return "rate", linked / (linked + measures["non_liees"]), False
    if parts[0] == "x":
        code, column = parts[1:]
        return "percent", insee[(code, column)], False
    raise AssertionError(f"clé inconnue {key}")


def test_every_indicator_has_its_section(dom, db):
    published = sorted(db["indicateurs"].filter(pl.col("periode") == PERIOD)["indicateur"].unique())
    assert len(published) == 6
    assert sorted(s["attrs"]["data-indicateur"] for s in dom.sections) == published
    labels = dict(db["catalogue"].select("indicateur", "libelle").iter_rows())
    for section in dom.sections:
        assert section["h2"] == labels[section["attrs"]["data-indicateur"]]
        for words in ("Cartes", "Par EPCI", "Déjà connus des services sociaux", "Évolution"):
            assert words in section["text"]
        assert "Contexte territorial" in section["text"]
        assert (
            "Filosofi 2019" in section["text"]
            and "recensement de la population 2018" in (section["text"])
        )


def test_every_map_draws_every_commune_and_every_epci(dom, db):
    territories = db["territoires"]
    communes = set(territories.filter(pl.col("niveau") == "commune")["code_territoire"])
    epcis = set(territories.filter(pl.col("niveau") == "epci")["code_territoire"])
    assert (len(communes), len(epcis)) == (586, 18)
    maps: dict[tuple[str, str], list[dict]] = {}
    for path in dom.paths:
        svg = path["svg"]["attrs"]
        maps.setdefault((svg["data-indicateur"], svg["data-niveau"]), []).append(path)
    assert len(maps) == 12
    for (indicator, level), paths in maps.items():
        codes = [p["attrs"]["data-code"] for p in paths]
        assert len(codes) == (586 if level == "commune" else 18), (indicator, level)
        assert set(codes) == (communes if level == "commune" else epcis)
        assert all(p["attrs"]["d"].startswith("M") and p.get("title") for p in paths)


def test_no_request_leaves_the_page(rendered, report):
    assert rendered.requests == []
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"https?:", html)
    assert "<script" not in html and "@import" not in html
    assert re.findall(r"url\(([^)]*)\)", html) == ["#hachures-secret"]
    assert set(re.findall(r'(?:src|href)="([^"#][^"]*)"', html)) == set()
    assert rendered.screenshot is not None and rendered.screenshot.read_bytes()[:4] == b"\x89PNG"


def test_every_number_is_the_published_one(dom, db):
    insee = insee_context()
    assert len(dom.keyed) > 5_000
    kinds = set()
    for element in dom.keyed:
        key, text = element["attrs"]["data-k"], element["text"].strip()
        kind, value, secret = expected_value(db, key, insee)
        kinds.add(key[0])
        if secret:
            assert text == "s", key
        elif kind == "count":
            check_count(text, value, key)
        elif kind == "rate":
            check_rate(text, value, key)
        else:
            expected = (
                "–"
                if value is None
                else str(
                    Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
                ).replace(".", ",")
                + NNBSP
                + "%"
            )
            assert text == expected, key
    assert kinds == {"i", "c", "q", "l", "x"}
    numbers = [c for c in dom.cells if NUMBER.match(c["text"].strip())]
    assert len(numbers) > 5_000
    unkeyed = [c["text"] for c in numbers if "data-k" not in c["attrs"]]
    assert unkeyed == []


def map_rows(db, level: str) -> dict[tuple[str, str], dict]:
    rows = db["indicateurs"].filter(
        (pl.col("periode") == PERIOD)
        & (pl.col("niveau") == level)
        & (pl.col("tranche_age") == "ensemble")
        & (pl.col("type_menage") == "ensemble")
    )
    return {(r["indicateur"], r["code_territoire"]): r for r in rows.iter_rows(named=True)}


TITLE = re.compile(
    r"^(?P<nom>.+) : (?P<taux>[\d,]+\u202f%) \((?P<nr>[\d\u202f]+) en non-recours présumé "
    r"sur (?P<pop>[\d\u202f]+)\)$"
)


def test_map_colours_and_titles_follow_the_published_rows(dom, db):
    rows = {**map_rows(db, "commune"), **map_rows(db, "epci")}
    classes = set()
    for path in dom.paths:
        indicator = path["svg"]["attrs"]["data-indicateur"]
        row = rows[(indicator, path["attrs"]["data-code"])]
        css, title = path["attrs"]["class"], path["title"]
        classes.add(css)
        if row["secret"]:
            assert css == "secret" and title.endswith(" : secret statistique")
        elif row["taux"] is None:
            assert css == "vide" and title.endswith(" : aucune population concernée")
        else:
            assert re.fullmatch(r"c[0-4]", css)
            match = TITLE.match(title)
            assert match, title
            assert match["taux"] == rounded_rate(row["taux"])
            assert int(match["nr"].replace(NNBSP, "")) == row["non_recours"]
            assert int(match["pop"].replace(NNBSP, "")) == row["population"]
    assert {"secret", "vide", "c0", "c4"} <= classes


def test_no_secret_value_is_readable_anywhere(dom, db, report):
    """A secret row: `s` in every table cell, hatched and "secret statistique" on the maps,
    no digit in its tooltip, no class that depends on a value."""
    secret_keys = {
        key
        for key in (element["attrs"]["data-k"] for element in dom.keyed)
        if key[0] in "ic" and expected_value(db, key, {})[2]
    }
    assert len(secret_keys) > 500
    for element in dom.keyed:
        if element["attrs"]["data-k"] in secret_keys:
            assert element["text"] == "s"
            assert "style" not in element["attrs"]
    secret_paths = [p for p in dom.paths if p["attrs"]["class"] == "secret"]
    assert len(secret_paths) > 100
    for path in secret_paths:
        assert not re.search(r"\d", path["title"]), path["title"]
        assert set(path["attrs"]) == {"class", "data-code", "d"}
    html = report.read_text(encoding="utf-8")
    assert "secret statistique" in html
    # colour classes only on map shapes and legend swatches; a bar only for a published share
    assert set(re.findall(r'<(\w+) class="c\d"', html)) == {"path", "rect"}
    shown = db["connus"].filter(
        (pl.col("periode") == PERIOD) & ~pl.col("secret") & pl.col("part_connus").is_not_null()
    )
    assert html.count('class="barre"') == shown.height > 0


def test_report_is_french(rendered, report):
    html = report.read_text(encoding="utf-8")
    assert html.startswith('<!DOCTYPE html><html lang="fr">')
    for words in (
        "Non-recours présumé aux droits sociaux en Haute-Garonne",
        "Situation à la fin de octobre 2026",
        "Des présomptions, pas des preuves",
        "secret statistique",
        "Qualité des données",
        "Taux de liaison",
        "Lignes écartées, par motif",
        "moins de ",
        " ou plus",
    ):
        assert words in html, words
    assert re.search(r">\d{1,3}\u202f\d{3}<", html)  # thousands with a narrow space
    assert re.search(r">\d{1,3},\d\u202f%<", html)


def test_evolution_shows_every_published_period(dom):
    for section in dom.sections:
        assert "septembre 2026" in section["text"] and "octobre 2026" in section["text"]


def test_single_period_and_earlier_period(published, tmp_path):
    earlier = build_report(published, "2026-09")
    assert earlier.name == "rapport_2026-09.html"
    assert "Situation à la fin de septembre 2026" in earlier.read_text(encoding="utf-8")
    alone = sample_publication(tmp_path / "seule", periods=("2026-10",), size=800)
    text = build_report(alone).read_text(encoding="utf-8")
    assert text.count("Une seule période publiée") == 6


def test_errors_name_what_is_missing(published, tmp_path):
    with pytest.raises(ReportError, match="aucune publication"):
        build_report(tmp_path / "vide")
    with pytest.raises(ReportError) as caught:
        build_report(published, "2025-01")
    assert str(caught.value) == (
        f"la période 2025-01 n'est pas publiée dans {published} "
        "(périodes publiées : 2026-09, 2026-10)"
    )
