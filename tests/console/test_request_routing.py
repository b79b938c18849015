"""The request queue's staff moves behind the console: filters by type and assignee, giving a
request to a colleague, transferring it to another agency."""

from __future__ import annotations

from httpx import AsyncClient

from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.requests.seed import seed as seed_request_types
from samaconso.settings import Settings
from tests.support.users import make_user

API = "/api/v1"


async def test_filters_assign_to_a_colleague_and_transfer(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    await seed_request_types(db, settings)
    dakar, thies = agencies["DKC"], agencies["THS"]
    agent = await make_user(db, settings, Role.agent, agency_id=dakar.id)
    colleague = await make_user(db, settings, Role.agent, agency_id=dakar.id, first_name="Binta")
    outsider = await make_user(db, settings, Role.agent, agency_id=thies.id)
    admin = await make_user(db, settings, Role.admin)
    awa = await make_user(db, settings)
    # without a meter the request lands in the national queue; an administrator routes it to Dakar
    ids = []
    for code in ("coupure_panne", "autre"):
        r = await client.post(
            f"{API}/me/requests", json={"type": code, "comment": "Besoin d'aide."}, headers=awa.headers
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        r = await client.post(
            f"{API}/requests/{ids[-1]}/transfer", json={"agency_id": str(dakar.id)}, headers=admin.headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["agency_id"] == str(dakar.id)

    r = await client.get(f"{API}/requests", params={"type": "coupure_panne"}, headers=agent.headers)
    assert [x["id"] for x in r.json()["items"]] == [ids[0]]
    r = await client.get(f"{API}/requests", params={"assignee": "none"}, headers=agent.headers)
    assert sorted(x["id"] for x in r.json()["items"]) == sorted(ids)

    r = await client.get(f"{API}/staff/colleagues", headers=agent.headers)
    people = {x["id"] for x in r.json()["items"]}
    assert {str(agent.id), str(colleague.id)} <= people
    assert str(outsider.id) not in people

    r = await client.post(
        f"{API}/requests/{ids[0]}/assignment", json={"assignee_id": str(colleague.id)}, headers=agent.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["assigned_to"] == str(colleague.id)
    r = await client.get(f"{API}/requests", params={"assignee": "me"}, headers=colleague.headers)
    assert [x["id"] for x in r.json()["items"]] == [ids[0]]
    # an agent of another agency cannot be given the request
    r = await client.post(
        f"{API}/requests/{ids[0]}/assignment", json={"assignee_id": str(outsider.id)}, headers=agent.headers
    )
    assert r.status_code == 400
    assert r.json()["code"] == "assignee_not_in_agency"

    # transfer to Thiès: gone from Dakar's queue, in Thiès's, unassigned
    r = await client.post(
        f"{API}/requests/{ids[0]}/transfer", json={"agency_id": str(thies.id)}, headers=agent.headers
    )
    assert r.status_code == 200, r.text
    r = await client.get(f"{API}/requests", headers=agent.headers)
    assert [x["id"] for x in r.json()["items"]] == [ids[1]]
    r = await client.get(f"{API}/requests", headers=outsider.headers)
    assert [(x["id"], x["assigned_to"]) for x in r.json()["items"]] == [(ids[0], None)]
    r = await client.get(f"{API}/requests/{ids[0]}", headers=agent.headers)
    assert r.status_code == 404
    # the outsider cannot move Dakar's request; a bad assignee filter is a clear 422
    r = await client.post(
        f"{API}/requests/{ids[1]}/transfer", json={"agency_id": str(thies.id)}, headers=outsider.headers
    )
    assert r.status_code == 404
    r = await client.get(f"{API}/requests", params={"assignee": "x"}, headers=agent.headers)
    assert r.status_code == 422
