"""Typed dependency of the realtime WebSocket: the hub built at start-up (``samaconso/wiring.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from samaconso.kit.deps import app_resource
from samaconso.notifications.realtime import RealtimeHub


async def get_realtime(conn: HTTPConnection) -> RealtimeHub:
    return app_resource(conn, "realtime", RealtimeHub)


RealtimeDep = Annotated[RealtimeHub, Depends(get_realtime)]
