"""Public subscription follow-up: notice number + phone, same 404 for either wrong, rate-limited."""

from __future__ import annotations

from httpx import AsyncClient

from samaconso.legacy import generator as g
from tests.support.legacy import LegacySource

STEPS_SQL = 'SELECT * FROM bi_ods."AVIS_ETAPES_HANA" WHERE "NUM_AVIS" = $1 ORDER BY "CODE_ETAPE"'


async def test_notice_steps_ordered_and_finished_counted(
    client: AsyncClient, legacy_source: LegacySource
) -> None:
    rows = await legacy_source.fetch(STEPS_SQL, g.DEMO_NOTICE)
    r = await client.get(f"/api/v1/subscription-notices/{g.DEMO_NOTICE}", params={"phone": "77 123 45 67"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["number"] == g.DEMO_NOTICE
    assert [s["code"] for s in body["steps"]] == [row["CODE_ETAPE"] for row in rows]
    assert [s["code"] for s in body["steps"]] == sorted(s["code"] for s in body["steps"])
    assert body["steps_total"] == len(rows) == 7
    assert body["steps_finished"] == sum(1 for row in rows if row["DATE_TERM"] is not None) == 3
    assert body["steps"][0]["finished"] is True
    assert body["steps"][0]["finished_on"] == rows[0]["DATE_TERM"].isoformat()
    assert body["steps"][-1]["finished"] is False
    assert body["steps"][-1]["finished_on"] is None
    assert body["status"] == "EN COURS"


async def test_wrong_notice_or_phone_give_the_same_404(
    client: AsyncClient, legacy_source: LegacySource
) -> None:
    answers = [
        await client.get(
            f"/api/v1/subscription-notices/{g.DEMO_NOTICE}", params={"phone": g.OTHER_OWNER_PHONE}
        ),
        await client.get("/api/v1/subscription-notices/1999000111", params={"phone": g.DEMO_PHONE}),
        await client.get(f"/api/v1/subscription-notices/{g.DEMO_NOTICE}", params={"phone": "+33612345678"}),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404]
    bodies = [{k: v for k, v in a.json().items() if k not in ("instance", "request_id")} for a in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    assert (await client.get(f"/api/v1/subscription-notices/{g.DEMO_NOTICE}")).status_code == 422


async def test_notice_lookups_are_rate_limited_per_ip(
    client: AsyncClient, legacy_source: LegacySource
) -> None:
    statuses = [
        (
            await client.get("/api/v1/subscription-notices/1999000111", params={"phone": g.DEMO_PHONE})
        ).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [404] * 10
    assert statuses[10] == 429
    limited = await client.get(
        f"/api/v1/subscription-notices/{g.DEMO_NOTICE}", params={"phone": g.DEMO_PHONE}
    )
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
