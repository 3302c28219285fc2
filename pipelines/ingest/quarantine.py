"""Quarantine: a refused delivery is moved aside intact, with a reason a person can act on."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from recours.errors import DeliveryRefused
from recours.home import REASON_TEXT, reason_file


def quarantine(path: Path, destination: Path, refusal: DeliveryRefused, sha256: str) -> Path:
    """Move ``path`` (and its ``.sha256`` sidecar) byte for byte; write ``.motif.txt/.json``."""
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / path.name
    if target.exists():  # a second refusal of the same name must not overwrite the first
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = destination / f"{stamp}_{path.name}"
    shutil.move(path, target)
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.exists():
        shutil.move(sidecar, target.with_name(target.name + ".sha256"))
    received = datetime.now(UTC).isoformat(timespec="seconds")
    target.with_name(target.name + REASON_TEXT).write_text(
        f"Livraison refusée le {received}\n"
        f"Fichier : {path.name}\n"
        f"Empreinte SHA-256 : {sha256}\n"
        f"Règle : {refusal.rule}\n"
        f"Motif : {refusal.message}\n\n"
        "Le fichier est conservé tel quel dans ce dossier. Une fois le problème réglé avec le\n"
        "partenaire, déposer la livraison corrigée dans landing/ : elle sera traitée au prochain\n"
        "passage. Ce fichier-ci sera supprimé selon la durée de conservation de la convention.\n",
        encoding="utf-8",
    )
    reason_file(target).write_text(
        json.dumps(
            {
                "fichier": path.name,
                "sha256": sha256,
                "regle": refusal.rule,
                "motif": refusal.message,
                "ligne": refusal.line,
                "colonne": refusal.column,
                "refusee_le": received,
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    return target
