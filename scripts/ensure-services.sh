#!/usr/bin/env bash
# Make sure the services the tests talk to exist and answer on their standard local ports:
# PostgreSQL :5432, Redis :6379, RabbitMQ :5672 (used as they are when they answer), plus the
# binaries the tests start themselves (PgBouncer, OpenLDAP slapd, HAProxy, Chromium). Installs what is missing
# from Debian's packages (needs root, as on the CI machine).
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$2" ]; }

have pgbouncer /usr/sbin/pgbouncer || need_pkgs+=(pgbouncer)
have slapd /usr/sbin/slapd || need_pkgs+=(slapd ldap-utils)
# promtool checks deploy/monitoring (Prometheus configuration and alert rules)
have promtool /usr/bin/promtool || need_pkgs+=(prometheus)
# the contract and console tests drive Debian's Chromium through Playwright (it cannot download browsers here)
have chromium /usr/bin/chromium || need_pkgs+=(chromium)
# the deploy tests check the real files with the real tools (a missing one would skip its test)
have haproxy /usr/sbin/haproxy || need_pkgs+=(haproxy)
have nft /usr/sbin/nft || need_pkgs+=(nftables)
have shellcheck /usr/bin/shellcheck || need_pkgs+=(shellcheck)
have docker-compose /usr/bin/docker-compose || need_pkgs+=(docker-compose)
have openssl /usr/bin/openssl || need_pkgs+=(openssl)
# make bench-api drives the API with wrk (bench/api.py)
have wrk /usr/bin/wrk || need_pkgs+=(wrk)
answers 5432 || have pg_ctlcluster /usr/bin/pg_ctlcluster || need_pkgs+=(postgresql)
answers 6379 || have redis-server /usr/bin/redis-server || need_pkgs+=(redis-server)
answers 5672 || have rabbitmq-server /usr/sbin/rabbitmq-server || need_pkgs+=(rabbitmq-server)

if ((${#need_pkgs[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need_pkgs[*]} — install them as root (apt-get install ${need_pkgs[*]})" >&2
    exit 1
  fi
  echo "installing: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  # Debian starts slapd/pgbouncer on install; the tests run their own instances.
  (service slapd stop || true; service pgbouncer stop || true; service haproxy stop || true
   service prometheus stop || true) >/dev/null 2>&1
fi

# PgBouncer >= 1.21 (prepared statements tracked in transaction mode), built once from Debian 13's
# source package: tests/kit/test_db_pgbouncer.py runs the production setting through it
if [ "$(id -u)" -eq 0 ]; then
  bash "$(dirname "$0")/build-pgbouncer.sh" >/dev/null
fi

if ! answers 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  # trust on loopback for the test suite (CI machine only)
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf | tail -1)
  grep -q "samaconso-tests" "$hba" || {
    sed -i '1i host all all 127.0.0.1/32 trust # samaconso-tests' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main reload
  }
fi
if ! answers 6379; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
if ! answers 5672; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached
fi
for i in $(seq 1 60); do
  answers 5432 && answers 6379 && answers 5672 && break
  sleep 1
done
answers 5432 || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
answers 6379 || { echo "Redis does not answer on 127.0.0.1:6379" >&2; exit 1; }
answers 5672 || { echo "RabbitMQ does not answer on 127.0.0.1:5672" >&2; exit 1; }
echo "services ready: PostgreSQL :5432, Redis :6379, RabbitMQ :5672, pgbouncer, slapd"
