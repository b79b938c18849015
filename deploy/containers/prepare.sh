#!/usr/bin/env bash
# Installe (paquets Debian, en root) le moteur de conteneurs de la répétition en conteneurs :
# podman (moteur et API compatible Docker), docker-compose 1.29 (lit les fichiers compose du dépôt),
# mmdebstrap (images de base faites de paquets Debian, aucun registre d'images n'étant joignable).
set -euo pipefail
need=()
for pair in podman:/usr/bin/podman runc:/usr/sbin/runc mmdebstrap:/usr/bin/mmdebstrap \
            docker-compose:/usr/bin/docker-compose catatonit:/usr/bin/catatonit uidmap:/usr/bin/newuidmap \
            fuse-overlayfs:/usr/bin/fuse-overlayfs util-linux:/usr/bin/nsenter; do
  [ -x "${pair#*:}" ] || need+=("${pair%%:*}")
done
if ((${#need[@]})); then
  [ "$(id -u)" -eq 0 ] || { echo "paquets manquants : ${need[*]} (installer en root)" >&2; exit 1; }
  echo "installation : ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
