"""Consumption tables: the customer's own monthly alerts and the alerts already sent."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Numeric, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from samaconso.kit.db import Base, Timestamps, UUIDPk


class AlertMetric(enum.StrEnum):
    kwh = "kwh"  # kWh in the month
    amount = "amount"  # FCFA in the month


class ConsumptionAlert(UUIDPk, Timestamps, Base):
    """A customer's threshold on one of their meters (one per user and meter)."""

    __tablename__ = "consumption_alerts"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    meter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meters.id", ondelete="CASCADE"))
    metric: Mapped[AlertMetric] = mapped_column(
        Enum(AlertMetric, name="alert_metric", native_enum=False, length=8)
    )
    threshold: Mapped[Decimal] = mapped_column(Numeric(14, 2))

    __table_args__ = (UniqueConstraint("user_id", "meter_id"),)


class ConsumptionAlertSent(UUIDPk, Base):
    """One alert per (user, meter, month): the unique row is the guarantee."""

    __tablename__ = "consumption_alerts_sent"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    meter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meters.id", ondelete="CASCADE"))
    month: Mapped[date]
    metric: Mapped[str] = mapped_column(Enum(AlertMetric, name="alert_metric", native_enum=False, length=8))
    threshold: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    notification_id: Mapped[uuid.UUID | None]
    sent_at: Mapped[datetime] = mapped_column(server_default=text("now()"))

    __table_args__ = (UniqueConstraint("user_id", "meter_id", "month"),)
