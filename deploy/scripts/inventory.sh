# shellcheck shell=bash
# SamaConso — lecture de l'inventaire (deploy/inventory.conf), sourcé par lib.sh et healthcheck.sh.
# INVENTORY=fichier pour en lire un autre. Sans INVENTORY, si les anciennes variables d'un seul serveur
# par rôle sont données (API_HOST / WORKERS_HOST / SRV_API / SRV_WORKERS, API_1_PORT, API_2_PORT,
# API_ADDR : répétitions, tests), l'inventaire est fait de ces valeurs (deux API, deux workers).
INVENTORY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

_inventory_from_variables() {
  local api_host=${API_HOST:-${SRV_API:-10.20.0.12}} workers_host=${WORKERS_HOST:-${SRV_WORKERS:-10.20.0.13}}
  local api_addr=${API_ADDR:-${SRV_API:-$api_host}} workers_addr=${SRV_WORKERS:-$workers_host}
  printf '%s\n' \
    "api api_1 $api_host $api_addr ${API_1_PORT:-8001} api_1" \
    "api api_2 $api_host $api_addr ${API_2_PORT:-8002} api_2" \
    "worker worker_1 $workers_host $workers_addr 9808 worker_1" \
    "worker worker_2 $workers_host $workers_addr 9809 worker_2" \
    "beat beat $workers_host $workers_addr - beat" \
    "flower flower $workers_host $workers_addr 5555 flower"
}

if [ -n "${INVENTORY:-}" ]; then
  INVENTORY_ROWS=$(grep -Ev '^[[:space:]]*(#|$)' "$INVENTORY")
elif [ -n "${API_HOST:-}${WORKERS_HOST:-}${SRV_API:-}${SRV_WORKERS:-}" ]; then
  INVENTORY_ROWS=$(_inventory_from_variables)
else
  INVENTORY_ROWS=$(grep -Ev '^[[:space:]]*(#|$)' "$INVENTORY_DIR/inventory.conf")
fi

# inv RÔLE : « nom hôte adresse port service », une ligne par instance du rôle, dans l'ordre du fichier.
inv() { awk -v role="$1" '$1 == role { print $2, $3, $4, $5, $6 }' <<<"$INVENTORY_ROWS"; }
# inv_hosts RÔLE… : les hôtes SSH de ces rôles, chacun une fois, dans l'ordre du fichier.
inv_hosts() { awk -v roles=" $* " 'index(roles, " " $1 " ") { if (!seen[$3]++) print $3 }' <<<"$INVENTORY_ROWS"; }
# inv_services HÔTE RÔLE… : les services compose de ces rôles sur cet hôte (une ligne, séparés par des espaces).
inv_services() {
  local host=$1; shift
  awk -v host="$host" -v roles=" $* " 'index(roles, " " $1 " ") && $3 == host { printf "%s%s", sep, $6; sep = " " } END { print "" }' <<<"$INVENTORY_ROWS"
}
# inv_first RÔLE CHAMP : un champ (nom|hôte|adresse|port|service) de la première instance du rôle.
inv_first() { inv "$1" | head -1 | awk -v f="$2" '{ i = (f == "nom") ? 1 : (f == "hôte") ? 2 : (f == "adresse") ? 3 : (f == "port") ? 4 : 5; print $i }'; }
[ -n "$(inv api)" ] || { echo "inventaire sans instance d'API" >&2; exit 1; }
