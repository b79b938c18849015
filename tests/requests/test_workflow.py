"""Customer requests: types, submission, routing, the workflow, history, notifications, authorization."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.meters.models import LinkStatus
from samaconso.settings import Settings
from tests.requests.helpers import link, make_meter, seed_types, upload
from tests.support.users import TestUser, make_user

API = "/api/v1"


async def _setup(db: Database, settings: Settings, agencies: dict[str, Agency]) -> dict[str, Any]:
    await seed_types(db, settings)
    customer = await make_user(db, settings, Role.customer)
    other = await make_user(db, settings, Role.customer)
    agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    agent_ths = await make_user(db, settings, Role.agent, agency_id=agencies["THS"].id)
    admin = await make_user(db, settings, Role.admin)
    meter = await make_meter(db, agency_id=agencies["DKC"].id)
    await link(db, customer.id, meter, is_default=True)
    return {
        "customer": customer,
        "other": other,
        "agent": agent,
        "agent_ths": agent_ths,
        "admin": admin,
        "meter": meter,
    }


async def _submit(client: AsyncClient, user: TestUser, **body: Any) -> dict[str, Any]:
    payload = {"type": "coupure_panne", "comment": "Plus de courant depuis ce matin."} | body
    response = await client.post(f"{API}/me/requests", json=payload, headers=user.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _notifications(db: Database, user_id: Any) -> list[Any]:
    async with db.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT n.type, n.priority, n.data, o.queue FROM notifications n "
                "JOIN notification_outbox o ON o.notification_id = n.id "
                "WHERE n.target_user_id = :u ORDER BY n.created_at"
            ),
            {"u": user_id},
        )
        return list(rows.all())


async def test_admin_manages_request_types(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _setup(db, settings, agencies)
    admin, customer = s["admin"], s["customer"]
    listed = await client.get(f"{API}/admin/request-types?limit=100", headers=admin.headers)
    assert listed.status_code == 200
    codes = {t["code"]: t for t in listed.json()["items"]}
    assert {"reclamation_facture", "coupure_panne", "changement_compteur", "demande_branchement"} <= set(
        codes
    )
    assert {"mise_a_jour_informations", "autre"} <= set(codes)

    created = await client.post(
        f"{API}/admin/request-types",
        json={
            "code": "fraude",
            "label_fr": "Signalement de fraude",
            "label_en": "Fraud report",
            "sla_hours": 48,
        },
        headers=admin.headers,
    )
    assert created.status_code == 201
    type_id = created.json()["id"]
    dup = await client.post(
        f"{API}/admin/request-types",
        json={"code": "fraude", "label_fr": "Autre", "label_en": "Other", "sla_hours": 1},
        headers=admin.headers,
    )
    assert dup.status_code == 409
    assert dup.json()["code"] == "request_type_exists"

    patched = await client.patch(
        f"{API}/admin/request-types/{type_id}",
        json={"sla_hours": 12, "is_active": False},
        headers=admin.headers,
    )
    assert patched.status_code == 200
    assert patched.json()["sla_hours"] == 12
    assert patched.json()["is_active"] is False

    # customers and agents cannot manage types; customers only see the active ones
    for user in (customer, s["agent"]):
        forbidden = await client.post(
            f"{API}/admin/request-types",
            json={"code": "x_y", "label_fr": "Xy", "label_en": "Xy", "sla_hours": 1},
            headers=user.headers,
        )
        assert forbidden.status_code == 403
    page1 = await client.get(f"{API}/request-types?limit=4", headers=customer.headers)
    page2 = await client.get(
        f"{API}/request-types?limit=4&cursor={page1.json()['next_cursor']}", headers=customer.headers
    )
    visible = [t["code"] for t in page1.json()["items"] + page2.json()["items"]]
    assert "fraude" not in visible
    assert len(visible) == 6
    assert page2.json()["next_cursor"] is None
    inactive = await client.post(
        f"{API}/me/requests", json={"type": "fraude", "comment": "Test fraude"}, headers=customer.headers
    )
    assert inactive.status_code == 422
    assert inactive.json()["code"] == "unknown_request_type"


async def test_full_workflow_with_history_and_notifications(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _setup(db, settings, agencies)
    customer, agent = s["customer"], s["agent"]
    created = await _submit(client, customer, meter_id=str(s["meter"]))
    rid = created["id"]
    assert created["status"] == "submitted"
    assert created["type"] == {"code": "coupure_panne", "label": "Coupure / panne"}
    assert [h["to_status"] for h in created["history"]] == ["submitted"]

    staff_view = await client.get(f"{API}/requests/{rid}", headers=agent.headers)
    assert staff_view.status_code == 200
    body = staff_view.json()
    assert body["agency_id"] == str(agencies["DKC"].id)
    assert body["requester"]["phone"] == customer.phone
    assert body["overdue"] is False
    assert 0 <= body["age_hours"] < 1

    # invalid: straight from submitted to resolved
    jump = await client.patch(
        f"{API}/requests/{rid}", json={"status": "resolved", "comment": "ok"}, headers=agent.headers
    )
    assert jump.status_code == 409
    assert jump.headers["content-type"].startswith("application/problem+json")
    assert jump.json()["code"] == "invalid_transition"

    started = await client.patch(
        f"{API}/requests/{rid}", json={"status": "in_progress"}, headers=agent.headers
    )
    assert started.status_code == 200
    assert started.json()["status"] == "in_progress"
    assert started.json()["assigned_to"] == str(agent.id)

    # closing needs an explanation for the customer
    no_comment = await client.patch(
        f"{API}/requests/{rid}", json={"status": "resolved"}, headers=agent.headers
    )
    assert no_comment.status_code == 422
    assert no_comment.json()["code"] == "comment_required"

    note = await client.patch(
        f"{API}/requests/{rid}", json={"comment": "Une équipe passe cet après-midi."}, headers=agent.headers
    )
    assert note.status_code == 200
    resolved = await client.patch(
        f"{API}/requests/{rid}",
        json={"status": "resolved", "comment": "Disjoncteur réarmé."},
        headers=agent.headers,
    )
    assert resolved.status_code == 200
    assert resolved.json()["closed_at"] is not None

    again = await client.patch(
        f"{API}/requests/{rid}", json={"status": "rejected", "comment": "x"}, headers=agent.headers
    )
    assert again.status_code == 409
    cancel = await client.post(f"{API}/me/requests/{rid}/cancel", headers=customer.headers)
    assert cancel.status_code == 409
    closed_comment = await client.post(
        f"{API}/me/requests/{rid}/comments", json={"body": "Merci"}, headers=customer.headers
    )
    assert closed_comment.status_code == 409

    mine = await client.get(f"{API}/me/requests/{rid}", headers=customer.headers, params={})
    assert mine.status_code == 200
    detail = mine.json()
    assert detail["status"] == "resolved"
    assert [(h["from_status"], h["to_status"], h["by"]) for h in detail["history"]] == [
        (None, "submitted", "customer"),
        ("submitted", "in_progress", "agent"),
        ("in_progress", "resolved", "agent"),
    ]
    assert detail["history"][-1]["comment"] == "Disjoncteur réarmé."
    assert [c["body"] for c in detail["comments"]] == ["Une équipe passe cet après-midi."]

    # each status change (and the agent's message) notified the customer on the high-priority queue
    sent = await _notifications(db, customer.id)
    assert [(n.type, n.queue) for n in sent] == [("request_updated", "high_priority")] * 3
    assert [n.data["status"] for n in sent] == ["in_progress", "in_progress", "resolved"]
    assert all(n.data["request_id"] == rid for n in sent)
    # ... and the customer reads them in the app's feed
    feed = await client.get(f"{API}/me/notifications", headers=customer.headers)
    assert feed.status_code == 200
    items = [i for i in feed.json()["items"] if i["type"] == "request_updated"]
    assert len(items) == 3
    assert any("résolue" in i["body"] and "Disjoncteur réarmé." in i["body"] for i in items)
    other_feed = await client.get(f"{API}/me/notifications", headers=s["other"].headers)
    assert [i for i in other_feed.json()["items"] if i["type"] == "request_updated"] == []


async def test_customer_cancels_while_submitted_only(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _setup(db, settings, agencies)
    customer, agent = s["customer"], s["agent"]
    first = await _submit(client, customer)
    cancelled = await client.post(f"{API}/me/requests/{first['id']}/cancel", headers=customer.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["history"][-1]["from_status"] == "submitted"
    late = await client.patch(
        f"{API}/requests/{first['id']}", json={"status": "in_progress"}, headers=agent.headers
    )
    assert late.status_code == 409

    second = await _submit(client, customer)
    await client.patch(
        f"{API}/requests/{second['id']}", json={"status": "in_progress"}, headers=agent.headers
    )
    too_late = await client.post(f"{API}/me/requests/{second['id']}/cancel", headers=customer.headers)
    assert too_late.status_code == 409
    assert too_late.json()["code"] == "invalid_transition"
    commented = await client.post(
        f"{API}/me/requests/{second['id']}/comments",
        json={"body": "Toujours pas de courant."},
        headers=customer.headers,
    )
    assert commented.status_code == 201
    assert commented.json()["comments"][-1] == {
        "at": commented.json()["comments"][-1]["at"],
        "by": "customer",
        "body": "Toujours pas de courant.",
    }
    staff_sees = await client.get(f"{API}/requests/{second['id']}", headers=agent.headers)
    assert [c["body"] for c in staff_sees.json()["comments"]] == ["Toujours pas de courant."]


async def test_customers_and_agents_only_see_their_own(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _setup(db, settings, agencies)
    customer, other, agent, agent_ths, admin = (
        s["customer"],
        s["other"],
        s["agent"],
        s["agent_ths"],
        s["admin"],
    )
    created = await _submit(client, customer, meter_id=str(s["meter"]))
    rid = created["id"]

    # another customer: not found everywhere (no probing), and their list is empty
    assert (await client.get(f"{API}/me/requests/{rid}", headers=other.headers)).status_code == 404
    assert (await client.post(f"{API}/me/requests/{rid}/cancel", headers=other.headers)).status_code == 404
    assert (
        await client.post(f"{API}/me/requests/{rid}/comments", json={"body": "x"}, headers=other.headers)
    ).status_code == 404
    assert (await client.get(f"{API}/me/requests", headers=other.headers)).json()["items"] == []
    # customers cannot use the staff routes
    assert (await client.get(f"{API}/requests", headers=customer.headers)).status_code == 403
    assert (await client.get(f"{API}/requests/{rid}", headers=customer.headers)).status_code == 403

    # an agent of another agency: nothing, even when asking for the other agency explicitly
    assert (await client.get(f"{API}/requests/{rid}", headers=agent_ths.headers)).status_code == 404
    forged = await client.patch(
        f"{API}/requests/{rid}", json={"status": "in_progress"}, headers=agent_ths.headers
    )
    assert forged.status_code == 404
    ths_list = await client.get(f"{API}/requests?agency={agencies['DKC'].id}", headers=agent_ths.headers)
    assert ths_list.json()["items"] == []
    dkc_list = await client.get(f"{API}/requests", headers=agent.headers)
    assert [r["id"] for r in dkc_list.json()["items"]] == [rid]

    # admins see everything, and can filter by agency
    assert [
        r["id"] for r in (await client.get(f"{API}/requests", headers=admin.headers)).json()["items"]
    ] == [rid]
    by_ths = await client.get(f"{API}/requests?agency={agencies['THS'].id}", headers=admin.headers)
    assert by_ths.json()["items"] == []

    # a meter that is not (actively) mine cannot be used
    foreign_meter = await make_meter(db, agency_id=agencies["THS"].id)
    await link(db, other.id, foreign_meter)
    pending_meter = await make_meter(db, agency_id=agencies["THS"].id)
    await link(db, customer.id, pending_meter, status=LinkStatus.pending, is_owner=False)
    for meter_id in (foreign_meter, pending_meter):
        refused = await client.post(
            f"{API}/me/requests",
            json={"type": "autre", "comment": "Compteur", "meter_id": str(meter_id)},
            headers=customer.headers,
        )
        assert refused.status_code == 404
        assert refused.json()["code"] == "meter_not_found"


async def test_routing_without_meter_and_national_queue(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _setup(db, settings, agencies)
    customer, other, agent, admin = s["customer"], s["other"], s["agent"], s["admin"]
    # no meter given: the agency of the customer's default meter
    routed = await _submit(client, customer)
    assert (await client.get(f"{API}/requests/{routed['id']}", headers=agent.headers)).json()[
        "agency_id"
    ] == str(agencies["DKC"].id)
    # a customer without any meter: national queue, admins only
    national = await _submit(client, other, type="demande_branchement", comment="Nouveau branchement")
    assert (await client.get(f"{API}/requests/{national['id']}", headers=agent.headers)).status_code == 404
    queue = await client.get(f"{API}/requests?agency=national", headers=admin.headers)
    assert [r["id"] for r in queue.json()["items"]] == [national["id"]]
    assert queue.json()["items"][0]["agency_id"] is None


async def test_overdue_flag_and_filters(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _setup(db, settings, agencies)
    customer, agent = s["customer"], s["agent"]
    late = await _submit(client, customer)  # coupure_panne: SLA 24 h
    fresh = await _submit(client, customer, type="autre", comment="Question")
    async with db.sessionmaker() as session:
        await session.execute(
            text(
                "UPDATE customer_requests SET created_at = now() - interval '30 hours', "
                "due_at = now() - interval '6 hours' WHERE id = :id"
            ),
            {"id": late["id"]},
        )
        await session.commit()
    listed = (await client.get(f"{API}/requests", headers=agent.headers)).json()["items"]
    flags = {r["id"]: (r["overdue"], r["age_hours"]) for r in listed}
    assert flags[late["id"]][0] is True
    assert 29.9 < flags[late["id"]][1] < 30.5
    assert flags[fresh["id"]][0] is False
    only_overdue = await client.get(f"{API}/requests?overdue=true", headers=agent.headers)
    assert [r["id"] for r in only_overdue.json()["items"]] == [late["id"]]
    by_status = await client.get(f"{API}/requests?status=in_progress", headers=agent.headers)
    assert by_status.json()["items"] == []


async def test_pagination_of_my_requests(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _setup(db, settings, agencies)
    customer = s["customer"]
    ids = [(await _submit(client, customer, comment=f"Demande numéro {i}"))["id"] for i in range(3)]
    first = await client.get(f"{API}/me/requests?limit=2", headers=customer.headers)
    assert first.status_code == 200
    assert [r["id"] for r in first.json()["items"]] == ids[::-1][:2]
    second = await client.get(
        f"{API}/me/requests?limit=2&cursor={first.json()['next_cursor']}", headers=customer.headers
    )
    assert [r["id"] for r in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None
    bad = await client.get(f"{API}/me/requests?cursor=garbage", headers=customer.headers)
    assert bad.status_code == 400


async def test_attachments_must_be_my_unattached_files(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _setup(db, settings, agencies)
    customer, other = s["customer"], s["other"]
    mine = await upload(client, customer.headers, name="facture.png")
    theirs = await upload(client, other.headers)
    stolen = await client.post(
        f"{API}/me/requests",
        json={"type": "reclamation_facture", "comment": "Facture", "attachments": [theirs]},
        headers=customer.headers,
    )
    assert stolen.status_code == 404
    assert stolen.json()["code"] == "file_not_found"
    created = await _submit(client, customer, type="reclamation_facture", attachments=[mine])
    assert [(a["id"], a["original_name"], a["content_type"]) for a in created["attachments"]] == [
        (mine, "facture.png", "image/png")
    ]
    reused = await client.post(
        f"{API}/me/requests",
        json={"type": "autre", "comment": "Encore", "attachments": [mine]},
        headers=customer.headers,
    )
    assert reused.status_code == 409
    assert reused.json()["code"] == "file_already_attached"
    # a failed submission attached nothing and created nothing
    assert len((await client.get(f"{API}/me/requests", headers=customer.headers)).json()["items"]) == 1


async def test_assignment_and_english_answers(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    s = await _setup(db, settings, agencies)
    customer, agent = s["customer"], s["agent"]
    colleague = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    created = await _submit(client, customer)
    rid = created["id"]
    empty = await client.patch(f"{API}/requests/{rid}", json={}, headers=agent.headers)
    assert empty.status_code == 422
    assert empty.json()["code"] == "empty_update"
    taken = await client.patch(f"{API}/requests/{rid}", json={"assign_to_me": True}, headers=agent.headers)
    assert taken.json()["assigned_to"] == str(agent.id)
    assert taken.json()["status"] == "submitted"  # taking a request does not change its status
    retaken = await client.patch(
        f"{API}/requests/{rid}",
        json={"assign_to_me": True, "status": "in_progress"},
        headers=colleague.headers,
    )
    assert retaken.json()["assigned_to"] == str(colleague.id)
    rejected = await client.patch(
        f"{API}/requests/{rid}",
        json={"status": "rejected", "comment": "Compteur hors zone Senelec."},
        headers=colleague.headers | {"Accept-Language": "en"},
    )
    assert rejected.status_code == 200
    assert rejected.json()["type"]["label"] == "Outage / fault"
    closed = await client.patch(
        f"{API}/requests/{rid}",
        json={"assign_to_me": True},
        headers=agent.headers | {"Accept-Language": "en"},
    )
    assert closed.status_code == 409
    assert closed.json()["code"] == "request_closed"
    assert closed.json()["detail"] == "This request is rejected: it can no longer be changed."


async def test_seed_is_idempotent_and_keeps_admin_changes(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    from samaconso.requests.seed import DEFAULT_TYPES, seed

    first = await seed(db, settings)
    assert first == [f"request types: {len(DEFAULT_TYPES)} created, {len(DEFAULT_TYPES)} defaults"]
    admin = await make_user(db, settings, Role.admin)
    types = (await client.get(f"{API}/admin/request-types", headers=admin.headers)).json()["items"]
    panne = next(t for t in types if t["code"] == "coupure_panne")
    assert panne["sla_hours"] == 24
    await client.patch(
        f"{API}/admin/request-types/{panne['id']}", json={"sla_hours": 8}, headers=admin.headers
    )
    assert await seed(db, settings) == []
    again = (await client.get(f"{API}/admin/request-types", headers=admin.headers)).json()["items"]
    assert len(again) == len(DEFAULT_TYPES)
    assert next(t for t in again if t["code"] == "coupure_panne")["sla_hours"] == 8
