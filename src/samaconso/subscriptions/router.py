"""HTTP routes of the subscriptions domain (mounted under /api/v1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from samaconso.kit.deps import RateLimiterDep
from samaconso.legacy.deps import GatewayDep
from samaconso.subscriptions import service
from samaconso.subscriptions.schemas import NoticeOut

router = APIRouter(tags=["subscriptions"])

NOTICE_LOOKUPS_PER_MINUTE = 10


@router.get("/subscription-notices/{number}", response_model=NoticeOut)
async def follow_notice(
    request: Request,
    gateway: GatewayDep,
    limiter: RateLimiterDep,
    number: Annotated[str, Path(min_length=4, max_length=20)],
    phone: Annotated[
        str, Query(min_length=6, max_length=24, description="The phone given with the request.")
    ],
) -> NoticeOut:
    """Public: follow a new-connection request by its notice number and the phone given with it."""
    ip = request.client.host if request.client else "unknown"
    await limiter.check(f"notice:{ip}", NOTICE_LOOKUPS_PER_MINUTE, 60, critical=True)
    return await service.follow_notice(gateway, number, phone)
