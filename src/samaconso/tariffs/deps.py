"""Typed dependency of the tariffs routes: the vending client built at start-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from samaconso.tariffs.vending import VendingGateway


async def get_vending(request: Request) -> VendingGateway:
    vending: VendingGateway = request.app.state.vending
    return vending


VendingDep = Annotated[VendingGateway, Depends(get_vending)]
