"""The file modes the report finds in the home: who besides the service account can read what.

Pseudonymized data stay personal data, and the raw and quarantined files are nominative: on a
shared server, a world-readable Parquet file is a disclosure even if no one has used it yet. The
pipeline works under a private umask, but files copied by hand, restored from a backup or left
by an older version keep their modes, so the DPO report looks at what is on disk, not at what
the code intends. Individual-level zones must be private to the owner (0600 files, 0700
folders); the publication may be read by the analysts' group (0640, 0750), never by others.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The report lists at most this many entries; the count says how many there are in all.
LISTED = 20


@dataclass(frozen=True)
class Zone:
    name: str  # relative to the home; a trailing "*" matches siblings (DuckDB's .wal)
    label: str
    individual: bool
    # landing/: its folders keep their group's rights, so that the partners' transfer account
    # (the folder's group) can deposit; the files themselves are private like the others
    deposit: bool = False

    def forbidden_for(self, folder: bool) -> int:
        return 0o007 if folder and self.deposit else self.forbidden

    @property
    def shown(self) -> str:
        """The zone as the report names it: a folder with its slash."""
        return self.name if self.name.endswith("*") else f"{self.name}/"

    @property
    def forbidden(self) -> int:
        """Permission bits no entry of this zone may carry."""
        # published/: the analysts' group reads it (and crosses folders), nobody else does,
        # and no group member may change a published figure
        return 0o077 if self.individual else 0o027

    @property
    def expected(self) -> str:
        return "0600 / 0700" if self.individual else "0640 / 0750 au plus"

    @property
    def fix(self) -> str:
        """The command that repairs the zone, run from the home folder."""
        bits = "go-rwx" if self.individual else "g-w,o-rwx"
        if self.name.endswith("*"):
            return f"chmod {bits} {self.name}"
        return f"chmod -R {bits} {self.name}"


ZONES = (
    Zone("landing", "fichiers bruts nominatifs", True, deposit=True),
    Zone("quarantine", "livraisons refusées, nominatives", True),
    Zone("pseudonymized", "données pseudonymisées", True),
    Zone("warehouse.duckdb*", "entrepôt (niveau individuel)", True),
    Zone("audit", "journal d'audit et audit restreint", True),
    Zone("secrets", "clé de pseudonymisation", True),
    Zone("published", "publication (agrégats)", False),
)


def _entries(root: Path, zone: Zone) -> list[Path]:
    """The zone's own folder or files and everything under them, symbolic links left aside."""
    if zone.name.endswith("*"):
        tops = sorted(root.glob(zone.name))
    else:
        tops = [root / zone.name] if (root / zone.name).exists() else []
    found: list[Path] = []
    for top in tops:
        if top.is_symlink():
            continue
        found.append(top)
        if top.is_dir():
            for folder, dirs, files in os.walk(top, onerror=lambda _: None):
                dirs.sort()
                found += [Path(folder, name) for name in sorted(dirs) + sorted(files)]
    return found


def _who(mode: int) -> str:
    """The classes of users the mode opens the entry to, in French."""
    who = []
    for shift, name in ((3, "groupe"), (0, "autres")):
        bits = ((4, "lecture"), (2, "écriture"), (1, "accès"))
        rights = [word for bit, word in bits if mode >> shift & bit]
        if rights:
            who.append(f"{name} ({', '.join(rights)})")
    return " ; ".join(who)


def mode_facts(root: Path) -> dict[str, Any]:
    """Per zone: how many entries, how many too open; and the first LISTED too-open entries."""
    zones: list[dict[str, Any]] = []
    too_open: list[dict[str, Any]] = []
    for zone in ZONES:
        entries = _entries(root, zone)
        bad = 0
        for path in entries:
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISLNK(info.st_mode):
                continue
            mode = stat.S_IMODE(info.st_mode)
            if not mode & zone.forbidden_for(stat.S_ISDIR(info.st_mode)):
                continue
            bad += 1
            too_open.append(
                {
                    "chemin": path.relative_to(root).as_posix()
                    + ("/" if stat.S_ISDIR(info.st_mode) else ""),
                    "mode": f"{mode:04o}",
                    "droits": stat.filemode(info.st_mode),
                    "ouvert_a": _who(mode & zone.forbidden_for(stat.S_ISDIR(info.st_mode))),
                    "zone": zone.shown,
                }
            )
        zones.append(
            {
                "zone": zone.shown,
                "libelle": zone.label,
                "niveau_individuel": zone.individual,
                "attendu": zone.expected,
                "present": bool(entries),
                "elements": len(entries),
                "trop_ouverts": bad,
                "correction": zone.fix,
            }
        )
    return {
        "zones": zones,
        "trop_ouverts": too_open[:LISTED],
        "nombre_trop_ouverts": len(too_open),
        "limite_liste": LISTED,
    }


def mode_alerts(facts: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(red, orange): one alert per zone with entries too open, naming the ones listed."""
    red: list[str] = []
    orange: list[str] = []
    for zone in facts["zones"]:
        if not zone["trop_ouverts"]:
            continue
        listed = [
            f"{entry['chemin']} ({entry['mode']})"
            for entry in facts["trop_ouverts"]
            if entry["zone"] == zone["zone"]
        ]
        more = zone["trop_ouverts"] - len(listed)
        names = ", ".join(listed) + (f" et {more} autre(s)" if more else "")
        if not listed:
            names = f"{more} non listé(s) ici (limite de {facts['limite_liste']})"
        who = (
            "au groupe ou aux autres"
            if zone["niveau_individuel"]
            else "aux autres, ou au groupe en écriture"
        )
        text = (
            f"Droits trop ouverts dans {zone['zone']} ({zone['libelle']}, attendu "
            f"{zone['attendu']}) : {zone['trop_ouverts']} fichier(s) ou dossier(s) accessibles "
            f"{who} : {names} ; corriger depuis le dossier de travail : {zone['correction']}"
        )
        (red if zone["niveau_individuel"] else orange).append(text)
    return red, orange
