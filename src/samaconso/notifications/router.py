"""HTTP routes of the notifications domain (mounted under /api/v1), and the realtime WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from samaconso.identity.deps import CurrentUser, StaffUser, principal_from_token
from samaconso.kit.db import Database
from samaconso.kit.deps import CursorQuery, DatabaseDep, LimitQuery, RateLimiterDep, SessionDep, SettingsDep
from samaconso.kit.errors import AppError
from samaconso.kit.inputs import BadFrame, ws_frame_json
from samaconso.kit.language import request_language
from samaconso.kit.pagination import Page
from samaconso.notifications import realtime, schemas, service, staff_rules
from samaconso.notifications.deps import RealtimeDep

router = APIRouter(tags=["notifications"])

AUTH_TIMEOUT_S = 5.0


def _lang(request: Request) -> str:
    return request_language(request)


# --- staff ----------------------------------------------------------------------------------------


@router.post("/notifications", status_code=202, response_model=schemas.NotificationAccepted)
async def create_notification(
    body: schemas.NotificationCreate,
    staff: StaffUser,
    session: SessionDep,
    limiter: RateLimiterDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> schemas.NotificationAccepted:
    """Send a notification (one user, a meter's users, an agency, all agencies, everyone, an outage
    zone). Accepted at once; delivery runs in the background. ``Idempotency-Key`` is honoured 24 h."""
    staff_rules.check(staff, body)
    await limiter.check(
        f"notify:{staff.user_id}", staff_rules.SENDS_PER_HOUR, 3600, "notification_rate_limited"
    )
    return await service.create_notification(session, staff, body, idempotency_key)


@router.get("/notifications", response_model=Page[schemas.SentNotification])
async def list_sent_notifications(
    staff: StaffUser,
    session: SessionDep,
    request: Request,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[schemas.SentNotification]:
    """Notifications sent by staff, newest first: administrators all, agents theirs and their agency's."""
    lang = _lang(request)
    items, nxt = await service.list_sent(session, staff, cursor, limit, lang)
    return Page(items=items, next_cursor=nxt)


@router.post("/notifications/{notification_id}/withdraw", response_model=schemas.DeliveryStats)
async def withdraw_notification(
    notification_id: uuid.UUID, staff: StaffUser, session: SessionDep
) -> schemas.DeliveryStats:
    """Withdraw: gone from every feed at once, pushes not yet sent are stopped. Audited."""
    return await service.withdraw(session, staff, notification_id)


@router.get("/notifications/{notification_id}", response_model=schemas.DeliveryStats)
async def notification_stats(
    notification_id: uuid.UUID, staff: StaffUser, session: SessionDep
) -> schemas.DeliveryStats:
    return await service.delivery_stats(session, staff, notification_id)


# --- customer (any signed-in user: their own feed) -------------------------------------------------


@router.get("/me/notifications", response_model=Page[schemas.FeedItem])
async def my_notifications(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = 20,
) -> Page[schemas.FeedItem]:
    items, next_cursor = await service.feed(session, user, cursor, limit, _lang(request))
    return Page(items=items, next_cursor=next_cursor)


@router.get("/me/notifications/unread-count", response_model=schemas.UnreadCount)
async def my_unread_count(user: CurrentUser, session: SessionDep) -> schemas.UnreadCount:
    return await service.unread(session, user)


@router.post("/me/notifications/read-all", status_code=204)
async def read_all(user: CurrentUser, session: SessionDep) -> Response:
    await service.mark_all_read(session, user)
    return Response(status_code=204)


@router.post("/me/notifications/{notification_id}/read", status_code=204)
async def read_one(notification_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    await service.mark_read(session, user, notification_id)
    return Response(status_code=204)


@router.delete("/me/notifications/{notification_id}", status_code=204)
async def hide_one(notification_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    await service.hide(session, user, notification_id)
    return Response(status_code=204)


# --- realtime -------------------------------------------------------------------------------------


async def _authenticate(websocket: WebSocket, db: Database) -> tuple[realtime.Subscriber, str] | None:
    """First message must be ``{"type": "auth", "token": "<access token>"}`` within 5 s."""
    try:
        message = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_S)
        if message["type"] == "websocket.disconnect":
            return None
        msg = ws_frame_json(message)  # BadFrame: binary (1003) or unacceptable JSON (1007)
        token = msg.get("token") if isinstance(msg, dict) and msg.get("type") == "auth" else None
        if not isinstance(token, str):
            return None
        principal = await principal_from_token(websocket, token)
    except (TimeoutError, ValueError, AppError):
        return None
    async with db.sessionmaker() as session:  # released at once: idle sockets hold none
        audiences = await service.audiences_for_user(session, principal.user_id)
    lang = principal.language if principal.language in ("fr", "en") else "fr"
    return realtime.Subscriber(websocket, principal.user_id, lang, audiences), token


async def _still_valid(websocket: WebSocket, token: str) -> bool:
    """Re-checked at every keepalive: an expired token or a revoked session ends the socket (the
    app reconnects with a fresh token). Uses the cached session state, rarely the database."""
    try:
        await principal_from_token(websocket, token)
    except AppError:
        return False
    return True


def _event(payload: dict[str, Any], lang: str) -> dict[str, Any]:
    return {
        "type": "notification",
        "notification": {
            "id": payload["id"],
            "type": payload["type"],
            "priority": payload["priority"],
            "title": payload["title"].get(lang) or payload["title"]["fr"],
            "body": payload["body"].get(lang) or payload["body"]["fr"],
            "data": payload.get("data") or {},
            "created_at": payload["created_at"],
            "read": False,
        },
    }


@router.websocket("/ws")
async def notifications_socket(
    websocket: WebSocket, db: DatabaseDep, settings: SettingsDep, hub: RealtimeDep
) -> None:
    """Realtime notifications. The token travels in the first message, never in the URL."""
    await websocket.accept()
    try:
        auth = await _authenticate(websocket, db)
    except BadFrame as bad:
        with contextlib.suppress(Exception):
            await websocket.send_json({"type": "error", "code": "invalid_frame"})
            await websocket.close(code=bad.close_code)
        return
    if auth is None:
        with contextlib.suppress(Exception):
            await websocket.send_json({"type": "error", "code": "unauthenticated"})
            await websocket.close(code=4401)
        return
    sub, token = auth
    hub.add(sub)
    await websocket.send_json({"type": "ready", "user_id": str(sub.user_id)})

    async def reader() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            with contextlib.suppress(BadFrame):
                msg = ws_frame_json(message)
                if isinstance(msg, dict) and msg.get("type") == "ping":
                    await websocket.send_json({"type": "pong"})

    interval = settings.ws_ping_interval_s

    async def writer() -> None:
        loop = asyncio.get_running_loop()
        checked_at = loop.time()
        while True:
            payload: dict[str, Any] | None
            try:
                payload = await asyncio.wait_for(sub.queue.get(), interval)
            except TimeoutError:
                payload = None
            if loop.time() - checked_at >= interval:
                if not await _still_valid(websocket, token):
                    await websocket.send_json({"type": "error", "code": "session_expired"})
                    await websocket.close(code=4401)
                    return
                checked_at = loop.time()
            if payload is None:
                await websocket.send_json({"type": "ping"})  # keepalive through proxies / the F5
            else:
                await websocket.send_json(_event(payload, sub.language))

    tasks = [asyncio.create_task(reader()), asyncio.create_task(writer())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, Exception):
                await t
        hub.remove(sub)
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()
