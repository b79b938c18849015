"""Versioned tariff grids (data, never constants), threshold bands and the tranche alerts sent."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, SmallInteger, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

# users and meters are referenced by foreign keys below: their tables must be known to the metadata
import samaconso.identity.models
import samaconso.meters.models  # noqa: F401
from samaconso.kit.db import Base, Timestamps, UUIDPk


class TariffVersion(UUIDPk, Timestamps, Base):
    """One version of a tariff code, in force from ``effective_from`` to ``effective_to`` (inclusive,
    open-ended when null). Versions of one code never overlap (checked by the service)."""

    __tablename__ = "tariff_versions"

    code: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(160))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    monthly_fee: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    municipal_tax_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    vat_from_kwh: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))
    minimum_purchase: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    tranches: Mapped[list[TariffTranche]] = relationship(
        back_populates="version",
        order_by="TariffTranche.position",
        lazy="selectin",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        Index("uq_tariff_versions_code_from", "code", "effective_from", unique=True),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="period"),
    )


class TariffTranche(UUIDPk, Base):
    __tablename__ = "tariff_tranches"

    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tariff_versions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    kwh_from: Mapped[Decimal] = mapped_column(Numeric(10, 1))
    kwh_to: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))
    price_postpaid: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    price_prepaid: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    version: Mapped[TariffVersion] = relationship(back_populates="tranches")

    __table_args__ = (Index("uq_tariff_tranches_version_position", "version_id", "position", unique=True),)


class TariffBand(UUIDPk, Base):
    """Threshold bands (kWh ranges + colour) the app uses to colour consumption (legacy seuil_tarif)."""

    __tablename__ = "tariff_bands"

    tariff_code: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(SmallInteger)
    kwh_min: Mapped[Decimal] = mapped_column(Numeric(10, 1))
    kwh_max: Mapped[Decimal | None] = mapped_column(Numeric(10, 1))
    color_hex: Mapped[str] = mapped_column(String(7))
    label_fr: Mapped[str] = mapped_column(String(80))
    label_en: Mapped[str] = mapped_column(String(80))

    __table_args__ = (Index("uq_tariff_bands_code_position", "tariff_code", "position", unique=True),)


class TrancheAlert(UUIDPk, Base):
    """One row per (meter, user, month) whose tranche alert was sent: the once-a-month guarantee."""

    __tablename__ = "tranche_alerts"

    meter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meters.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    month: Mapped[date] = mapped_column(Date)  # first day of the month
    kwh_month: Mapped[Decimal] = mapped_column(Numeric(10, 1))
    kwh_left: Mapped[Decimal] = mapped_column(Numeric(10, 1))
    notification_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)

    __table_args__ = (
        Index("uq_tranche_alerts_meter_user_month", "meter_id", "user_id", "month", unique=True),
    )
