"""Typed dependency of the tariffs routes: the vending client built at start-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from samaconso.kit.deps import app_resource
from samaconso.tariffs.vending import VendingGateway


async def get_vending(conn: HTTPConnection) -> VendingGateway:
    return app_resource(conn, "vending", VendingGateway)


VendingDep = Annotated[VendingGateway, Depends(get_vending)]
