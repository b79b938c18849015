"""The suite's own isolation rules (tests/support/settings.py, tests/conftest.py): a test's settings
are its copy, the app serves that copy, and what the lifespan builds is new for each test."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from samaconso.legacy.deps import gateway_of
from samaconso.legacy.gateway import LegacyGateway
from samaconso.settings import Settings
from tests.support.settings import Serve, override


def test_override_is_a_copy_and_refuses_unknown_fields(base_settings: Settings) -> None:
    copy = override(base_settings, otp_ttl_s=base_settings.otp_ttl_s + 1)
    assert copy is not base_settings
    assert copy.otp_ttl_s == base_settings.otp_ttl_s + 1
    assert base_settings.otp_ttl_s != copy.otp_ttl_s
    with pytest.raises(TypeError, match="otp_ttl"):
        override(base_settings, otp_ttl=5)  # a typo must not leave the default in place


@pytest.mark.settings(max_customer_devices=7)
async def test_marked_settings_reach_the_app_and_nothing_else(
    app: FastAPI, settings: Settings, base_settings: Settings
) -> None:
    assert settings.max_customer_devices == 7
    assert app.state.settings is settings
    assert base_settings.max_customer_devices != 7  # the suite's settings are untouched


async def test_a_second_configuration_is_its_own_app(
    client: AsyncClient, settings: Settings, serve: Serve
) -> None:
    assert (await client.get("/health")).status_code == 200
    async with serve(override(settings, cors_origins=["https://app.example"])) as other:
        preflight = await other.options(
            "/health",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
    assert preflight.headers.get("access-control-allow-origin") == "https://app.example"
    plain = await client.options(
        "/health", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in plain.headers


_seen_gateways: list[LegacyGateway] = []  # kept alive, so no new object can reuse an old one's id


@pytest.mark.parametrize("run", [1, 2])
async def test_each_test_gets_a_new_legacy_gateway_and_breakers(app: FastAPI, run: int) -> None:
    gateway = gateway_of(app)
    assert all(not b.is_open and b.failures == 0 for b in gateway.breakers.values())
    for breaker in gateway.breakers.values():  # leave them open: the next test must not see it
        for _ in range(breaker.failure_threshold):
            breaker.record_failure()
    assert all(seen is not gateway for seen in _seen_gateways)
    _seen_gateways.append(gateway)


def test_no_module_holds_a_circuit_breaker() -> None:
    """Breakers live in the objects the lifespan / worker start-up build (fresh for each test); one
    held by a module would carry a test's failures into the next."""
    import importlib
    import pkgutil
    import sys

    import samaconso
    from samaconso.kit.outbound import CircuitBreaker

    for info in pkgutil.walk_packages(samaconso.__path__, "samaconso."):
        if not info.name.startswith(("samaconso.embedded", "samaconso.cli")):
            importlib.import_module(info.name)
    held = [
        f"{name}.{attr}"
        for name, module in list(sys.modules.items())
        if name.startswith("samaconso.") and module is not None
        for attr, value in vars(module).items()
        if isinstance(value, CircuitBreaker)
    ]
    assert held == []
