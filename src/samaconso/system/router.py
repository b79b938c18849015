"""``/health`` (load balancer), ``/health/ready`` (dependencies) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import HTTPConnection

from samaconso import __version__
from samaconso.kit.deps import CacheDep, DatabaseDep, SettingsDep, StorageDep, app_resource
from samaconso.kit.errors import AppError
from samaconso.kit.metrics import REGISTRY
from samaconso.kit.security import constant_time_equals
from samaconso.system.health import DetailProvider, readiness

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness for the load balancer (no dependency touched)")
async def health() -> dict[str, str]:
    return {"status": "running", "version": __version__}


async def _readiness_details(conn: HTTPConnection) -> list[DetailProvider]:
    details: list[DetailProvider] = app_resource(conn, "readiness_details", list)
    return details


async def _metric_refreshers(conn: HTTPConnection) -> list[Callable[[], Awaitable[None]]]:
    refreshers: list[Callable[[], Awaitable[None]]] = app_resource(conn, "metric_refreshers", list)
    return refreshers


@router.get("/health/ready", summary="Readiness: PostgreSQL, Redis, broker and S3")
async def ready(
    settings: SettingsDep,
    db: DatabaseDep,
    cache: CacheDep,
    storage: StorageDep,
    details: Annotated[list[DetailProvider], Depends(_readiness_details)],
) -> JSONResponse:
    report = await readiness(settings, db, cache, storage, details)
    report["version"] = __version__
    status = 200 if not report["failing"] else 503
    headers = {"Retry-After": "10"} if status == 503 else {}
    return JSONResponse(report, status_code=status, headers=headers)


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request,
    settings: SettingsDep,
    refreshers: Annotated[list[Callable[[], Awaitable[None]]], Depends(_metric_refreshers)],
) -> Response:
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
    for collector in refreshers:
        await collector()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
