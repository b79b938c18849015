"""Typed dependency of the routes that read the legacy systems: the gateway built at start-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from samaconso.legacy.gateway import LegacyGateway


def gateway_of(app: FastAPI) -> LegacyGateway:
    """The app's legacy gateway (built by the lifespan, ``samaconso/wiring.py``)."""
    gateway: LegacyGateway = app.state.legacy
    return gateway


async def get_gateway(request: Request) -> LegacyGateway:
    return gateway_of(request.app)


GatewayDep = Annotated[LegacyGateway, Depends(get_gateway)]
