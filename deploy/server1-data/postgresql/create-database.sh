#!/usr/bin/env bash
# Crée (ou met à jour) le rôle applicatif, la base SamaConso et le rôle d'authentification de
# PgBouncer. À lancer sur le serveur 1 en tant que postgres :
#   sudo -u postgres SAMACONSO_DB_PASSWORD_FILE=/etc/samaconso/secrets/db_password \
#        PGBOUNCER_AUTH_PASSWORD_FILE=/etc/samaconso/secrets/pgbouncer_auth_password \
#        bash deploy/server1-data/postgresql/create-database.sh
# Idempotent : peut être relancé (rotation de mot de passe comprise). Aucun mot de passe n'apparaît
# dans la ligne de commande ni dans les journaux (log_statement désactivé pour la session).
set -euo pipefail

DB_NAME=${SAMACONSO_DB_NAME:-samaconso}
DB_USER=${SAMACONSO_DB_USER:-samaconso}
: "${SAMACONSO_DB_PASSWORD_FILE:?fichier contenant le mot de passe du rôle applicatif}"
: "${PGBOUNCER_AUTH_PASSWORD_FILE:?fichier contenant le mot de passe du rôle pgbouncer_auth}"
PSQL=(psql -v ON_ERROR_STOP=1 -X -q ${PGHOST:+-h "$PGHOST"} ${PGPORT:+-p "$PGPORT"} -U "${PGUSER:-postgres}")

export SAMACONSO_DB_PASSWORD_FILE PGBOUNCER_AUTH_PASSWORD_FILE
if [ "$(tr -d '\r\n' < "$SAMACONSO_DB_PASSWORD_FILE" | wc -c)" -lt 16 ] ||
   [ "$(tr -d '\r\n' < "$PGBOUNCER_AUTH_PASSWORD_FILE" | wc -c)" -lt 16 ]; then
  echo "mots de passe trop courts (16 caractères minimum)" >&2
  exit 1
fi

# Les mots de passe sont lus par psql lui-même depuis les fichiers (jamais dans argv ni l'environnement).
"${PSQL[@]}" -d postgres -v db="$DB_NAME" -v usr="$DB_USER" <<'SQL'
\set app_pw `tr -d '\r\n' < "$SAMACONSO_DB_PASSWORD_FILE"`
\set auth_pw `tr -d '\r\n' < "$PGBOUNCER_AUTH_PASSWORD_FILE"`
SET log_statement = 'none';
SET password_encryption = 'scram-sha-256';
SELECT format('CREATE ROLE %I LOGIN', :'usr')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'usr') \gexec
ALTER ROLE :"usr" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_pw';
ALTER ROLE :"usr" SET timezone TO 'UTC';
SELECT 'CREATE ROLE pgbouncer_auth LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgbouncer_auth') \gexec
ALTER ROLE pgbouncer_auth WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'auth_pw';
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' TEMPLATE template0', :'db', :'usr')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" SET timezone TO 'UTC';
SQL

# Dans la base : schéma public réservé au propriétaire, fonction d'authentification de PgBouncer
# (SECURITY DEFINER : pgbouncer_auth lit le vérificateur SCRAM sans être superutilisateur).
"${PSQL[@]}" -d "$DB_NAME" -v db="$DB_NAME" -v usr="$DB_USER" <<'SQL'
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"usr", pgbouncer_auth;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO :"usr";
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE SCHEMA IF NOT EXISTS pgbouncer AUTHORIZATION postgres;
REVOKE ALL ON SCHEMA pgbouncer FROM PUBLIC;
GRANT USAGE ON SCHEMA pgbouncer TO pgbouncer_auth;
CREATE OR REPLACE FUNCTION pgbouncer.get_auth(p_usename text)
RETURNS TABLE (usename name, passwd text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS
$$ SELECT usename, passwd FROM pg_catalog.pg_shadow
    WHERE usename = p_usename AND NOT usesuper $$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO pgbouncer_auth;
SQL
echo "base « $DB_NAME » et rôle « $DB_USER » prêts ; régénérer ensuite la userlist de PgBouncer"
