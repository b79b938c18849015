"""Application factory: one FastAPI app, every domain router under ``/api/v1``, closed by default."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from samaconso import __version__
from samaconso.identity.deps import require_authentication
from samaconso.kit.cache import Cache, make_redis
from samaconso.kit.db import Database
from samaconso.kit.logging import configure_logging
from samaconso.kit.middleware import RequestContextMiddleware
from samaconso.kit.problems import install_error_handlers
from samaconso.kit.ratelimit import RateLimiter
from samaconso.kit.storage import Storage
from samaconso.settings import Settings, get_settings
from samaconso.system.router import router as system_router

log = structlog.get_logger(__name__)

# Business domains whose ``router`` is mounted under /api/v1, in this order.
DOMAINS: tuple[str, ...] = (
    "identity",
    "meters",
    "consumption",
    "tariffs",
    "notifications",
    "requests",
    "files",
    "subscriptions",
    "dashboard",
)

API_PREFIX = "/api/v1"

# Domains that need start-up/shutdown work (e.g. a realtime listener) append coroutines here.
Hook = Callable[[FastAPI], Awaitable[None]]
STARTUP_HOOKS: list[Hook] = []
SHUTDOWN_HOOKS: list[Hook] = []


def build_api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(require_authentication)])
    for domain in DOMAINS:
        module = importlib.import_module(f"samaconso.{domain}.router")
        api.include_router(module.router)
    return api


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json, process=settings.instance_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings)
        redis = make_redis(settings.redis_url, settings.redis_timeout_s)
        storage = Storage(settings)
        app.state.db = db
        app.state.redis = redis
        app.state.cache = Cache(redis)
        app.state.rate_limiter = RateLimiter(redis)
        app.state.storage = storage
        app.state.metric_refreshers = []
        try:
            await storage.ensure_buckets()
        except Exception as exc:  # S3 down at start: readiness reports it, the API still serves
            log.warning("s3_buckets_not_ensured", error=type(exc).__name__)
        for hook in STARTUP_HOOKS:
            await hook(app)
        for warning in settings.deployment_warnings():
            log.warning("deployment_warning", warning=warning)
        log.info("api_started", version=__version__, profile=settings.profile)
        try:
            yield
        finally:
            for hook in SHUTDOWN_HOOKS:
                await hook(app)
            await redis.aclose()
            await db.dispose()

    app = FastAPI(
        title="SamaConso API",
        version=__version__,
        summary="Backend de l'application mobile SamaConso de Senelec.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(system_router)
    app.include_router(build_api_router())
    return app
