#!/usr/bin/env bash
# Contrôle de santé de toute la plate-forme, depuis le réseau d'administration.
# Code retour 0 si tout va bien, 1 sinon ; une ligne par contrôle (OK / ÉCHEC).
# Instances d'API et workers : deploy/inventory.conf (INVENTORY=… ; voir inventory.sh).
# Variables : SRV_DATA, LB_URL (ex. https://samaconso.senelec.sn),
# SECRETS_DIR (pour le jeton /metrics, l'administrateur RabbitMQ et Flower ; facultatif),
# QUEUE_WARN (profondeur de file signalée, défaut 10000), BACKUP_MAX_AGE_H (défaut 26).
set -uo pipefail
# shellcheck source=deploy/scripts/inventory.sh
. "$(dirname "$0")/inventory.sh"

SRV_DATA=${SRV_DATA:-10.20.0.11}
LB_URL=${LB_URL:-}
SECRETS_DIR=${SECRETS_DIR:-}
QUEUE_WARN=${QUEUE_WARN:-10000}
failures=0

ok()   { printf '  OK     %-34s %s\n' "$1" "${2:-}"; }
fail() { printf '  ÉCHEC  %-34s %s\n' "$1" "${2:-}"; failures=$((failures + 1)); }
tcp()  { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
secret() { [ -n "$SECRETS_DIR" ] && [ -s "$SECRETS_DIR/$1" ] && cat "$SECRETS_DIR/$1"; }

check_health() { # nom url
  local body
  if body=$(curl -ksS --max-time 5 "$2" 2>&1) && grep -q '"running"' <<<"$body"; then ok "$1" "$2"
  else fail "$1" "$2 → ${body:0:80}"; fi
}

echo "SamaConso — santé de la plate-forme ($(date -u +%FT%TZ))"
first_api=$(inv_first api nom)
first_api_url="http://$(inv_first api adresse):$(inv_first api port)"
SRV_API=$(inv_first api adresse)   # RabbitMQ (console :15672) est sur le serveur de la première API
echo "API ($(inv api | wc -l) instance(s))"
while read -r name _ addr port _; do
  check_health "$name /health" "http://$addr:$port/health"
done < <(inv api)
# Dépendances vues par l'API (le réseau d'administration n'atteint pas 5672, 6432 ni 6379 : c'est voulu).
ready=$(curl -sS --max-time 10 "$first_api_url/health/ready" 2>/dev/null)
if [ -z "$ready" ]; then fail "$first_api /health/ready" "pas de réponse"; else
  while read -r name status latency; do
    label="$name (vu par $first_api)"
    [ "$status" = up ] && ok "$label" "${latency} ms" || fail "$label" "$status"
  done < <(python3 -c 'import json,sys
d=json.load(sys.stdin)
for k,v in d.get("checks",{}).items(): print(k, v.get("status"), v.get("latency_ms", v.get("error","")))' <<<"$ready")
fi
if [ -n "$LB_URL" ]; then check_health "répartiteur (VIP)" "$LB_URL/health"; fi
if token=$(secret samaconso_metrics_token); then
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $token" "$first_api_url/metrics")
  [ "$code" = 200 ] && ok "$first_api /metrics" "jeton accepté" || fail "$first_api /metrics" "HTTP $code"
fi
if admin=$(secret rabbitmq_admin_password); then
  if q=$(curl -fsS --max-time 5 -u "exploitation:$admin" "http://$SRV_API:15672/api/queues/samaconso" 2>/dev/null); then
    depths=$(python3 -c 'import json,sys; print(" ".join(str(q["name"])+"="+str(q.get("messages",0)) for q in json.load(sys.stdin)))' <<<"$q")
    deep=$(python3 -c 'import json,sys; print(max([q.get("messages",0) for q in json.load(sys.stdin)] or [0]))' <<<"$q")
    if [ "$deep" -lt "$QUEUE_WARN" ]; then ok "RabbitMQ files" "$depths"; else fail "RabbitMQ files" "$depths"; fi
  else fail "RabbitMQ API :15672"; fi
fi

echo "Serveur 1 — données"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$SRV_DATA:9000/minio/health/live")
[ "$code" = 200 ] && ok "MinIO :9000" "live" || { tcp "$SRV_DATA" 9000 && ok "S3 :9000" "répond (HTTP $code)" || fail "S3 :9000"; }

echo "Workers ($(inv worker | wc -l) instance(s))"
flower_addr=$(inv_first flower adresse)
flower_port=$(inv_first flower port)
if pw=$(secret samaconso_flower_password); then
  workers=$(curl -fsS --max-time 10 -u "${FLOWER_USER:-exploitation}:$pw" "http://$flower_addr:$flower_port/api/workers?refresh=1&status=1" 2>/dev/null)
  while read -r w _; do
    grep -q "\"$w@[^\"]*\": *true" <<<"$workers" && ok "$w (Flower)" "en ligne" || fail "$w (Flower)" "absent"
  done < <(inv worker)
else
  tcp "$flower_addr" "$flower_port" && ok "Flower :$flower_port" || fail "Flower :$flower_port"
fi
# Point de métriques de chaque worker (jeton de supervision quand il est fourni, sinon le port seul).
while read -r w _ addr port _; do
  if token=$(secret samaconso_metrics_token); then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $token" "http://$addr:$port/metrics")
    [ "$code" = 200 ] && ok "$w /metrics" "$addr:$port" || fail "$w /metrics" "$addr:$port → HTTP $code"
  else
    tcp "$addr" "$port" && ok "$w /metrics" "$addr:$port répond" || fail "$w /metrics" "$addr:$port fermé"
  fi
done < <(inv worker)

echo
if [ "$failures" -eq 0 ]; then echo "plate-forme saine"; exit 0; fi
echo "$failures contrôle(s) en échec"; exit 1
