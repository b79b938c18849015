#!/usr/bin/env bash
# Installe (paquets Debian, en root) ce dont la répétition a besoin et qui manquerait.
set -euo pipefail
need=()
for pair in haproxy:/usr/sbin/haproxy pgbouncer:/usr/sbin/pgbouncer redis-server:/usr/bin/redis-server \
            rabbitmq-server:/usr/sbin/rabbitmq-server rclone:/usr/bin/rclone socat:/usr/bin/socat \
            nftables:/usr/sbin/nft curl:/usr/bin/curl postgresql-15:/usr/lib/postgresql/15/bin/postgres \
            iproute2:/usr/sbin/ip prometheus:/usr/bin/prometheus pgbackrest:/usr/bin/pgbackrest \
            prometheus-node-exporter:/usr/bin/prometheus-node-exporter openssl:/usr/bin/openssl; do
  [ -x "${pair#*:}" ] || need+=("${pair%%:*}")
done
if ((${#need[@]})); then
  [ "$(id -u)" -eq 0 ] || { echo "paquets manquants : ${need[*]} (installer en root)" >&2; exit 1; }
  echo "installation : ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Les paquets démarrent leurs services : la répétition lance les siens, dans ses espaces de noms.
  for svc in haproxy pgbouncer prometheus prometheus-node-exporter; do service "$svc" stop >/dev/null 2>&1 || true; done
fi
