#!/usr/bin/env bash
# Certificats du TLS mutuel pgBackRest (à faire une fois, sur le poste d'administration) :
#   make-pgbackrest-tls.sh DIR [nom-serveur-1] [nom-serveur-de-sauvegarde]
# DIR/ca.{crt,key} : autorité privée (garder ca.key hors ligne) ; DIR/<hôte>/{server,client}.{crt,key}
# à installer dans /etc/pgbackrest/tls/ (0600 postgres) de chaque hôte :
#   pg1/     → serveur 1 (serveur TLS pg1.*, client CN=samaconso-pg1)
#   backup/  → serveur de sauvegarde (serveur TLS backup.*, client CN=samaconso-backup)
#   restore/ → serveur de restauration (client CN=samaconso-restore)
set -euo pipefail
umask 077
dir=${1:?répertoire de sortie}
pg1=${2:-pg1.samaconso.internal}
backup=${3:-backup.samaconso.internal}
mkdir -p "$dir"
cd "$dir"
days=825
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=SamaConso pgBackRest CA" 2>/dev/null
fi
cert() { # cert <hôte> <fichier> <CN> [nom DNS du serveur]
  local host=$1 file=$2 cn=$3 dns=${4:-}
  mkdir -p "$host"
  openssl req -newkey rsa:3072 -nodes -keyout "$host/$file.key" -out "$host/$file.csr" -subj "/CN=$cn" 2>/dev/null
  if [ -n "$dns" ]; then
    printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$dns" > "$host/$file.ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' > "$host/$file.ext"
  fi
  openssl x509 -req -in "$host/$file.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile "$host/$file.ext" -out "$host/$file.crt" 2>/dev/null
  rm -f "$host/$file.csr" "$host/$file.ext"
  cp ca.crt "$host/ca.crt"
}
cert pg1 server "$pg1" "$pg1"
cert pg1 client samaconso-pg1
cert backup server "$backup" "$backup"
cert backup client samaconso-backup
cert restore client samaconso-restore
echo "certificats prêts dans $dir/{pg1,backup,restore}"
