"""Walk the application's route table: every API route is closed unless it is on the short public
list; staff-only routes refuse customers. New routes of any domain are covered automatically."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from httpx import AsyncClient

from samaconso.identity.deps import PUBLIC_ROUTES, get_admin, get_staff
from samaconso.identity.models import Role
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.support.users import make_user

API_PREFIX = "/api/v1"
STAFF_GUARDS = (get_staff, get_admin)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _walk(routes: list[Any]) -> Iterator[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every HTTP API route, whatever the way routers were included
    (FastAPI ≥ 0.16x keeps included routers as objects exposing ``effective_route_contexts``)."""
    for route in routes:
        if isinstance(route, APIRoute):
            for method in route.methods or ():
                yield method, route.path, route
        elif hasattr(route, "effective_route_contexts"):
            for context in route.effective_route_contexts():
                original = context.original_route
                if isinstance(original, APIRoute):
                    for method in original.methods or ():
                        yield method, context.path, original


def api_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every HTTP route under /api/v1, checked against the OpenAPI
    document so that no route escapes the walk."""
    unique = {
        (m, p): r
        for m, p, r in _walk(list(app.routes))
        if p.startswith(API_PREFIX) and m not in ("HEAD", "OPTIONS")
    }
    out = [(m, p, r) for (m, p), r in sorted(unique.items(), key=lambda item: (item[0][1], item[0][0]))]
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(API_PREFIX)
        for method in operations
    }
    assert documented <= {(m, p) for m, p, _ in out}, documented - {(m, p) for m, p, _ in out}
    return out


def is_staff_only(route: APIRoute) -> bool:
    return any(call in STAFF_GUARDS for call in _calls(route.dependant))


def concrete(path: str) -> str:
    """Fill path parameters with random values (UUIDs, or digits for other parameters)."""
    return re.sub(
        r"\{(\w+)(:\w+)?\}",
        lambda m: str(uuid.uuid4()) if "id" in m.group(1) or m.group(1).endswith("_id") else "12345678901",
        path,
    )


async def _call(client: AsyncClient, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return await client.request(method, concrete(path), **kwargs)


def test_public_list_is_short_and_exists(app: FastAPI) -> None:
    routes = {(m, p) for m, p, _ in api_routes(app)}
    api_public = {r for r in PUBLIC_ROUTES if r[1].startswith(API_PREFIX)}
    # health x2, the six sign-in steps, the notice look-up, and two read-only documents the app needs
    # before any account exists: its config (forced update, maintenance) and the error catalogue
    assert len(PUBLIC_ROUTES) <= 11
    identity_public = {r for r in api_public if "/auth/" in r[1]}
    assert identity_public <= routes, identity_public - routes


async def test_every_non_public_route_needs_a_token(app: FastAPI, client: AsyncClient) -> None:
    routes = api_routes(app)
    assert len(routes) > 20
    checked = 0
    for method, path, _ in routes:
        if (method, path) in PUBLIC_ROUTES:
            continue
        response = await _call(client, method, path)
        assert response.status_code == 401, f"{method} {path} answered {response.status_code} without a token"
        assert response.headers["content-type"].startswith("application/problem+json")
        bad = await _call(client, method, path, {"Authorization": "Bearer not-a-jwt"})
        assert bad.status_code == 401, f"{method} {path} accepted a forged token"
        checked += 1
    assert checked > 15


async def test_staff_only_routes_refuse_customers(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings
) -> None:
    customer = await make_user(db, settings, Role.customer)
    staff_routes = [(m, p) for m, p, r in api_routes(app) if is_staff_only(r) and (m, p) not in PUBLIC_ROUTES]
    # identity's own staff-only routes are all detected
    expected = {
        ("POST", "/api/v1/admin/users"),
        ("GET", "/api/v1/admin/users"),
        ("PATCH", "/api/v1/admin/users/{user_id}"),
        ("GET", "/api/v1/admin/audit"),
        ("GET", "/api/v1/agencies"),
        ("POST", "/api/v1/agencies"),
        ("PATCH", "/api/v1/agencies/{agency_id}"),
    }
    assert expected <= set(staff_routes)
    for method, path in staff_routes:
        response = await _call(client, method, path, customer.headers)
        assert response.status_code == 403, f"{method} {path} answered {response.status_code} to a customer"


async def test_admin_only_routes_refuse_agents(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Any]
) -> None:
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    admin_routes = [
        (m, p)
        for m, p, r in api_routes(app)
        if any(call is get_admin for call in _calls(r.dependant)) and (m, p) not in PUBLIC_ROUTES
    ]
    assert ("POST", "/api/v1/admin/users") in admin_routes
    for method, path in admin_routes:
        response = await _call(client, method, path, agent.headers)
        assert response.status_code == 403, f"{method} {path} answered {response.status_code} to an agent"
