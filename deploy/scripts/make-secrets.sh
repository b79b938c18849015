#!/usr/bin/env bash
# Génère les secrets de la plate-forme dans un répertoire (0700, fichiers 0600), sans jamais
# écraser un fichier existant (rotation : supprimer le fichier concerné puis relancer, et suivre
# « Rotation des secrets » dans deploy/README.md).
#   bash deploy/scripts/make-secrets.sh /opt/samaconso/secrets
# Produit :
#   - secrets des conteneurs (noms = variables en minuscules, lus via SAMACONSO_SECRETS_DIR) :
#     samaconso_jwt_secret, samaconso_metrics_token, samaconso_flower_password, samaconso_s3_secret_key,
#     samaconso_database_url, samaconso_redis_url, samaconso_broker_url, samaconso_result_backend ;
#   - mots de passe d'infrastructure : db_password, pgbouncer_auth_password, redis_password,
#     rabbitmq_app_password, rabbitmq_admin_password, rabbitmq_definitions.json (haché) ;
#   - minio-credentials.env (/etc/minio/credentials.env du serveur 1) et backup-s3.env ;
#   - fichiers VIDES à remplir avec les éléments fournis par des tiers : samaconso_sms_orange_password,
#     samaconso_ldap_bind_password, samaconso_xmlvend_client_p12_password,
#     samaconso_xmlvend_operator_password, samaconso_legacy_*_url, xmlvend_client.p12, fcm_credentials.json.
# Adresses : SRV_DATA, SRV_API, SRV_WORKERS (défaut : plan de deploy/firewall/samaconso-addresses.nft).
set -euo pipefail

DIR=${1:?usage: make-secrets.sh REPERTOIRE}
SRV_DATA=${SRV_DATA:-10.20.0.11}
SRV_API=${SRV_API:-10.20.0.12}
SRV_WORKERS=${SRV_WORKERS:-10.20.0.13}
DB_NAME=${SAMACONSO_DB_NAME:-samaconso}
DB_USER=${SAMACONSO_DB_USER:-samaconso}
S3_APP_USER=${S3_APP_USER:-samaconso-app}
HERE=$(cd "$(dirname "$0")" && pwd)

umask 077
mkdir -p "$DIR"
chmod 700 "$DIR"

# Aléa sans caractère spécial (utilisable tel quel dans une URL).
rand() { head -c "${1:-32}" /dev/urandom | base64 | tr -d '/+=\n' | head -c "${2:-40}"; }
new() { # new NOM VALEUR : écrit le fichier s'il n'existe pas encore
  if [ ! -e "$DIR/$1" ]; then printf '%s' "$2" > "$DIR/$1"; echo "créé : $1"; fi
}
val() { cat "$DIR/$1"; }

new db_password "$(rand 48 40)"
new pgbouncer_auth_password "$(rand 48 40)"
new redis_password "$(rand 48 40)"
new rabbitmq_app_password "$(rand 48 40)"
new rabbitmq_admin_password "$(rand 48 40)"
new minio_root_password "$(rand 48 40)"
new samaconso_jwt_secret "$(rand 64 64)"
new samaconso_metrics_token "$(rand 48 48)"
new samaconso_flower_password "$(rand 32 24)"
new samaconso_s3_secret_key "$(rand 48 40)"

new samaconso_database_url "postgresql+asyncpg://${DB_USER}:$(val db_password)@${SRV_DATA}:6432/${DB_NAME}"
new samaconso_redis_url "redis://:$(val redis_password)@${SRV_WORKERS}:6379/0"
new samaconso_result_backend "redis://:$(val redis_password)@${SRV_WORKERS}:6379/1"
new samaconso_broker_url "amqp://samaconso:$(val rabbitmq_app_password)@${SRV_API}:5672/samaconso"

if [ ! -e "$DIR/rabbitmq_definitions.json" ]; then
  python3 "$HERE/make-rabbitmq-definitions.py" \
    --app-password-file "$DIR/rabbitmq_app_password" \
    --admin-password-file "$DIR/rabbitmq_admin_password" > "$DIR/rabbitmq_definitions.json"
  echo "créé : rabbitmq_definitions.json"
fi
new minio-credentials.env "MINIO_ROOT_USER=samaconso-root
MINIO_ROOT_PASSWORD=$(val minio_root_password)
"
new backup-s3.env "S3_ACCESS_KEY=samaconso-root
S3_SECRET_KEY=$(val minio_root_password)
"
new s3-app.env "S3_APP_USER=${S3_APP_USER}
S3_APP_SECRET=$(val samaconso_s3_secret_key)
"

# Fournis par des tiers : fichiers vides, à remplir (Orange, AD, Senelec PKI, Firebase, DSI).
for name in samaconso_sms_orange_password samaconso_ldap_bind_password \
            samaconso_xmlvend_client_p12_password samaconso_xmlvend_operator_password \
            samaconso_legacy_sic_url samaconso_legacy_histh2mc_url samaconso_legacy_bi_ods_url \
            xmlvend_client.p12 fcm_credentials.json; do
  [ -e "$DIR/$name" ] || { : > "$DIR/$name"; echo "à remplir : $name"; }
done
chmod 600 "$DIR"/*
# Sur les serveurs 2 et 3, deploy/scripts/install-secrets.sh copie chacun les siens, lisibles par le
# seul groupe du conteneur qui les lit (0640 root:10001 application, root:999 RabbitMQ/Redis).
echo "secrets prêts dans $DIR"
