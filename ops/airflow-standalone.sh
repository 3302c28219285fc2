#!/usr/bin/env bash
# Lance Airflow en local (`airflow standalone` : scheduler, dag-processor, triggerer, API et
# interface) avec les DAG du projet, pour l'équipe data sur un poste ou une machine unique.
#
#   ops/airflow-standalone.sh [start]    démarre au premier plan ; interface sur
#                                        http://127.0.0.1:8080 ; Ctrl-C arrête tout
#   ops/airflow-standalone.sh stop       arrête, depuis un autre terminal, l'Airflow lancé pour ce
#                                        dossier de travail (aussi après un `kill -9` du lanceur)
#   ops/airflow-standalone.sh status     dit s'il tourne (code 0) ou non (code 3)
#   ops/airflow-standalone.sh pause      suspend les DAG du projet (avant `recours keys rotate`)
#   ops/airflow-standalone.sh unpause    les réactive
#   ops/airflow-standalone.sh --check    affiche la configuration retenue, sans rien démarrer
#
# Variables lues (toutes facultatives) :
#   RECOURS_HOME             dossier de travail (landing/, pseudonymized/, audit/...) ; défaut : var/
#   RECOURS_AIRFLOW_PORT     port de l'interface ; défaut : 8080
#   RECOURS_AIRFLOW_WORKERS  tâches simultanées au plus ; défaut : le nombre de cœurs (`nproc`)
#   RECOURS_AIRFLOW_STOP_GRACE  secondes laissées à un arrêt propre avant SIGKILL ; défaut : 30
#   RECOURS_PSEUDO_KEY_FILE  fichier de la clé de pseudonymisation (voir plus bas)
#   RECOURS_AIRFLOW_BIN      la commande airflow ; défaut : .venv/bin/airflow du dépôt
#
# Où tout se trouve : AIRFLOW_HOME = $RECOURS_HOME/airflow (mode 0700 : base SQLite airflow.db,
# airflow.cfg, journaux, mot de passe de l'utilisateur admin dans
# simple_auth_manager_passwords.json.generated, mode 0600, tiré au hasard par ce script au premier
# lancement et jamais affiché) ; dossier des DAG = dags/ du dépôt ; exemples d'Airflow désactivés ;
# serveur lié à 127.0.0.1 seulement (jamais exposé sur le réseau). Tout ce qu'Airflow et les
# tâches écrivent est créé sous umask 077 (privé au compte de service), comme par `recours`.
# Réserve : les petits serveurs de journaux du scheduler et du triggerer (ports 8793 et 8794)
# écoutent sur toutes les interfaces (Airflow 3.3 ne permet pas de choisir) ; ils ne servent un
# journal que sur présentation d'un jeton signé, mais un pare-feu doit fermer ces ports.
#
# Arrêt : Airflow tourne dans sa propre session (setsid). Ctrl-C, SIGTERM au lanceur ou `stop`
# envoient SIGTERM à chacun de ses processus, puis, passé le délai, SIGKILL à ceux qui restent,
# tâches en cours comprises : aucun processus orphelin ne survit. La session est notée dans
# $AIRFLOW_HOME/standalone.pid.
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
# The project's DAG ids: one ingest per convention, the crossing, the retention.
PROJECT_DAGS='^(ingest_.+|crossing|retention)$'

fail() {  # a French message naming what to do, and a non-zero exit; never a traceback
  echo "recours : $1" >&2
  exit "${2:-1}"
}

is_count() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

WORKERS="${RECOURS_AIRFLOW_WORKERS:-$(nproc 2>/dev/null || echo 1)}"
is_count "$WORKERS" ||
  fail "RECOURS_AIRFLOW_WORKERS=$WORKERS n'est pas un nombre entier positif : le corriger ou le retirer." 2
GRACE="${RECOURS_AIRFLOW_STOP_GRACE:-30}"
is_count "$GRACE" ||
  fail "RECOURS_AIRFLOW_STOP_GRACE=$GRACE n'est pas un nombre entier de secondes : le corriger ou le retirer." 2
is_count "$PORT" || fail "RECOURS_AIRFLOW_PORT=$PORT n'est pas un numéro de port : le corriger." 2

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
# Sized for the machine: the LocalExecutor forks `parallelism` workers up front (32 by default,
# idle on a 2-core machine); one API worker and one parsing process serve one team.
export AIRFLOW__CORE__PARALLELISM="$WORKERS"
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="$WORKERS"
export AIRFLOW__API__WORKERS=1
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$PASSWORDS"
if [ -n "${RECOURS_PSEUDO_KEY_FILE:-}" ]; then
  # Absolute, so that the tasks find it whatever their working directory.
  if [ -d "$(dirname "$RECOURS_PSEUDO_KEY_FILE")" ]; then
    RECOURS_PSEUDO_KEY_FILE="$(cd "$(dirname "$RECOURS_PSEUDO_KEY_FILE")" && pwd)/$(basename "$RECOURS_PSEUDO_KEY_FILE")"
  fi
  export RECOURS_PSEUDO_KEY_FILE
fi
PID_FILE="$AIRFLOW_HOME/standalone.pid"
STOP_ASKED="$AIRFLOW_HOME/standalone.stop"  # left by `stop`: the launcher then ends with 0

# Airflow's database, configuration (Fernet and JWT keys), logs and password are the service
# account's alone; so is everything the tasks write (published/ is opened up by the pipeline).
umask 077
mkdir -p "$AIRFLOW_HOME"
chmod 700 "$AIRFLOW_HOME"
chmod -R go-rwx "$AIRFLOW_HOME"

# --- the session Airflow runs in ------------------------------------------------------------
# Every process Airflow starts (components, executor workers, task supervisors and tasks, which
# take their own process group) stays in the session of the `setsid` leader, even when its
# parent dies. The pid file holds that session id and the leader's start time: a live process
# belongs to us when it is in that session and started no earlier than the leader. (Linux never
# hands out a pid still used as a session id, and a leader alive with another start time means
# the id was reused: then nothing of ours is left.)

proc_start() {  # the start time (clock ticks since boot) of process $1; nothing if it is gone
  local line f
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 0
  read -r -a f <<<"${line##*) }"  # after the command name, which may hold spaces
  echo "${f[19]}"
}

session_members() {  # the live (non-zombie) processes of session $1 started at or after $2
  local dir line f
  for dir in /proc/[0-9]*; do
    { read -r line <"$dir/stat"; } 2>/dev/null || continue
    read -r -a f <<<"${line##*) }"  # f[0] state, f[3] session, f[19] start time
    if [ "${f[3]}" = "$1" ] && [ "${f[0]}" != Z ] && [ "${f[19]}" -ge "$2" ]; then
      echo "${dir#/proc/}"
    fi
  done
  return 0
}

running_session() {  # "sid start" of the recorded session if any process of it lives
  local sid start now
  [ -f "$PID_FILE" ] || return 0
  read -r sid start <"$PID_FILE" || true
  is_count "${sid:-x}" && [[ "${start:-x}" =~ ^[0-9]+$ ]] || return 0
  now="$(proc_start "$sid")"
  if [ -n "$now" ] && [ "$now" != "$start" ]; then
    return 0  # the id now belongs to another process: our session is long gone
  fi
  if [ -n "$(session_members "$sid" "$start")" ]; then
    echo "$sid $start"
  fi
  return 0
}

stop_session() {  # $1 sid, $2 start: SIGTERM, then SIGKILL what is left; 0 once all are gone
  local sid="$1" start="$2" pids pid signaled=" " begin=$SECONDS killed=""
  pids="$(session_members "$sid" "$start")"
  [ -n "$pids" ] || return 0
  echo "recours : arrêt d'Airflow (session $sid, $(wc -w <<<"$pids") processus)…" >&2
  # Like systemd stopping a unit: every process gets SIGTERM at once (each Airflow component
  # handles it), so none is left waiting for a parent already gone. Not SIGINT: a background
  # job of a script starts with SIGINT ignored, and Python then never turns it into Ctrl-C.
  while [ -n "$pids" ]; do
    for pid in $pids; do
      [[ "$signaled" == *" $pid "* ]] && continue
      kill -TERM "$pid" 2>/dev/null || true
      signaled+="$pid "
    done
    if [ -z "$killed" ] && [ $((SECONDS - begin)) -ge "$GRACE" ]; then
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      killed=yes
      echo "recours : $(wc -w <<<"$pids") processus encore là après ${GRACE} s : SIGKILL." >&2
    elif [ -n "$killed" ] && [ $((SECONDS - begin)) -ge $((GRACE + 10)) ]; then
      echo "recours : processus $(tr '\n' ' ' <<<"$pids")toujours là après SIGKILL (disque ou" \
        "noyau bloqué ?) : vérifier avec « ps -o pid,stat,cmd -s $sid »." >&2
      return 1
    fi
    sleep 0.2
    pids="$(session_members "$sid" "$start")"
  done
  rm -f "$PID_FILE"
  echo "recours : Airflow arrêté, aucun processus restant." >&2
  return 0
}

# --- subcommands ----------------------------------------------------------------------------

cmd_check() {  # what Airflow itself reads from the settings above, in one interpreter
  local shebang interpreter
  read -r shebang <"$AIRFLOW_CLI" ||
    fail "la commande airflow $AIRFLOW_CLI est illisible : lancer « make install »."
  read -r -a interpreter <<<"${shebang#\#!}"
  "${interpreter[@]}" - <<'PY' || fail "Airflow ne lit pas sa configuration (message ci-dessus)."
from airflow.configuration import conf

for setting in (
    "core.dags_folder", "core.load_examples", "core.executor", "database.sql_alchemy_conn",
    "api.host", "api.port", "core.parallelism", "core.max_active_tasks_per_dag", "api.workers",
    "dag_processor.parsing_processes", "core.simple_auth_manager_passwords_file",
):
    print(setting, conf.get(*setting.split(".")))
PY
}

cmd_status() {
  local session
  session="$(running_session)"
  if [ -z "$session" ]; then
    echo "recours : Airflow ne tourne pas pour $AIRFLOW_HOME."
    exit 3
  fi
  echo "recours : Airflow tourne pour $AIRFLOW_HOME (session ${session%% *}," \
    "$(session_members $session | wc -l) processus) ; arrêt : ops/airflow-standalone.sh stop"
}

cmd_stop() {
  local session
  session="$(running_session)"
  if [ -z "$session" ]; then
    rm -f "$PID_FILE"
    echo "recours : Airflow ne tourne pas pour $AIRFLOW_HOME : rien à arrêter."
    return 0
  fi
  : >"$STOP_ASKED"
  # shellcheck disable=SC2086
  stop_session $session
}

cmd_pause() {  # $1: pause or unpause; the DAGs must have been parsed once (Airflow started)
  "$AIRFLOW_CLI" dags "$1" --treat-dag-id-as-regex --yes "$PROJECT_DAGS" ||
    fail "« airflow dags $1 » a échoué (message ci-dessus) ; base : $AIRFLOW_HOME/airflow.db."
}

ensure_password_file() {
  # Airflow would create it world-readable (0644) and print the password; written here first,
  # under umask 077, Airflow finds the admin user in it and prints nothing.
  if [ ! -s "$PASSWORDS" ]; then
    printf '{"admin": "%s"}\n' "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')" \
      >"$PASSWORDS.tmp"
    mv -f "$PASSWORDS.tmp" "$PASSWORDS"
  fi
  chmod 600 "$PASSWORDS"
}

SESSION=""
LAUNCHER=""
record_session() {  # once the leader has written its pid: keep "sid start", in the pid file too
  local leader start
  [ -z "$SESSION" ] && [ -s "$PID_FILE.leader" ] || return 0
  leader="$(<"$PID_FILE.leader")"
  start="$(proc_start "$leader")"
  [ -n "$start" ] || return 0
  SESSION="$leader $start"
  echo "$SESSION" >"$PID_FILE.tmp"
  mv -f "$PID_FILE.tmp" "$PID_FILE"
  rm -f "$PID_FILE.leader"
}

await_session() {  # until the leader of launcher $1 has written its pid, or the launcher is gone
  local tries
  for ((tries = 0; tries < 200; tries++)); do
    record_session
    [ -z "$SESSION" ] || return 0
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
}

on_signal() {  # the launcher was asked to stop: stop the whole session, then leave
  trap '' INT TERM HUP
  await_session "${LAUNCHER:-$(jobs -p | tail -n 1)}"
  if [ -n "$SESSION" ]; then
    # shellcheck disable=SC2086
    stop_session $SESSION || exit 1
  fi
  rm -f "$PID_FILE"
  exit "$1"
}

cmd_start() {
  local session status=0
  command -v setsid >/dev/null ||
    fail "la commande setsid (paquet util-linux) est introuvable : l'installer."
  session="$(running_session)"
  [ -z "$session" ] || fail "Airflow tourne déjà pour $AIRFLOW_HOME (session ${session%% *}) :
          l'arrêter d'abord avec « ops/airflow-standalone.sh stop »."
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    fail "le port $PORT de 127.0.0.1 est déjà pris par un autre programme : en choisir un autre
          (RECOURS_AIRFLOW_PORT=8081 make airflow) ou arrêter ce programme."
  fi
  if [ -n "${RECOURS_PSEUDO_KEY_FILE:-}" ] && [ ! -f "$RECOURS_PSEUDO_KEY_FILE" ]; then
    fail "RECOURS_PSEUDO_KEY_FILE=$RECOURS_PSEUDO_KEY_FILE n'existe pas : corriger le chemin, ou
          créer la clé (docs/exploitation.md, « La clé de pseudonymisation »)." 2
  fi
  ensure_password_file
  rm -f "$PID_FILE" "$PID_FILE.leader" "$STOP_ASKED"
  echo "recours : AIRFLOW_HOME=$AIRFLOW_HOME ; DAG : $AIRFLOW__CORE__DAGS_FOLDER"
  echo "recours : $WORKERS tâche(s) simultanée(s) au plus (RECOURS_AIRFLOW_WORKERS)"
  echo "recours : interface sur http://127.0.0.1:$PORT (utilisateur admin, mot de passe dans"
  echo "          $PASSWORDS) ; Ctrl-C ou « ops/airflow-standalone.sh stop » arrête tout"

  trap 'on_signal 130' INT
  trap 'on_signal 143' TERM
  trap 'on_signal 129' HUP
  # The leader writes its own pid: it is the session id whether or not setsid had to fork.
  # shellcheck disable=SC2016
  setsid -w bash -c 'echo "$$" >"$0.leader"; exec "$@"' "$PID_FILE" "$AIRFLOW_CLI" standalone \
    </dev/null &
  LAUNCHER=$!
  await_session "$LAUNCHER"
  wait "$LAUNCHER" || status=$?
  # A stop asked for (`stop`, or SIGTERM from systemd or an operator) is not an error.
  if [ -f "$STOP_ASKED" ] || [ "$status" -eq 143 ]; then
    status=0
  fi
  rm -f "$STOP_ASKED"
  # Airflow ended by itself (or through `stop`): sweep whatever it left behind.
  record_session
  if [ -n "$SESSION" ]; then
    # shellcheck disable=SC2086
    stop_session $SESSION || status=1
  fi
  rm -f "$PID_FILE"
  exit "$status"
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  pause) cmd_pause pause ;;
  unpause) cmd_pause unpause ;;
  --check) cmd_check ;;
  *) fail "commande inconnue « $1 » : start, stop, status, pause, unpause ou --check." 2 ;;
esac
