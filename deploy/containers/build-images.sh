#!/usr/bin/env bash
# Images de base faites de paquets Debian (aucun registre d'images n'est joignable ici), puis l'image
# de l'application construite par le Dockerfile du dépôt sur cette base.
# En production on tire les images officielles : les noms sont des variables des fichiers compose
#   SAMACONSO_PYTHON_IMAGE (python:3.11-slim-bookworm), REDIS_IMAGE (redis:7.2),
#   RABBITMQ_IMAGE (rabbitmq:3.13-management) ; les utilisateurs ont les mêmes uid que dans ces
#   images officielles (redis 999, rabbitmq 999) pour que les droits des secrets soient les mêmes.
# Usage : deploy/containers/build-images.sh [TAG]   (root ; une image existante est réutilisée,
#         FORCE=1 pour reconstruire)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tag=${1:-$("$here/image-tag.sh")}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
suite=bookworm
work=$(mktemp -d /tmp/samaconso-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

have() { [ -z "${FORCE:-}" ] && podman image exists "$1"; }

# base_image NOM PAQUETS CHANGEMENTS... : mmdebstrap --variant=minbase puis podman import.
# Les utilisateurs de service sont créés avant les paquets (uid fixes, ceux des images officielles).
base_image() {
  local name=$1 include=$2; shift 2
  if have "$name"; then echo "image présente : $name"; return; fi
  echo "mmdebstrap : $name ($include)"
  local changes=()
  for c in "$@"; do changes+=(--change "$c"); done
  local user=${SAMACONSO_SVC_USER:-}
  # Avant les paquets (crochet « essential » : passwd n'est pas encore là, on écrit les fichiers) ;
  # le postinst du paquet (adduser --system) réutilise alors l'utilisateur existant.
  printf '#!/bin/sh\nset -e\nu=%s\n[ -z "$u" ] && exit 0\necho "$u:x:999:999::/var/lib/$u:/usr/sbin/nologin" >> "$1/etc/passwd"\necho "$u:x:999:" >> "$1/etc/group"\n[ ! -e "$1/etc/shadow" ] || echo "$u:!:19000::::::" >> "$1/etc/shadow"\n[ ! -e "$1/etc/gshadow" ] || echo "$u:!::" >> "$1/etc/gshadow"\n' \
    "$user" > "$work/users.sh"
  # Répertoires de données possédés par l'utilisateur du service : un volume nommé neuf en hérite.
  printf '#!/bin/sh\nset -e\nfor d in %s; do mkdir -p "$1$d"; chown 999:999 "$1$d"; done\n' "${SAMACONSO_SVC_DIRS:-}" > "$work/dirs.sh"
  chmod +x "$work/dirs.sh"
  chmod +x "$work/users.sh"
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --essential-hook="$work/users.sh" \
    --customize-hook="$work/dirs.sh" \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED "$1"/var/lib/rabbitmq/.erlang.cookie; rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    "$suite" "$work/image.tar"
  podman import "${changes[@]}" "$work/image.tar" "$name" >/dev/null
  rm -f "$work/image.tar"
}

python_image=${SAMACONSO_PYTHON_IMAGE:-localhost/samaconso-python:$suite}
redis_image=${REDIS_IMAGE:-localhost/samaconso-redis:$suite}
rabbitmq_image=${RABBITMQ_IMAGE:-localhost/samaconso-rabbitmq:$suite}
app_image=${SAMACONSO_IMAGE:-localhost/samaconso/api}:$tag

SAMACONSO_SVC_USER='' base_image "$python_image" python3,python3-venv,python3-pip,ca-certificates,passwd \
  'CMD ["python3"]' 'ENV LANG=C.UTF-8'
SAMACONSO_SVC_USER=redis SAMACONSO_SVC_DIRS=/data base_image "$redis_image" redis-server,redis-tools,ca-certificates \
  'USER redis' 'WORKDIR /data' 'CMD ["redis-server"]' 'ENV LANG=C.UTF-8'
SAMACONSO_SVC_USER=rabbitmq SAMACONSO_SVC_DIRS="/var/lib/rabbitmq /var/log/rabbitmq" base_image "$rabbitmq_image" rabbitmq-server,ca-certificates \
  'USER rabbitmq' 'CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]' 'ENV LANG=C.UTF-8' 'ENV HOME=/var/lib/rabbitmq'
export SAMACONSO_SVC_USER=''

if have "$app_image"; then
  echo "image présente : $app_image"
else
  # Le certificat du proxy TLS de cette machine (s'il y en a un) passe en secret de construction :
  # il n'entre dans aucune couche de l'image.
  build_args=(--build-arg "PYTHON_IMAGE=$python_image" --network host
              --secret "id=ca_bundle,src=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}")
  podman build --quiet --format docker "${build_args[@]}" -t "$app_image" -f "$repo/Dockerfile" "$repo" >/dev/null
fi
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'samaconso' || true
