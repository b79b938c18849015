"""Application factory: one FastAPI app, every domain router under ``/api/v1``, closed by default."""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection

from samaconso import __version__, domains
from samaconso.console.web import mount_console
from samaconso.cutover.router import compat_router
from samaconso.identity.deps import (
    PUBLIC_ROUTES,
    bearer_token,
    principal_from_state,
    principal_from_token,
    require_authentication,
)
from samaconso.identity.principal import session_cache_key
from samaconso.kit.deps import get_session
from samaconso.kit.edge import BodyLimitMiddleware, EdgeExposureMiddleware, SecurityHeadersMiddleware
from samaconso.kit.gc_tuning import settle_heap
from samaconso.kit.inputs import InputGuardMiddleware
from samaconso.kit.language import ContentLanguageMiddleware
from samaconso.kit.logging import configure_logging
from samaconso.kit.middleware import RequestContextMiddleware
from samaconso.kit.openapi import install_contract
from samaconso.kit.problems import install_error_handlers
from samaconso.kit.response_cache import CachedRoute, ResponseCacheMiddleware
from samaconso.kit.security import decode_access_token
from samaconso.kit.strict_query import strict_query
from samaconso.legacy.deps import get_gateway
from samaconso.settings import Settings, get_settings
from samaconso.system.contract import router as contract_router
from samaconso.system.router import router as system_router
from samaconso.wiring import api_resources

log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1"

# The hot reads of the home screen (issue 17), answered from the per-user response cache
# (kit/response_cache.py: what invalidates them, and their stated staleness).
HOT_READS: tuple[CachedRoute, ...] = (
    CachedRoute(f"{API_PREFIX}/me"),
    CachedRoute(f"{API_PREFIX}/me/meters"),
    CachedRoute(f"{API_PREFIX}/me/meters/{{meter_id}}/purchases", meter_param="meter_id"),
    CachedRoute(f"{API_PREFIX}/me/meters/{{meter_id}}/summary", meter_param="meter_id"),
    CachedRoute(f"{API_PREFIX}/me/notifications", feed=True),
    CachedRoute(f"{API_PREFIX}/me/notifications/unread-count", feed=True),
)


class HotReadCaller:
    """Who reads a cached hot read, checked as every route checks it: the token verified here, the
    session's cached state fetched by the cache's own round trip (``kit/response_cache.py``)."""

    def identify(self, conn: HTTPConnection) -> tuple[str, str] | None:
        token = bearer_token(conn)
        claims = decode_access_token(conn.app.state.settings, token) if token else None
        if claims is None:
            return None
        conn.scope.setdefault("state", {})[_CLAIMS] = claims
        return str(claims.user_id), session_cache_key(claims.session_id)

    async def admit(self, conn: HTTPConnection, session_state: bytes | None) -> bool:
        state = conn.scope.setdefault("state", {})
        claims = state.pop(_CLAIMS)
        try:
            if session_state is None:  # not cached: read (and cached) as every route does
                principal = await principal_from_token(conn, bearer_token(conn))
            else:
                principal = principal_from_state(claims, json.loads(session_state))
        except Exception:  # a refusal or a busy pool: the route checks again and answers it properly
            return False
        state["principal"] = principal  # the route does not check the session twice
        return True


_CLAIMS = "hot_read_claims"


def build_api_router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(require_authentication), Depends(strict_query)])
    for name in domains.modules("router"):  # samaconso/domains.py, in its order
        api.include_router(importlib.import_module(name).router)
    return api


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json, process=settings.instance_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every long-lived resource is built here (samaconso/wiring.py) and closed after the yield.
        async with api_resources(settings) as resources:
            for resource in dataclasses.fields(resources):
                setattr(app.state, resource.name, getattr(resources, resource.name))
            for warning in settings.deployment_warnings():
                log.warning("deployment_warning", warning=warning)
            if settings.gc_freeze and settings.profile != "test":  # tests build many apps: no freeze
                settle_heap(settings.gc_gen0_threshold)
            log.info("api_started", version=__version__, profile=settings.profile)
            yield

    app = FastAPI(
        title="SamaConso API",
        version=__version__,
        summary="Backend de l'application mobile SamaConso de Senelec.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # innermost middleware: the outer ones (CORS, language, request id, security) apply to its answers
    app.add_middleware(ResponseCacheMiddleware, routes=HOT_READS, caller=HotReadCaller())
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "Content-Language",
                "Deprecation",
                "Sunset",
                "Link",
            ],
        )
    app.add_middleware(ContentLanguageMiddleware)
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(EdgeExposureMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(system_router, dependencies=[Depends(strict_query)])
    app.include_router(contract_router, dependencies=[Depends(strict_query)])
    app.include_router(build_api_router())
    app.include_router(compat_router)  # the installed v2 app's routes: 426 Upgrade Required
    _install_contract(app, settings)
    mount_console(app, settings.staff_idle_timeout_s)  # the agency console, static, at /console
    return app


def dependency_codes() -> dict[Callable[..., Any], tuple[str, ...]]:
    """Codes of dependencies that their source does not show (kit/raised_codes reads the rest, role
    guards included): the legacy gateway names its breakers through a table, and the session's pool
    timeout is turned into ``database_busy`` by the error handlers (kit/problems.py)."""
    return {
        get_session: ("database_busy",),
        get_gateway: (
            "legacy_sic_unavailable",
            "legacy_histh2mc_unavailable",
            "legacy_bi_ods_unavailable",
        ),
    }


def _install_contract(app: FastAPI, settings: Settings) -> None:
    from samaconso.notifications.asyncapi import build_asyncapi

    install_contract(
        app,
        settings.public_base_url,
        is_public=lambda method, path: (method, path) in PUBLIC_ROUTES,
        dependency_codes=dependency_codes(),
        authentication=require_authentication,
        asyncapi=lambda: build_asyncapi(settings.public_base_url),
    )
