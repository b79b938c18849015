"""A legacy database that goes down or hangs: only its endpoints answer 503 + Retry-After, within
3 s, and the rest of the API keeps answering. The stand-in is taken away mid-run through a proxy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import make_url

from samaconso.app import create_app
from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.settings import Settings
from tests.support.legacy import LegacySource, TcpProxy
from tests.support.users import make_user


@asynccontextmanager
async def app_behind(
    proxy: TcpProxy, settings: Settings, legacy_source: LegacySource
) -> AsyncIterator[AsyncClient]:
    proxied = settings.model_copy(update={"legacy_simulated_url": proxy.url_for(legacy_source.url)})
    application: FastAPI = create_app(proxied)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        transport = ASGITransport(app=application, client=("127.0.0.1", 50001))
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def _proxy(legacy_source: LegacySource) -> TcpProxy:
    target = make_url(legacy_source.url)
    return await TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()


async def test_legacy_down_mid_run(db: Database, settings: Settings, legacy_source: LegacySource) -> None:
    proxy = await _proxy(legacy_source)
    try:
        async with app_behind(proxy, settings, legacy_source) as client:
            awa = await make_user(db, settings, phone=g.DEMO_PHONE)
            prepaid = await client.post(
                "/api/v1/me/meters",
                json={"kind": "prepaid", "number": g.DEMO_PREPAID_METER},
                headers=awa.headers,
            )
            postpaid = await client.post(
                "/api/v1/me/meters",
                json={"kind": "postpaid", "number": g.DEMO_POSTPAID_CONTRACT},
                headers=awa.headers,
            )
            assert prepaid.status_code == 201, prepaid.text
            assert postpaid.status_code == 201, postpaid.text
            pid, cid = prepaid.json()["id"], postpaid.json()["id"]
            assert (
                await client.get(f"/api/v1/me/meters/{pid}/summary", headers=awa.headers)
            ).status_code == 200

            await proxy.stop()  # the legacy databases go away

            for url in (
                f"/api/v1/me/meters/{pid}/purchases?from=2026-01-01",
                f"/api/v1/me/meters/{cid}/bills?from=2026-01-01",
                f"/api/v1/me/meters/{cid}/contract",
                f"/api/v1/me/meters/{pid}/consumption/monthly?year=2025",
            ):
                began = time.monotonic()
                r = await client.get(url, headers=awa.headers)
                elapsed = time.monotonic() - began
                assert r.status_code == 503, (url, r.text)
                assert elapsed < 3.0, (url, elapsed)
                assert int(r.headers["Retry-After"]) >= 1
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["code"].startswith("legacy_")
                assert "asyncpg" not in r.text
                assert "Connection" not in r.text
            added = await client.post(
                "/api/v1/me/meters",
                json={"kind": "prepaid", "number": g.OTHER_PREPAID_METER},
                headers=awa.headers,
            )
            assert added.status_code == 503
            notice = await client.get(
                f"/api/v1/subscription-notices/{g.DEMO_NOTICE}", params={"phone": g.DEMO_PHONE}
            )
            assert notice.status_code == 503

            # the rest of the API keeps answering
            assert (await client.get("/health")).status_code == 200
            meters = await client.get("/api/v1/me/meters", headers=awa.headers)
            assert meters.status_code == 200
            assert len(meters.json()["items"]) == 2
            assert (await client.get(f"/api/v1/me/meters/{pid}", headers=awa.headers)).status_code == 200
            assert (await client.get("/api/v1/me/notifications", headers=awa.headers)).status_code == 200
            # what was read a moment ago is still served from the cache
            assert (
                await client.get(f"/api/v1/me/meters/{pid}/summary", headers=awa.headers)
            ).status_code == 200
    finally:
        await proxy.stop()


async def test_hanging_legacy_database_answers_503_within_three_seconds(
    db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    """The gateway gives up at its deadline (3 s promise minus 0.25 s). What the request costs
    besides the legacy call grows with the machine's load, so that part is measured: the same route
    while the database answers."""
    from samaconso.legacy.gateway import LegacyGateway

    deadline_s = LegacyGateway({}, settings.legacy_timeout_s).deadline_s
    assert deadline_s <= 2.75
    proxy = await _proxy(legacy_source)
    try:
        async with app_behind(proxy, settings, legacy_source) as client:
            awa = await make_user(db, settings, phone=g.DEMO_PHONE)
            began = time.monotonic()
            await client.post(  # someone else's meter: asks SIC too, answers at once
                "/api/v1/me/meters",
                json={"kind": "prepaid", "number": g.OTHER_PREPAID_METER},
                headers=awa.headers,
            )
            answering_s = time.monotonic() - began
            proxy.blackhole()  # accepts connections, never answers
            began = time.monotonic()
            r = await client.post(
                "/api/v1/me/meters",
                json={"kind": "prepaid", "number": g.DEMO_PREPAID_METER},
                headers=awa.headers,
            )
            elapsed = time.monotonic() - began
            assert r.status_code == 503
            assert r.json()["code"] == "legacy_sic_unavailable"
            # within 3 s on a quiet machine (answering_s ~ 0.05 s), never the driver's own timeouts
            assert deadline_s <= elapsed < deadline_s + max(0.25, answering_s), (elapsed, answering_s)
            began = time.monotonic()
            assert (await client.get("/api/v1/me/meters", headers=awa.headers)).status_code == 200
            assert time.monotonic() - began < deadline_s  # the rest of the API does not wait for it
    finally:
        await proxy.stop()


async def test_breaker_opens_then_recovers_when_the_database_is_back(
    settings: Settings, legacy_source: LegacySource
) -> None:
    from samaconso.kit.errors import AppError
    from samaconso.legacy.gateway import LegacyGateway

    proxy = await _proxy(legacy_source)
    proxied = settings.model_copy(update={"legacy_simulated_url": proxy.url_for(legacy_source.url)})
    gateway = LegacyGateway.from_settings(proxied)
    for breaker in gateway.breakers.values():
        breaker.reset_timeout_s = 0.5
    try:
        assert await gateway.prepaid_meter(g.DEMO_PREPAID_METER) is not None
        await proxy.stop()
        codes = []
        for _ in range(4):
            try:
                await gateway.prepaid_meter(g.DEMO_PREPAID_METER)
            except AppError as exc:
                codes.append(exc.status)
        assert codes == [503, 503, 503, 503]
        assert gateway.breakers["sic"].is_open
        assert not gateway.breakers["bi_ods"].is_open  # one breaker per database
        await proxy.start()  # the database is back on the same address
        await asyncio.sleep(0.6)
        assert await gateway.prepaid_meter(g.DEMO_PREPAID_METER) is not None
        assert not gateway.breakers["sic"].is_open
    finally:
        await gateway.dispose()
        await proxy.stop()
