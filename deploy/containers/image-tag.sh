#!/usr/bin/env bash
# Étiquette de l'image de répétition : empreinte de ce qui entre dans l'image (code, migrations,
# dépendances, Dockerfile) au commit courant ; une autre version du code = une autre image.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
printf 'rehearsal-%s\n' "$(git -C "$repo" ls-tree HEAD src migrations alembic.ini pyproject.toml uv.lock README.md Dockerfile deploy/docker | git hash-object --stdin | cut -c1-12)"
