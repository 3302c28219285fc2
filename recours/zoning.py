"""Observation zones: the published level between commune and EPCI, and the rules it must keep.

Most of the 586 communes of 31 have a few hundred inhabitants: with a threshold of 11, their
counts are mostly secret. A zone groups contiguous communes of one EPCI until it reaches a
population floor, so that its counts can be published. The zoning is public reference data,
built once from INSEE populations and the commune outlines (never from a partner's counts),
reviewed and versioned in ``data/zonage_31.csv`` (commune → zone) with its outlines
``data/zonage_31.geojson`` and its description ``data/zonage_31.yaml``.

The three rules a zoning must keep, checked whenever it is loaded (a publication made with a
broken zoning would publish sums an analyst cannot interpret, or let a zone straddle two EPCI
and break EPCI = Σ zones):

* every commune of the département in exactly one zone;
* every commune of a zone in the same EPCI;
* every zone of one piece (its communes connected by shared borders).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from recours.errors import RecoursError
from recours.reference import DATA, communes

ZONING_CSV = DATA / "zonage_31.csv"
ZONING_GEOJSON = DATA / "zonage_31.geojson"
ZONING_DESCRIPTION = DATA / "zonage_31.yaml"
COMMUNES_GEOJSON = DATA / "communes_31.geojson"
COLUMNS = ("code_zone", "libelle_zone", "code_commune", "libelle_commune", "code_epci")


class ZoningError(RecoursError):
    """A zoning file breaks one of the three rules; names the file, line, commune and rule."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        where = f"{path}, ligne {line}" if line is not None else str(path)
        super().__init__(
            f"zonage refusé — {where} : {message}. Rien n'est publié avec ce zonage : "
            "corrigez le fichier ou reconstruisez-le avec « recours zonage construire »."
        )
        self.path, self.line = path, line


@cache
def commune_adjacency() -> dict[str, frozenset[str]]:
    """Communes sharing a border (a line, not a single point), from the shipped outlines.

    The outlines were simplified with a topology-preserving tool, so two neighbours share
    their border's vertices exactly and the shared part has a length.
    """
    import shapely
    from shapely.geometry import shape

    features = json.loads(COMMUNES_GEOJSON.read_text(encoding="utf-8"))["features"]
    codes = [feature["properties"]["code"] for feature in features]
    shapes = [shape(feature["geometry"]) for feature in features]
    left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    neighbours: dict[str, set[str]] = {code: set() for code in codes}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i < j and shapes[i].boundary.intersection(shapes[j].boundary).length > 0:
            neighbours[codes[i]].add(codes[j])
            neighbours[codes[j]].add(codes[i])
    return {code: frozenset(found) for code, found in neighbours.items()}


def pieces(members: set[str], adjacency: dict[str, frozenset[str]]) -> list[set[str]]:
    """The connected parts of a set of communes, largest first, then by smallest code."""
    left, found = set(members), []
    while left:
        start = min(left)
        part, todo = {start}, [start]
        while todo:
            for other in adjacency.get(todo.pop(), frozenset()) & left:
                if other not in part:
                    part.add(other)
                    todo.append(other)
        left -= part
        found.append(part)
    return sorted(found, key=lambda part: (-len(part), min(part)))


def read_zoning(path: Path = ZONING_CSV) -> pl.DataFrame:
    """The zoning file, checked against the three rules; one row per commune, by INSEE code."""
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ZoningError(path, f"fichier illisible ({type(exc).__name__})") from None
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise ZoningError(path, f"colonnes manquantes : {', '.join(missing)}", 1)
    frame = frame.select(COLUMNS).with_row_index("ligne", offset=2)
    check_zoning(frame, path)
    return frame.drop("ligne").sort("code_commune")


def check_zoning(frame: pl.DataFrame, path: Path) -> None:
    """Raise :class:`ZoningError` on the first broken rule, in file order."""
    reference = communes().select("code_insee", "nom", "epci_siren", "epci_nom")
    known = {row["code_insee"]: row for row in reference.to_dicts()}
    seen: dict[str, int] = {}
    zone_epci: dict[str, tuple[str, str, int]] = {}
    zone_name: dict[str, tuple[str, int]] = {}
    members: dict[str, set[str]] = defaultdict(set)
    for row in frame.iter_rows(named=True):
        line, code, zone = row["ligne"], row["code_commune"], row["code_zone"]
        if not zone or not row["libelle_zone"]:
            raise ZoningError(
                path,
                f"commune {code} : zone sans code ou sans nom : chaque commune est dans une zone "
                "qui a un code et un nom",
                line,
            )
        if code not in known:
            raise ZoningError(
                path,
                f"commune {code} ({row['libelle_commune']}) inconnue du référentiel INSEE de la "
                "Haute-Garonne (communes_31.csv) : le zonage couvre les communes du département, "
                "chacune une fois",
                line,
            )
        name = known[code]["nom"]
        if code in seen:
            raise ZoningError(
                path,
                f"commune {code} ({name}) placée deux fois (déjà ligne {seen[code]}) : chaque "
                "commune est dans une seule zone",
                line,
            )
        seen[code] = line
        first_name, named_at = zone_name.setdefault(zone, (row["libelle_zone"], line))
        if first_name != row["libelle_zone"]:
            raise ZoningError(
                path,
                f"zone {zone} nommée « {row['libelle_zone']} » pour la commune {code} ({name}) "
                f"mais « {first_name} » ligne {named_at} : une zone porte un seul nom",
                line,
            )
        epci = known[code]["epci_siren"]
        if row["code_epci"] != epci:
            raise ZoningError(
                path,
                f"commune {code} ({name}) : code_epci {row['code_epci']} alors que son EPCI est "
                f"{epci} ({known[code]['epci_nom']}) dans communes_31.csv : code_epci est "
                "l'EPCI de la commune",
                line,
            )
        first = zone_epci.setdefault(zone, (epci, code, line))
        if first[0] != epci:
            raise ZoningError(
                path,
                f"commune {code} ({name}, EPCI {known[code]['epci_nom']}) placée dans la zone "
                f"{zone} dont la commune {first[1]} (ligne {first[2]}) est dans un autre EPCI : "
                "une zone reste dans un seul EPCI",
                line,
            )
        members[zone].add(code)
    absent = sorted(set(known) - set(seen))
    if absent:
        listed = ", ".join(f"{code} ({known[code]['nom']})" for code in absent[:5])
        more = f" et {len(absent) - 5} autres" if len(absent) > 5 else ""
        raise ZoningError(
            path,
            f"communes absentes du zonage : {listed}{more} : chaque commune du département est "
            "dans une zone",
        )
    adjacency = commune_adjacency()
    for zone, codes in members.items():
        parts = pieces(codes, adjacency)
        if len(parts) > 1:
            stray = min(parts[1])
            raise ZoningError(
                path,
                f"zone {zone} ({zone_name[zone][0]}) pas d'un seul tenant : la commune {stray} "
                f"({known[stray]['nom']}) ne touche pas le reste de la zone",
                seen[stray],
            )


@dataclass(frozen=True)
class Zoning:
    """The zoning in use: commune → zone, with the version a publication records."""

    frame: pl.DataFrame
    version: str
    floor: int
    fingerprint: str

    def label(self) -> str:
        zones = self.frame["code_zone"].n_unique()
        return (
            f"zonage_31 version {self.version} : {zones} zones d'observation, plancher "
            f"{self.floor} habitants (empreinte sha256 {self.fingerprint[:12]})"
        )


@cache
def zoning() -> Zoning:
    """The shipped zoning, checked; its version and floor come from ``zonage_31.yaml``."""
    from recours.yamlfile import load_yaml

    frame = read_zoning(ZONING_CSV)
    description = load_yaml(ZONING_DESCRIPTION)
    fingerprint = hashlib.sha256(ZONING_CSV.read_bytes()).hexdigest()
    if description.get("empreinte_csv") != fingerprint:
        raise ZoningError(
            ZONING_DESCRIPTION,
            "l'empreinte du zonage ne correspond pas au fichier zonage_31.csv : le fichier a "
            "changé sans que sa description (version, plancher) soit revue",
        )
    return Zoning(frame, str(description["version"]), int(description["plancher"]), fingerprint)
