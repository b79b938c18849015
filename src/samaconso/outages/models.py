"""Outage tables: the outage, the agencies it affects, its timeline of updates."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from samaconso.kit.db import Base, Timestamps, UUIDPk


class OutageCause(enum.StrEnum):
    planned_works = "planned_works"  # travaux programmés
    load_shedding = "load_shedding"  # délestage (production deficit)
    incident = "incident"  # panne réseau
    weather = "weather"  # intempéries
    other = "other"


class Outage(UUIDPk, Timestamps, Base):
    __tablename__ = "outages"

    cause: Mapped[OutageCause] = mapped_column(
        Enum(OutageCause, name="outage_cause", native_enum=False, length=20)
    )
    title_fr: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    message_fr: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    expected_end_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (Index("ix_outages_starts", "starts_at", "id"),)


class OutageAgency(Base):
    __tablename__ = "outage_agencies"

    outage_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outages.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_outage_agencies_agency", "agency_id", "outage_id"),)


class OutageUpdate(UUIDPk, Base):
    """A step of the outage's timeline: declared, an update (new expected end, news), ended."""

    __tablename__ = "outage_updates"

    outage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    kind: Mapped[str] = mapped_column(String(16))  # declared | update | ended
    message_fr: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    expected_end_at: Mapped[datetime | None]
    notification_id: Mapped[uuid.UUID | None]
    by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (Index("ix_outage_updates_outage_at", "outage_id", "at"),)
