"""The API's legacy gateway: one per application, created on first use, closed at shutdown."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from samaconso.legacy.gateway import LegacyGateway


def gateway_of(app: FastAPI) -> LegacyGateway:
    gateway: LegacyGateway | None = getattr(app.state, "legacy", None)
    if gateway is None:
        gateway = LegacyGateway.from_settings(app.state.settings)
        app.state.legacy = gateway
    return gateway


async def get_gateway(request: Request) -> LegacyGateway:
    return gateway_of(request.app)


async def close_gateway(app: FastAPI) -> None:
    gateway: LegacyGateway | None = getattr(app.state, "legacy", None)
    if gateway is not None:
        app.state.legacy = None
        await gateway.dispose()


GatewayDep = Annotated[LegacyGateway, Depends(get_gateway)]
