#!/usr/bin/env bash
# Installe sur un serveur les secrets dont il a besoin, lisibles par le seul conteneur qui les lit.
#   bash deploy/scripts/install-secrets.sh ~/samaconso-secrets /opt/samaconso/secrets api|workers
# Compose (hors Swarm) monte chaque fichier tel quel dans /run/secrets : propriétaire et mode de
# l'hôte, les options uid/gid/mode du format long sont ignorées. D'où, sur l'hôte :
#   application (uid/gid 10001 de l'image samaconso)       : root:10001 0640
#   RabbitMQ (serveur 2) et Redis (serveur 3), uid/gid 999 : root:999   0640
#   répertoire : root 0700 (le moteur, root, monte les fichiers ; personne d'autre n'y entre)
# Jamais lisibles par « les autres » ; à relancer après avoir rempli un fichier fourni par un tiers.
set -euo pipefail
src=${1:?usage: install-secrets.sh SOURCE DESTINATION api|workers}
dest=${2:?usage: install-secrets.sh SOURCE DESTINATION api|workers}
role=${3:?usage: install-secrets.sh SOURCE DESTINATION api|workers}
APP_GID=${APP_GID:-10001}
SERVICE_GID=${SERVICE_GID:-999}
case $role in
  api) service_files=(rabbitmq_definitions.json) ;;
  workers) service_files=(redis_password) ;;
  *) echo "rôle inconnu : $role (api ou workers)" >&2; exit 2 ;;
esac
OWNER=${SECRETS_OWNER:-root}
install -d -o "$OWNER" -m 0700 "$dest"
for f in "$src"/samaconso_* "$src/xmlvend_client.p12" "$src/fcm_credentials.json"; do
  install -o "$OWNER" -g "$APP_GID" -m 0640 "$f" "$dest/${f##*/}"
done
for name in "${service_files[@]}"; do
  install -o "$OWNER" -g "$SERVICE_GID" -m 0640 "$src/$name" "$dest/$name"
done
echo "secrets installés dans $dest ($role) : application root:$APP_GID 0640, service root:$SERVICE_GID 0640"
