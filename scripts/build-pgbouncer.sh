#!/usr/bin/env bash
# PgBouncer >= 1.21, which tracks prepared statements in transaction mode (max_prepared_statements),
# for the tests and `make bench-api-prepared`: Debian 12 ships 1.18 and production installs PGDG's
# (deploy/README.md §13.3). Built once from Debian 13's source package (deb.debian.org, the upstream
# release tarball) into $PGBOUNCER_PREFIX; the system's apt sources are not touched. Prints the binary.
set -euo pipefail
PREFIX=${PGBOUNCER_PREFIX:-/opt/samaconso-tools/pgbouncer}
if [ -x "$PREFIX/bin/pgbouncer" ]; then
  echo "$PREFIX/bin/pgbouncer"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "building PgBouncer >= 1.21 needs root (build dependencies from Debian)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
pkgs=()
for p in libevent-dev libc-ares-dev libssl-dev pkg-config make gcc; do
  dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p")
done
if ((${#pkgs[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb-src http://deb.debian.org/debian trixie main" >"$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
timeout 300 apt-get "${apt_opts[@]}" update -qq
(cd "$work" && timeout 300 apt-get "${apt_opts[@]}" source --download-only pgbouncer >/dev/null 2>&1)
tar xzf "$work"/pgbouncer_*.orig.tar.gz -C "$work"
cd "$work"/pgbouncer-*/
./configure --prefix="$PREFIX" >"$work/configure.log" 2>&1
make -j"$(nproc)" >"$work/make.log" 2>&1
make install >/dev/null 2>&1
echo "$PREFIX/bin/pgbouncer"
