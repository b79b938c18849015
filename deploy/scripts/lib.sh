# shellcheck shell=bash
# SamaConso — fonctions communes des scripts d'exploitation (sourcé, pas exécuté).
# Les commandes des serveurs passent par SSH (depuis le réseau d'administration) ; « local » exécute ici.
# Les serveurs, instances et ports viennent de l'inventaire (deploy/inventory.conf, voir inventory.sh).
# shellcheck source=deploy/scripts/inventory.sh
. "$(dirname "${BASH_SOURCE[0]}")/inventory.sh"
SSH_USER=${SSH_USER:-exploitation}
REMOTE_DIR=${REMOTE_DIR:-/opt/samaconso}
SAMACONSO_IMAGE=${SAMACONSO_IMAGE:-registry.senelec.sn/samaconso/api}
# Outil compose : Compose v2 en production ; la répétition en conteneurs utilise docker-compose 1.29
# (Debian) sur podman. COMPOSE_EXTRA_FILES : fichiers compose supplémentaires (« -f x.yml »).
COMPOSE=${COMPOSE:-docker compose}
COMPOSE_EXTRA_FILES=${COMPOSE_EXTRA_FILES:-}
CONTAINER_CLI=${CONTAINER_CLI:-docker}    # « docker inspect » ; podman dans la répétition
# REMOTE_EXEC=ssh (production) ; REMOTE_EXEC=rehearsal : chaque « serveur » est un répertoire
# $REHEARSAL_HOSTS/HOTE avec son moteur de conteneurs (engine.sock), voir deploy/rehearsal/containers.py.
REMOTE_EXEC=${REMOTE_EXEC:-ssh}

log() { printf '%s [%s] %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*"; }
die() { log "ERREUR : $*" >&2; exit 1; }

# on HOST COMMANDE… : exécute sur un serveur (SSH) ou localement si HOST=local.
on() {
  local host=$1; shift
  if [ "$host" = local ]; then bash -c "$*"
  elif [ "$REMOTE_EXEC" = rehearsal ]; then
    local project
    project=$(tr ' ' '\n' <<<"${REHEARSAL_PROJECTS:-}" | sed -n "s/^$host=//p")
    DOCKER_HOST="unix://${REHEARSAL_HOSTS:?}/$host/engine.sock" COMPOSE_PROJECT_NAME="$project" bash -c "$*"
  else ssh -o BatchMode=yes -o ConnectTimeout=10 "${SSH_USER}@${host}" "$*"; fi
}

# remote_dir HOST : le répertoire des fichiers compose sur ce serveur.
remote_dir() {
  if [ "$REMOTE_EXEC" = rehearsal ]; then echo "${REHEARSAL_HOSTS:?}/$1"; else echo "$REMOTE_DIR"; fi
}

# compose HOST FICHIER TAG ARGS… : docker compose (v2) dans REMOTE_DIR avec l'image TAG.
compose() {
  local host=$1 file=$2 tag=$3; shift 3
  on "$host" "cd '$(remote_dir "$host")' && SAMACONSO_IMAGE='$SAMACONSO_IMAGE' SAMACONSO_TAG='$tag' $COMPOSE -f '$file' $COMPOSE_EXTRA_FILES $*"
}

# wait_container_healthy HOST FICHIER TAG SERVICE TIMEOUT : attend l'état « healthy » de Docker.
wait_container_healthy() {
  local host=$1 file=$2 tag=$3 service=$4 timeout=${5:-120} waited=0 state id
  while [ "$waited" -lt "$timeout" ]; do
    id=$(compose "$host" "$file" "$tag" ps -q "$service" 2>/dev/null | head -1)
    state=$(on "$host" "$CONTAINER_CLI inspect -f '{{.State.Health.Status}}' $id" 2>/dev/null || echo absent)
    [ "$state" = healthy ] && return 0
    sleep 2; waited=$((waited + 2))
  done
  log "$service pas sain après ${timeout}s (état : ${state:-?})"
  return 1
}

# wait_http_running URL TIMEOUT : GET URL doit contenir « running » (critère du F5).
wait_http_running() {
  local url=$1 timeout=${2:-60} waited=0
  while [ "$waited" -lt "$timeout" ]; do
    curl -fsS --max-time 3 "$url" 2>/dev/null | grep -q running && return 0
    sleep 2; waited=$((waited + 2))
  done
  return 1
}

# lb_member ACTION NOM ADRESSE PORT : retire (drain) / remet (ready) un membre du répartiteur
# (NOM : nom de l'instance dans l'inventaire = nom du serveur HAProxy ; ADRESSE:PORT = membre F5).
# LB_KIND=haproxy : socket d'administration de HAProxy via SSH sur LB_HOST ;
# LB_KIND=f5 : tmsh via SSH sur LB_HOST ; LB_KIND=none : rien (le moniteur /health suffit).
lb_member() {
  local action=$1 member=$2 addr=$3 port=$4
  case "${LB_KIND:-none}" in
    haproxy)
      on "${LB_HOST:?LB_HOST}" "echo 'set server samaconso_api/$member state $action' | socat stdio ${HAPROXY_SOCKET:-/run/haproxy/admin.sock}" ;;
    f5)
      local state; state=$([ "$action" = drain ] && echo user-disabled || echo user-enabled)
      on "${LB_HOST:?LB_HOST}" "tmsh modify ltm pool samaconso_api_pool members modify { ${addr}:${port} { session $state } }" ;;
    none) : ;;
    *) die "LB_KIND inconnu : $LB_KIND" ;;
  esac
}
