# syntax=docker/dockerfile:1.7
# SamaConso — une seule image pour tous les processus (api, worker, beat, flower, migrate).
#   docker build -t registry.senelec.sn/samaconso/api:$(git describe --tags --always) .
# Étape 1 : dépendances figées par uv.lock (uv sync --frozen), sans les outils de développement.
# Étape 2 : image d'exécution minimale, utilisateur non root, contrôle de santé.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_VERSION=0.13.8

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Réseau à proxy TLS (autorité interne) : son certificat est passé en secret de construction
# (--secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt) ; il n'entre dans aucune couche.
# Sans ce secret, les certificats de l'image de base servent.
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app
# Couche des dépendances : ne change que si pyproject.toml ou uv.lock changent.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    uv sync --frozen --no-dev --no-install-project
# Le code, les migrations et alembic.ini (samaconso migrate les lit à côté du paquet).
COPY src ./src
COPY migrations ./migrations
COPY alembic.ini ./
RUN --mount=type=cache,target=/root/.cache/uv --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    uv sync --frozen --no-dev

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="samaconso" \
      org.opencontainers.image.description="SamaConso — backend de l'application mobile Senelec" \
      org.opencontainers.image.vendor="Senelec"
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SAMACONSO_PROFILE=production \
    SAMACONSO_DATA_DIR=/var/lib/samaconso \
    SAMACONSO_SECRETS_DIR=/run/secrets \
    TZ=UTC
RUN groupadd --system --gid 10001 samaconso \
 && useradd --system --uid 10001 --gid samaconso --home-dir /app --shell /usr/sbin/nologin samaconso \
 && install -d -o samaconso -g samaconso -m 0750 /var/lib/samaconso
WORKDIR /app
COPY --from=build --chown=root:root /app /app
COPY --chown=root:root deploy/docker/healthcheck.py /usr/local/lib/samaconso/healthcheck.py
USER samaconso:samaconso
EXPOSE 8001 8002 5555
# API : GET /health contient « running » (SAMACONSO_HEALTH_PORT) ; autres processus : toujours sain
# tant qu'ils tournent (leurs contrôles sont définis dans les fichiers compose).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "/usr/local/lib/samaconso/healthcheck.py"]
CMD ["samaconso", "api", "--host", "0.0.0.0", "--port", "8001"]
