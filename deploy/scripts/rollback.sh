#!/usr/bin/env bash
# Revient à la version précédente de l'image (releases/previous sur le serveur 2), SANS toucher
# au schéma de la base : la politique de migration (expand/contract, deploy/README.md « Rollback »)
# garantit que la version N-1 fonctionne avec le schéma de la version N. Une migration n'est jamais
# annulée automatiquement ; `alembic downgrade` reste une décision manuelle après restauration.
#   deploy/scripts/rollback.sh            (version précédente)
#   deploy/scripts/rollback.sh 3.0.2      (une version précise déjà déployée)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=deploy/scripts/lib.sh
. "$HERE/lib.sh"

API_HOST=$(inv_first api hôte)   # le registre des versions : serveur de la première API de l'inventaire
RELEASES=$(remote_dir "$API_HOST")/releases
target=${1:-$(on "$API_HOST" "cat '$RELEASES/previous' 2>/dev/null || true")}
[ -n "$target" ] || die "aucune version précédente connue (releases/previous) : préciser l'étiquette"
current=$(on "$API_HOST" "cat '$RELEASES/current' 2>/dev/null || true")
[ "$target" != "$current" ] || die "la version $target est déjà en service"
log "retour arrière : $current -> $target (schéma de base inchangé)"
"$HERE/deploy.sh" --skip-migrations "$target"
