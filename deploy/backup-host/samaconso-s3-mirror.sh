#!/usr/bin/env bash
# Miroir HORS du serveur 1 du stockage objet (compartiments avatars et documents), sur le serveur de
# sauvegarde, toutes les heures (samaconso-s3-mirror.timer). Identifiants : le compte MinIO
# « samaconso-backup » en LECTURE SEULE (politique deploy/server1-data/minio/samaconso-backup-policy.json),
# jamais le compte racine. Les objets remplacés ou supprimés à la source sont gardés par jour sous
# history/ (rétention RETENTION_DAYS) : une suppression par erreur se récupère.
set -euo pipefail
umask 027
: "${S3_CREDENTIALS_FILE:?fichier S3_ACCESS_KEY/S3_SECRET_KEY du compte de sauvegarde}"
MIRROR_DIR=${MIRROR_DIR:-/srv/s3-mirror/samaconso}
S3_BUCKETS=${S3_BUCKETS:-avatars documents}
RETENTION_DAYS=${RETENTION_DAYS:-30}
TEXTFILE_DIR=${NODE_EXPORTER_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
set -a
# shellcheck disable=SC1090
. "$S3_CREDENTIALS_FILE"
set +a
export RCLONE_CONFIG_SRC_TYPE=s3 RCLONE_CONFIG_SRC_ENV_AUTH=false
export RCLONE_CONFIG_SRC_PROVIDER=${S3_PROVIDER:-Minio}
export RCLONE_CONFIG_SRC_ENDPOINT=${S3_ENDPOINT:-http://10.20.0.11:9000}
export RCLONE_CONFIG_SRC_ACCESS_KEY_ID=${S3_ACCESS_KEY:?}
export RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY=${S3_SECRET_KEY:?}
export RCLONE_CONFIG_SRC_REGION=${S3_REGION:-us-east-1}
unset S3_SECRET_KEY
mkdir -p "$MIRROR_DIR/current" "$MIRROR_DIR/history"
for bucket in $S3_BUCKETS; do
  rclone sync "src:$bucket" "$MIRROR_DIR/current/$bucket" --backup-dir "$MIRROR_DIR/history/$stamp/$bucket" \
    --checksum --fast-list --contimeout 10s --timeout 60s --retries 3 --quiet
done
find "$MIRROR_DIR/history" -mindepth 1 -maxdepth 1 -type d -mtime +"$((RETENTION_DAYS - 1))" -exec rm -rf {} +
objects=$(find "$MIRROR_DIR/current" -type f | wc -l)
if [ -d "$TEXTFILE_DIR" ]; then
  prom=$(mktemp "$TEXTFILE_DIR/.samaconso_s3_mirror.prom.XXXXXX")
  printf 'samaconso_s3_mirror_last_success_timestamp_seconds %s\nsamaconso_s3_mirror_objects %s\n' \
    "$(date -u +%s)" "$objects" > "$prom"
  chmod 0644 "$prom"
  mv -f "$prom" "$TEXTFILE_DIR/samaconso_s3_mirror.prom"
fi
echo "miroir S3 à jour : $objects objets dans $MIRROR_DIR/current"
