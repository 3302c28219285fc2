"""``recours demo``: the embedded default, end to end on the real stack.

A fresh home, a synthetic Haute-Garonne, a key made for the occasion (mode 0600, in the home,
never printed), then the real ingest DAGs and the crossing DAG run in-process by Airflow.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from anonymization.pseudonymize import new_key_file
from recours.home import Home

KEY_FILE = Path("secrets") / "cle_pseudonymisation.hex"


def run_demo(
    home: Path, persons: int, seed: int = 0, period: str | None = None
) -> tuple[list[dict], dict]:
    """(per-delivery summaries of the ingest DAGs, the crossing DAG's summary)."""
    from app.airflow_runner import run_ingest_dags
    from app.console import console, progress_bar, progress_callback
    from synth import synthesize

    if home.exists():
        shutil.rmtree(home)
    Home(home).ensure()
    with progress_bar() as bar:
        summary = synthesize(
            home,
            persons=persons,
            seed=seed,
            period=period,
            progress=progress_callback(bar, "Génération synthétique"),
        )
    console.print(
        f"Haute-Garonne synthétique : {summary.persons} personnes, période "
        f"{summary.period}, livraisons dans {home / 'landing'}"
    )
    key_file = new_key_file(home / KEY_FILE)
    console.print(
        "Ingestion puis croisement par les DAG Airflow (en local, base SQLite dans "
        f"{home / 'airflow'}, clé passée comme Variable recours_pseudo_key_secret)…"
    )
    results = run_ingest_dags(
        home, key_hex=key_file.read_text(encoding="ascii").strip(), crossing=True
    )
    crossing = results.pop("crossing", {})
    return [summary for dag_results in results.values() for summary in dag_results], crossing
