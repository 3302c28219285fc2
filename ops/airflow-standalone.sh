#!/usr/bin/env bash
# Lance Airflow en local (`airflow standalone` : scheduler, dag-processor, triggerer, API et
# interface) avec les DAG du projet, pour l'équipe data sur un poste ou une machine unique.
#
#   ops/airflow-standalone.sh            démarre ; interface sur http://127.0.0.1:8080
#   ops/airflow-standalone.sh --check    affiche la configuration retenue, sans rien démarrer
#
# Variables lues (toutes facultatives) :
#   RECOURS_HOME           dossier de travail (landing/, pseudonymized/, audit/...) ; défaut : var/
#   RECOURS_AIRFLOW_PORT   port de l'interface ; défaut : 8080
#   RECOURS_PSEUDO_KEY_FILE  fichier de la clé de pseudonymisation (voir plus bas)
#   RECOURS_AIRFLOW_BIN    la commande airflow ; défaut : .venv/bin/airflow du dépôt
#
# Où tout se trouve : AIRFLOW_HOME = $RECOURS_HOME/airflow (base SQLite airflow.db, airflow.cfg,
# journaux, mot de passe généré de l'utilisateur admin dans
# simple_auth_manager_passwords.json.generated) ; dossier des DAG = dags/ du dépôt ; exemples
# d'Airflow désactivés ; serveur lié à 127.0.0.1 seulement (jamais exposé sur le réseau).
# Réserve : les petits serveurs de journaux du scheduler et du triggerer (ports 8793 et 8794)
# écoutent sur toutes les interfaces (Airflow 3.3 ne permet pas de choisir) ; ils ne servent un
# journal que sur présentation d'un jeton signé, mais un pare-feu doit fermer ces ports.
#
# La clé de pseudonymisation n'est JAMAIS écrite dans ce script ni dans airflow.cfg. Au choix :
#   1. un fichier lisible du seul compte de service (chmod 600), désigné avant le lancement :
#        export RECOURS_PSEUDO_KEY_FILE=/chemin/sûr/cle.hex ; make airflow
#      (les tâches le lisent directement ; c'est le plus simple en local) ;
#   2. la Variable Airflow `recours_pseudo_key_secret` (le suffixe _secret la fait masquer dans
#      l'interface et les journaux), fournie par un secrets backend (Vault, AWS/GCP Secret
#      Manager...) configuré dans [secrets] backend, ou par l'environnement :
#        export AIRFLOW_VAR_RECOURS_PSEUDO_KEY_SECRET="$(cat /chemin/sûr/cle.hex)"
#   3. en dernier recours, `airflow variables set recours_pseudo_key_secret ...` : la valeur est
#      alors stockée dans la base, chiffrée par la clé Fernet de airflow.cfg ; à éviter.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECOURS_HOME="${RECOURS_HOME:-$REPO/var}"
mkdir -p "$RECOURS_HOME"
RECOURS_HOME="$(cd "$RECOURS_HOME" && pwd)"
PORT="${RECOURS_AIRFLOW_PORT:-8080}"
AIRFLOW_CLI="${RECOURS_AIRFLOW_BIN:-$REPO/.venv/bin/airflow}"
# `airflow standalone` starts its components as `airflow ...` subprocesses, found on PATH.
export PATH="$(dirname "$AIRFLOW_CLI"):$PATH"

# Nothing from the caller's Airflow configuration (another database, another DAGs folder) may
# leak in; the key variables above are the only ones kept.
while IFS='=' read -r name _; do
  case "$name" in
    AIRFLOW_VAR_RECOURS_PSEUDO_KEY_SECRET) ;;
    AIRFLOW__SECRETS__*) ;;
    AIRFLOW*) unset "$name" ;;
  esac
done < <(env)

export RECOURS_HOME
export AIRFLOW_HOME="$RECOURS_HOME/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$AIRFLOW_HOME/airflow.db"
export AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS=False
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$AIRFLOW_HOME/logs"
export AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False
if [ -n "${RECOURS_PSEUDO_KEY_FILE:-}" ]; then
  RECOURS_PSEUDO_KEY_FILE="$(cd "$(dirname "$RECOURS_PSEUDO_KEY_FILE")" && pwd)/$(basename "$RECOURS_PSEUDO_KEY_FILE")"
  export RECOURS_PSEUDO_KEY_FILE
fi
mkdir -p "$AIRFLOW_HOME"

if [ "${1:-}" = "--check" ]; then
  for setting in "core dags_folder" "core load_examples" "core executor" \
                 "database sql_alchemy_conn" "api host" "api port"; do
    # shellcheck disable=SC2086
    value="$("$AIRFLOW_CLI" config get-value $setting)"  # set -e: a failure stops the check
    printf '%s %s\n' "${setting// /.}" "$value"
  done
  exit 0
fi

echo "recours : AIRFLOW_HOME=$AIRFLOW_HOME ; DAG : $AIRFLOW__CORE__DAGS_FOLDER"
echo "recours : interface sur http://127.0.0.1:$PORT (utilisateur admin, mot de passe dans"
echo "          $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
exec "$AIRFLOW_CLI" standalone
