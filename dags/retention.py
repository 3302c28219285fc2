"""Retention DAG: every day, purge what outlived its convention (docs/architecture.md, "Airflow").

Thin like the others: the task calls ``pipelines.retention.purge`` with today's date, the
function ``recours purge`` calls. Parsing opens no file and imports nothing heavy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import DAG, task

from app.dag_callbacks import (
    TRANSIENT_RETRIES,
    fail_without_retry_on_recours_error,
    record_task_failure,
)
from app.dag_support import conventions_dir, task_home, writing_task

DOC = """
### Conservation : purge quotidienne

Chaque jour, la tâche `purger` applique les durées de conservation des conventions
(`retention` : `raw_days` pour les fichiers bruts, `pseudonymized_days` pour les données
pseudonymisées) :

- supprime chaque **fichier brut** (`landing/`, ou `quarantine/` pour une livraison refusée)
  **déjà traité** dont l'âge atteint `raw_days` ; un fichier jamais traité n'est jamais
  supprimé (il apparaît en retard dans le rapport du DPO : l'ingérer ou le faire retirer) ;
- supprime chaque **livraison pseudonymisée** dont l'âge atteint `pseudonymized_days` (avec son
  fichier brut s'il est encore là) ;
- si une livraison pseudonymisée part, supprime l'entrepôt (données individuelles) et le
  reconstruit en recroisant la période la plus récente encore complète ; les tableaux publiés
  (agrégats sous secret statistique) restent ; le journal nomme les périodes publiées qui
  reposaient sur la livraison supprimée.

Chaque suppression est inscrite au journal d'audit (événement `purge` : quoi, pourquoi, taille,
empreinte SHA-256). Le résultat de la tâche (XCom) liste les suppressions : chemins, motifs,
tailles, empreintes ; aucune donnée personnelle.

Pour voir ce qui serait supprimé sans rien supprimer : `recours purge --home DIR --dry-run`.

**En cas d'échec** : un incident passager (disque, fichier verrouillé, dossier de travail occupé
par une autre tâche ou commande) est repris jusqu'à 3 fois avec un délai croissant. Les
suppressions faites avant l'échec sont journalisées ; les autres sont faites au prochain passage
(la purge reprend là où elle s'est arrêtée). Une erreur de convention échoue tout de suite :
`recours conventions check`. L'échec est inscrit au journal d'audit (`echec_tache`).
"""


def run_retention() -> dict[str, Any]:
    """Purge for today; returns the JSON-safe report (paths, reasons, sizes, checksums)."""
    from datetime import date

    from pipelines.retention import purge
    from recours.conventions import load_conventions
    from recours.home import Home

    home = Home(task_home())
    folder = conventions_dir()
    with writing_task(home.root, "retention", "purger"), fail_without_retry_on_recours_error():
        conventions = load_conventions(folder)
        report = purge(home, conventions, date.today(), dry_run=False, conventions_dir=folder)
    return report.summary()


with DAG(
    dag_id="retention",
    description="Purge quotidienne de ce qui a dépassé sa durée de conservation",
    schedule="@daily",
    start_date=datetime(2025, 1, 1, tzinfo=ZoneInfo("Europe/Paris")),
    catchup=False,
    is_paused_upon_creation=False,  # the data team need not unpause it (docs/exploitation.md)
    max_active_runs=1,
    tags=["recours", "conservation"],
    doc_md=DOC,
    default_args={
        "owner": "recours",
        **TRANSIENT_RETRIES,
        "on_failure_callback": record_task_failure,
    },
) as dag:

    @task(task_id="purger", doc_md=DOC)
    def purger() -> dict[str, Any]:
        return run_retention()

    purger()
