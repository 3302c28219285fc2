"""The restricted audit of a publication (docs/regles.md, rule 4): for the DPO, never published.

It says what the analysts' tables must not: which secret rows are primary and which secondary,
why, and the interval an attacker reaches for every withheld count. It holds intervals, hence
bounds on small counts, but no identity: it lives in ``audit/divulgation/``, next to the journal,
whose access is the DPO's. One JSON file (for tools and the DPO report) and one HTML page (for
reading), both per period, rewritten by each publication of that period, including a refused one
(the page then says what blocked it).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from anonymization.disclosure import Interval
from pipelines import templating
from pipelines.publish.least_loss import utility_figures
from pipelines.publish.model import ENSEMBLE, LEVELS
from pipelines.publish.secondary import SecretPattern
from recours.atomic import write_text_atomically

CONFORME, REFUSEE = "conforme", "refusee"
TEMPLATE = "audit_restreint.html.j2"
# How each interval was obtained (see anonymization.disclosure.attacker and secondary._gate).
METHODS = {
    "entiers": "bornes exactes en nombres entiers",
    "relaxation": "relaxation linéaire arrondie aux entiers (borne extérieure)",
}
COUNT_KEYS = {
    "P": "population",
    "N": "non_recours",
    "D": "population_moins_non_recours",
    "K": "non_recours_connus",
    "E": "non_recours_moins_connus",
}


def _bound(value: float) -> int | None:
    return None if math.isinf(value) else int(value)


def _interval(interval: Interval | None) -> list[int | None] | None:
    return None if interval is None else [_bound(interval.low), _bound(interval.high)]


def shares_by_level(pattern: SecretPattern) -> dict[str, dict[str, float]]:
    """Share of rows withheld, per indicator and level (and per level for ``connus``)."""
    shares: dict[str, dict[str, float]] = {}
    frame = pattern.indicateurs.group_by("indicateur", "niveau").agg(pl.col("secret").mean())
    for indicator, level, share in frame.sort("indicateur", "niveau").rows():
        shares.setdefault(indicator, {})[level] = round(float(share), 4)
    known = pattern.connus.group_by("niveau").agg(pl.col("secret").mean()).sort("niveau")
    shares["connus"] = {level: round(float(share), 4) for level, share in known.rows()}
    return shares


def utility_by_level(pattern: SecretPattern) -> dict[str, dict[str, dict[str, Any]]]:
    """What the secret costs the analysts, per indicator and level (the figures of
    :func:`~pipelines.publish.least_loss.utility_figures` on the true table): rows withheld
    (primary, secondary), territories with a value, and the share of the target population
    those territories hold (the département's ``ensemble`` population is the whole)."""
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    table = utility_figures(pattern.indicateurs, pattern.reasons)
    whole = dict(  # the true target, even where the département's own row is secret
        pattern.indicateurs.filter(
            (pl.col("niveau") == "departement")
            & (pl.col("tranche_age") == ENSEMBLE)
            & (pl.col("type_menage") == ENSEMBLE)
        )
        .select("indicateur", "population")
        .rows()
    )
    for row in table.sort("indicateur", "niveau").iter_rows(named=True):
        target, shown = whole.get(row["indicateur"]), row["population_montree"]
        figures.setdefault(row["indicateur"], {})[row["niveau"]] = {
            "lignes": row["lignes"],
            "lignes_primaires": row["lignes_primaires"],
            "lignes_secondaires": row["lignes_secondaires"],
            "territoires": row["territoires"],
            "territoires_avec_valeur": row["territoires_avec_valeur"],
            "part_population_montree": round(shown / target, 4) if target else None,
        }
    return figures


def audit_facts(period: str, pattern: SecretPattern) -> dict[str, Any]:
    """Everything the restricted audit says, JSON-safe."""
    rows: list[dict[str, Any]] = []
    for (table, row), reason in sorted(pattern.reasons.items()):
        if table == "i":
            record = pattern.indicateurs.row(row, named=True)
            cells = pattern.view.indicateurs_cells[row]
        else:
            record = pattern.connus.row(row, named=True)
            cells = pattern.view.connus_cells[row]
        counts = {}
        for count, name in cells.items():
            interval = pattern.intervals.get(name)
            counts[COUNT_KEYS[count]] = {
                "intervalle": _interval(interval),
                "methode": METHODS.get(interval.method) if interval is not None else None,
                "publie": name not in pattern.intervals,
                "largeur_requise": pattern.required.get(name),
                "bloquant": name in pattern.blocking,
            }
        rows.append(
            {
                "table": "indicateurs" if table == "i" else "connus",
                "indicateur": record["indicateur"],
                "niveau": record["niveau"],
                "code_territoire": record["code_territoire"],
                "libelle_territoire": record["libelle_territoire"],
                "tranche_age": record.get("tranche_age"),
                "type_menage": record.get("type_menage"),
                "motif": reason,
                "regles": pattern.rules.get((table, row), []),
                "comptes": counts,
            }
        )
    return {
        "periode": period,
        "ecrit_le": datetime.now(UTC).isoformat(timespec="seconds"),
        "verdict": CONFORME if pattern.passed else REFUSEE,
        "largeur_protection": pattern.width,
        "seuils": pattern.thresholds,
        "tours_secret_secondaire": pattern.rounds,
        "durees_s": {step: round(s, 3) for step, s in pattern.seconds.items()},
        "lignes_secretes": len(rows),
        "lignes_primaires": sum(1 for row in rows if row["motif"] == "primaire"),
        "lignes_secondaires": sum(1 for row in rows if row["motif"] == "secondaire"),
        "comptes_bloquants": len(pattern.blocking),
        "part_secret_par_niveau": shares_by_level(pattern),
        "utilite_par_niveau": utility_by_level(pattern),
        "lignes": rows,
    }


def disclosure_summary(pattern: SecretPattern, files: tuple[Path, ...]) -> dict[str, Any]:
    """The non-sensitive part, for the run's summary, XComs and the journal: no interval."""
    return {
        "verdict": CONFORME if pattern.passed else REFUSEE,
        "largeur_protection": pattern.width,
        "lignes_primaires": sum(1 for r in pattern.reasons.values() if r == "primaire"),
        "lignes_secondaires": sum(1 for r in pattern.reasons.values() if r == "secondaire"),
        "tours": pattern.rounds,
        "durees_s": {step: round(s, 3) for step, s in pattern.seconds.items()},
        "part_secret_par_niveau": shares_by_level(pattern),
        "audit_restreint": [str(path) for path in files],
    }


def write_restricted_audit(
    directory: Path, period: str, pattern: SecretPattern
) -> tuple[Path, Path]:
    """``<directory>/<period>.json`` and ``.html``, readable by their owner only."""
    directory.mkdir(parents=True, exist_ok=True)
    facts = audit_facts(period, pattern)
    json_path, html_path = directory / f"{period}.json", directory / f"{period}.html"
    write_text_atomically(json_path, json.dumps(facts, ensure_ascii=False, indent=1) + "\n", 0o600)
    write_text_atomically(html_path, render_html(facts), 0o600)
    return json_path, html_path


def _show(count: dict[str, Any]) -> str:
    """A withheld count as the attacker reaches it: ``[3 ; 9]``, ``*`` when only bounded by
    the linear relaxation; ``publié`` when the count is readable elsewhere."""
    if count["publie"]:
        return "publié"
    low, high = count["intervalle"]
    shown = f"[{low} ; {'∞' if high is None else high}]"
    return shown if count["methode"] == METHODS["entiers"] else f"{shown}*"


def render_html(facts: dict[str, Any]) -> str:
    """One self-contained page: no script, no external resource."""
    return templating.render(
        TEMPLATE,
        f=facts,
        css=templating.safe(templating.stylesheet()),
        conforme=CONFORME,
        levels=LEVELS,
        seuils=sorted(facts["seuils"].items()),
        show=_show,
    )
