"""``/health`` (load balancer), ``/health/ready`` (dependencies) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from samaconso import __version__
from samaconso.kit.errors import AppError
from samaconso.kit.metrics import REGISTRY
from samaconso.kit.security import constant_time_equals
from samaconso.settings import Settings
from samaconso.system.health import readiness

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness for the load balancer (no dependency touched)")
async def health() -> dict[str, str]:
    return {"status": "running", "version": __version__}


@router.get("/health/ready", summary="Readiness: PostgreSQL, Redis, broker and S3")
async def ready(request: Request) -> JSONResponse:
    state = request.app.state
    report = await readiness(state.settings, state.db, state.cache, state.storage, state.readiness_details)
    report["version"] = __version__
    status = 200 if not report["failing"] else 503
    headers = {"Retry-After": "10"} if status == 503 else {}
    return JSONResponse(report, status_code=status, headers=headers)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    header = request.headers.get("authorization", "")
    if expected:
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not constant_time_equals(given.strip(), expected):
            raise AppError(401, "unauthenticated", "Jeton de supervision requis.", "Metrics token required.")
    else:
        client = request.client.host if request.client else ""
        if client not in ("127.0.0.1", "::1", "testclient"):
            raise AppError(
                403, "forbidden", "Métriques accessibles en local uniquement.", "Metrics are local only."
            )
    for collector in request.app.state.metric_refreshers:
        await collector()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
