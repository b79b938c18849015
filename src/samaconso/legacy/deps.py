"""Typed dependency of the routes that read the legacy systems: the gateway built at start-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from starlette.requests import HTTPConnection

from samaconso.kit.deps import app_resource
from samaconso.legacy.gateway import LegacyGateway


def gateway_of(app: FastAPI) -> LegacyGateway:
    """The app's legacy gateway (built by the lifespan, ``samaconso/wiring.py``)."""
    return app_resource(app, "legacy", LegacyGateway)


async def get_gateway(conn: HTTPConnection) -> LegacyGateway:
    return app_resource(conn, "legacy", LegacyGateway)


GatewayDep = Annotated[LegacyGateway, Depends(get_gateway)]
