"""Monthly tranche alerts: prepaid meters at >= 80 % of tranche 1 get one alert per user and month."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import structlog

from samaconso.kit.db import Database
from samaconso.kit.transaction import unit_of_work
from samaconso.legacy.gateway import LegacyGateway
from samaconso.meters.models import Meter
from samaconso.notifications.service import notify_user
from samaconso.tariffs import repository as repo
from samaconso.tariffs.engine import TariffGrid
from samaconso.tariffs.grid import tariff_code_of, today_utc
from samaconso.tariffs.simulator import month_to_date

log = structlog.get_logger(__name__)


ALERT_SHARE_OF_TRANCHE_1 = Decimal("0.8")


SCAN_BATCH = 200


def _alert_text(kwh_left: Decimal, meter_number: str) -> tuple[str, str, str, str]:
    left = f"{kwh_left.normalize():f}"
    return (
        "Bientôt la fin de la tranche sociale",
        f"Compteur {meter_number} : il vous reste {left} kWh au prix social ce mois-ci. "
        "Au-delà, le kWh coûte plus cher.",
        "Social tranche almost used",
        f"Meter {meter_number}: {left} kWh left at the social price this month. Beyond that, each kWh costs more.",
    )


async def scan_tranche_alerts(db: Database, legacy: LegacyGateway, on: date | None = None) -> int:
    """Send the monthly tranche alert to every user of a prepaid meter whose month reached 80 % of
    tranche 1 (and has not left it). One alert per (meter, user, month), guaranteed by a unique row
    written in the same transaction as the notification. Returns how many were sent."""
    day = on or today_utc()
    month = day.replace(day=1)
    sent = 0
    after: tuple[uuid.UUID, uuid.UUID] | None = None
    grids: dict[str, TariffGrid | None] = {}
    while True:
        async with unit_of_work(db.sessionmaker) as session:  # one transaction per page
            page = await repo.prepaid_links_page(session, after=after, limit=SCAN_BATCH)
            if not page:
                break
            after = (page[-1][0].id, page[-1][1])
            done = await repo.alerted_pairs(session, month, [(m.id, u) for m, u in page])
            todo: dict[uuid.UUID, tuple[Meter, list[uuid.UUID]]] = {}
            for meter, user_id in page:
                if (meter.id, user_id) not in done:
                    todo.setdefault(meter.id, (meter, []))[1].append(user_id)
            for meter, users in todo.values():
                code = tariff_code_of(meter.tariff_code)
                if code not in grids:
                    version = await repo.version_in_force(session, code, day)
                    grids[code] = repo.to_grid(version) if version else None
                grid = grids[code]
                if grid is None:
                    continue
                first = min(grid.tranches, key=lambda t: t.position)
                if first.kwh_to is None:
                    continue
                mtd = await month_to_date(legacy, meter, day)
                threshold = first.kwh_to * ALERT_SHARE_OF_TRANCHE_1
                if not mtd.known or not threshold <= mtd.kwh < first.kwh_to:
                    continue
                left = first.kwh_to - mtd.kwh
                for user_id in users:
                    alert_id = await repo.record_alert(
                        session,
                        meter_id=meter.id,
                        user_id=user_id,
                        month=month,
                        kwh_month=mtd.kwh,
                        kwh_left=left,
                    )
                    if alert_id is None:
                        continue
                    title_fr, body_fr, title_en, body_en = _alert_text(left, meter.number)
                    notification_id = await notify_user(
                        session,
                        user_id=user_id,
                        type="tranche_alert",
                        title_fr=title_fr,
                        body_fr=body_fr,
                        title_en=title_en,
                        body_en=body_en,
                        data={
                            "meter_id": str(meter.id),
                            "kwh_left": f"{left.normalize():f}",
                            "month": month.isoformat(),
                            "link": f"samaconso://meters/{meter.id}",
                        },
                    )
                    await repo.set_alert_notification(session, alert_id, notification_id)
                    sent += 1
        if len(page) < SCAN_BATCH:
            break
    if sent:
        log.info("tranche_alerts_sent", count=sent, month=month.isoformat())
    return sent
