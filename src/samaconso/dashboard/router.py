"""HTTP routes of the dashboard domain (mounted under /api/v1)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from samaconso.dashboard import service
from samaconso.dashboard.schemas import DashboardOut
from samaconso.identity.deps import StaffUser
from samaconso.kit.deps import CacheDep, DatabaseDep, ReadDatabaseDep

router = APIRouter(tags=["dashboard"])


@router.get("/dashboard", response_model=DashboardOut)
async def get_dashboard(
    db: DatabaseDep,
    read_db: ReadDatabaseDep,
    cache: CacheDep,
    principal: StaffUser,
    agency: uuid.UUID | None = Query(
        default=None, description="Administrators: one agency (default: national)."
    ),
) -> DashboardOut:
    """Agents: their agency's figures. Administrators: national figures, or one agency's."""
    data = await service.dashboard(db, read_db, cache, principal, agency)
    return DashboardOut.model_validate(data)
