"""HTTP routes of the tariffs domain (mounted under /api/v1)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from samaconso.identity.deps import AdminUser, CurrentUser
from samaconso.identity.repository import add_audit
from samaconso.kit.deps import CursorQuery, LimitQuery, RateLimiterDep, SessionDep, SettingsDep
from samaconso.kit.language import request_language
from samaconso.kit.pagination import Page
from samaconso.legacy.deps import GatewayDep
from samaconso.tariffs import service
from samaconso.tariffs.deps import VendingDep
from samaconso.tariffs.schemas import (
    BandOut,
    PostpaidIn,
    PostpaidOut,
    SimulationIn,
    SimulationOut,
    TariffVersionIn,
    TariffVersionOut,
)

router = APIRouter(tags=["tariffs"])

SIMULATIONS_PER_MINUTE = 60  # per user: each may become a call to the vending system

CodePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{2,20}$", description="Tariff code, e.g. DPP.")]


@router.get("/tariffs", summary="Tariff versions (in force today by default)")
async def list_tariffs(
    session: SessionDep,
    _: CurrentUser,
    code: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{2,20}$")] = None,
    on: Annotated[date | None, Query(description="Versions in force on this date (default today).")] = None,
    history: Annotated[bool, Query(description="Every version, past and future.")] = False,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[TariffVersionOut]:
    in_force_on = None if history else (on or service.today_utc())
    return await service.list_versions(
        session, in_force_on=in_force_on, code=code.upper() if code else None, cursor=cursor, limit=limit
    )


@router.get("/tariffs/{code}/bands", summary="Threshold bands (kWh ranges and colours) of a tariff")
async def tariff_bands(
    request: Request,
    session: SessionDep,
    _: CurrentUser,
    code: CodePath,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[BandOut]:
    lang = request_language(request)
    return await service.list_bands(session, code.upper(), lang, cursor=cursor, limit=limit)


@router.post(
    "/admin/tariffs",
    status_code=status.HTTP_201_CREATED,
    summary="Add a tariff version (applies from its effective date)",
)
async def add_tariff_version(
    session: SessionDep, admin: AdminUser, body: TariffVersionIn
) -> TariffVersionOut:
    version = await service.add_version(session, body, created_by=admin.user_id)
    add_audit(
        session,
        "tariff_version_added",
        actor_id=admin.user_id,
        details={"code": version.code, "effective_from": version.effective_from.isoformat()},
    )
    return version


@router.post("/simulator/prepaid", summary="Woyofal simulator: kWh for an amount, or the amount for kWh")
async def simulate_prepaid(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    legacy: GatewayDep,
    vending: VendingDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
    body: SimulationIn,
) -> SimulationOut:
    lang = request_language(request)
    await limiter.check(
        f"simulator:{principal.user_id}", SIMULATIONS_PER_MINUTE, 60, "simulator_rate_limited"
    )
    return await service.simulate_prepaid(
        session,
        settings,
        principal=principal,
        data=body,
        lang=lang,
        legacy=legacy,
        vending=vending,
    )


@router.post("/simulator/postpaid", summary="Postpaid bill estimate for kWh over N billed days")
async def simulate_postpaid(session: SessionDep, _: CurrentUser, body: PostpaidIn) -> PostpaidOut:
    return await service.estimate_postpaid(session, body)
