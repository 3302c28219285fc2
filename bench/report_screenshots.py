"""Screenshots of the analysts' report's maps for the documentation (docs/images/).

    .venv/bin/python bench/report_screenshots.py --home var/demo [--indicateur css_bas_revenus]

Builds the report of the home's latest period (``published/rapport_<période>.html``, as
``recours rapport`` does), cuts out of it, for one indicator, the zone map with its legend, the
commune map and the zoom on Toulouse Métropole, and renders each in headless Chromium
(``tests/browser.py``) with the report's own stylesheet: the images show exactly what the
report shows. The indicator by default is the one whose zone map has the most zones with a
published rate. Writes ``docs/images/carte_zones.png``, ``carte_communes.png`` and
``carte_toulouse.png`` (or under ``--sortie``).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the headless-browser driver lives with the tests

from browser import render  # noqa: E402

from pipelines.report import build_report  # noqa: E402
from pipelines.report.maps import TOULOUSE_METROPOLE  # noqa: E402

WIDTH = 760  # pixels of the screenshot; the map fills it less a margin


def best_indicator(published: Path, period: str) -> str:
    """The indicator with the most zones showing a rate in ``period``."""
    connection = duckdb.connect(str(published / "recours.duckdb"), read_only=True)
    try:
        row = connection.execute(
            "SELECT indicateur FROM indicateurs WHERE niveau = 'zone' AND periode = ? "
            "AND NOT secret AND taux IS NOT NULL GROUP BY indicateur "
            "ORDER BY count(*) DESC, indicateur LIMIT 1",
            [period],
        ).fetchone()
    finally:
        connection.close()
    if row is None:
        raise SystemExit(f"aucune zone publiée dans {published} pour {period}")
    return row[0]


def pieces(html: str, indicator: str) -> dict[str, str]:
    """The indicator's zone map, legend, commune map and Toulouse zoom, as the report has them."""
    start = html.index(f'<section class="indicateur" id="ind-{indicator}"')
    section = html[start : html.index("</section>", start)]
    figures = re.findall(r'<figure class="carte">.*?</figure>', section, re.S)
    legend = re.search(r'<div class="legende">.*?</ul></div>', section, re.S)[0]

    def figure(marker: str) -> str:
        return next(f for f in figures if marker in f)

    return {
        "carte_zones": figure('data-niveau="zone"') + legend,
        "carte_communes": next(
            f for f in figures if 'data-niveau="commune"' in f and "data-emprise" not in f
        )
        + legend,
        "carte_toulouse": figure(f'data-emprise="{TOULOUSE_METROPOLE}"') + legend,
    }


def page(html: str, body: str) -> tuple[str, int]:
    """A page of one map with the report's style and hatch pattern; its height in pixels."""
    style = re.search(r"<style>(.*?)</style>", html, re.S)[1]
    definitions = re.search(r'<svg class="definitions".*?</svg>', html, re.S)[0]
    width, height = (float(x) for x in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', body).groups())
    inner = WIDTH - 40
    pixels = int(inner * height / width) + 240  # caption and legend under the map
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<style>{style}\n.capture {{ width: {inner}px; margin: 20px; }}"
        "\nbody { background: #ffffff; }</style></head><body>"
        f'{definitions}<div class="capture">{body}</div></body></html>',
        pixels,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--indicateur")
    parser.add_argument("--sortie", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    published = args.home / "published"
    report = build_report(published)
    period = report.stem.removeprefix("rapport_")
    indicator = args.indicateur or best_indicator(published, period)
    html = report.read_text(encoding="utf-8")
    args.sortie.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="recours-captures-") as scratch:
        for name, body in pieces(html, indicator).items():
            text, height = page(html, body)
            source = Path(scratch) / f"{name}.html"
            source.write_text(text, encoding="utf-8")
            rendered = render(source, args.sortie / f"{name}.png", WIDTH, height)
            if rendered.requests:
                raise SystemExit(f"requêtes inattendues : {rendered.requests}")
            print(f"{args.sortie / f'{name}.png'} ({indicator}, {period})")


if __name__ == "__main__":
    main()
