"""Alerts the customer sets: a monthly kWh or FCFA threshold per meter, prepaid or postpaid, sent
once per user, meter and month when crossed, by a periodic scan (beat, like the tranche alert).

What "the month" is:
* prepaid: the purchases of the current calendar month (kWh bought, FCFA paid);
* postpaid: a bill arrives every ~60 days, so the month is known only through the bill dated this
  month, brought to 30 days (kWh × 30 / billed days, same for FCFA); no bill this month, no alert.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.consumption import repository as repo
from samaconso.consumption.models import AlertMetric, ConsumptionAlert
from samaconso.consumption.schemas import AlertIn, AlertOut
from samaconso.identity.principal import Principal
from samaconso.kit.db import Database
from samaconso.kit.errors import AppError
from samaconso.kit.pagination import Page, encode_cursor, parse_cursor
from samaconso.kit.transaction import unit_of_work
from samaconso.legacy.gateway import LegacyGateway
from samaconso.meters import service as meters
from samaconso.meters.models import Meter, MeterKind

log = structlog.get_logger(__name__)

SCAN_BATCH = 200
POSTPAID_LOOKBACK_DAYS = 70


async def put_alerts(session: AsyncSession, principal: Principal, alerts: list[AlertIn]) -> list[AlertOut]:
    seen: set[uuid.UUID] = set()
    rows: list[tuple[uuid.UUID, AlertMetric, Decimal]] = []
    numbers: dict[uuid.UUID, str] = {}
    for alert in alerts:
        if alert.meter_id in seen:
            raise AppError(
                422,
                "duplicate_meter",
                "Une seule alerte par compteur.",
                "One alert per meter.",
                extra={"field": "alerts"},
            )
        seen.add(alert.meter_id)
        meter = await meters.active_meter(session, principal, alert.meter_id)  # 404 / 409 otherwise
        numbers[meter.id] = meter.number
        rows.append(
            (meter.id, AlertMetric(alert.metric), Decimal(str(alert.threshold)).quantize(Decimal("0.01")))
        )
    await repo.replace_alerts(session, principal.user_id, rows)
    sent = await repo.last_sent(session, principal.user_id, list(numbers))
    return [
        AlertOut(
            meter_id=m,
            meter_number=numbers[m],
            metric=metric.value,
            threshold=float(t),
            last_sent_month=sent.get(m),
        )
        for m, metric, t in rows
    ]


async def list_alerts(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[AlertOut]:
    after = parse_cursor(cursor, uuid.UUID)
    rows = list(await repo.alerts_of(session, principal.user_id, after[0] if after else None, limit))
    more = len(rows) > limit
    rows = rows[:limit]
    mine = {m.id: m.number for m in await meters.my_active_meters(session, principal)}
    sent = await repo.last_sent(session, principal.user_id, [a.meter_id for a in rows])
    items = [
        AlertOut(
            meter_id=a.meter_id,
            meter_number=mine.get(a.meter_id, ""),
            metric=a.metric.value,
            threshold=float(a.threshold),
            last_sent_month=sent.get(a.meter_id),
        )
        for a in rows
    ]
    return Page[AlertOut](
        items=items, next_cursor=encode_cursor(rows[-1].meter_id) if more and rows else None
    )


# ----------------------------------------------------------------------------------------- scan
@dataclass(frozen=True)
class MonthFigures:
    kwh: Decimal
    amount: Decimal


async def month_figures(gateway: LegacyGateway, meter: Meter, day: date) -> MonthFigures | None:
    """This month's kWh and FCFA of a meter (see the module doc); None when not known yet."""
    from samaconso.consumption import service

    if meter.kind == MeterKind.prepaid:
        mtd = await service.month_to_date(gateway, meter_number=meter.number, poc=meter.poc or "", today=day)
        return MonthFigures(Decimal(str(mtd.kwh)), Decimal(str(mtd.amount)))
    rows = await gateway.bills(meter.number, day - timedelta(days=POSTPAID_LOOKBACK_DAYS), day)
    bills = sorted((service.bill_out(r) for r in rows), key=lambda b: (b.date, b.number), reverse=True)
    this_month = [b for b in bills if (b.date.year, b.date.month) == (day.year, day.month)]
    if not this_month:
        return None
    bill = this_month[0]
    scale = Decimal(30) / Decimal(bill.days or 30)
    return MonthFigures(
        (Decimal(str(bill.kwh)) * scale).quantize(Decimal("0.01")),
        (Decimal(str(bill.amount)) * scale).quantize(Decimal("0.01")),
    )


def _text(alert: ConsumptionAlert, meter: Meter, value: Decimal) -> tuple[str, str, str, str]:
    if alert.metric == AlertMetric.kwh:
        what_fr, what_en = f"{value.normalize():f} kWh", f"{value.normalize():f} kWh"
        limit_fr = limit_en = f"{alert.threshold.normalize():f} kWh"
    else:
        what_fr = what_en = f"{value.normalize():f} FCFA"
        limit_fr = limit_en = f"{alert.threshold.normalize():f} FCFA"
    per_fr = " (facture ramenée à 30 jours)" if meter.kind == MeterKind.postpaid else " ce mois-ci"
    per_en = " (bill brought to 30 days)" if meter.kind == MeterKind.postpaid else " this month"
    return (
        "Seuil de consommation atteint",
        f"Compteur {meter.number} : {what_fr}{per_fr}, votre seuil est de {limit_fr}.",
        "Consumption threshold reached",
        f"Meter {meter.number}: {what_en}{per_en}, your threshold is {limit_en}.",
    )


async def scan_alerts(
    db: Database,
    gateway: LegacyGateway,
    on: date | None = None,
    *,
    user_id: uuid.UUID | None = None,
) -> int:
    """Send every crossed alert of the month not sent yet (all users, or one: right after they set
    their alerts, so a threshold already crossed fires at once); returns how many were sent."""
    from samaconso.notifications.service import notify_user

    day = on or datetime.now(UTC).date()  # Senegal is UTC+0
    month = day.replace(day=1)
    sent = 0
    after: tuple[uuid.UUID, uuid.UUID] | None = None
    figures: dict[uuid.UUID, MonthFigures | None] = {}
    while True:
        async with unit_of_work(db.sessionmaker) as session:  # one transaction per batch
            page = list(await repo.alerts_page(session, after, SCAN_BATCH, user_id))
            if not page:
                break
            after = (page[-1].meter_id, page[-1].user_id)
            done = await repo.sent_pairs(session, month, [(a.meter_id, a.user_id) for a in page])
            for alert in page:
                if (alert.meter_id, alert.user_id) in done:
                    continue
                if not await meters.still_active(session, alert.user_id, alert.meter_id):
                    continue
                meter = await meters.meter_by_id(session, alert.meter_id)
                if meter is None:
                    continue
                if meter.id not in figures:
                    try:
                        figures[meter.id] = await month_figures(gateway, meter, day)
                    except AppError:  # that legacy database is down: next scan
                        figures[meter.id] = None
                known = figures[meter.id]
                if known is None:
                    continue
                value = known.kwh if alert.metric == AlertMetric.kwh else known.amount
                if value < alert.threshold:
                    continue
                sent_id = await repo.record_sent(
                    session,
                    user_id=alert.user_id,
                    meter_id=meter.id,
                    month=month,
                    metric=alert.metric,
                    threshold=alert.threshold,
                    value=value,
                )
                if sent_id is None:
                    continue
                title_fr, body_fr, title_en, body_en = _text(alert, meter, value)
                notification_id = await notify_user(
                    session,
                    user_id=alert.user_id,
                    type="consumption_alert",
                    title_fr=title_fr,
                    body_fr=body_fr,
                    title_en=title_en,
                    body_en=body_en,
                    data={
                        "meter_id": str(meter.id),
                        "metric": alert.metric.value,
                        "value": f"{value.normalize():f}",
                        "month": month.isoformat(),
                        "link": f"samaconso://meters/{meter.id}",
                    },
                )
                await repo.set_notification(session, sent_id, notification_id)
                sent += 1
        if len(page) < SCAN_BATCH:
            break
    if sent:
        log.info("consumption_alerts_sent", count=sent, month=month.isoformat())
    return sent
