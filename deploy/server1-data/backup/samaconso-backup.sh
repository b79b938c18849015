#!/usr/bin/env bash
# Sauvegarde nocturne de SamaConso (serveur 1) : base PostgreSQL (pg_dump -Fc) + copie du stockage
# objet (compartiments avatars et documents), rétention 7 jours. Lancée par samaconso-backup.timer.
# Réglages dans /etc/samaconso/backup.env (voir backup.env.example) ; aucun secret dans ce script.
# Code retour non nul à la moindre erreur : le timer le signale (OnFailure) et l'alerte
# SamaConsoBackupTooOld se déclenche si aucune sauvegarde réussie depuis 26 h.
set -euo pipefail
umask 077

BACKUP_DIR=${BACKUP_DIR:-/srv/backups/samaconso}
DB_NAME=${SAMACONSO_DB_NAME:-samaconso}
RETENTION_DAYS=${RETENTION_DAYS:-7}
S3_BUCKETS=${S3_BUCKETS:-avatars documents}
PG_DUMP=${PG_DUMP:-pg_dump}
PG_RESTORE=${PG_RESTORE:-pg_restore}
PG_ARGS=(${PGHOST:+-h "$PGHOST"} ${PGPORT:+-p "$PGPORT"} -U "${PGUSER:-postgres}")
stamp=$(date -u +%Y%m%dT%H%M%SZ)
log() { printf '%s samaconso-backup %s\n' "$(date -u +%FT%TZ)" "$*"; }

mkdir -p "$BACKUP_DIR/postgresql" "$BACKUP_DIR/s3/current" "$BACKUP_DIR/s3/history"
dump="$BACKUP_DIR/postgresql/${DB_NAME}-${stamp}.dump"

# 1. Base de données : format custom compressé, instantané cohérent (une transaction).
log "pg_dump $DB_NAME -> $dump"
"$PG_DUMP" "${PG_ARGS[@]}" -d "$DB_NAME" -Fc -Z 6 --no-password -f "$dump.partial"
# Une sauvegarde illisible ne vaut rien : on vérifie qu'on sait en lire le sommaire.
"$PG_RESTORE" --list "$dump.partial" > /dev/null
mv "$dump.partial" "$dump"
sha256sum "$dump" > "$dump.sha256"
# Comptage des lignes au moment de la sauvegarde (comparé après une restauration).
: > "$dump.counts"
psql -X -A -t "${PG_ARGS[@]}" -d "$DB_NAME" -v ON_ERROR_STOP=1 -c "
  SELECT string_agg(format('SELECT %L AS t, count(*) AS n FROM %I.%I', schemaname || '.' || relname,
                           schemaname, relname), ' UNION ALL ' ORDER BY schemaname, relname)
    FROM pg_stat_user_tables" > "$dump.counts.sql"
if [ -s "$dump.counts.sql" ]; then
  psql -X -A -t -F ' ' "${PG_ARGS[@]}" -d "$DB_NAME" -v ON_ERROR_STOP=1 -f "$dump.counts.sql" \
    | sort > "$dump.counts"
fi
rm -f "$dump.counts.sql"
log "base sauvegardée ($(du -h "$dump" | cut -f1), $(wc -l < "$dump.counts") tables)"

# 2. Stockage objet : miroir courant + versions remplacées/supprimées gardées par jour.
if [ -n "${S3_CREDENTIALS_FILE:-}" ]; then
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
  for bucket in $S3_BUCKETS; do
    log "copie du compartiment $bucket"
    mkdir -p "$BACKUP_DIR/s3/current/$bucket"
    rclone sync "sc:$bucket" "$BACKUP_DIR/s3/current/$bucket" \
      --backup-dir "$BACKUP_DIR/s3/history/$stamp/$bucket" --checksum --fast-list --quiet
  done
  find "$BACKUP_DIR/s3/current" -type f | wc -l > "$dump.objects"
else
  log "S3_CREDENTIALS_FILE absent : stockage objet NON sauvegardé" >&2
  exit 3
fi

# 3. Rétention : 7 jours (les fichiers plus anciens sont supprimés, la dernière sauvegarde jamais).
find "$BACKUP_DIR/postgresql" -maxdepth 1 -type f -name "${DB_NAME}-*" -mtime +"$((RETENTION_DAYS - 1))" \
  ! -name "$(basename "$dump")*" -print -delete
find "$BACKUP_DIR/s3/history" -mindepth 1 -maxdepth 1 -type d -mtime +"$((RETENTION_DAYS - 1))" \
  -print -exec rm -rf {} +
ln -sfn "$(basename "$dump")" "$BACKUP_DIR/postgresql/latest.dump"
date -u +%s > "$BACKUP_DIR/last-success"
# Métrique pour node_exporter (textfile collector), si le répertoire existe.
# Répertoire root:postgres 0775 (deploy/backup-host/samaconso-backup.tmpfiles.conf) ; fichier écrit à
# côté, rendu lisible par node-exporter (0644 malgré umask 077), puis renommé.
textfile=${NODE_EXPORTER_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
if [ -d "$textfile" ]; then
  prom=$(mktemp "$textfile/.samaconso_dump.prom.XXXXXX")
  printf 'samaconso_backup_last_success_timestamp_seconds{type="dump"} %s\n' "$(date -u +%s)" > "$prom"
  chmod 0644 "$prom"
  mv -f "$prom" "$textfile/samaconso_dump.prom"
fi
log "sauvegarde terminée : $dump"
