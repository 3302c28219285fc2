"""Building the observation zones from public data: populations and shared borders only.

Region growing inside each EPCI, deterministic: while a zone is below the floor and touches
another zone of its EPCI, merge it with its least populated neighbour (ties: the longest
shared border, then the smallest code). A town above the floor stays a zone of its own; small
communes gather around each other before they are absorbed by a town. Merging with the least
populated neighbour keeps zones close to the floor, hence as many zones as the floor allows.

Why not spopt's max-p regionalization: on this machine its heuristic took minutes per EPCI
and depends on random restarts, where this takes under a second for the département and gives
the same zoning every time it runs on the same data (a zoning must be stable from period to
period). The contiguity itself is what libpysal's rook weights compute, done with shapely
alone (libpysal would bring geopandas into the runtime only for this).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recours import french
from recours.reference import communes
from recours.zoning import (
    COLUMNS,
    COMMUNES_GEOJSON,
    ZONING_CSV,
    ZONING_DESCRIPTION,
    ZONING_GEOJSON,
    commune_adjacency,
    pieces,
    read_zoning,
)


def _sector(town: str) -> str:
    """« Secteur de Muret », « Secteur d'Aurignac »: the zone named after its largest commune."""
    elided = town[:1].upper() in "AEIOUYÉÈÊÂÎÔ"
    return f"Secteur d'{town}" if elided else f"Secteur de {town}"


@dataclass(frozen=True)
class ZoningFigures:
    """What the build prints, and what ``zonage_31.yaml`` records for the reviewer."""

    floor: int
    zones: int
    single_commune_zones: int
    below_floor: list[tuple[str, str, int]]  # code, name, population
    populations: list[int]

    def lines(self) -> list[str]:
        pops = sorted(self.populations)
        lines = [
            f"plancher : {french.integer(self.floor)} habitants",
            f"zones : {self.zones} (dont {self.single_commune_zones} d'une seule commune)",
            f"population par zone : min {french.integer(pops[0])}, médiane "
            f"{french.integer(int(statistics.median(pops)))}, max {french.integer(pops[-1])}",
            f"zones sous le plancher : {len(self.below_floor)}",
        ]
        lines += [
            f"  {code} {name} : {population} habitants (aucune voisine dans son EPCI)"
            for code, name, population in self.below_floor
        ]
        return lines


def _shared_lengths() -> dict[tuple[str, str], float]:
    import shapely
    from shapely.geometry import shape

    features = json.loads(COMMUNES_GEOJSON.read_text(encoding="utf-8"))["features"]
    outlines = {f["properties"]["code"]: shape(f["geometry"]).boundary for f in features}
    lengths = {}
    for code, others in commune_adjacency().items():
        for other in others:
            if code < other:
                length = shapely.length(outlines[code].intersection(outlines[other]))
                lengths[(code, other)] = lengths[(other, code)] = float(length)
    return lengths


def _grow(epci_communes: dict[str, int], floor: int, lengths: dict) -> list[set[str]]:
    """Zones of one EPCI: merge the smallest zone under the floor into its smallest neighbour."""
    adjacency = commune_adjacency()
    zones = {code: {code} for code in epci_communes}
    population = dict(epci_communes)

    def neighbours(zone: str) -> set[str]:
        touching = set().union(*(adjacency[code] for code in zones[zone]))
        return {owner for owner, members in zones.items() if owner != zone and members & touching}

    def border(zone: str, other: str) -> float:
        return sum(lengths.get((a, b), 0.0) for a in zones[zone] for b in zones[other])

    stuck: set[str] = set()
    while True:
        small = [z for z in zones if population[z] < floor and z not in stuck]
        if not small:
            return list(zones.values())
        zone = min(small, key=lambda z: (population[z], z))
        around = neighbours(zone)
        if not around:
            stuck.add(zone)
            continue
        other = min(around, key=lambda z: (population[z], -border(zone, z), z))
        keep, gone = min(zone, other), max(zone, other)
        zones[keep] |= zones.pop(gone)
        population[keep] = population[keep] + population.pop(gone)
        stuck.discard(gone)


def _split(zone: set[str], pops: dict[str, int], floor: int) -> tuple[set[str], set[str]] | None:
    """Two contiguous parts of ``zone``, each at or above the floor, as balanced as found.

    Each commune in turn seeds a part that grows by its least populated neighbour until it
    reaches the floor; the split is kept when the rest is of one piece and above the floor too.
    """
    adjacency = commune_adjacency()
    best: tuple[int, set[str]] | None = None
    for seed in sorted(zone):
        part, population = {seed}, pops[seed]
        while population < floor:
            around = set().union(*(adjacency[c] for c in part)) & zone - part
            if not around:
                break
            step = min(around, key=lambda c: (pops[c], c))
            part.add(step)
            population += pops[step]
        rest = zone - part
        rest_population = sum(pops[c] for c in rest)
        if population < floor or rest_population < floor or len(pieces(rest, adjacency)) != 1:
            continue
        gap = abs(rest_population - population)
        if best is None or gap < best[0]:
            best = (gap, part)
    return (best[1], zone - best[1]) if best else None


def _refine(zones: list[set[str]], pops: dict[str, int], floor: int) -> list[set[str]]:
    """Split every zone that holds two contiguous parts above the floor, until none does."""
    done, todo = [], sorted(zones, key=min)
    while todo:
        zone = todo.pop(0)
        halves = _split(zone, pops, floor) if len(zone) > 1 else None
        if halves is None:
            done.append(zone)
        else:
            todo += list(halves)
    return done


def build_zoning(floor: int) -> tuple[pl.DataFrame, ZoningFigures]:
    """commune → zone for the whole département (columns :data:`COLUMNS`), and its figures."""
    reference = communes()
    lengths = _shared_lengths()
    names = dict(zip(reference["code_insee"], reference["nom"], strict=True))
    pops = dict(zip(reference["code_insee"], reference["population_municipale_2023"], strict=True))
    by_epci: dict[str, dict[str, int]] = defaultdict(dict)
    for code, epci in zip(reference["code_insee"], reference["epci_siren"], strict=True):
        by_epci[epci][code] = int(pops[code])
    rows, zone_pops, below, singles, number = [], [], [], 0, 0
    adjacency = commune_adjacency()
    for epci in sorted(by_epci):
        grown = []
        for part in pieces(set(by_epci[epci]), adjacency):
            grown += _refine(
                _grow({code: by_epci[epci][code] for code in part}, floor, lengths), pops, floor
            )
        for members in sorted(grown, key=min):
            number += 1
            code = f"31Z{number:03d}"
            head = max(members, key=lambda c: (pops[c], c))
            name = names[head] if len(members) == 1 else _sector(names[head])
            population = sum(int(pops[c]) for c in members)
            zone_pops.append(population)
            singles += len(members) == 1
            if population < floor:
                below.append((code, name, population))
            rows += [(code, name, c, names[c], epci) for c in sorted(members)]
    frame = pl.DataFrame(rows, schema=list(COLUMNS), orient="row").sort("code_commune")
    return frame, ZoningFigures(floor, number, singles, below, zone_pops)


def zone_outlines(frame: pl.DataFrame) -> dict:
    """The GeoJSON of the zones: the union of their communes' outlines, 5 decimals."""
    import shapely
    from shapely.geometry import mapping, shape

    features = json.loads(COMMUNES_GEOJSON.read_text(encoding="utf-8"))["features"]
    outline = {f["properties"]["code"]: shape(f["geometry"]) for f in features}
    reference = communes()
    pops = dict(zip(reference["code_insee"], reference["population_municipale_2023"], strict=True))
    epci_names = dict(zip(reference["epci_siren"], reference["epci_nom"], strict=True))
    zones = []
    for code, name, epci, members in (
        frame.group_by("code_zone", "libelle_zone", "code_epci", maintain_order=True)
        .agg("code_commune")
        .sort("code_zone")
        .iter_rows()
    ):
        merged = shapely.set_precision(
            shapely.union_all([outline[c] for c in members]), grid_size=1e-5
        )
        zones.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code,
                    "nom": name,
                    "epci_siren": epci,
                    "epci_nom": epci_names[epci],
                    "population_municipale_2023": sum(int(pops[c]) for c in members),
                    "communes": len(members),
                },
                "geometry": mapping(merged),
            }
        )
    return {"type": "FeatureCollection", "features": zones}


def write_zoning(
    frame: pl.DataFrame, figures: ZoningFigures, version: str, folder: Path | None = None
) -> list[Path]:
    """Write the CSV, its outlines and its description; the CSV is checked by reading it back."""
    csv = folder / ZONING_CSV.name if folder else ZONING_CSV
    geojson = folder / ZONING_GEOJSON.name if folder else ZONING_GEOJSON
    description = folder / ZONING_DESCRIPTION.name if folder else ZONING_DESCRIPTION
    frame.write_csv(csv)
    read_zoning(csv)
    geojson.write_text(
        json.dumps(zone_outlines(frame), ensure_ascii=False, separators=(",", ":")) + "\n",
        encoding="utf-8",
    )
    fingerprint = hashlib.sha256(csv.read_bytes()).hexdigest()
    pops = sorted(figures.populations)
    description.write_text(
        "# Zones d'observation de la Haute-Garonne : description du zonage publié.\n"
        "# Écrit par « recours zonage construire » ; à relire avec zonage_31.csv.\n"
        f"version: '{version}'\n"
        f"plancher: {figures.floor}  # habitants (population municipale 2023)\n"
        "methode: >-\n"
        "  Croissance de régions dans chaque EPCI : tant qu'une zone est sous le plancher et\n"
        "  touche une autre zone de son EPCI, elle est réunie à sa voisine la moins peuplée ;\n"
        "  puis toute zone qui contient deux parties d'un seul tenant au-dessus du plancher est\n"
        "  coupée en deux. Populations et contours publics seulement, jamais de comptage.\n"
        "sources: [communes_31.csv (INSEE 2023, DGCL 2026), communes_31.geojson (IGN)]\n"
        f"zones: {figures.zones}\n"
        f"zones_d_une_commune: {figures.single_commune_zones}\n"
        f"zones_sous_le_plancher: {len(figures.below_floor)}\n"
        f"population_min: {pops[0]}\n"
        f"population_mediane: {int(statistics.median(pops))}\n"
        f"population_max: {pops[-1]}\n"
        f"empreinte_csv: {fingerprint}\n",
        encoding="utf-8",
    )
    return [csv, geojson, description]
