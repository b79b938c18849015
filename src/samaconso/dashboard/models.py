"""Pre-computed dashboard figures (one row per scope: ``national`` or an agency id)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from samaconso.kit.db import Base

NATIONAL = "national"


class DashboardRollup(Base):
    """Figures that need a pass over the large tables (links, users, devices, notifications),
    recomputed by a periodic task; the request figures are always read live."""

    __tablename__ = "dashboard_rollups"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)


class DashboardDaily(Base):
    """Notification figures per UTC day and scope. Days older than yesterday are final (pushes are
    done), so each refresh recomputes only today and yesterday (and any day never computed)."""

    __tablename__ = "dashboard_daily"

    day: Mapped[date] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    notifications: Mapped[int] = mapped_column(Integer)
    push_attempts: Mapped[int] = mapped_column(Integer)
    push_delivered: Mapped[int] = mapped_column(Integer)
