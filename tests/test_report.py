"""The analysts' report, rendered in headless Chromium: complete, offline, faithful, and secret.

Every number the report prints carries the key of the published cell it shows; the test
recomputes each one from ``recours.duckdb`` (and the INSEE context from the shipped CSV) on its
own, so a figure that drifts, a secret that leaks into a table, a tooltip or a colour, or a
request to the network fails here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import struct
import zlib
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest
from browser import Rendered, chromium_path, render
from report_sample import WEAK_PERIOD, WEAK_SOURCE, sample_publication

from pipelines.report import ReportError, build_report, linkage, write_exports
from recours.reference import DATA

NNBSP = "\u202f"
COUNT = re.compile(r"^\d{1,3}(\u202f\d{3})*$")
RATE = re.compile(r"^(\d{1,3}),(\d)\u202f%$")
NUMBER = re.compile(r"^-?[\d\u202f]+(,\d+)?(\u202f%)?$|^s$")
VOID = {"meta", "link", "br", "img", "hr", "input", "source", "wbr", "col", "area", "base"}
TOULOUSE_METROPOLE = "243100518"
MINUS = "\u2212"


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
        self.svgs: list[dict] = []  # maps, in document order
        self.tables: list[dict] = []  # table.donnees, in document order
        self.marks: list[dict] = []  # linkage warnings
        self.metas: list[dict] = []
        self.scripts: list[dict] = []
        self.styles: list[dict] = []
        self.markers: list[dict] = []  # the département's rate on a legend

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": "", "parent": None, "children": []}
        if self.stack:
            element["parent"] = self.stack[-1]
        if tag in VOID:
            self._classify(element)
            return
        self.stack.append(element)

    def handle_endtag(self, tag):
        while self.stack:
            element = self.stack.pop()
            if self.stack:
                self.stack[-1]["text"] += element["text"]
                self.stack[-1]["children"].append(element)
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
        tag, css = element["tag"], attrs.get("class", "")
        if tag == "svg" and "data-niveau" in attrs:
            self.svgs.append(element)
        if tag == "table" and "donnees" in css:
            self.tables.append(element)
        if tag == "a" and css == "alerte-liaison":
            self.marks.append(element)
        if tag == "g" and css == "repere":
            self.markers.append(element)
        if tag == "meta":
            self.metas.append(element)
        if tag == "script":
            self.scripts.append(element)
        if tag == "style":
            self.styles.append(element)
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
    if parts[0] == "d":
        indicator, period, level, code, band, kind = parts[1:]
        _, rate, secret = expected_value(db, key_of("i", parts[1:], "taux"), insee)
        _, department, department_secret = expected_value(
            db, key_of("i", [indicator, period, "departement", "31", band, kind], "taux"), insee
        )
        if secret or department_secret or rate is None or department is None:
            return "points", None, secret
        return "points", (Decimal(repr(rate)) - Decimal(repr(department))) * 100, False
    if parts[0] == "u":
        indicator, period, level, measure = parts[1:]
        rows = db["indicateurs"].filter(
            (pl.col("indicateur") == indicator) & (pl.col("periode") == period)
        )
        level_rows = rows.filter(pl.col("niveau") == level)
        ensemble = level_rows.filter(
            (pl.col("tranche_age") == "ensemble") & (pl.col("type_menage") == "ensemble")
        )
        department = rows.filter(
            (pl.col("niveau") == "departement")
            & (pl.col("tranche_age") == "ensemble")
            & (pl.col("type_menage") == "ensemble")
        ).row(0, named=True)
        shown = ensemble.filter(~pl.col("secret"))
        value = {
            "territoires": ensemble.height,
            "avec_taux": shown.filter(pl.col("taux").is_not_null()).height,
            "lignes": level_rows.height,
            "lignes_retirees": level_rows.filter(pl.col("secret")).height,
            "part_population": shown["population"].sum() / department["population"],
        }[measure]
        return ("rate" if measure == "part_population" else "count"), value, False
    raise AssertionError(f"clé inconnue {key}")


def key_of(prefix: str, parts: list[str], column: str) -> str:
    return "|".join([prefix, *parts, column])


def points_text(value: Decimal | None) -> str:
    """A difference in points as the report must print it: signed, true minus, pt(s)."""
    if value is None:
        return "–"
    rounded = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    sign = "+" if rounded > 0 else MINUS if rounded < 0 else ""
    unit = "pts" if abs(rounded) >= 2 else "pt"
    return f"{sign}{abs(rounded)}".replace(".", ",") + NNBSP + unit


@pytest.mark.slow  # headless Chromium (the page is rendered once per module)
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


def geojson(name: str, code: str = "code", label: str = "nom") -> dict[str, dict]:
    features = json.loads((DATA / name).read_text(encoding="utf-8"))["features"]
    return {str(f["properties"][code]): f["properties"] for f in features}


def map_key(svg: dict) -> tuple[str, str, str | None]:
    attrs = svg["attrs"]
    return attrs["data-indicateur"], attrs["data-niveau"], attrs.get("data-emprise")


@pytest.mark.slow
def test_every_map_draws_every_territory_of_its_level(dom, db):
    territories = db["territoires"]
    level = {
        name: set(territories.filter(pl.col("niveau") == name)["code_territoire"])
        for name in ("commune", "zone", "epci")
    }
    metropole = set(
        territories.filter(
            (pl.col("niveau") == "commune") & (pl.col("code_epci") == TOULOUSE_METROPOLE)
        )["code_territoire"]
    )
    assert {name: len(codes) for name, codes in level.items()} == {
        "commune": 586,
        "zone": 150,
        "epci": 18,
    }
    assert len(metropole) == 37
    expected = {**level, "zoom": metropole}
    maps: dict[tuple[str, str, str | None], list[str]] = {}
    for path in dom.paths:
        maps.setdefault(map_key(path["svg"]), []).append(path["attrs"]["data-code"])
    assert len(maps) == 6 * 4
    for (indicator, name, emprise), codes in maps.items():
        wanted = expected["zoom" if emprise == TOULOUSE_METROPOLE else name]
        assert emprise in (None, TOULOUSE_METROPOLE), emprise
        assert len(codes) == len(wanted) and set(codes) == wanted, (indicator, name, emprise)
    assert all(p["attrs"]["d"].startswith("M") and p.get("title") for p in dom.paths)


@pytest.mark.slow
def test_the_zone_map_comes_first_and_names_every_zone(dom, db):
    zones = geojson("zonage_31.geojson")
    assert len(zones) == 150
    rows = map_rows(db, "zone")
    for section in dom.sections:
        indicator = section["attrs"]["data-indicateur"]
        svgs = [svg for svg in dom.svgs if svg["attrs"]["data-indicateur"] == indicator]
        assert [map_key(svg)[1:] for svg in svgs] == [
            ("zone", None),
            ("commune", None),
            ("commune", TOULOUSE_METROPOLE),
            ("epci", None),
        ]
        paths = [p for p in dom.paths if p["svg"] is svgs[0]]
        assert sorted(p["attrs"]["data-code"] for p in paths) == sorted(zones)
        shown = 0
        for path in paths:
            code, title = path["attrs"]["data-code"], path["title"]
            row = rows[(indicator, code)]
            name = zones[code]["nom"]
            if row["secret"]:
                assert title == f"{name} : secret statistique"
            elif row["taux"] is None:
                assert title == f"{name} : aucune population concernée"
            else:
                match = TITLE.match(title)
                assert match and match["nom"] == name, title
                assert match["taux"] == rounded_rate(row["taux"])
                shown += 1
        assert shown > 0, indicator


@pytest.mark.slow
def test_the_toulouse_zoom_holds_exactly_its_communes(dom, db):
    territories = db["territoires"]
    wanted = sorted(
        territories.filter(
            (pl.col("niveau") == "commune") & (pl.col("code_epci") == TOULOUSE_METROPOLE)
        )["code_territoire"]
    )
    zooms = [svg for svg in dom.svgs if svg["attrs"].get("data-emprise") == TOULOUSE_METROPOLE]
    assert len(zooms) == 6
    whole = next(svg for svg in dom.svgs if map_key(svg)[1:] == ("commune", None))
    for svg in zooms:
        codes = sorted(p["attrs"]["data-code"] for p in dom.paths if p["svg"] is svg)
        assert codes == wanted
        assert "carte-zoom" in svg["attrs"]["class"]
        assert svg["attrs"]["viewbox"] != whole["attrs"]["viewbox"]  # its own projection
        assert "Toulouse Métropole" in svg["attrs"]["aria-label"]


def legend_limits(marker: dict) -> list[float]:
    """The class limits a legend prints under its scale (min, inner limits, max), as rates."""
    scale = marker["parent"]
    texts = [c["text"] for c in scale["children"] if c["tag"] == "text"]
    return [float(t.replace(NNBSP + "%", "").replace(",", ".")) / 100 for t in texts]


@pytest.mark.slow
def test_the_legend_marks_the_department_rate(dom, db):
    departments = map_rows(db, "departement")
    assert len(dom.markers) == 6
    for marker in dom.markers:
        (tspan,) = [
            c for text in marker["children"] if text["tag"] == "text" for c in text["children"]
        ]
        key = tspan["attrs"]["data-k"]
        indicator = key.split("|")[1]
        row = departments[(indicator, "31")]
        assert key == f"i|{indicator}|{PERIOD}|departement|31|ensemble|ensemble|taux"
        assert marker["text"] == f"Haute-Garonne : {rounded_rate(row['taux'])}"
        limits = legend_limits(marker)
        inner = limits[1:-1]
        assert len(inner) == 4, limits
        expected_class = f"c{sum(1 for limit in inner if limit <= row['taux'])}"
        assert marker["attrs"]["data-classe"] == expected_class
        rect = next(
            c
            for c in marker["parent"]["children"]
            if c["tag"] == "rect" and c["attrs"]["class"] == expected_class
        )
        left, width = float(rect["attrs"]["x"]), float(rect["attrs"]["width"])
        assert left <= float(marker["attrs"]["data-x"]) <= left + width


@pytest.mark.slow
def test_no_request_leaves_the_page(rendered, report):
    assert rendered.requests == []
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"https?:", html)
    # no URL of any scheme, not even protocol-relative (the policy's base64 hashes may hold "//")
    assert "//" not in re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert "@import" not in html
    assert re.findall(r"url\(([^)]*)\)", html) == ["#hachures-secret"]
    assert re.findall(r"\ssrc=", html) == []
    links = set(re.findall(r'href="([^"#][^"]*)"', html))
    assert links and all(link.startswith(f"exports/{PERIOD}/") for link in links)
    assert rendered.screenshot is not None and rendered.screenshot.read_bytes()[:4] == b"\x89PNG"


def csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def test_the_policy_allows_only_the_page_own_style_and_script(report):
    html = report.read_text(encoding="utf-8")
    page = parse(html)
    policies = [
        m["attrs"]["content"]
        for m in page.metas
        if m["attrs"].get("http-equiv") == "Content-Security-Policy"
    ]
    assert len(policies) == 1
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in policies[0].split(";") if part.strip()
    )
    (script,) = page.scripts
    (style,) = page.styles
    assert directives == {
        "default-src": "'none'",
        "script-src": f"'{csp_hash(script['text'])}'",
        "style-src": f"'{csp_hash(style['text'])}'",
        "img-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
    }
    assert html.index("Content-Security-Policy") < html.index("<style>") < html.index("<script>")
    assert " style=" not in html
    assert re.search(r"<\w+[^>]*\son[a-z]+=", html) is None  # no inline event handler
    assert len(script["text"]) < 1_500  # a small script


def png_pixel(path: Path, x: int, y: int) -> tuple[int, int, int]:
    """One pixel of an 8-bit RGB(A) PNG, decoded here (no image library in the project)."""
    data = path.read_bytes()
    position, chunks = 8, {"IDAT": b""}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8].decode("ascii")
        body = data[position + 8 : position + 8 + length]
        chunks["IDAT" if kind == "IDAT" else kind] = (
            chunks["IDAT"] + body if kind == "IDAT" else body
        )
        position += 12 + length
    width, _, depth, colour = struct.unpack(">IIBB", chunks["IHDR"][:10])
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(chunks["IDAT"])
    previous = bytearray(stride)
    for row in range(y + 1):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                best = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + best) & 0xFF
        previous = line
    return tuple(previous[x * channels : x * channels + 3])


@pytest.mark.slow
def test_chromium_applies_the_style_and_runs_the_sorting_script(rendered, dom):
    """Under the policy, the browser still applies the stylesheet (the header's colour on the
    screenshot) and runs the script (it marks every sortable head); every map is in the DOM
    after load with its paths."""
    assert png_pixel(rendered.screenshot, 5, 5) == (0x1F, 0x5F, 0x8B)
    sortable = [t for t in dom.tables if "triable" in t["attrs"]["class"]]
    assert len(sortable) == 6 * 3  # zones, EPCIs, communes
    for table in sortable:
        (head,) = [c for c in table["children"] if c["tag"] == "thead"]
        (line,) = head["children"]
        assert all(
            "tri" in th["attrs"].get("class", "") and th["attrs"].get("tabindex") == "0"
            for th in line["children"]
        )
    assert len(dom.svgs) == 24
    assert all(any(p["svg"] is svg for p in dom.paths) for svg in dom.svgs)


@pytest.mark.slow
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
        elif kind == "points":
            assert text == points_text(value), key
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
    assert kinds == {"i", "c", "q", "l", "x", "d", "u"}
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


@pytest.mark.slow
def test_map_colours_and_titles_follow_the_published_rows(dom, db):
    rows = {level: map_rows(db, level) for level in ("commune", "zone", "epci")}
    classes = set()
    for path in dom.paths:
        indicator = path["svg"]["attrs"]["data-indicateur"]
        level = path["svg"]["attrs"]["data-niveau"]
        row = rows[level][(indicator, path["attrs"]["data-code"])]
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


def rate_cells(dom) -> list[dict]:
    """Every printed rate of ``indicateurs`` (a keyed element of a ``taux`` key, not secret),
    but the legends' marks of the département (the maps' warning is a line under them)."""
    return [
        e
        for e in dom.keyed
        if e["tag"] != "tspan"
        and e["attrs"]["data-k"].startswith("i|")
        and e["attrs"]["data-k"].endswith("|taux")
        and e["text"].strip() not in ("s", "–")
    ]


def warned(element: dict) -> bool:
    """A linkage mark right after the rate: the next element of its parent."""
    siblings = element["parent"]["children"]
    following = siblings[siblings.index(element) + 1 :]
    return bool(following) and following[0]["attrs"].get("class") == "alerte-liaison"


@pytest.mark.slow
def test_a_low_link_rate_warns_beside_its_indicator_rates_only(dom, db, report):
    """carsatmp is linked at 60 % in the last period only (tests/report_sample.py): every rate
    of aspa (carsatmp × caf31) for that period carries the mark, and nothing else does; its
    earlier period, with a good linkage, does not."""
    measures = dict(
        db["qualite"]
        .filter((pl.col("periode") == WEAK_PERIOD) & (pl.col("convention") == WEAK_SOURCE))
        .select("mesure", "valeur")
        .iter_rows()
    )
    linked = measures["liees_nir"] + measures["liees_traits"]
    assert linked / (linked + measures["non_liees"]) < linkage.LOW_LINKAGE
    rates = rate_cells(dom)
    expected = [e for e in rates if e["attrs"]["data-k"].startswith(f"i|aspa|{WEAK_PERIOD}|")]
    # headline, summary, breakdowns, zones, EPCIs, communes, context, evolution
    assert len(expected) >= 90
    assert [e for e in rates if warned(e)] == expected
    assert len(dom.marks) == len(expected)  # no mark anywhere else
    assert {m["attrs"]["href"] for m in dom.marks} == {"#liaison-aspa"}
    assert all("60,0" in m["attrs"]["title"] for m in dom.marks)
    html = report.read_text(encoding="utf-8")
    assert re.findall(r'id="(liaison-[a-z_]+)"', html) == ["liaison-aspa"]
    note = re.search(r'<p class="alerte" id="liaison-aspa">(.*?)</p>', html)[1]
    assert "carsatmp : 60,0" in note and "90,0" in note and "surestimés" in note
    assert html.count('class="alerte-carte"') == 1  # under aspa's maps


def test_only_indicators_that_cross_sources_are_flagged():
    catalogue = pl.DataFrame(
        {
            "indicateur": ["rsa", "css_rsa", "aspa"],
            "sources": ["caf31", "caf31, cpam31", "carsatmp, caf31"],
        }
    )
    rows = []
    for convention, (linked, unlinked) in {
        "caf31": (80, 20),
        "cpam31": (95, 5),
        "carsatmp": (91, 9),
    }.items():
        rows += [
            {"periode": "2026-10", "convention": convention, "mesure": m, "valeur": v}
            for m, v in (("liees_nir", linked), ("liees_traits", 0), ("non_liees", unlinked))
        ]
    weak = linkage.weak_sources(catalogue, pl.DataFrame(rows))
    assert weak == {
        ("css_rsa", "2026-10"): (linkage.WeakSource("caf31", 0.8),),
        ("aspa", "2026-10"): (linkage.WeakSource("caf31", 0.8),),
    }
    exactly = pl.DataFrame(
        [
            {"periode": "2026-10", "convention": "caf31", "mesure": m, "valeur": v}
            for m, v in (("liees_nir", 90), ("liees_traits", 0), ("non_liees", 10))
        ]
    )
    assert linkage.weak_sources(catalogue, exactly) == {}  # 90 % is not under 90 %


def table_rows(table: dict) -> list[dict]:
    (body,) = [c for c in table["children"] if c["tag"] == "tbody"]
    return body["children"]


def cell_texts(row: dict) -> list[str]:
    return [c["text"].strip() for c in row["children"]]


@pytest.mark.slow
def test_zone_and_commune_tables_are_ordered_by_rate_secret_last(dom, db):
    """Before any click (the DOM right after load): published rates from the highest, then
    the territories nobody is concerned by, then the secret ones; each with its difference to
    the département and, for zones, its EPCI."""
    epci_names = dict(
        db["territoires"]
        .filter(pl.col("niveau") == "epci")
        .select("code_territoire", "libelle_territoire")
        .iter_rows()
    )
    zone_epci = dict(
        db["territoires"]
        .filter(pl.col("niveau") == "zone")
        .select("libelle_territoire", "code_epci")
        .iter_rows()
    )
    captions = {
        "Par zone d'observation": 150,
        "Par commune": 586,
        "Par EPCI (partie en Haute-Garonne)": 18,
    }
    seen = {caption: 0 for caption in captions}
    for table in dom.tables:
        caption = next(c["text"] for c in table["children"] if c["tag"] == "caption")
        if caption not in captions:
            continue
        seen[caption] += 1
        rows = table_rows(table)
        assert len(rows) == captions[caption]
        ranks, rates = [], []
        for row in rows:
            texts = cell_texts(row)
            rate, difference = texts[-2].rstrip(linkage.MARK), texts[-1]
            rank = 2 if rate == "s" else 1 if rate == "–" else 0
            ranks.append(rank)
            if rank == 0:
                rates.append(float(rate.replace(NNBSP + "%", "").replace(",", ".")))
                assert re.fullmatch(r"([+\u2212]\d+,\d\u202fpts?|0,0\u202fpt)", difference)
            else:
                assert difference == rate
            if caption == "Par zone d'observation":
                assert texts[1] == epci_names[zone_epci[texts[0]]]
        assert ranks == sorted(ranks), caption
        assert rates == sorted(rates, reverse=True), caption
        assert 2 in ranks or caption == "Par EPCI (partie en Haute-Garonne)"
    assert seen == {caption: 6 for caption in captions}


def test_download_links_point_to_the_period_exports(published, report):
    html = report.read_text(encoding="utf-8")
    links = re.findall(r'href="([^"#][^"]*)"', html)
    written = write_exports(published)
    folder = report.parent
    targets = {(folder / link).resolve() for link in links}
    assert targets <= {path.resolve() for path in written}
    assert all(target.is_file() for target in targets)
    for indicator in ("rsa", "aspa", "demandeurs_sans_revenu"):
        for level in ("departement", "epci", "zone", "commune"):
            for kind in ("csv", "parquet"):
                assert f'href="exports/{PERIOD}/{indicator}_{level}.{kind}"' in html
    assert f'href="exports/{PERIOD}/recours_{PERIOD}.xlsx"' in html


def test_a_publication_from_before_the_zones_still_reads(published, tmp_path):
    """A folder published before the zone level (no zone rows, no ``code_epci``, a commune's
    parent its EPCI): the report is written, the zone map drawn blank and said unpublished."""
    old = tmp_path / "ancienne"
    shutil.copytree(published, old)
    connection = duckdb.connect(str(old / "recours.duckdb"))
    try:
        connection.execute("DELETE FROM indicateurs WHERE niveau = 'zone'")
        connection.execute(
            "UPDATE territoires SET code_parent = code_epci WHERE niveau = 'commune'"
        )
        connection.execute("DELETE FROM territoires WHERE niveau = 'zone'")
        connection.execute("ALTER TABLE territoires DROP COLUMN code_epci")
    finally:
        connection.close()
    page = parse(build_report(old).read_text(encoding="utf-8"))
    zone_paths = [p for p in page.paths if p["svg"]["attrs"]["data-niveau"] == "zone"]
    assert len(zone_paths) == 6 * 150
    assert all(p["title"].endswith(" : non publié pour cette période") for p in zone_paths)
    assert all(p["attrs"]["class"] == "absent" for p in zone_paths)
    zooms = [p for p in page.paths if p["svg"]["attrs"].get("data-emprise")]
    assert len(zooms) == 6 * 37
    assert "Pas de zones d'observation publiées pour cette période." in "".join(
        s["text"] for s in page.sections
    )
