"""Outbound calls: timeouts everywhere, bounded retries and a circuit breaker per external system."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import structlog

from samaconso.kit.errors import unavailable
from samaconso.kit.metrics import CIRCUIT_OPEN, OUTBOUND_CALLS

log = structlog.get_logger(__name__)
T = TypeVar("T")


class CircuitOpenError(RuntimeError):
    def __init__(self, target: str, retry_after_s: float) -> None:
        super().__init__(f"circuit open for {target}")
        self.target = target
        self.retry_after_s = retry_after_s


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failures; lets one trial call through after
    ``reset_timeout_s``; closes again on success."""

    def __init__(self, target: str, failure_threshold: int = 5, reset_timeout_s: float = 30.0) -> None:
        self.target = target
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False
        CIRCUIT_OPEN.labels(target).set(0)  # the state is scraped from the start, not after a change

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def before_call(self) -> None:
        if self.opened_at is None:
            return
        elapsed = time.monotonic() - self.opened_at
        if elapsed < self.reset_timeout_s or self._trial_running:
            raise CircuitOpenError(self.target, max(1.0, self.reset_timeout_s - elapsed))
        self._trial_running = True  # half-open: one trial call

    def record_success(self) -> None:
        if self.opened_at is not None:
            log.info("circuit_closed", target=self.target)
        self.failures = 0
        self.opened_at = None
        self._trial_running = False
        CIRCUIT_OPEN.labels(self.target).set(0)
        OUTBOUND_CALLS.labels(self.target, "ok").inc()

    def record_failure(self) -> None:
        self.failures += 1
        self._trial_running = False
        OUTBOUND_CALLS.labels(self.target, "error").inc()
        if self.failures >= self.failure_threshold or self.opened_at is not None:
            if self.opened_at is None:
                log.warning("circuit_opened", target=self.target, failures=self.failures)
            self.opened_at = time.monotonic()
            CIRCUIT_OPEN.labels(self.target).set(1)

    async def call(self, fn: Callable[[], Awaitable[T]], *, timeout_s: float) -> T:
        """Run ``fn`` under the breaker with an overall timeout. Raises CircuitOpenError/TimeoutError."""
        self.before_call()
        try:
            async with asyncio.timeout(timeout_s):
                result = await fn()
        except Exception:
            self.record_failure()
            raise
        self.record_success()
        return result

    async def call_or_503(self, service: str, fn: Callable[[], Awaitable[T]], *, timeout_s: float) -> T:
        """Same as :meth:`call`, but any failure becomes a 503 problem with ``Retry-After``."""
        try:
            return await self.call(fn, timeout_s=timeout_s)
        except CircuitOpenError as exc:
            raise unavailable(service, int(exc.retry_after_s)) from exc
        except Exception as exc:
            log.warning("outbound_failed", target=self.target, error=type(exc).__name__)
            raise unavailable(service, int(self.reset_timeout_s)) from exc


def http_client(
    *,
    connect_s: float = 5.0,
    read_s: float = 10.0,
    http2: bool = False,
    max_connections: int = 100,
    verify: bool | str = True,
    cert: tuple[str, str] | None = None,
    proxy: str | None = None,
    base_url: str = "",
) -> httpx.AsyncClient:
    """An httpx client that always has timeouts."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(connect=connect_s, read=read_s, write=read_s, pool=connect_s),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        http2=http2,
        verify=verify,
        cert=cert,
        proxy=proxy,
    )
