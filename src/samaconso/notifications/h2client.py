"""A lean HTTP/2 client channel for high-volume small requests (the FCM v1 sender).

httpx/httpcore spend about a millisecond of CPU per HTTP/2 request (per-request locks, generic
streaming machinery); at 10 000 pushes per second that is the whole machine. This channel keeps one
connection, multiplexes every request as a stream on it (``h2`` state machine, asyncio protocol) and
resolves a future per stream. TLS with ALPN ``h2`` for https URLs, HTTP/2 with prior knowledge for
http URLs (local stand-in), and HTTP ``CONNECT`` tunnelling through a proxy (the corporate proxy).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import unquote, urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


class H2Error(ConnectionError):
    """The connection or the stream failed (network, reset, GOAWAY): the request may be retried."""


@dataclass
class H2Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _Pending:
    future: asyncio.Future[H2Response]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)


class _Protocol(asyncio.Protocol):
    def __init__(self, authority: str) -> None:
        self.authority = authority
        self.conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(
                client_side=True,
                header_encoding="utf-8",
                # Our request headers are fixed and well-formed (the stand-in validates them in the
                # tests); skipping h2's per-header checks saves a third of the CPU per request.
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
                validate_inbound_headers=False,
            )
        )
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Pending] = {}
        self.window_open = asyncio.Event()
        self.stream_freed = asyncio.Event()
        self.closed = False
        self.ready = asyncio.Event()
        self._flush_pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.conn.initiate_connection()
        self.transport.write(self.conn.data_to_send())
        self.window_open.set()
        self.ready.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail_all(H2Error(f"connection lost: {type(exc).__name__ if exc else 'closed'}"))

    def _fail_all(self, exc: Exception) -> None:
        self.stream_freed.set()
        streams, self.streams = self.streams, {}
        for pending in streams.values():
            if not pending.future.done():
                pending.future.set_exception(exc)
        self.window_open.set()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail_all(H2Error(f"protocol error: {exc}"))
            if self.transport:
                self.transport.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.ResponseReceived):
                p = self.streams.get(ev.stream_id)
                if p is not None:
                    headers = {str(k): str(v) for k, v in ev.headers or []}
                    p.status = int(headers.get(":status", "0"))
                    p.headers = headers
            elif isinstance(ev, h2.events.DataReceived):
                p = self.streams.get(ev.stream_id)
                if p is not None and ev.data:
                    p.body.extend(ev.data)
                if ev.flow_controlled_length:
                    with contextlib.suppress(h2.exceptions.StreamClosedError):
                        self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                p = self.streams.pop(ev.stream_id, None)
                self.stream_freed.set()
                if p is not None and not p.future.done():
                    p.future.set_result(H2Response(p.status, p.headers, bytes(p.body)))
            elif isinstance(ev, h2.events.StreamReset):
                p = self.streams.pop(ev.stream_id, None)
                self.stream_freed.set()
                if p is not None and not p.future.done():
                    p.future.set_exception(H2Error(f"stream reset ({ev.error_code})"))
            elif isinstance(ev, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
                self.window_open.set()
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.closed = True
                self._fail_all(H2Error("GOAWAY"))
        self.flush()

    def schedule_flush(self) -> None:
        """Coalesce the frames of every request started in this loop iteration into one write."""
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        out = self.conn.data_to_send()
        if out and self.transport and not self.transport.is_closing():
            self.transport.write(out)


class Http2Channel:
    """One multiplexed HTTP/2 connection to ``base_url`` (re-opened on failure)."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float = 5.0,
        verify: bool | str = True,
        proxy_url: str | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.authority = f"{self.host}:{self.port}" if parts.port else self.host
        self.connect_timeout_s = connect_timeout_s
        self.proxy_url = proxy_url
        self._ssl: ssl.SSLContext | None = None
        if self.scheme == "https":
            ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            if verify is False:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            self._ssl = ctx
        self._proto: _Protocol | None = None
        self._lock = asyncio.Lock()

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        proto = _Protocol(self.authority)
        if self.proxy_url:
            transport = await self._tunnel(loop, proto)
        else:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(
                    lambda: proto,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                ),
                self.connect_timeout_s,
            )
        if self._ssl is not None:
            sslobj = transport.get_extra_info("ssl_object")
            if sslobj is None or sslobj.selected_alpn_protocol() != "h2":
                transport.close()
                raise H2Error("server did not negotiate HTTP/2")
        await proto.ready.wait()
        return proto

    async def _tunnel(self, loop: asyncio.AbstractEventLoop, proto: _Protocol) -> asyncio.Transport:
        assert self.proxy_url is not None
        proxy = urlsplit(self.proxy_url)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(proxy.hostname, proxy.port or 3128), self.connect_timeout_s
        )
        request = f"CONNECT {self.host}:{self.port} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if proxy.username:
            cred = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
            request += f"Proxy-Authorization: Basic {base64.b64encode(cred).decode()}\r\n"
        writer.write((request + "\r\n").encode())
        status_line = await asyncio.wait_for(reader.readline(), self.connect_timeout_s)
        while (await asyncio.wait_for(reader.readline(), self.connect_timeout_s)) not in (b"\r\n", b""):
            pass
        if b" 200" not in status_line:
            writer.close()
            raise H2Error("proxy refused the tunnel")
        raw = writer.transport
        if self._ssl is not None:
            tls = await loop.start_tls(raw, raw.get_protocol(), self._ssl, server_hostname=self.host)
            if tls is None:
                raise H2Error("TLS through the proxy failed")
            raw = tls
        raw.set_protocol(proto)
        proto.connection_made(raw)
        return cast(asyncio.Transport, raw)

    async def _connection(self) -> _Protocol:
        proto = self._proto
        if proto is not None and not proto.closed:
            return proto
        async with self._lock:
            if self._proto is None or self._proto.closed:
                self._proto = await self._open()
            return self._proto

    async def request(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes, timeout_s: float
    ) -> H2Response:
        proto = await self._connection()
        conn = proto.conn
        # len(streams) == streams awaiting an answer (h2's own open_outbound_streams is O(n) per call)
        while len(proto.streams) >= conn.remote_settings.max_concurrent_streams and not proto.closed:
            proto.stream_freed.clear()  # the server's stream limit: wait for a stream to finish
            await asyncio.wait_for(proto.stream_freed.wait(), timeout_s)
        if proto.closed:
            raise H2Error("connection closed")
        try:
            stream_id = conn.get_next_available_stream_id()
            future: asyncio.Future[H2Response] = asyncio.get_running_loop().create_future()
            proto.streams[stream_id] = _Pending(future)
            conn.send_headers(
                stream_id,
                [
                    (":method", method),
                    (":scheme", self.scheme),
                    (":authority", self.authority),
                    (":path", path),
                    ("content-length", str(len(body))),
                    *headers,
                ],
                end_stream=not body,
            )
            offset = 0
            while offset < len(body):
                window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
                if window <= 0:
                    proto.window_open.clear()
                    proto.flush()
                    await asyncio.wait_for(proto.window_open.wait(), timeout_s)
                    if proto.closed:
                        raise H2Error("connection closed")
                    continue
                chunk = body[offset : offset + window]
                offset += len(chunk)
                conn.send_data(stream_id, chunk, end_stream=offset >= len(body))
            proto.schedule_flush()
        except h2.exceptions.H2Error as exc:
            proto.closed = True
            if proto.transport:
                proto.transport.close()
            raise H2Error(f"cannot send: {type(exc).__name__}") from exc
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            proto.streams.pop(stream_id, None)
            with contextlib.suppress(h2.exceptions.H2Error):
                conn.reset_stream(stream_id)
                proto.flush()
            raise

    @property
    def max_concurrent_streams(self) -> int:
        proto = self._proto
        return proto.conn.remote_settings.max_concurrent_streams if proto else 100

    async def aclose(self) -> None:
        proto = self._proto
        self._proto = None
        if proto is not None and proto.transport is not None:
            with contextlib.suppress(Exception):
                proto.conn.close_connection()
                proto.flush()
            proto.transport.close()
