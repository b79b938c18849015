"""The problem codes each operation documents come from what its code can reach (kit/raised_codes),
so a service that learns a new refusal is documented without anyone editing a list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from samaconso.app import dependency_codes
from samaconso.identity.deps import PUBLIC_ROUTES, require_authentication
from samaconso.kit.openapi import OPERATIONS, iter_routes, operation_codes, route_codes
from samaconso.kit.raised_codes import package_index, scan_package


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_scan_follows_calls_through_modules_reexports_methods_and_classes(tmp_path: Path) -> None:
    _write(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "errors.py": "def gone():\n    return AppError(410, 'gone_code', 'x')\n",
            "rooms/__init__.py": "",
            "rooms/story.py": (
                "from pkg.errors import gone\n"
                "class Keeper:\n"
                "    def __init__(self):\n"
                "        self.check()\n"
                "    def check(self):\n"
                "        raise too_many(5, code='slow_down')\n"
                "def act(flag):\n"
                "    if flag:\n"
                "        raise gone()\n"
                "    Keeper()\n"
                "def unrelated():\n"
                "    raise AppError(409, 'never_reached', 'x')\n"
            ),
            "service.py": "from pkg.rooms.story import act\n",  # a re-export, like identity/service.py
            "router.py": (
                "from pkg import service\n"
                "async def endpoint():\n"
                "    def inner():\n"
                "        raise AppError(404, 'inner_code', 'x')\n"
                "    inner()\n"
                "    return service.act(True)\n"
            ),
        },
    )
    index = scan_package(tmp_path / "pkg", "pkg")
    assert index.reachable("pkg.router:endpoint") == {"gone_code", "slow_down", "inner_code"}
    assert index.reachable("pkg.rooms.story:unrelated") == {"never_reached"}


async def test_every_code_a_route_reaches_is_documented_for_it(app: FastAPI, client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    index = package_index()
    checked = 0
    for method, path, route in iter_routes(app):
        if (method, path) not in OPERATIONS:
            continue
        documented = {c for codes in operation_codes(spec, method, path).values() for c in codes}
        reached = index.codes_of(route.endpoint)
        assert reached <= documented, f"{method} {path}: {sorted(reached - documented)} not documented"
        checked += bool(reached)
    assert checked > 60


async def test_what_the_fuzz_run_found_is_documented(client: AsyncClient) -> None:
    spec: dict[str, Any] = (await client.get("/openapi.json")).json()
    notification = operation_codes(spec, "POST", "/api/v1/notifications")
    assert {"notification_type_reserved", "priority_reserved", "staff_only", "forbidden"} <= set(
        notification[403]
    )
    assert "notification_rate_limited" in notification[429]
    refresh = operation_codes(spec, "POST", "/api/v1/auth/refresh")
    assert {"invalid_refresh_token", "device_signed_out", "session_revoked", "token_expired"} <= set(
        refresh[401]
    )
    # role guards are read from the dependencies' own source
    assert "admin_only" in operation_codes(spec, "POST", "/api/v1/agencies")[403]
    assert "customer_only" in operation_codes(spec, "DELETE", "/api/v1/me")[403]
    # public operations do not inherit the closed-by-default guard's 401s
    login = operation_codes(spec, "POST", "/api/v1/auth/login")
    assert ("POST", "/api/v1/auth/login") in PUBLIC_ROUTES
    assert "unauthenticated" not in login.get(401, [])
    assert "invalid_credentials" in login[401]


def test_the_operation_table_declares_only_what_the_scan_cannot_see(app: FastAPI) -> None:
    index = package_index()
    for method, path, route in iter_routes(app):
        op = OPERATIONS.get((method, path))
        if op is None or not op.errors:
            continue
        public = (method, path) in PUBLIC_ROUTES
        found = route_codes(route, None, public, dependency_codes(), index, require_authentication)
        redundant = set(op.errors) & found
        assert not redundant, f"{op.id}: {sorted(redundant)} are found by the scan, drop them from Op.errors"
