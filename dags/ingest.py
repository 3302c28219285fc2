"""Ingest DAGs: one ``ingest_<convention id>`` DAG per convention (docs/architecture.md, "Airflow").

Why a factory: a new partner is added by dropping its convention YAML into ``conventions/``;
the data team then sees its ingest DAG in Airflow without anyone writing Python.

Why so thin: the scheduler's DAG processor parses this file every few seconds. Parsing must
therefore open no data file, read no convention content and touch no network: it only lists the
``*.yaml`` file *names* of the conventions folder. Everything else (home folder, key, the heavy
polars / great_expectations / presidio stack) is resolved inside the task, at run time, by
``pipelines.ingest.run.ingest_convention``, which runs just as well without Airflow
(``recours run``).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Variable, get_current_context, get_parsing_context, task

from app.dag_callbacks import (
    TRANSIENT_RETRIES,
    fail_without_retry_on_recours_error,
    record_task_failure,
)
from app.dag_support import (
    convention_ids,
    conventions_dir,
    pseudonymized_asset,
    task_home,
    writing_task,
)

if TYPE_CHECKING:
    from pydantic import JsonValue

log = logging.getLogger(__name__)

KEY_ENV = "RECOURS_PSEUDO_KEY"
KEY_FILE_ENV = "RECOURS_PSEUDO_KEY_FILE"
# The "_secret" suffix makes Airflow mask the value wherever it would be logged or shown.
KEY_VARIABLE = "recours_pseudo_key_secret"
TAGS = ["recours", "ingest"]


@contextmanager
def pseudo_key_in_env() -> Iterator[str]:
    """Make the pseudonymization key visible to the ingest code for the duration of a call.

    Why: ``ingest_convention`` reads the key from the environment only, so it runs the same with
    or without Airflow. Under Airflow the key usually lives in the Variable ``KEY_VARIABLE``
    (or a secrets backend behind it); it is copied into ``os.environ`` only while the call runs
    and removed afterwards. Yields where the key came from, never the key.
    """
    from pipelines.keys.keyfile import check_key_file_env

    check_key_file_env()  # a key file others can read is refused, as by every command
    if os.environ.get(KEY_ENV) or os.environ.get(KEY_FILE_ENV):
        if os.environ.get(KEY_ENV):
            _mask(os.environ[KEY_ENV].strip())
        elif Path(os.environ[KEY_FILE_ENV]).is_file():
            _mask(
                Path(os.environ[KEY_FILE_ENV]).read_text(encoding="ascii", errors="ignore").strip()
            )
        yield "environment"
        return
    value = Variable.get(KEY_VARIABLE, default=None)
    if not value:
        # No key at all: let the ingest refuse with its own message (nothing to do needs none).
        yield "none"
        return
    key = str(value).strip()
    _mask(key)
    os.environ[KEY_ENV] = key
    try:
        yield f"Airflow Variable {KEY_VARIABLE}"
    finally:
        os.environ.pop(KEY_ENV, None)


def _mask(secret: str) -> None:
    """Ask Airflow to redact ``secret`` from every log line, should any code ever print it."""
    from airflow.sdk.log import mask_secret

    mask_secret(secret)


def run_ingest(convention_id: str) -> list[dict[str, Any]]:
    """Ingest every pending delivery of one convention; returns JSON-safe summaries only.

    The summaries (counts, statuses, column names: never a personal value) become the task's
    XCom, so they are what the Airflow UI and ``recours demo`` show.
    """
    # Heavy imports at run time only: the DAG processor must not load polars & co.
    from datetime import date

    from pipelines.ingest.run import ingest_convention
    from recours.convention_events import record_convention_changes
    from recours.conventions import load_conventions
    from recours.home import Home

    home = Home(task_home())
    with (
        writing_task(home.root, f"ingest_{convention_id}", "ingest"),
        fail_without_retry_on_recours_error(),
        pseudo_key_in_env() as key_source,
    ):
        log.info(
            "Ingest of convention %s, home %s, pseudonymization key from: %s",
            convention_id,
            home.root,
            key_source,
        )
        folder = conventions_dir()
        # The journal says which version of each convention applied before any delivery.
        record_convention_changes(home.audit, load_conventions(folder), folder, date.today())
        outcomes = ingest_convention(home, convention_id, folder)
    summaries = [o.summary() for o in outcomes]
    _annotate_asset_event(convention_id, summaries)
    return summaries


def _annotate_asset_event(convention_id: str, summaries: list[dict[str, Any]]) -> None:
    """Attach delivery counts per status to the Asset event, so that the crossing DAG (and the
    UI) can tell a run that brought new data from one that did not. Counts only."""
    statuses = Counter(str(s.get("status", "")) for s in summaries)
    extra: dict[str, JsonValue] = {
        "deliveries": len(summaries),
        "statuses": dict(sorted(statuses.items())),
    }
    context = get_current_context()
    context["outlet_events"][pseudonymized_asset(convention_id)].extra = extra


DOC_MD = """\
# Ingestion de la convention `{convention_id}`

Ce DAG traite **toutes les livraisons en attente** du partenaire sous convention
`{convention_id}`, déposées dans `landing/{convention_id}/` du dossier de travail
(variable d'environnement `RECOURS_HOME`).

Pour chaque fichier livré, la tâche `ingest` : contrôle l'empreinte (un fichier déjà traité
n'est jamais compté deux fois), vérifie que la convention est en vigueur, lit et valide le
fichier, ne garde que les champs autorisés, pseudonymise les identifiants avec une clé secrète,
recherche les données personnelles résiduelles, puis écrit le résultat en Parquet dans
`pseudonymized/{convention_id}/`. Chaque livraison est tracée dans `audit/`.

Le résultat de la tâche (onglet XCom) est un résumé par livraison : statut (acceptée, refusée,
déjà traitée), lignes lues, gardées, écartées par règle, colonnes supprimées, motif d'un refus.
Il ne contient jamais de donnée personnelle.

## Déclenchement

Pas de planification : on déclenche le DAG (bouton « Trigger » ou
`airflow dags trigger ingest_{convention_id}`) après le dépôt d'une livraison. Les partenaires
livrent à dates irrégulières ; un passage quotidien ne ferait que relancer le croisement sans
rien de nouveau, car chaque exécution réussie met à jour l'Asset
`recours://pseudonymized/{convention_id}` sur lequel le DAG de croisement et de publication est
planifié. Relancer sans nouvelle livraison est sans risque.

## Livraison refusée : que faire ?

Une livraison refusée (convention expirée, pas encore en vigueur ou absente, fichier
illisible, colonnes inattendues, contrôle de qualité bloquant...) n'est **jamais ingérée à
moitié** : le fichier est mis en quarantaine.

1. Ouvrir `quarantine/{convention_id}/` dans le dossier de travail : on y trouve le fichier
   refusé, tel qu'il a été reçu, et à côté `<nom du fichier>.motif.txt` qui explique le refus
   (règle en cause, motif, empreinte ; la même chose en `.motif.json` pour les outils).
2. Selon le motif : demander au partenaire une nouvelle livraison conforme, ou faire mettre à
   jour la convention (avec le DPO) dans `conventions/{convention_id}.yaml`, puis vérifier
   avec `recours conventions check`.
3. Déposer la livraison corrigée dans `landing/{convention_id}/` et relancer ce DAG.

Ne jamais corriger à la main un fichier en quarantaine : il contient des données
directement identifiantes et reste la trace de ce qui a été reçu.

## Tâche en échec : que faire ?

Une tâche **en échec** (rouge) est un incident technique, pas un refus. Deux cas :

- **incident passager** (disque réseau indisponible, fichier verrouillé, disque plein, dossier
  de travail occupé par une autre tâche ou commande : verrou `.recours.lock`) : la tâche
  est reprise automatiquement jusqu'à 3 fois, à 2, 4 puis 8 minutes d'intervalle (orange,
  « up_for_retry ») ; rien à faire si une reprise réussit ;
- **erreur de configuration** (clé de pseudonymisation absente ou invalide, convention
  illisible) : échec immédiat, sans reprise, avec un message en français dans le journal de la
  tâche ; corriger (clé : Variable `recours_pseudo_key_secret` ; convention :
  `recours conventions check`), puis relancer le DAG.

Chaque échec définitif est aussi inscrit dans le journal d'audit (`audit/journal.jsonl`,
événement `echec_tache` : DAG, tâche, exécution, type d'erreur — jamais le message). Le
traitement est idempotent : relancer est sans risque, rien n'est compté deux fois.

## Clé de pseudonymisation

Lue dans `RECOURS_PSEUDO_KEY` / `RECOURS_PSEUDO_KEY_FILE` sur le worker, sinon dans la
Variable Airflow `recours_pseudo_key_secret` (masquée dans les journaux). Elle n'est jamais
écrite dans un journal ni dans un XCom.
"""


TASK_DOC_MD = """\
### Tâche `ingest`

Traite chaque fichier en attente dans `landing/{convention_id}/` : acceptée (Parquet dans
`pseudonymized/{convention_id}/`), refusée (fichier en `quarantine/{convention_id}/` avec son
`.motif.txt`) ou déjà traitée. Verte même quand une livraison est refusée : lire le résumé (XCom).

**Si elle échoue** : reprises automatiques (3, avec délai croissant) pour un incident passager ;
échec immédiat pour une erreur de configuration (clé, convention), dont le message en français
est dans le journal de la tâche. Corriger puis relancer : sans risque, rien n'est compté deux
fois. L'échec est inscrit au journal d'audit (`echec_tache`).
"""


def build_ingest_dag(convention_id: str) -> DAG:
    """One ingest DAG: a single task wired to ``run_ingest``.

    ``max_active_runs=1``: two runs of the same convention would race on the same landing files.
    Retries with exponential back-off (``TRANSIENT_RETRIES``): an exception that reaches Airflow
    is an I/O incident or a bug, never a refused delivery (a refusal is a green task); the
    ingest is idempotent, so trying again is safe. A ``RecoursError`` (no key, broken
    convention) fails at once: retrying would not fix it.
    """
    with DAG(
        dag_id=f"ingest_{convention_id}",
        description=f"Ingestion des livraisons de la convention {convention_id}",
        schedule=None,
        catchup=False,
        is_paused_upon_creation=False,  # the data team need not unpause it (docs/exploitation.md)
        max_active_runs=1,
        tags=TAGS,
        doc_md=DOC_MD.format(convention_id=convention_id),
        default_args={
            "owner": "recours",
            **TRANSIENT_RETRIES,
            "on_failure_callback": record_task_failure,
        },
    ) as dag:

        @task(
            task_id="ingest",
            outlets=[pseudonymized_asset(convention_id)],
            doc_md=TASK_DOC_MD.format(convention_id=convention_id),
        )
        def ingest(convention_id: str) -> list[dict[str, Any]]:
            return run_ingest(convention_id)

        ingest(convention_id)
    return dag


# When a worker parses this file to run one task, Airflow says which DAG it needs: build only that.
_wanted = get_parsing_context().dag_id
for _convention_id in convention_ids(conventions_dir()):
    if _wanted is None or _wanted == f"ingest_{_convention_id}":
        globals()[f"ingest_{_convention_id}"] = build_ingest_dag(_convention_id)
