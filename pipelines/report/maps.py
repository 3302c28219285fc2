"""Choropleth maps as inline SVG, drawn from the boundaries shipped in ``recours/data/``.

No tile server, no JavaScript library: the report must open from a file on a closed machine.
Coordinates are WGS84; over a département (two degrees) an equirectangular projection scaled
by the cosine of the mean latitude keeps shapes true to within a percent, which is all a
choropleth needs. Nothing is simplified: every one of the 586 communes, 150 observation zones
and 18 EPCIs keeps its own path, only the coordinates are rounded to a tenth of a pixel
(relative moves, repeated points dropped), and a shape never loses its path.

A zoom (the communes of one EPCI, Toulouse Métropole's being too small to see on the
département's map) is the same map of fewer shapes with its own projection, fitted on them.

Colour follows the published rate only. A secret territory gets the hatch class and a title
that says "secret statistique", never a class or a title derived from a value; a territory
where nobody is in the target population is grey ("aucune population concernée").

Maps and legends are data here (path data, classes, titles, positions); the template
``rapport_analystes.html.j2`` writes the SVG, escaped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from typing import cast

import numpy as np
import polars as pl

from pipelines.report import cells
from recours import french
from recours.reference import DATA

WIDTH = 560.0  # viewBox width; the height follows the shape of what is drawn
MARGIN = 4.0
CLASSES = 5
# Sequential, colour-blind safe (ColorBrewer OrRd, 5 classes), light = low rate.
PALETTE = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")
HATCH_ID = "hachures-secret"
# level → (file, code property, name property), all under recours/data/.
SOURCES = {
    "commune": ("communes_31.geojson", "code", "nom"),
    "zone": ("zonage_31.geojson", "code", "nom"),
    "epci": ("epci_31.geojson", "epci_siren", "epci_nom"),
}
TOULOUSE_METROPOLE = "243100518"  # EPCI SIREN: half the population on 4 % of the area
# The scale of the legend (viewBox units): one box per class.
SCALE_X, SCALE_WIDTH, SCALE_Y, SCALE_HEIGHT = 70.0, 400.0, 22.0, 14.0


@dataclass(frozen=True)
class Projection:
    """Equirectangular, fitted on an extent: lon/lat → viewBox pixels."""

    lon0: float
    lat_top: float
    x_scale: float
    per_degree: float
    height: float


@dataclass(frozen=True)
class Shapes:
    """Projected outlines of one level: code → (name, SVG path data)."""

    level: str
    codes: tuple[str, ...]
    names: tuple[str, ...]
    paths: tuple[str, ...]
    width: float
    height: float


def _rings(geometry: dict) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return geometry["coordinates"]
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    raise ValueError(f"géométrie inattendue : {geometry['type']}")


@cache
def _features(level: str) -> tuple[dict, ...]:
    name, code_key, _ = SOURCES[level]
    features = json.loads((DATA / name).read_text(encoding="utf-8"))["features"]
    return tuple(sorted(features, key=lambda feature: str(feature["properties"][code_key])))


def _fit(features: tuple[dict, ...] | list[dict]) -> Projection:
    """The projection that fills ``WIDTH`` with the features' extent."""
    points = np.array(
        [point for feature in features for ring in _rings(feature["geometry"]) for point in ring]
    )
    lon_min, lat_min = points.min(axis=0)
    lon_max, lat_max = points.max(axis=0)
    x_scale = math.cos(math.radians((lat_min + lat_max) / 2))
    per_degree = (WIDTH - 2 * MARGIN) / ((lon_max - lon_min) * x_scale)
    height = (lat_max - lat_min) * per_degree + 2 * MARGIN
    return Projection(lon_min, lat_max, x_scale, per_degree, height)


@cache
def _projection() -> Projection:
    """The département's projection, fitted on the communes: every level's map superposes."""
    return _fit(_features("commune"))


def _path(rings: list[list[list[float]]], projection: Projection) -> str:
    """SVG path data: absolute start of each ring, then relative moves in tenths of a pixel."""
    parts = []
    for ring in rings:
        points = np.asarray(ring, dtype=float)
        x = (points[:, 0] - projection.lon0) * projection.x_scale * projection.per_degree + MARGIN
        y = (projection.lat_top - points[:, 1]) * projection.per_degree + MARGIN
        tenths = np.rint(np.column_stack([x, y]) * 10).astype(np.int64)
        keep = np.ones(len(tenths), dtype=bool)
        keep[1:] = np.any(tenths[1:] != tenths[:-1], axis=1)
        tenths = tenths[keep]
        if len(tenths) < 3:  # a sliver smaller than the rounding: keep it visible anyway
            tenths = np.rint(np.column_stack([x, y]) * 10).astype(np.int64)[:3]
        steps = np.diff(tenths, axis=0)
        start = f"M{tenths[0, 0] / 10:g} {tenths[0, 1] / 10:g}"
        moves = " ".join(f"{dx / 10:g} {dy / 10:g}" for dx, dy in steps.tolist())
        parts.append(f"{start}l{moves}z")
    return "".join(parts)


@cache
def shapes(level: str, epci: str | None = None) -> Shapes:
    """The projected communes, zones or EPCIs of Haute-Garonne; with ``epci``, only that EPCI's
    communes or zones, projected on their own extent (a zoom)."""
    _, code_key, name_key = SOURCES[level]
    features = _features(level)
    if epci is not None:
        features = tuple(f for f in features if str(f["properties"]["epci_siren"]) == epci)
        if not features:
            raise ValueError(f"aucun territoire de niveau {level} dans l'EPCI {epci}")
    projection = _projection() if epci is None else _fit(features)
    return Shapes(
        level=level,
        codes=tuple(str(f["properties"][code_key]) for f in features),
        names=tuple(str(f["properties"][name_key]) for f in features),
        paths=tuple(_path(_rings(f["geometry"]), projection) for f in features),
        width=WIDTH,
        height=round(projection.height, 1),
    )


def class_breaks(rates: pl.Series, classes: int = CLASSES) -> list[float]:
    """Inner class limits: quantiles of the published (non-secret) rates, rounded to a tenth
    of a point so that the legend says exactly where each class starts."""
    values = rates.drop_nulls()
    if values.is_empty():
        return []
    quantiles = [values.quantile(step / classes, "linear") for step in range(1, classes)]
    rounded = sorted({round(float(q), 3) for q in quantiles if q is not None})
    low, high = _span(values)
    return [limit for limit in rounded if low < limit <= high]


def _span(values: pl.Series) -> tuple[float, float]:
    """Lowest and highest of rates already checked non-empty and without nulls."""
    # polars types min/max as any Python literal; non-empty numeric rates give numbers
    return float(cast(float, values.min())), float(cast(float, values.max()))


def class_of(rate: float, breaks: list[float]) -> str:
    """The colour class of one published rate (the maps' rule, for the legend's marker)."""
    return f"c{int(np.searchsorted(np.asarray(breaks, dtype=float), rate, 'right'))}"


def classes(frame: pl.DataFrame, breaks: list[float]) -> pl.Series:
    """The CSS class of each row: ``secret``, ``vide`` (no rate), or ``c0``… by rate."""
    index = np.searchsorted(np.asarray(breaks, dtype=float), frame["taux"].fill_null(0.0), "right")
    by_rate = pl.Series("classe", [f"c{i}" for i in index.tolist()], dtype=pl.String)
    return (
        frame.select(
            pl.when(pl.col("secret"))
            .then(pl.lit("secret"))
            .when(pl.col("taux").is_null())
            .then(pl.lit("vide"))
            .otherwise(by_rate)
        )
        .to_series()
        .alias("classe")
    )


def hover_title(name: str, row: dict) -> str:
    """What hovering a territory shows: its name and its published figures, or the secret."""
    if row.get("secret"):
        return f"{name} : secret statistique"
    if row.get("taux") is None:
        return f"{name} : aucune population concernée"
    return (
        f"{name} : {french.rate(row['taux'])} "
        f"({french.integer(row['non_recours'])} en non-recours présumé "
        f"sur {french.integer(row['population'])})"
    )


@dataclass(frozen=True, slots=True)
class Area:
    """One territory on a map: its colour class, its code, its path, what hovering shows."""

    classe: str
    code: str
    d: str
    title: str


@dataclass(frozen=True, slots=True)
class Map:
    """One choropleth, as the template draws it."""

    level: str
    css: str
    emprise: str | None
    indicator: str
    view_box: str
    caption: str
    areas: list[Area]


@dataclass(frozen=True, slots=True)
class Legend:
    """The classes' scale (None when no rate is published) and the legend's items
    (class, label), the secret and empty cases last."""

    scale: dict | None
    items: list[tuple[str, str]]


def choropleth(
    level: str,
    rows: pl.DataFrame,
    breaks: list[float],
    indicator: str,
    caption: str,
    epci: str | None = None,
) -> Map:
    """One map: a path per territory of ``level`` (of ``epci`` only, zoomed, when given),
    coloured by its row of ``rows``.

    ``rows`` has ``code_territoire``, ``population``, ``non_recours``, ``taux``, ``secret``
    (one row per territory, as published). A territory without a row (not published for the
    period) is drawn blank with a title that says so.
    """
    outline = shapes(level, epci)
    geometry = pl.DataFrame(
        {"code_territoire": outline.codes, "nom": outline.names, "d": outline.paths}
    )
    joined = geometry.join(
        rows.select("code_territoire", "population", "non_recours", "taux", "secret"),
        on="code_territoire",
        how="left",
        maintain_order="left",
    )
    joined = joined.with_columns(
        pl.when(pl.col("secret").is_null())
        .then(pl.lit("absent"))
        .otherwise(classes(joined.with_columns(pl.col("secret").fill_null(False)), breaks))
        .alias("classe")
    )
    areas = [
        Area(
            row["classe"],
            row["code_territoire"],
            row["d"],
            f"{row['nom']} : non publié pour cette période"
            if row["classe"] == "absent"
            else hover_title(row["nom"], row),
        )
        for row in joined.iter_rows(named=True)
    ]
    return Map(
        level=level,
        css=f"carte carte-{level}" + (" carte-zoom" if epci else ""),
        emprise=epci,
        indicator=indicator,
        view_box=f"0 0 {outline.width:g} {outline.height:g}",
        caption=caption,
        areas=areas,
    )


def _scale(breaks: list[float], rates: pl.Series, department: dict | None) -> dict | None:
    """The classes as a graduated bar, their limits under it, and the département's rate
    marked where it falls (in its class, in proportion between the class's limits)."""
    values = rates.drop_nulls()
    if values.is_empty():
        return None
    low, high = _span(values)
    edges = [low, *breaks, high]
    count = len(breaks) + 1
    width = SCALE_WIDTH / count
    bottom = SCALE_Y + SCALE_HEIGHT
    boxes = [
        {
            "classe": f"c{index}",
            "x": f"{SCALE_X + index * width:g}",
            "y": f"{SCALE_Y:g}",
            "width": f"{width:g}",
            "height": f"{SCALE_HEIGHT:g}",
        }
        for index in range(count)
    ]
    graduations = [
        {
            "x": f"{SCALE_X + index * width:g}",
            "y1": f"{bottom:g}",
            "y2": f"{bottom + 4:g}",
            "text_y": f"{bottom + 15:g}",
            "label": french.rate(limit),
        }
        for index, limit in enumerate(edges)
    ]
    marker = None
    if department is not None and not department["secret"] and department["taux"] is not None:
        rate = float(department["taux"])
        css = class_of(rate, breaks)
        index = int(css[1:])
        low_edge, high_edge = edges[index], edges[index + 1]
        share = (rate - low_edge) / (high_edge - low_edge) if high_edge > low_edge else 0.5
        x = SCALE_X + (index + min(max(share, 0.0), 1.0)) * width
        anchor = (
            "start" if x < SCALE_X + 60 else "end" if x > SCALE_X + SCALE_WIDTH - 60 else ("middle")
        )
        marker = {
            "classe": css,
            "x": f"{x:.1f}",
            "y1": f"{SCALE_Y - 4:g}",
            "y2": f"{bottom + 2:g}",
            "text_y": f"{SCALE_Y - 7:g}",
            "anchor": anchor,
            "key": cells.indicator_key(department, "taux"),
            "rate": french.rate(rate),
        }
    return {
        "view_box": f"0 0 {SCALE_X * 2 + SCALE_WIDTH:g} {bottom + 20:g}",
        "boxes": boxes,
        "graduations": graduations,
        "marker": marker,
    }


def legend(breaks: list[float], rates: pl.Series, department: dict | None = None) -> Legend:
    """The classes as the maps colour them, the département's rate marked on their scale, and
    the secret, empty and unpublished cases.

    ``rates`` are the published rates the breaks were computed from (the scale runs from their
    minimum to their maximum); ``department`` the département's ``ensemble`` row.
    """
    limits = [french.rate(limit) for limit in breaks]
    if not limits:
        labels = ["taux publié"]
    else:
        labels = [f"moins de {limits[0]}"]
        labels += [
            f"de {low} à moins de {high}" for low, high in zip(limits[:-1], limits[1:], strict=True)
        ]
        labels.append(f"{limits[-1]} ou plus")
    items = [(f"c{index}", label) for index, label in enumerate(labels)]
    items.append(("secret", "secret statistique (chiffres retirés)"))
    items.append(("vide", "aucune population concernée"))
    return Legend(_scale(breaks, rates, department), items)


def palette_css() -> str:
    """The fills of the classes (the only place a colour is tied to a class)."""
    rules = [f"svg .c{index} {{ fill: {colour}; }}" for index, colour in enumerate(PALETTE)]
    rules += [
        f"svg .secret {{ fill: url(#{HATCH_ID}); }}",
        "svg .vide { fill: #e6e6e6; }",
        "svg .absent { fill: #ffffff; }",
    ]
    return "\n".join(rules)
