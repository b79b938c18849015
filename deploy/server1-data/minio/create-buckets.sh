#!/usr/bin/env bash
# Crée les compartiments « avatars » et « documents » (idempotent) avec rclone (paquet Debian),
# qui parle S3 à MinIO comme à tout serveur compatible. Identifiants lus dans un fichier env
# (0600) : S3_ACCESS_KEY, S3_SECRET_KEY ; point d'accès : S3_ENDPOINT (défaut http://127.0.0.1:9000).
#   S3_CREDENTIALS_FILE=/etc/minio/credentials.env bash deploy/server1-data/minio/create-buckets.sh
# Le compte applicatif restreint aux deux compartiments se crée ensuite avec `mc` (voir README).
set -euo pipefail

: "${S3_CREDENTIALS_FILE:?fichier des identifiants S3 (S3_ACCESS_KEY/S3_SECRET_KEY ou MINIO_ROOT_USER/MINIO_ROOT_PASSWORD)}"
set -a
# shellcheck disable=SC1090
. "$S3_CREDENTIALS_FILE"
set +a
export RCLONE_CONFIG_SC_TYPE=s3
export RCLONE_CONFIG_SC_PROVIDER=${S3_PROVIDER:-Minio}
export RCLONE_CONFIG_SC_ENDPOINT=${S3_ENDPOINT:-http://127.0.0.1:9000}
export RCLONE_CONFIG_SC_ACCESS_KEY_ID=${S3_ACCESS_KEY:-${MINIO_ROOT_USER:-}}
export RCLONE_CONFIG_SC_SECRET_ACCESS_KEY=${S3_SECRET_KEY:-${MINIO_ROOT_PASSWORD:-}}
export RCLONE_CONFIG_SC_REGION=${S3_REGION:-us-east-1}
export RCLONE_CONFIG_SC_ENV_AUTH=false

for bucket in ${S3_BUCKETS:-avatars documents}; do
  rclone mkdir "sc:$bucket"
  echo "compartiment prêt : $bucket"
done
rclone lsd sc:
