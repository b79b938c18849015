#!/usr/bin/env bash
# Génère /etc/pgbouncer/userlist.txt depuis PostgreSQL (vérificateurs SCRAM de pg_shadow) : aucun
# mot de passe en clair n'est écrit. À relancer après chaque changement de mot de passe, puis
# `systemctl reload pgbouncer`. À exécuter sur le serveur 1 en tant que postgres :
#   sudo -u postgres bash deploy/server1-data/pgbouncer/generate-userlist.sh [/etc/pgbouncer/userlist.txt]
set -euo pipefail

OUT=${1:-/etc/pgbouncer/userlist.txt}
ROLES=${PGBOUNCER_ROLES-samaconso,pgbouncer_auth}
# Console d'administration (admin_users) : ce compte figure sans mot de passe ; pgbouncer_hba.conf ne
# l'accepte QUE par le socket unix, en « peer » (processus du compte système postgres du serveur 1).
# Sans cette ligne, PgBouncer met la connexion en attente d'un auth_query qui ne vient jamais.
ADMIN=${PGBOUNCER_ADMIN:-postgres}
PSQL=(psql -X -A -t -v ON_ERROR_STOP=1 ${PGHOST:+-h "$PGHOST"} ${PGPORT:+-p "$PGPORT"} -U "${PGUSER:-postgres}" -d postgres)

tmp=$(mktemp "${OUT}.XXXXXX")
trap 'rm -f "$tmp"' EXIT
chmod 600 "$tmp"
"${PSQL[@]}" -v roles="$ROLES" > "$tmp" <<'SQL'
SELECT format('"%s" "%s"', usename, passwd)
  FROM pg_catalog.pg_shadow
 WHERE usename = ANY (string_to_array(:'roles', ','))
   AND passwd LIKE 'SCRAM-SHA-256$%'
 ORDER BY usename;
SQL
expected=$(tr ',' '\n' <<<"$ROLES" | grep -c . || true)
found=$(grep -c . "$tmp" || true)
if [ "$found" -ne "$expected" ]; then
  echo "userlist incomplète : $found rôle(s) SCRAM trouvé(s) sur $expected ($ROLES)" >&2
  exit 1
fi
printf '"%s" ""\n' "$ADMIN" >> "$tmp"
mv "$tmp" "$OUT"
trap - EXIT
echo "userlist écrite : $OUT ($found rôles SCRAM + console d'administration $ADMIN)"
