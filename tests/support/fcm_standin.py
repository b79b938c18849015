"""A local stand-in for Firebase Cloud Messaging HTTP v1 and Google's OAuth2 token endpoint.

Speaks HTTP/2 with prior knowledge (h2c) on loopback, built directly on the ``h2`` state machine:

* ``POST /token``: OAuth2 JWT-bearer grant; the assertion must be RS256-signed by the service
  account key this stand-in generated (written to ``credentials_file``), with the right audience
  and scope. Answers ``{"access_token", "expires_in", "token_type"}``.
* ``POST /v1/projects/{project}/messages:send``: checks the bearer token and the message shape
  (``message.token``, ``notification.title/body``, string-only ``data``), then answers like FCM:
  200 ``{"name": ...}``, 404 ``UNREGISTERED`` for dead tokens, 429 with ``Retry-After`` at the
  configured rate. Counts what it accepted per token and per (notification id, token).
* ``GET /_stats`` (JSON counts) and ``POST /_config`` (latency_s, rate_429, rate_unregistered,
  retry_after_s, dead_tokens) for tests and the benchmark.

Run alone: ``python -m tests.support.fcm_standin --port 0 --dir DIR`` prints one JSON line
``{"url": ..., "credentials_file": ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


@dataclass
class StandInConfig:
    latency_s: float = 0.0
    rate_429: float = 0.0
    rate_unregistered: float = 0.0
    retry_after_s: float = 0.2
    throttle_first: int = 0  # answer 429 to the first N attempts for each token (deterministic bursts)
    dead_tokens: set[str] = field(default_factory=set)


@dataclass
class StandInState:
    accepted: Counter[str] = field(default_factory=Counter)  # token -> accepted messages
    by_notification: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    throttled: int = 0
    unregistered: int = 0
    rejected_auth: int = 0
    bad_shape: int = 0
    tokens_issued: int = 0
    attempts: Counter[str] = field(default_factory=Counter)  # token -> requests that passed auth
    first_at: float | None = None
    last_at: float | None = None

    tags: dict[str, dict[str, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )

    def collapse_ids(self, notification_id: str) -> dict[str, set[str]]:
        """token -> the distinct collapse tags it received for this notification (what a phone shows)."""
        return self.tags[notification_id]

    def snapshot(self, with_tokens: bool = True) -> dict[str, Any]:
        return {
            "accepted_total": sum(self.accepted.values()),
            "distinct_tokens": len(self.accepted),
            "duplicates": sum(c - 1 for c in self.accepted.values() if c > 1),
            "throttled": self.throttled,
            "unregistered": self.unregistered,
            "rejected_auth": self.rejected_auth,
            "bad_shape": self.bad_shape,
            "tokens_issued": self.tokens_issued,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "accepted": dict(self.accepted) if with_tokens else {},
        }


def _shape_ok(body: Any) -> bool:
    msg = body.get("message") if isinstance(body, dict) else None
    if not isinstance(msg, dict) or not isinstance(msg.get("token"), str) or not msg["token"]:
        return False
    note = msg.get("notification")
    if note is not None and not (isinstance(note, dict) and all(isinstance(v, str) for v in note.values())):
        return False
    data = msg.get("data", {})
    return isinstance(data, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())


class FcmStandIn:
    def __init__(self, directory: Path, project_id: str = "samaconso-test") -> None:
        self.project_id = project_id
        self.config = StandInConfig()
        self.state = StandInState()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = self._key.public_key()
        self._issued: set[str] = set()
        self._seq = 0
        self.host = "127.0.0.1"
        self.port = 0
        self.credentials_file = directory / "fcm-service-account.json"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def _write_credentials(self) -> None:
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        info = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": secrets.token_hex(8),
            "private_key": pem,
            "client_email": f"push@{self.project_id}.iam.gserviceaccount.com",
            "token_uri": self.token_uri,
        }
        self.credentials_file.parent.mkdir(parents=True, exist_ok=True)
        self.credentials_file.write_text(json.dumps(info), encoding="utf-8")
        self.credentials_file.chmod(0o600)

    async def serve(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._server = await loop.create_server(lambda: _H2Protocol(self), self.host, port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self._write_credentials()

    def start_in_thread(self) -> FcmStandIn:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.serve())
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="fcm-standin", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop and self._server:
            loop, server = self._loop, self._server
            loop.call_soon_threadsafe(server.close)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(5)

    def reset(self) -> None:
        self.config = StandInConfig()
        self.state = StandInState()

    # --- request handling -----------------------------------------------------------------------
    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "POST" and path == "/token":
            return self._token(body)
        if method == "POST" and path == f"/v1/projects/{self.project_id}/messages:send":
            return self._send(headers, body)
        if method == "GET" and path.startswith("/_stats"):
            return 200, {}, json.dumps(self.state.snapshot(with_tokens="tokens=0" not in path)).encode()
        if method == "POST" and path == "/_config":
            cfg = json.loads(body or b"{}")
            for name in ("latency_s", "rate_429", "rate_unregistered", "retry_after_s"):
                if name in cfg:
                    setattr(self.config, name, float(cfg[name]))
            if "throttle_first" in cfg:
                self.config.throttle_first = int(cfg["throttle_first"])
            if "dead_tokens" in cfg:
                self.config.dead_tokens = set(cfg["dead_tokens"])
            if cfg.get("reset_counts"):
                self.state = StandInState()
            return 200, {}, b"{}"
        return _error(404, "NOT_FOUND", "Unknown path")

    def _token(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {}, b'{"error":"unsupported_grant_type"}'
        try:
            claims = jwt.decode(
                form.get("assertion", ""), self._public, algorithms=["RS256"], audience=self.token_uri
            )
        except jwt.PyJWTError:
            return 400, {}, b'{"error":"invalid_grant"}'
        if claims.get("scope") != SCOPE:
            return 400, {}, b'{"error":"invalid_scope"}'
        token = "ya29." + secrets.token_urlsafe(24)
        self._issued.add(token)
        self.state.tokens_issued += 1
        return (
            200,
            {},
            json.dumps({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}).encode(),
        )

    def _send(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or bearer not in self._issued:
            self.state.rejected_auth += 1
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not _shape_ok(payload):
            self.state.bad_shape += 1
            return _error(400, "INVALID_ARGUMENT", "Invalid message", "INVALID_ARGUMENT")
        msg = payload["message"]
        token: str = msg["token"]
        cfg = self.config
        self.state.attempts[token] += 1
        if (cfg.rate_429 and random.random() < cfg.rate_429) or self.state.attempts[
            token
        ] <= cfg.throttle_first:
            self.state.throttled += 1
            status, hdrs, out = _error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", "QUOTA_EXCEEDED")
            hdrs["retry-after"] = f"{cfg.retry_after_s:g}"
            return status, hdrs, out
        if (
            token in cfg.dead_tokens
            or token.startswith("dead-")
            or (cfg.rate_unregistered and random.random() < cfg.rate_unregistered)
        ):
            self.state.unregistered += 1
            return _error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        now = time.time()
        st = self.state
        st.first_at = st.first_at or now
        st.last_at = now
        st.accepted[token] += 1
        nid = str((msg.get("data") or {}).get("notification_id", ""))
        st.by_notification[nid][token] += 1
        tag = str(((msg.get("android") or {}).get("notification") or {}).get("tag", ""))
        st.tags[nid][token].add(tag)
        self._seq += 1
        return 200, {}, b'{"name":"projects/%s/messages/%d"}' % (self.project_id.encode(), self._seq)


def _error(
    status: int, grpc_status: str, message: str, fcm_code: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    err: dict[str, Any] = {"code": status, "message": message, "status": grpc_status}
    if fcm_code:
        err["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        ]
    return status, {}, json.dumps({"error": err}).encode()


class _H2Protocol(asyncio.Protocol):
    def __init__(self, standin: FcmStandIn) -> None:
        self.standin = standin
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        self._flush_pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.conn.local_settings = h2.settings.Settings(
            client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000}
        )
        self.conn.initiate_connection()
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            if self.transport:
                self.transport.write(self.conn.data_to_send())
                self.transport.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                self.streams[ev.stream_id] = ({str(k): str(v) for k, v in ev.headers or []}, bytearray())
            elif isinstance(ev, h2.events.DataReceived):
                stream = self.streams.get(ev.stream_id)
                if stream is not None and ev.data:
                    stream[1].extend(ev.data)
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self._dispatch(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                self.streams.pop(ev.stream_id, None)
        if self.transport:
            self.transport.write(self.conn.data_to_send())

    def _dispatch(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        headers, body = stream
        method, path = headers.get(":method", ""), headers.get(":path", "")
        latency = self.standin.config.latency_s
        if latency > 0 and path.startswith("/v1/"):
            asyncio.get_running_loop().call_later(
                latency, self._respond, stream_id, method, path, headers, bytes(body)
            )
        else:
            self._respond(stream_id, method, path, headers, bytes(body))

    def _respond(self, stream_id: int, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        status, extra, out = self.standin.handle(method, path, headers, body)
        try:
            self.conn.send_headers(
                stream_id,
                [
                    (":status", str(status)),
                    ("content-type", "application/json"),
                    ("content-length", str(len(out))),
                    *extra.items(),
                ],
            )
            self.conn.send_data(stream_id, out, end_stream=True)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
            return
        if not self._flush_pending:  # one write for every answer produced in this loop iteration
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        out = self.conn.data_to_send()
        if out and self.transport and not self.transport.is_closing():
            self.transport.write(out)


def main() -> None:
    parser = argparse.ArgumentParser(description="FCM HTTP v1 + OAuth2 stand-in (h2c)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--project", default="samaconso-test")
    args = parser.parse_args()
    standin = FcmStandIn(args.dir, args.project)

    async def run() -> None:
        await standin.serve(args.port)
        print(json.dumps({"url": standin.url, "credentials_file": str(standin.credentials_file)}), flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


if __name__ == "__main__":
    main()
