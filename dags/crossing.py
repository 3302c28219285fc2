"""Crossing DAG: link the partners' files, compute the indicators, publish (DESIGN.md, "Airflow").

Scheduled on the Assets the ingest DAGs update (``recours://pseudonymized/<convention>``): it
runs once every partner has delivered since the last crossing. Thin like the ingest DAGs: the
task calls ``pipelines.crossing.run.cross_and_publish``, the function ``recours run`` calls.
The crossing works on pseudonyms only: it needs no key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task

from recours.dag_support import (
    DEFAULT_HOME,
    HOME_ENV,
    convention_ids,
    conventions_dir,
    pseudonymized_asset,
)

DOC = """
### Croisement et publication

Se déclenche quand **chaque** partenaire a livré depuis le dernier croisement (les Assets
`recours://pseudonymized/<convention>` mis à jour par les DAG `ingest_<convention>`). Une seule
tâche, `croiser_et_publier` :

1. choisit la période (la plus récente pour laquelle chaque convention a une livraison) ;
2. construit l'entrepôt `warehouse.duckdb` (appariement des personnes, une table par partenaire) ;
3. calcule chaque indicateur dont toutes les conventions sont en vigueur et autorisent le
   croisement (sinon il est ignoré et `metadonnees` dit pourquoi) ;
4. publie `published/recours.duckdb`, ses Parquet et CSV, avec le secret statistique primaire.

**En cas d'échec** : la publication précédente reste intacte (le nouveau fichier n'est mis en
place qu'à la fin). Lire le journal de la tâche ; « aucune livraison acceptée pour … » veut dire
qu'un partenaire n'a pas encore livré pour la période, ou que sa livraison est en quarantaine
(voir `quarantine/<convention>/*.motif.txt`). Relancer le DAG une fois le problème réglé.
"""


def run_crossing() -> dict[str, Any]:
    """Cross and publish the latest complete period; returns counts only (the task's XCom)."""
    from pipelines.crossing.run import cross_and_publish, summary_dict
    from recours.home import Home

    home = Home(Path(os.environ.get(HOME_ENV, DEFAULT_HOME)))
    return summary_dict(cross_and_publish(home, None, conventions_dir()))


with DAG(
    dag_id="crossing",
    schedule=[pseudonymized_asset(c) for c in convention_ids(conventions_dir())] or None,
    catchup=False,
    max_active_runs=1,
    tags=["recours", "croisement"],
    doc_md=DOC,
    default_args={"retries": 0},
) as dag:

    @task(task_id="croiser_et_publier", doc_md=DOC)
    def croiser_et_publier() -> dict[str, Any]:
        return run_crossing()

    croiser_et_publier()
