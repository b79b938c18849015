#!/usr/bin/env bash
# Déploie une version de SamaConso sans interruption de service.
#   deploy/scripts/deploy.sh 3.1.0            (image déjà construite et poussée)
#   deploy/scripts/deploy.sh --build 3.1.0    (construit et pousse l'image depuis ce dépôt)
#   deploy/scripts/deploy.sh --skip-migrations 3.0.0   (utilisé par rollback.sh)
# Ordre : image tirée sur chaque serveur de l'inventaire → migrations (une fois, sur le serveur de la
# première API, avant le trafic) → chaque API dans l'ordre de l'inventaire (retirée du répartiteur,
# redémarrée, remise seulement quand elle est saine ; la suivante n'est touchée qu'après) → workers,
# beat et Flower de chaque serveur (arrêt propre, tâches en cours terminées) → contrôle de santé.
# Serveurs et instances : deploy/inventory.conf (INVENTORY=… pour un autre fichier).
# Variables : INVENTORY, SSH_USER, REMOTE_DIR, SAMACONSO_IMAGE, LB_KIND (haproxy|f5|none),
# LB_HOST, HEALTH_TIMEOUT (défaut 180 s), LB_SETTLE_SECONDS (15), DRAIN_SECONDS (5). Voir « Procédures de déploiement » dans deploy/README.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=deploy/scripts/lib.sh
. "$HERE/lib.sh"

build=0; migrations=1
while [ $# -gt 1 ]; do
  case $1 in
    --build) build=1 ;;
    --skip-migrations) migrations=0 ;;
    *) die "option inconnue : $1" ;;
  esac
  shift
done
TAG=${1:?usage: deploy.sh [--build] [--skip-migrations] TAG}
[[ "$TAG" =~ ^[A-Za-z0-9_.-]{1,128}$ ]] || die "étiquette d'image invalide : $TAG"
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-180}
API_FILE=docker-compose.production.yml
WORKERS_FILE=docker-compose.workers.yml

# Le registre des versions et les migrations : le serveur de la première API de l'inventaire.
API_HOST=$(inv_first api hôte)
RELEASES=$(remote_dir "$API_HOST")/releases
previous=$(on "$API_HOST" "cat '$RELEASES/current' 2>/dev/null || true")
log "déploiement de $SAMACONSO_IMAGE:$TAG (version en service : ${previous:-aucune})"

if [ "$build" = 1 ]; then
  root=$(cd "$HERE/../.." && pwd)
  log "construction de l'image"
  docker build --pull -t "$SAMACONSO_IMAGE:$TAG" "$root"
  docker push "$SAMACONSO_IMAGE:$TAG"
fi

if [ "${DEPLOY_PULL:-1}" = 1 ]; then
  log "1/5 téléchargement de l'image sur les serveurs de l'inventaire"
  for host in $(inv_hosts api); do
    # shellcheck disable=SC2046 # un mot par service
    compose "$host" "$API_FILE" "$TAG" pull --quiet migrate $(inv_services "$host" api)
  done
  for host in $(inv_hosts worker beat flower); do
    # shellcheck disable=SC2046 # un mot par service
    compose "$host" "$WORKERS_FILE" "$TAG" pull --quiet $(inv_services "$host" worker beat flower)
  done
else
  log "1/5 image déjà présente sur les serveurs (DEPLOY_PULL=0)"
fi

if [ "$migrations" = 1 ]; then
  log "2/5 migrations de la base (une seule fois, avant tout redémarrage)"
  compose "$API_HOST" "$API_FILE" "$TAG" run --rm --no-deps migrate
else
  log "2/5 migrations ignorées (--skip-migrations)"
fi

while read -r member host addr port service; do
  log "3/5 $member ($service sur $host) : retrait du répartiteur, redémarrage sur $TAG"
  lb_member drain "$member" "$addr" "$port" </dev/null
  sleep "${DRAIN_SECONDS:-5}"   # les requêtes en cours se terminent
  compose "$host" "$API_FILE" "$TAG" up -d --no-deps --force-recreate "$service" </dev/null
  if ! wait_container_healthy "$host" "$API_FILE" "$TAG" "$service" "$HEALTH_TIMEOUT" </dev/null ||
     ! wait_http_running "http://${addr}:${port}/health" 30; then
    log "$member ne démarre pas sur $TAG : arrêt du déploiement (l'autre instance sert toujours)"
    log "pour revenir en arrière : deploy/scripts/rollback.sh"
    exit 1
  fi
  lb_member ready "$member" "$addr" "$port" </dev/null
  # Le répartiteur doit l'avoir vu sain (moniteur : intervalle × montées) avant qu'on touche à l'autre.
  sleep "${LB_SETTLE_SECONDS:-15}"
  log "$member sain et remis dans le répartiteur"
done < <(inv api)

log "4/5 workers, beat et Flower (arrêt propre : tâches en cours terminées ou rejouées)"
for host in $(inv_hosts worker beat flower); do
  # shellcheck disable=SC2046 # un mot par service
  compose "$host" "$WORKERS_FILE" "$TAG" up -d --no-deps $(inv_services "$host" worker beat flower)
done

on "$API_HOST" "mkdir -p '$RELEASES' && { [ -z '$previous' ] || [ '$previous' = '$TAG' ] || echo '$previous' > '$RELEASES/previous'; } && echo '$TAG' > '$RELEASES/current' && echo \"\$(date -u +%FT%TZ) $TAG\" >> '$RELEASES/history'"

log "5/5 contrôle de santé de la plate-forme"
${POST_DEPLOY_CHECK:-"$HERE/healthcheck.sh"}
log "version $TAG en service"
