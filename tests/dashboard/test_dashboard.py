"""The dashboard against a small, fully known fixture: every figure checked, per agency and national."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from samaconso.dashboard import service as dashboard_service
from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.meters.models import LinkStatus, MeterKind
from samaconso.settings import Settings
from samaconso.worker import BEAT_SCHEDULE, route_for
from tests.dashboard.helpers import delivery, devices, notification, sql
from tests.requests.helpers import link, make_meter, seed_types
from tests.support.users import TestUser, make_user

API = "/api/v1"


async def _fixture(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> dict[str, TestUser]:
    await seed_types(db, settings)
    dkc, ths = agencies["DKC"].id, agencies["THS"].id
    c = {f"c{i}": await make_user(db, settings, Role.customer) for i in range(1, 7)}
    staff = {
        "agent": await make_user(db, settings, Role.agent, agency_id=dkc),
        "agent_ths": await make_user(db, settings, Role.agent, agency_id=ths),
        "admin": await make_user(db, settings, Role.admin),
    }
    m1 = await make_meter(db, agency_id=dkc, kind=MeterKind.prepaid)
    m2 = await make_meter(db, agency_id=dkc, kind=MeterKind.postpaid)
    m3 = await make_meter(db, agency_id=ths, kind=MeterKind.prepaid)
    m4 = await make_meter(db, agency_id=None, kind=MeterKind.postpaid)
    await link(db, c["c1"].id, m1, is_default=True)
    await link(db, c["c2"].id, m2, is_default=True)
    await link(db, c["c2"].id, m1, is_owner=False)
    await link(db, c["c3"].id, m3, is_default=True)
    await link(db, c["c3"].id, m2, status=LinkStatus.pending, is_owner=False)
    await link(db, c["c4"].id, m1, status=LinkStatus.refused, is_owner=False)
    await link(db, c["c6"].id, m4, is_default=True)
    await link(db, c["c5"].id, m4, status=LinkStatus.revoked, is_owner=False)
    d1 = await devices(db, c["c1"].id, active=2)
    await devices(db, c["c2"].id, active=1, inactive=1)
    d3 = await devices(db, c["c3"].id, active=1)
    await devices(db, c["c6"].id, active=1)
    await sql(db, "UPDATE users SET created_at = now() - interval '3 days' WHERE id = :u", u=c["c2"].id)
    await sql(db, "UPDATE users SET created_at = now() - interval '40 days' WHERE role <> 'customer'")

    # requests: c1 two on m1 (one taken by the agent, one overdue), c3 one on m3, c5 one national
    async def submit(user: TestUser, meter: uuid.UUID | None) -> str:
        body: dict[str, Any] = {"type": "coupure_panne", "comment": "Pas de courant"}
        if meter:
            body["meter_id"] = str(meter)
        response = await client.post(f"{API}/me/requests", json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    taken = await submit(c["c1"], m1)
    late = await submit(c["c1"], m1)
    await submit(c["c3"], m3)
    await submit(c["c5"], None)
    moved = await client.patch(
        f"{API}/requests/{taken}", json={"status": "in_progress"}, headers=staff["agent"].headers
    )
    assert moved.status_code == 200  # also notifies c1 (one more notification, no push yet)
    await sql(db, "UPDATE customer_requests SET due_at = now() - interval '1 hour' WHERE id = :r", r=late)

    # notifications: a personal one to c1 pushed to 2 devices (1 sent, 1 dead token), a broadcast to
    # Thiès 10 days ago reaching c3, an old national broadcast (outside the 30-day window)
    n1 = await notification(db, kind="user", age_days=0.1, user=c["c1"].id)
    await delivery(db, n1, d1[0], "sent")
    await delivery(db, n1, d1[1], "dead")
    n2 = await notification(db, kind="agency", age_days=10, agencies=[ths])
    await delivery(db, n2, d3[0], "sent")
    n3 = await notification(db, kind="everyone", age_days=40)
    await delivery(db, n3, d3[0], "failed")
    return c | staff


def _signups(body: dict[str, Any]) -> dict[str, int]:
    return {d["day"]: d["count"] for d in body["signups_per_day"] if d["count"]}


async def test_dashboard_figures_per_agency_and_national(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    u = await _fixture(client, db, settings, agencies)
    today = datetime.now(UTC).date()
    three_days_ago = (today - timedelta(days=3)).isoformat()

    dkc = await client.get(f"{API}/dashboard", headers=u["agent"].headers)
    assert dkc.status_code == 200, dkc.text
    body = dkc.json()
    assert body["scope"] == {"national": False, "agency_id": str(agencies["DKC"].id)}
    assert body["links"] == {
        "total": 5,
        "active": 3,
        "pending": 1,
        "refused": 1,
        "revoked": 0,
        "active_prepaid": 2,
        "active_postpaid": 1,
        "active_owner_links": 2,
        "active_shared_links": 1,
    }
    assert body["users"] == {"customers": 2, "owners": 2, "shared_users": 1, "active_devices": 3}
    assert body["requests"] == {
        "total": 2,
        "by_status": {"submitted": 1, "in_progress": 1, "resolved": 0, "rejected": 0, "cancelled": 0},
        "open": 2,
        "overdue": 1,
        "ratings": {
            "count": 0,
            "average": None,
            "by_score": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
            "satisfied_share": None,
        },
    }
    assert body["notifications"] == {
        "last_7_days": {"notifications": 2, "push_attempts": 2, "push_delivered": 1, "delivery_rate": 0.5},
        "last_30_days": {"notifications": 2, "push_attempts": 2, "push_delivered": 1, "delivery_rate": 0.5},
    }
    assert len(body["signups_per_day"]) == 30
    assert body["signups_per_day"][-1]["day"] == today.isoformat()
    assert _signups(body) == {three_days_ago: 1, today.isoformat(): 1}

    national = (await client.get(f"{API}/dashboard", headers=u["admin"].headers)).json()
    assert national["scope"] == {"national": True, "agency_id": None}
    assert national["links"] == {
        "total": 8,
        "active": 5,
        "pending": 1,
        "refused": 1,
        "revoked": 1,
        "active_prepaid": 3,
        "active_postpaid": 2,
        "active_owner_links": 4,
        "active_shared_links": 1,
    }
    assert national["users"] == {"customers": 6, "owners": 4, "shared_users": 1, "active_devices": 5}
    assert national["requests"]["by_status"] == {
        "submitted": 3,
        "in_progress": 1,
        "resolved": 0,
        "rejected": 0,
        "cancelled": 0,
    }
    assert national["requests"]["overdue"] == 1
    assert national["notifications"] == {
        "last_7_days": {"notifications": 2, "push_attempts": 2, "push_delivered": 1, "delivery_rate": 0.5},
        "last_30_days": {
            "notifications": 3,
            "push_attempts": 3,
            "push_delivered": 2,
            "delivery_rate": 0.6667,
        },
    }
    assert _signups(national) == {three_days_ago: 1, today.isoformat(): 5}

    ths = (
        await client.get(f"{API}/dashboard?agency={agencies['THS'].id}", headers=u["admin"].headers)
    ).json()
    assert ths["links"]["total"] == 1
    assert ths["links"]["active_prepaid"] == 1
    assert ths["users"] == {"customers": 1, "owners": 1, "shared_users": 0, "active_devices": 1}
    assert ths["requests"]["by_status"]["submitted"] == 1
    assert ths["notifications"] == {
        "last_7_days": {"notifications": 0, "push_attempts": 0, "push_delivered": 0, "delivery_rate": None},
        "last_30_days": {"notifications": 1, "push_attempts": 1, "push_delivered": 1, "delivery_rate": 1.0},
    }
    assert ths == (await client.get(f"{API}/dashboard", headers=u["agent_ths"].headers)).json()

    # an agency without any activity: zeros, not an error
    empty = (
        await client.get(f"{API}/dashboard?agency={agencies['KLK'].id}", headers=u["admin"].headers)
    ).json()
    assert empty["links"]["total"] == 0
    assert empty["users"]["customers"] == 0
    assert empty["requests"]["total"] == 0


async def test_dashboard_authorization(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    customer = await make_user(db, settings, Role.customer)
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    admin = await make_user(db, settings, Role.admin)
    assert (await client.get(f"{API}/dashboard", headers=customer.headers)).status_code == 403
    assert (await client.get(f"{API}/dashboard")).status_code == 401
    other = await client.get(f"{API}/dashboard?agency={agencies['THS'].id}", headers=agent.headers)
    assert other.status_code == 404
    own = await client.get(f"{API}/dashboard?agency={agencies['DKC'].id}", headers=agent.headers)
    assert own.status_code == 200
    unknown = await client.get(f"{API}/dashboard?agency={uuid.uuid4()}", headers=admin.headers)
    assert unknown.status_code == 404


async def test_dashboard_is_cached_then_refreshed(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    await seed_types(db, settings)
    admin = await make_user(db, settings, Role.admin)
    customer = await make_user(db, settings, Role.customer)
    first = (await client.get(f"{API}/dashboard", headers=admin.headers)).json()
    assert first["requests"]["total"] == 0
    assert first["users"]["customers"] == 1
    created = await client.post(
        f"{API}/me/requests", json={"type": "autre", "comment": "Question"}, headers=customer.headers
    )
    assert created.status_code == 201
    await make_user(db, settings, Role.customer)
    cached = (await client.get(f"{API}/dashboard", headers=admin.headers)).json()
    assert cached == first  # served from Redis for 60 s
    await app.state.cache.delete("dashboard:national")
    live = (await client.get(f"{API}/dashboard", headers=admin.headers)).json()
    assert live["requests"]["total"] == 1  # requests are live
    assert live["users"]["customers"] == 1  # rolled-up figures wait for the periodic refresh
    assert await dashboard_service.refresh_rollups(app.state.db, app.state.read_db)
    await app.state.cache.delete("dashboard:national")
    refreshed = (await client.get(f"{API}/dashboard", headers=admin.headers)).json()
    assert refreshed["users"]["customers"] == 2
    assert refreshed["figures_computed_at"] > first["figures_computed_at"]

    entry = BEAT_SCHEDULE["dashboard-refresh"]
    assert route_for(entry["task"]) == "low_priority"
    assert entry["schedule"] <= 300
