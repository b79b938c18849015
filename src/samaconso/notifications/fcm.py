"""Firebase Cloud Messaging HTTP v1 sender.

* OAuth2 service-account flow: a JWT assertion signed RS256 with the service account's private key
  is exchanged at ``fcm_token_uri`` for a bearer token, cached until 5 minutes before it expires.
* One ``POST /v1/projects/{project}/messages:send`` per message (FCM v1 has no batch API),
  multiplexed as HTTP/2 streams by libcurl (``curl_http2.py``) with at most ``fcm_concurrency``
  requests in flight per process.
* Outcome per message: ``sent``; ``dead`` (``UNREGISTERED`` / ``INVALID_ARGUMENT``: the token is
  gone); ``429`` / ``5xx`` / network errors are retried with exponential backoff and jitter,
  honouring ``Retry-After``, then ``failed``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import jwt

from samaconso.kit.metrics import FCM_MESSAGES, FCM_RETRIES, OUTBOUND_CALLS
from samaconso.notifications.curl_http2 import CurlHttp2Client, HttpResponse
from samaconso.settings import Settings

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
DEAD_CODES = frozenset({"UNREGISTERED", "INVALID_ARGUMENT"})
MAX_ATTEMPTS = 6
MAX_BACKOFF_S = 30.0
_TOKEN_MARK = "\u0000token\u0000"  # noqa: S105 - placeholder in the JSON template (never a real FCM token)


class FcmAuthError(RuntimeError):
    pass


@dataclass(frozen=True)
class PushMessage:
    token: str
    title: str
    body: str
    data: dict[str, str]
    priority: str  # urgent|high|normal|low
    collapse_id: str  # notification id: a device shows one notification even if delivered twice

    def to_fcm(self) -> dict[str, Any]:
        android_priority = "high" if self.priority in ("urgent", "high") else "normal"
        return {
            "message": {
                "token": self.token,
                "notification": {"title": self.title, "body": self.body},
                "data": self.data,
                "android": {
                    "priority": android_priority,
                    "collapse_key": self.collapse_id[:64],
                    "notification": {"tag": self.collapse_id},
                },
                "apns": {
                    "headers": {
                        "apns-priority": "10" if android_priority == "high" else "5",
                        "apns-collapse-id": self.collapse_id[:64],
                    }
                },
            }
        }


@dataclass(frozen=True)
class SendResult:
    outcome: str  # sent | dead | failed
    error: str | None = None
    attempts: int = 1


class ServiceAccountToken:
    """Bearer tokens for the service account, cached until near expiry."""

    def __init__(self, credentials_file: Path, token_uri: str) -> None:
        info = json.loads(credentials_file.read_text(encoding="utf-8"))
        self._email: str = info["client_email"]
        self._key: str = info["private_key"]
        self._key_id: str | None = info.get("private_key_id")
        self._token_uri = token_uri or info.get("token_uri", "")
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def _assertion(self, now: int) -> str:
        claims = {"iss": self._email, "scope": SCOPE, "aud": self._token_uri, "iat": now, "exp": now + 3600}
        headers = {"kid": self._key_id} if self._key_id else None
        return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)

    def invalidate(self) -> None:
        self._token = None

    async def get(self, http: httpx.AsyncClient) -> str:
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        async with self._lock:
            if self._token and time.monotonic() < self._expires_at:
                return self._token
            resp = await http.post(
                self._token_uri,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": self._assertion(int(time.time())),
                },
            )
            if resp.status_code != 200:
                OUTBOUND_CALLS.labels("fcm_oauth", "error").inc()
                raise FcmAuthError(f"token endpoint answered {resp.status_code}")
            body = resp.json()
            self._token = str(body["access_token"])
            self._expires_at = time.monotonic() + max(60.0, float(body.get("expires_in", 3600)) - 300)
            return self._token


def _retry_after(resp: HttpResponse) -> float | None:
    raw = resp.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _error_code(resp: HttpResponse) -> str:
    try:
        err = json.loads(resp.body).get("error", {})
    except (ValueError, AttributeError):
        return f"http_{resp.status}"
    for detail in err.get("details", []) or []:
        code = detail.get("errorCode")
        if code:
            return str(code)
    return str(err.get("status") or f"http_{resp.status}")


class FcmSender:
    """Sends messages to FCM v1 (or any server speaking it, such as the local stand-in)."""

    def __init__(self, settings: Settings, *, base_backoff_s: float = 0.5) -> None:
        if settings.fcm_credentials_file is None:
            raise FcmAuthError("SAMACONSO_FCM_CREDENTIALS_FILE is not set")
        self._settings = settings
        self._path = f"/v1/projects/{settings.fcm_project_id}/messages:send"
        self._auth = ServiceAccountToken(settings.fcm_credentials_file, settings.fcm_token_uri)
        self._base_backoff_s = base_backoff_s
        self._concurrency = max(1, settings.fcm_concurrency)
        self._in_flight = 0
        self._drivers: set[asyncio.Event] = set()  # send_many calls waiting for a free slot
        self._metric = {
            outcome: OUTBOUND_CALLS.labels("fcm", outcome)
            for outcome in ("ok", "error", "dead_token", "rejected", "retry")
        }
        # Final outcomes and retries of messages (the worker's endpoint; zero until the first send).
        self._outcomes = {
            outcome: FCM_MESSAGES.labels(outcome) for outcome in ("sent", "dead_token", "failed")
        }
        self._retries = {
            reason: FCM_RETRIES.labels(reason)
            for reason in ("throttled", "server_error", "unauthorized", "network")
        }
        timeout = httpx.Timeout(settings.fcm_timeout_s, connect=min(5.0, settings.fcm_timeout_s))
        # Messages: HTTP/2 streams multiplexed by libcurl (TLS + ALPN h2, or h2c for the stand-in).
        self._channel = CurlHttp2Client(
            settings.fcm_endpoint,
            connect_timeout_s=min(5.0, settings.fcm_timeout_s),
            timeout_s=settings.fcm_timeout_s,
            verify=settings.fcm_verify_tls,
            proxy_url=settings.fcm_proxy_url,
            max_streams=settings.fcm_concurrency,
        )
        self._headers: tuple[str, list[str]] = ("", [])
        self._templates: dict[tuple[object, ...], tuple[bytes, bytes]] = {}
        self._auth_http = httpx.AsyncClient(
            http1=False,
            http2=True,
            timeout=timeout,
            verify=settings.fcm_verify_tls,
            proxy=settings.fcm_proxy_url,
        )

    def _encode(self, message: PushMessage) -> bytes:
        """The request body. A broadcast sends the same message to every device but the token, so
        the JSON is encoded once per content and the (escaped) token spliced in."""
        key = (
            message.title,
            message.body,
            tuple(message.data.items()),
            message.priority,
            message.collapse_id,
        )
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= 64:
                self._templates.clear()
            raw = json.dumps(replace(message, token=_TOKEN_MARK).to_fcm(), separators=(",", ":"))
            prefix, _, suffix = raw.partition(json.dumps(_TOKEN_MARK))
            template = self._templates[key] = (prefix.encode(), suffix.encode())
        return template[0] + json.dumps(message.token).encode() + template[1]

    async def aclose(self) -> None:
        await self._channel.aclose()
        await self._auth_http.aclose()

    def _auth_headers(self, token: str) -> list[str]:
        if self._headers[0] != token:  # one list per bearer token: the transport skips re-setting it
            self._headers = (token, [f"Authorization: Bearer {token}", "Content-Type: application/json"])
        return self._headers[1]

    def _classify(
        self, response: HttpResponse | None, error: Exception | None, attempt: int
    ) -> SendResult | tuple[str, float | None, str]:
        """A final result, or ``(error, retry_after, reason)`` when the message is to be retried."""
        if response is None:
            self._metric["error"].inc()
            return type(error).__name__, None, "network"
        if response.status == 200:
            self._metric["ok"].inc()
            self._outcomes["sent"].inc()
            return SendResult("sent", attempts=attempt)
        code = _error_code(response)
        if response.status in (400, 404) and code in DEAD_CODES:
            self._metric["dead_token"].inc()
            self._outcomes["dead_token"].inc()
            return SendResult("dead", code, attempt)
        if response.status == 401:
            self._auth.invalidate()
            reason = "unauthorized"
        elif response.status != 429 and response.status < 500:
            self._metric["rejected"].inc()
            self._outcomes["failed"].inc()
            return SendResult("failed", code, attempt)
        else:
            reason = "throttled" if response.status == 429 else "server_error"
        self._metric["retry"].inc()
        return code, _retry_after(response), reason

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(MAX_BACKOFF_S, retry_after)
        return random.uniform(0, min(MAX_BACKOFF_S, self._base_backoff_s * 2 ** (attempt - 1)))

    async def send(self, message: PushMessage) -> SendResult:
        return (await self.send_many([message]))[0]

    async def send_many(
        self,
        messages: Sequence[PushMessage],
        on_result: Callable[[int, SendResult], None] | None = None,
    ) -> list[SendResult]:
        """Send every message (at most ``fcm_concurrency`` in flight for this sender), retrying
        429/5xx/network failures; ``on_result(index, result)`` is called as each one ends.

        Callback-driven (no task or future per message): the transport calls back from the event
        loop, retries are re-queued with ``call_later``, and this coroutine only refills the window
        and fetches the bearer token."""
        loop = asyncio.get_running_loop()
        count = len(messages)
        results: list[SendResult | None] = [None] * count
        attempts = [0] * count
        errors = [""] * count
        payloads = [self._encode(m) for m in messages]
        queue: deque[int] = deque(range(count))
        remaining = count
        wake = asyncio.Event()
        self._drivers.add(wake)

        def finish(i: int, result: SendResult) -> None:
            nonlocal remaining
            results[i] = result
            remaining -= 1
            if on_result is not None:
                on_result(i, result)

        def requeue(i: int) -> None:
            queue.append(i)
            wake.set()

        def outcome(i: int, response: HttpResponse | None, error: Exception | None) -> None:
            self._in_flight -= 1
            for driver in self._drivers:
                driver.set()
            verdict = self._classify(response, error, attempts[i])
            if isinstance(verdict, SendResult):
                finish(i, verdict)
                return
            errors[i], retry_after, reason = verdict
            if attempts[i] >= MAX_ATTEMPTS:
                self._outcomes["failed"].inc()
                finish(i, SendResult("failed", errors[i][:60], attempts[i]))
            else:
                self._retries[reason].inc()
                loop.call_later(self._backoff(attempts[i], retry_after), requeue, i)

        callbacks = [partial(outcome, i) for i in range(count)]
        try:
            while remaining:
                if queue and self._in_flight < self._concurrency:
                    try:
                        headers = self._auth_headers(await self._auth.get(self._auth_http))
                    except (FcmAuthError, httpx.TransportError, OSError, ValueError) as exc:
                        for i in [queue.popleft() for _ in range(len(queue))]:
                            attempts[i] += 1
                            self._in_flight += 1
                            outcome(i, None, exc)
                        continue
                    while queue and self._in_flight < self._concurrency:
                        i = queue.popleft()
                        attempts[i] += 1
                        self._in_flight += 1
                        self._channel.submit("POST", self._path, headers, payloads[i], callbacks[i])
                wake.clear()
                if remaining:
                    await wake.wait()
        finally:
            self._drivers.discard(wake)
        return [r for r in results if r is not None]
