#!/usr/bin/env bash
# Restaure une sauvegarde SamaConso dans une base NEUVE (jamais par-dessus la base en service).
#   sudo -u postgres bash samaconso-restore.sh [FICHIER.dump|latest] [BASE_CIBLE]
# Par défaut : la dernière sauvegarde, dans « samaconso_restore_AAAAMMJJ ». La base cible ne doit pas
# exister. Le script vérifie la somme SHA-256, restaure (pg_restore -j), puis compare le nombre de
# lignes de chaque table avec celui relevé au moment de la sauvegarde ; code retour 4 si différent.
# Pour remettre en service : voir « Restauration » dans deploy/README.md (bascule par renommage).
# RESTORE_S3=1 recopie aussi le stockage objet sauvegardé vers les compartiments (rclone copy,
# n'écrase que les objets différents, ne supprime rien).
set -euo pipefail

BACKUP_DIR=${BACKUP_DIR:-/srv/backups/samaconso}
DB_OWNER=${SAMACONSO_DB_USER:-samaconso}
JOBS=${RESTORE_JOBS:-4}
PG_ARGS=(${PGHOST:+-h "$PGHOST"} ${PGPORT:+-p "$PGPORT"} -U "${PGUSER:-postgres}")
log() { printf '%s samaconso-restore %s\n' "$(date -u +%FT%TZ)" "$*"; }

dump=${1:-latest}
[ "$dump" = latest ] && dump="$BACKUP_DIR/postgresql/latest.dump"
dump=$(readlink -f "$dump")
[ -f "$dump" ] || { echo "sauvegarde introuvable : $dump" >&2; exit 1; }
target=${2:-samaconso_restore_$(date -u +%Y%m%d)}
[[ "$target" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || { echo "nom de base invalide : $target" >&2; exit 1; }

if [ -f "$dump.sha256" ]; then
  (cd "$(dirname "$dump")" && sha256sum --quiet -c "$(basename "$dump").sha256")
  log "somme de contrôle vérifiée"
fi
exists=$(psql -X -A -t "${PG_ARGS[@]}" -d postgres -v t="$target" <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'t';
SQL
)
if [ "$exists" != 0 ]; then
  echo "la base $target existe déjà : choisir un autre nom (on ne restaure jamais par-dessus)" >&2
  exit 1
fi

log "création de $target (propriétaire $DB_OWNER)"
psql -X -q "${PG_ARGS[@]}" -d postgres -v ON_ERROR_STOP=1 -v t="$target" -v o="$DB_OWNER" <<'SQL'
CREATE DATABASE :"t" OWNER :"o" ENCODING 'UTF8' TEMPLATE template0;
ALTER DATABASE :"t" SET timezone TO 'UTC';
SQL
log "pg_restore $dump -> $target ($JOBS tâches)"
# Propriétaires conservés (les rôles existent déjà : create-database.sh) : l'application garde ses droits.
pg_restore "${PG_ARGS[@]}" -d "$target" -j "$JOBS" --exit-on-error "$dump"
psql -X -q "${PG_ARGS[@]}" -d "$target" -c "ANALYZE" >/dev/null

# Vérification : nombre de lignes par table, comparé au relevé fait lors de la sauvegarde.
psql -X -A -t "${PG_ARGS[@]}" -d "$target" -v ON_ERROR_STOP=1 -c "
  SELECT string_agg(format('SELECT %L AS t, count(*) AS n FROM %I.%I', schemaname || '.' || relname,
                           schemaname, relname), ' UNION ALL ' ORDER BY schemaname, relname)
    FROM pg_stat_user_tables" > "/tmp/restore-counts-$$.sql"
: > "/tmp/restore-counts-$$.txt"
if [ -s "/tmp/restore-counts-$$.sql" ]; then
  psql -X -A -t -F ' ' "${PG_ARGS[@]}" -d "$target" -v ON_ERROR_STOP=1 -f "/tmp/restore-counts-$$.sql" \
    | sort > "/tmp/restore-counts-$$.txt"
fi
rm -f "/tmp/restore-counts-$$.sql"
status=0
if [ -f "$dump.counts" ]; then
  if diff -u "$dump.counts" "/tmp/restore-counts-$$.txt"; then
    log "nombre de lignes identique pour les $(wc -l < "$dump.counts") tables"
  else
    log "ÉCART de nombre de lignes (voir ci-dessus)"
    status=4
  fi
else
  log "pas de relevé de lignes avec cette sauvegarde ; tables restaurées :"
  cat "/tmp/restore-counts-$$.txt"
fi
cp "/tmp/restore-counts-$$.txt" "$BACKUP_DIR/last-restore-counts.txt" 2>/dev/null || true
rm -f "/tmp/restore-counts-$$.txt"

if [ "${RESTORE_S3:-0}" = 1 ]; then
  : "${S3_CREDENTIALS_FILE:?S3_CREDENTIALS_FILE requis pour RESTORE_S3=1}"
  set -a
  # shellcheck disable=SC1090
  . "$S3_CREDENTIALS_FILE"
  set +a
  export RCLONE_CONFIG_SC_TYPE=s3 RCLONE_CONFIG_SC_ENV_AUTH=false
  export RCLONE_CONFIG_SC_PROVIDER=${S3_PROVIDER:-Minio}
  export RCLONE_CONFIG_SC_ENDPOINT=${S3_ENDPOINT:-http://127.0.0.1:9000}
  export RCLONE_CONFIG_SC_ACCESS_KEY_ID=${S3_ACCESS_KEY:-${MINIO_ROOT_USER:-}}
  export RCLONE_CONFIG_SC_SECRET_ACCESS_KEY=${S3_SECRET_KEY:-${MINIO_ROOT_PASSWORD:-}}
  export RCLONE_CONFIG_SC_REGION=${S3_REGION:-us-east-1}
  for bucket in ${S3_BUCKETS:-avatars documents}; do
    log "restauration du compartiment $bucket"
    rclone copy "$BACKUP_DIR/s3/current/$bucket" "sc:$bucket" --checksum --quiet
  done
fi
log "restauration terminée dans $target (code $status)"
exit "$status"
