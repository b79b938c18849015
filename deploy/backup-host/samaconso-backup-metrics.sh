#!/usr/bin/env bash
# Âge des sauvegardes pour node-exporter (collecteur textfile), sur le serveur de sauvegarde.
# Lancé par samaconso-backup-metrics.timer (toutes les 5 min) sous l'utilisateur postgres (celui qui
# lit le dépôt pgBackRest). Le répertoire textfile est créé par samaconso-backup.tmpfiles.conf
# (root:postgres 0775) : postgres peut y écrire, node-exporter (prometheus) y lire ; le fichier est
# écrit à côté puis renommé (jamais lu à moitié) et rendu lisible (0644) quel que soit l'umask.
set -euo pipefail
TEXTFILE_DIR=${NODE_EXPORTER_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
STANZA=${PGBACKREST_STANZA:-samaconso}
PGBACKREST=${PGBACKREST:-pgbackrest}
out="$TEXTFILE_DIR/samaconso_backup.prom"
tmp=$(mktemp "$TEXTFILE_DIR/.samaconso_backup.prom.XXXXXX")
trap 'rm -f "$tmp"' EXIT
ok=1
if ! info=$("$PGBACKREST" --stanza="$STANZA" --output=json info); then
  ok=0
  info='[]'
fi
python3 - "$ok" "$info" > "$tmp" <<'PY'
import json, sys
ok, info = int(sys.argv[1]), json.loads(sys.argv[2])
stanza = info[0] if info else {}
backups = stanza.get("backup", [])
print("# HELP samaconso_backup_info_ok 1 si pgbackrest info a répondu et la pile est saine.")
print("# TYPE samaconso_backup_info_ok gauge")
print(f"samaconso_backup_info_ok {1 if ok and stanza.get('status', {}).get('code') == 0 else 0}")
print("# HELP samaconso_backup_last_success_timestamp_seconds Fin de la dernière sauvegarde réussie (par type).")
print("# TYPE samaconso_backup_last_success_timestamp_seconds gauge")
for kind in ("full", "diff", "incr"):
    stops = [b["timestamp"]["stop"] for b in backups if b.get("type") == kind and not b.get("error")]
    if stops:
        print(f'samaconso_backup_last_success_timestamp_seconds{{type="{kind}"}} {max(stops)}')
print("# HELP samaconso_backup_count Sauvegardes présentes dans le dépôt.")
print("# TYPE samaconso_backup_count gauge")
print(f"samaconso_backup_count {len(backups)}")
archives = [a for a in stanza.get("archive", []) if a.get("max")]
print("# HELP samaconso_backup_wal_archive_present 1 si le dépôt contient des WAL archivés.")
print("# TYPE samaconso_backup_wal_archive_present gauge")
print(f"samaconso_backup_wal_archive_present {1 if archives else 0}")
PY
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
[ "$ok" = 1 ]
