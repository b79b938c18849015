"""Who is calling: access-token verification and role checks, shared by every domain.

Every route under ``/api/v1`` is closed by default (``require_authentication`` is a dependency of
the whole API router); only the routes in :data:`PUBLIC_ROUTES` answer without a token. Role and
agency always come from the caller's user record, never from a path or body.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from typing import Annotated

from fastapi import Depends, Request
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.routing import compile_path

from samaconso.identity import repository as repo
from samaconso.identity import session_errors
from samaconso.identity.ldap import Directory
from samaconso.identity.models import Role
from samaconso.identity.principal import Principal, session_cache_key
from samaconso.kit.deps import app_resource, database_of, redis_of, settings_of
from samaconso.kit.errors import AppError
from samaconso.kit.security import AccessClaims, access_token_expired, decode_access_token
from samaconso.kit.transaction import unit_of_work

# (method, path template) of every route that answers without authentication. Keep it short.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/health/ready"),
        ("POST", "/api/v1/auth/otp"),
        ("POST", "/api/v1/auth/signup"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/staff/login"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/pin/reset"),
        ("GET", "/api/v1/subscription-notices/{number}"),
        ("GET", "/api/v1/app/config"),
        ("GET", "/api/v1/errors"),
    }
)


_PUBLIC_PATTERNS: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (method, template, compile_path(template)[0]) for method, template in sorted(PUBLIC_ROUTES)
)


def is_public(method: str, path: str, route: object | None) -> bool:
    """True when the request targets a route of :data:`PUBLIC_ROUTES`.

    The URL path must match a public template, and the matched route's own template must be that
    template (or its tail: routers included under a prefix keep their unprefixed ``path``), so a
    static route like ``/x/mine`` next to a public ``/x/{number}`` never becomes public by accident."""
    route_template = getattr(route, "path", None)
    for public_method, template, pattern in _PUBLIC_PATTERNS:
        if method != public_method or not pattern.match(path):
            continue
        if route_template is None or template.endswith(str(route_template)):
            return True
    return False


def _unauthenticated() -> AppError:
    return AppError(
        401,
        "unauthenticated",
        "Authentification requise : connectez-vous à nouveau.",
        "Authentication required: please sign in again.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def principal_from_token(conn: HTTPConnection, token: str | None) -> Principal:
    """Resolve an access token to the caller. The session and user state are cached in Redis for at
    most ``session_revocation_check_s`` seconds (≤ 60), so a revoked session stops working quickly."""
    settings = settings_of(conn)
    if not token:
        raise _unauthenticated()
    claims = decode_access_token(settings, token)
    if claims is None:
        raise session_errors.token_expired() if access_token_expired(settings, token) else _unauthenticated()
    redis = redis_of(conn)
    key = session_cache_key(claims.session_id)
    cached: dict[str, str] | None = None
    try:
        raw = await redis.get(key)
        cached = json.loads(raw) if raw else None
    except (RedisError, OSError, ValueError):
        cached = None
    if cached is None:
        cached = await _session_state(conn, claims.session_id)
        try:
            # less up to a quarter at random: the states cached in one burst are not read again
            # from the database in one wave (the bound, at most session_revocation_check_s, holds)
            ttl = settings.session_revocation_check_s
            await redis.set(key, json.dumps(cached), ex=ttl - random.randrange(ttl // 4 + 1))
        except (RedisError, OSError):
            pass
    return principal_from_state(claims, cached)


def principal_from_state(claims: AccessClaims, cached: dict[str, str]) -> Principal:
    """The caller of a verified token given its session's cached state (refused if it is not valid)."""
    # The cached state belongs to (session, user): a token naming another user is refused.
    if cached.get("user_id") != str(claims.user_id):
        raise _unauthenticated()
    if cached.get("valid") != "1":
        raise _refusal(cached.get("reason") or "")
    return Principal(
        user_id=claims.user_id,
        session_id=claims.session_id,
        role=Role(cached["role"]),
        agency_id=uuid.UUID(cached["agency_id"]) if cached.get("agency_id") else None,
        language=cached.get("language") or "fr",
    )


STAFF_ROLES = (Role.agent, Role.admin)


async def _session_state(conn: HTTPConnection, session_id: uuid.UUID) -> dict[str, str]:
    """What the cache holds for one session: its user, whether it still works, and why not."""
    db = database_of(conn)
    settings = settings_of(conn)
    idle_ended = False
    async with unit_of_work(db.sessionmaker) as session:
        row = await repo.session_state(session, session_id)
        if row is not None and row.role in STAFF_ROLES and row.revoked_at is None:
            # Staff sessions end when unused (the console's idle timeout, enforced here too); a
            # use moves last_used_at (at most once per cache period, the state is cached between).
            idle_ended = await repo.end_idle_staff_session(session, session_id, settings.staff_idle_timeout_s)
    reason = ""
    if row is None:
        reason = "unknown"
    elif idle_ended:
        reason = "idle"
    elif row.revoked_at is not None:
        reason = row.revoked_reason or "revoked"
    elif not row.is_active:
        reason = "deactivated"
    elif row.role == Role.agent and row.agency_open is False:
        reason = "agency_closed"
    elif row.expires_at <= row.now:
        reason = "expired"
    return {
        "user_id": str(row.id) if row else "",
        "valid": "1" if not reason else "0",
        "reason": reason,
        "role": str(row.role) if row else "",
        "agency_id": str(row.agency_id) if row and row.agency_id else "",
        "language": row.language if row else "fr",
    }


def _refusal(reason: str) -> AppError:
    if reason == "unknown":
        return _unauthenticated()
    if reason == "expired":
        return session_errors.token_expired()
    return session_errors.session_ended(reason)


async def forget_session(conn: HTTPConnection | Request, *session_ids: uuid.UUID) -> None:
    """Drop cached session state at once (logout, revocation) instead of waiting for the TTL."""
    if not session_ids:
        return
    try:
        await redis_of(conn).delete(*(session_cache_key(s) for s in session_ids))
    except (RedisError, OSError):
        pass


async def get_principal(request: Request) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await principal_from_token(request, bearer_token(request))
    request.state.principal = principal
    return principal


async def require_authentication(request: HTTPConnection) -> None:
    """Dependency of the whole API router: closed unless the matched route is public.

    WebSocket routes (no HTTP method, no ``Request``) authenticate inside the connection instead:
    the first message carries the token, never the URL (see ``notifications/router.py``)."""
    if request.scope["type"] == "websocket":
        return
    if is_public(request.scope["method"], request.scope["path"], request.scope.get("route")):
        return
    await get_principal(request)  # type: ignore[arg-type]  # http scope: a Request


CurrentUser = Annotated[Principal, Depends(get_principal)]


async def get_staff(principal: CurrentUser) -> Principal:
    if not principal.is_staff:
        raise AppError(403, "staff_only", "Réservé aux agents Senelec.", "Reserved to Senelec staff.")
    return principal


async def get_admin(principal: CurrentUser) -> Principal:
    if not principal.is_admin:
        raise AppError(403, "admin_only", "Réservé aux administrateurs.", "Reserved to administrators.")
    return principal


async def get_customer(principal: CurrentUser) -> Principal:
    if principal.role != Role.customer:
        raise AppError(
            403, "customer_only", "Réservé aux clients de l'application.", "Reserved to app customers."
        )
    return principal


StaffUser = Annotated[Principal, Depends(get_staff)]
AdminUser = Annotated[Principal, Depends(get_admin)]
CustomerUser = Annotated[Principal, Depends(get_customer)]


def directory_of(conn: HTTPConnection) -> Directory:
    """The staff directory (LDAP, with its breaker) built by the lifespan (``samaconso/wiring.py``)."""
    return app_resource(conn, "directory", Directory)


async def get_directory(conn: HTTPConnection) -> Directory:
    return directory_of(conn)


DirectoryDep = Annotated[Directory, Depends(get_directory)]
