"""The production path (pymssql in worker threads) against SQL Server addresses that fail: a closed
port and a server that accepts the connection but never answers the TDS login. Both become a 503
problem within 3 s, and the event loop keeps serving meanwhile."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from samaconso.kit.errors import AppError
from samaconso.legacy.gateway import LegacyGateway, MssqlSource
from samaconso.legacy.tables import MSSQL_SCHEMA_MAP
from samaconso.settings import Settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mssql_settings(settings: Settings, port: int) -> Settings:
    url = f"mssql+pymssql://samaconso:not-a-real-password@127.0.0.1:{port}"
    return settings.model_copy(
        update={
            "legacy_backend": "mssql",
            "legacy_sic_url": f"{url}/SIC",
            "legacy_histh2mc_url": f"{url}/HISTH2MC?encryption=off",
            "legacy_bi_ods_url": f"{url}/BI_ODS",
        }
    )


async def test_mssql_sources_are_bounded_and_mapped_to_the_sql_server_databases(settings: Settings) -> None:
    gateway = LegacyGateway.from_settings(_mssql_settings(settings, _closed_port()))
    try:
        for name in ("sic", "histh2mc", "bi_ods"):
            source = gateway.sources[name]
            assert isinstance(source, MssqlSource)
            assert source.engine.dialect.name == "mssql"
            assert source.engine.driver == "pymssql"
            assert source.engine.get_execution_options()["schema_translate_map"] == MSSQL_SCHEMA_MAP
            assert source.limiter.total_tokens == settings.legacy_pool_size
            assert source.engine.pool.size() == settings.legacy_pool_size  # type: ignore[attr-defined]
        histh2mc = gateway.sources["histh2mc"]
        assert isinstance(histh2mc, MssqlSource)
        assert histh2mc.engine.url.query == {}  # encryption is a connect argument
    finally:
        await gateway.dispose()


async def test_mssql_server_down_gives_503_fast(settings: Settings) -> None:
    gateway = LegacyGateway.from_settings(_mssql_settings(settings, _closed_port()))
    try:
        began = time.monotonic()
        with pytest.raises(AppError) as info:
            await gateway.prepaid_meter("14123456783")
        assert info.value.status == 503
        assert info.value.code == "legacy_sic_unavailable"
        assert int(info.value.headers["Retry-After"]) >= 1
        assert time.monotonic() - began < 3.0
        # the other databases have their own breaker: still closed
        assert not gateway.breakers["histh2mc"].is_open
    finally:
        await gateway.dispose()


async def test_mssql_server_that_never_answers_is_abandoned_at_the_deadline(settings: Settings) -> None:
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept the TCP connection, never answer the TDS pre-login

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    gateway = LegacyGateway.from_settings(_mssql_settings(settings, port))
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.1)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    try:
        began = time.monotonic()
        with pytest.raises(AppError) as info:
            await gateway.bills_top("3001234567")
        elapsed = time.monotonic() - began
        assert info.value.status == 503
        assert info.value.code == "legacy_histh2mc_unavailable"
        assert 2.0 < elapsed < 3.0
        assert ticks >= 15  # the event loop kept running while the driver was blocked in its thread
    finally:
        beat.cancel()
        for writer in held:
            writer.transport.abort()
        server.close()
        await gateway.dispose()
