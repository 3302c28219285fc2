"""What the command line shows: progress on long work, and the per-delivery summary."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from recours import french

# Logs and CI are no terminal: give tables room rather than folding every word.
console = Console(width=None if sys.stdout.isatty() else 160)
STATUS_LABELS = {"acceptee": "acceptée", "refusee": "REFUSÉE", "deja_traitee": "déjà traitée"}


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def progress_callback(progress: Progress, label: str) -> Callable[[str, int, int], None]:
    task = progress.add_task(label, total=None)

    def update(stage: str, done: int, total: int) -> None:
        description = f"{label} — {stage}" if stage else label
        progress.update(task, description=description, completed=done, total=total)

    return update


def _rules(counts: dict[str, int]) -> str:
    return ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items())) or "—"


def delivery_table(summaries: Iterable[dict]) -> Table:
    """One line per delivery: rows read, kept, set aside by rule, columns dropped, PII withheld."""
    table = Table(title="Livraisons traitées", show_lines=True)
    for header in (
        "fichier",
        "statut",
        "lues",
        "gardées",
        "écartées (par règle)",
        "signalées",
        "doublons",
        "colonnes supprimées",
        "DP retenues",
    ):
        table.add_column(header, overflow="fold", no_wrap=header == "fichier")
    for s in summaries:
        withheld = ", ".join(
            f"{col} ({', '.join(f'{k} {n}' for k, n in kinds.items())})"
            for col, kinds in s.get("pii_withheld", {}).items()
        )
        dropped = list(s.get("dropped_columns", [])) + [
            f"{c} (non autorisée)" for c in s.get("unauthorized_columns", [])
        ]
        status = STATUS_LABELS.get(s["status"], s["status"])
        table.add_row(
            s["file"],
            status,
            french.integer(s.get("rows_read", 0)),
            french.integer(s.get("rows_kept", 0)),
            _rules(s.get("set_aside", {})),
            _rules(s.get("flagged", {})),
            str(s.get("duplicates", 0)),
            ", ".join(dropped) or "—",
            withheld or "—",
        )
    table.caption = "DP : données personnelles détectées par presidio (type et nombre de valeurs)"
    return table


def refusals(summaries: Iterable[dict]) -> list[str]:
    """One line per refused delivery, with the reason the data team acts on."""
    return [f"REFUSÉE — {s['reason']}" for s in summaries if s["status"] == "refusee"]


def crossing_table(summary: dict) -> Table:
    """Per indicator: computed or skipped (and why), and its rate for the whole département."""
    table = Table(title=f"Croisement et publication — période {summary['periode']}")
    for header in (
        "indicateur",
        "état",
        "taux de non-recours présumé (département)",
        "zones d'observation avec une valeur",
    ):
        table.add_column(header, overflow="fold")
    rates = summary.get("taux_departement", {})
    zones = summary.get("zones_avec_valeur", {})
    no_connus = summary.get("connus_ignores", {})
    for indicator in summary.get("indicateurs_calcules", []):
        state = "calculé"
        if indicator in no_connus:
            state += f" ; table connus non publiée : {no_connus[indicator]}"
        shown, total = zones.get(indicator, (0, 0))
        shown_zones = f"{shown} sur {total}" if total else "—"
        table.add_row(indicator, state, french.rate(rates.get(indicator)), shown_zones)
    for indicator, reason in summary.get("indicateurs_ignores", {}).items():
        table.add_row(indicator, f"ignoré : {reason}", "—", "—")
    rows = summary.get("lignes_publiees", {})
    shares = summary.get("part_secret", {})
    table.caption = (
        f"{french.integer(rows.get('indicateurs', 0))} lignes publiées dans indicateurs, "
        f"{french.integer(rows.get('connus', 0))} dans connus ; part de lignes sous secret : "
        f"{french.rate(shares.get('indicateurs'))} (indicateurs), "
        f"{french.rate(shares.get('connus'))} "
        "(connus). Secret primaire et secondaire, audité"
        + (
            f" ({summary['secret']['verdict']})."
            if summary.get("secret", {}).get("verdict")
            else "."
        )
    )
    return table
