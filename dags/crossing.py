"""Crossing DAG: link the partners' files, compute indicators, publish (docs/architecture.md).

Scheduled on the Assets the ingest DAGs update (``recours://pseudonymized/<convention>``) of
the conventions some indicator uses, any of them (a partner no indicator needs, or one that has
not delivered, delays nobody), and every morning as well: Asset events that arrive while the DAG
is paused are lost, so the daily run catches up from the pseudonymized zone itself, and does
nothing when the latest publication already stands on the current deliveries. Thin like the
ingest DAGs: the tasks call ``pipelines.cycle.cross_and_publish`` and ``report``, the functions
``recours run`` calls. The crossing works on pseudonyms only: it needs no key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, task

from app.dag_callbacks import (
    TRANSIENT_RETRIES,
    fail_without_retry_on_recours_error,
    record_task_failure,
)
from app.dag_support import (
    DEFAULT_HOME,
    HOME_ENV,
    convention_ids,
    conventions_dir,
    needed_conventions,
    pseudonymized_asset,
    writing_task,
)

CATCH_UP = "0 6 * * *"  # every morning: a delivery whose Asset event was lost is crossed anyway

DOC = """
### Croisement et publication

Se déclenche dès qu'un partenaire dont un indicateur a besoin a livré (les Assets
`recours://pseudonymized/<convention>` mis à jour par les DAG `ingest_<convention>`), et chaque
matin à 6 h : une livraison arrivée pendant que le DAG était en pause est ainsi rattrapée depuis
la zone pseudonymisée. Si la dernière publication repose déjà sur les livraisons du moment, la
tâche est sautée (« rien de nouveau »). Une seule tâche, `croiser_et_publier` :

1. choisit la période (la plus récente pour laquelle au moins un indicateur peut être calculé ;
   les indicateurs dont une source manque sont ignorés, avec leur motif, jamais publiés à zéro) ;
2. vérifie que toutes les livraisons choisies ont été pseudonymisées sous la **même clé**
   (sinon refus : voir « changement de clé » dans `docs/exploitation.md`) ;
3. construit l'entrepôt `warehouse.duckdb` : un croisement par ensemble de conventions qui
   s'autorisent deux à deux (appariement des personnes, une table par convention, identifiants
   propres au croisement) ;
4. calcule chaque indicateur dont toutes les conventions sont en vigueur et autorisent le
   croisement (sinon il est ignoré et `metadonnees` dit pourquoi : une convention expirée
   arrête ses indicateurs à partir de la période qui suit sa fin) ;
5. applique le secret statistique primaire et secondaire, puis l'audit d'un attaquant : si un
   petit compte reste recalculable, la publication est **refusée** (message : quelles lignes ;
   détail réservé au DPO dans `audit/divulgation/<période>.html`) ;
6. publie `published/recours.duckdb`, ses Parquet et CSV.

Puis la tâche `rapport` écrit le rapport des analystes `published/rapport_<période>.html` et les
exports `published/exports/<période>/`, à partir de la seule publication.

**En cas d'échec** : la publication précédente reste intacte (le nouveau fichier n'est mis en
place qu'à la fin). Un incident passager (fichier verrouillé, disque) est repris
automatiquement jusqu'à 3 fois, avec un délai croissant. Une erreur du pipeline échoue tout de
suite, avec un message en français dans le journal de la tâche :

- « aucune période ne permet de calculer un indicateur » : aucun partenaire nécessaire n'a
  encore livré, ou ses livraisons sont en quarantaine (voir `quarantine/<convention>/*.motif.txt`) ;
- « pseudonymisées sous des clés différentes » : un changement de clé est inachevé, ou une
  livraison a été ingérée avec l'ancienne clé ; terminer `recours keys rotate`.

Relancer le DAG une fois le problème réglé. Chaque échec définitif est inscrit au journal
d'audit (`echec_tache` : DAG, tâche, exécution, type d'erreur ; jamais le message).
"""


REPORT_DOC = """
### Rapport des analystes

Écrit `published/rapport_<période>.html` (autonome : cartes, tableaux, contexte INSEE, qualité)
et les exports `published/exports/<période>/` (CSV pour Excel, Parquet, classeur xlsx), à partir
de `published/recours.duckdb` seul : ce rapport ne peut rien montrer que la publication ne montre.

**En cas d'échec** : la publication elle-même est déjà en place ; relancer la tâche seule, ou
`recours rapport --home DIR`.
"""


def run_report(period: str) -> dict[str, Any]:
    """The analysts' report and exports of the period just published (paths only)."""
    from pipelines import cycle
    from recours.home import Home

    home = Home(Path(os.environ.get(HOME_ENV, DEFAULT_HOME)))
    with fail_without_retry_on_recours_error():
        report, exports = cycle.report(home, period)
    return {"rapport": str(report), "exports": len(exports)}


def run_crossing() -> dict[str, Any]:
    """Cross and publish the latest complete period; returns counts only (the task's XCom)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from pipelines import cycle
    from pipelines.crossing.run import crossing_pending, summary_dict
    from recours.home import Home

    home = Home(Path(os.environ.get(HOME_ENV, DEFAULT_HOME)))
    with (
        writing_task(home.root, "crossing", "croiser_et_publier"),
        fail_without_retry_on_recours_error(),
    ):
        if not crossing_pending(home, conventions_dir()):
            raise AirflowSkipException(
                "rien de nouveau : la dernière publication repose déjà sur les livraisons "
                "présentes dans la zone pseudonymisée"
            )
        return summary_dict(cycle.cross_and_publish(home, None, conventions_dir()))


def schedule() -> AssetOrTimeSchedule | None:
    """Any needed partner's delivery, or every morning (the catch-up), whichever comes first."""
    needed = needed_conventions(convention_ids(conventions_dir()))
    if not needed:
        return None
    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(CATCH_UP, timezone="Europe/Paris"),
        assets=AssetAny(*(pseudonymized_asset(c) for c in needed)),
    )


with DAG(
    dag_id="crossing",
    schedule=schedule(),
    catchup=False,
    is_paused_upon_creation=False,  # the data team need not unpause it (docs/exploitation.md)
    max_active_runs=1,
    tags=["recours", "croisement"],
    doc_md=DOC,
    default_args={
        "owner": "recours",
        **TRANSIENT_RETRIES,
        "on_failure_callback": record_task_failure,
    },
) as dag:

    @task(task_id="croiser_et_publier", doc_md=DOC)
    def croiser_et_publier() -> dict[str, Any]:
        return run_crossing()

    @task(task_id="rapport", doc_md=REPORT_DOC)
    def rapport(summary: dict[str, Any]) -> dict[str, Any]:
        return run_report(summary["periode"])

    rapport(croiser_et_publier())  # type: ignore[arg-type]  # airflow.sdk: XComArg not accepted
