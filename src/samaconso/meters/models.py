"""Meters known to the app and the customer↔meter links (ownership, sharing, approvals)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from samaconso.kit.db import Base, Timestamps, UUIDPk


class MeterKind(enum.StrEnum):
    prepaid = "prepaid"  # Woyofal (STS meter number, 11 or 13 digits)
    postpaid = "postpaid"  # compteur classique (contract account number)


class LinkStatus(enum.StrEnum):
    pending = "pending"  # waiting for the owner's approval
    active = "active"
    refused = "refused"
    revoked = "revoked"  # revoked by the owner, or unlinked by the user
    expired = "expired"  # a request the owner never answered (not on the app), after EXPIRY_DAYS


class Meter(UUIDPk, Timestamps, Base):
    __tablename__ = "meters"

    kind: Mapped[MeterKind] = mapped_column(Enum(MeterKind, name="meter_kind", native_enum=False, length=16))
    # prepaid: meter number (STS DRN); postpaid: contract account (numCC / COMPTE CONTRAT)
    number: Mapped[str] = mapped_column(String(20))
    poc: Mapped[str | None] = mapped_column(String(32))  # prepaid point of connection (POLICE)
    partner: Mapped[str | None] = mapped_column(String(20))  # SAP business partner (postpaid)
    tariff_code: Mapped[str | None] = mapped_column(String(20))
    customer_name: Mapped[str | None] = mapped_column(String(160))
    address: Mapped[str | None] = mapped_column(String(255))
    # E.164, as found in the legacy system; indexed: it finds the meters a customer owns
    legacy_phone: Mapped[str | None] = mapped_column(String(16), index=True)
    legacy_agency: Mapped[str | None] = mapped_column(String(120))
    agency_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agencies.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (Index("uq_meters_kind_number", "kind", "number", unique=True),)


class MeterLink(UUIDPk, Timestamps, Base):
    __tablename__ = "meter_links"

    meter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meters.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[LinkStatus] = mapped_column(
        Enum(LinkStatus, name="link_status", native_enum=False, length=16)
    )
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # when the owner was pushed about this request (None: not told, e.g. within the cool-down)
    owner_notified_at: Mapped[datetime | None]

    __table_args__ = (
        # one live (pending or active) link per user and meter
        Index(
            "uq_meter_links_live",
            "meter_id",
            "user_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'active')"),
        ),
        Index("ix_meter_links_user_status", "user_id", "status"),
        Index("ix_meter_links_meter_status", "meter_id", "status"),
    )
