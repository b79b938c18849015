"""The home summary is a cached hot read (kit/response_cache.py): a change of the meter's own row
(ORM, as the services make them) is visible on its next read, for every user of the meter."""

from __future__ import annotations

import uuid

from httpx import AsyncClient
from sqlalchemy import select

from samaconso.kit.db import Database
from samaconso.meters.models import Meter
from samaconso.settings import Settings
from samaconso.tariffs.seed import seed as seed_tariffs
from tests.consumption.test_consumption import _demo_meters
from tests.support.legacy import LegacySource


async def test_a_meter_change_is_visible_on_the_next_summary(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    await seed_tariffs(db, settings)
    awa, prepaid_id, _ = await _demo_meters(client, db, settings)
    url = f"/api/v1/me/meters/{prepaid_id}/summary"
    before = (await client.get(url, headers=awa.headers)).json()
    assert before["kwh_left_in_tranche"] is not None
    assert (await client.get(url, headers=awa.headers)).json() == before  # served from the cache
    async with db.sessionmaker() as session:
        meter = (await session.execute(select(Meter).where(Meter.id == uuid.UUID(prepaid_id)))).scalar_one()
        meter.tariff_code = "PPP"  # one unbounded tranche
        await session.commit()
    after = (await client.get(url, headers=awa.headers)).json()
    assert (after["tranche"], after["kwh_left_in_tranche"]) == (1, None)
    # the same meter spelled in capitals names the same entry generation
    upper = (await client.get(url.replace(prepaid_id, prepaid_id.upper()), headers=awa.headers)).json()
    assert (upper["tranche"], upper["kwh_left_in_tranche"]) == (1, None)
