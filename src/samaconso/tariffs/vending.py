"""The process's XMLVend client (``xmlvend.py``) and its lifecycle: built at start-up
(``samaconso/wiring.py``), rebuilt when the XMLVend settings change, closed at shutdown. Its
circuit breaker lives in the client it holds, never in a module global.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import structlog

from samaconso.settings import Settings
from samaconso.tariffs.xmlvend import (
    TrialVendResult,
    VendingError,
    XmlVendClient,
    load_client_identity,
    settings_key,
)

log = structlog.get_logger(__name__)


class VendingGateway:
    """The process's XMLVend client, rebuilt when the XMLVend settings change."""

    def __init__(self) -> None:
        self._client: XmlVendClient | None = None
        self._key: tuple[Any, ...] | None = None
        self._lock = asyncio.Lock()

    async def client(self, settings: Settings) -> XmlVendClient:
        key = await asyncio.to_thread(settings_key, settings)
        async with self._lock:
            if self._client is None or self._key != key:
                old, self._client = self._client, None
                if old is not None:
                    await old.aclose()
                if settings.xmlvend_client_p12 is None:
                    raise VendingError("certificate_unavailable", "no client certificate configured")
                try:
                    identity = await asyncio.to_thread(
                        load_client_identity,
                        settings.xmlvend_client_p12,
                        settings.xmlvend_client_p12_password.get_secret_value()
                        if settings.xmlvend_client_p12_password
                        else None,
                    )
                    self._client = await asyncio.to_thread(XmlVendClient, settings, identity)
                except VendingError:
                    raise
                except Exception as exc:
                    log.warning("xmlvend_client_unavailable", error=type(exc).__name__)
                    raise VendingError("certificate_unavailable", type(exc).__name__) from exc
                self._key = key
            return self._client

    async def trial(self, settings: Settings, meter_no: str, amount: Decimal) -> TrialVendResult:
        client = await self.client(settings)
        return await client.trial_credit_vend(meter_no, amount, budget_s=settings.xmlvend_simulator_budget_s)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
            self._key = None
