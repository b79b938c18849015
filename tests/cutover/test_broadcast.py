"""Phones that receive v2 pushes today receive v3's: an admin broadcast right after the import reaches
the imported devices' FCM tokens (the two newest active sessions per customer, one device a token)."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient

from samaconso.cutover.v2_generator import GeneratedV2
from samaconso.embedded.procs import ManagedProcess
from samaconso.identity.models import Role
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.notifications.conftest import all_delivered, wait_until
from tests.support.fcm_standin import FcmStandIn
from tests.support.users import make_user


async def test_admin_broadcast_reaches_imported_phones(
    imported: dict[str, Any],
    client: AsyncClient,
    db: Database,
    settings: Settings,
    v2_source: GeneratedV2,
    fcm_clean: FcmStandIn,
    worker: ManagedProcess,
) -> None:
    s = v2_source.scenario
    devices = imported["tables"]["user_session"]
    assert devices["skipped_by_reason"]["older_than_two_newest"] >= 1
    assert devices["skipped_by_reason"]["token_on_a_newer_session"] >= 1
    admin = await make_user(db, settings, Role.admin)
    response = await client.post(
        "/api/v1/notifications",
        json={
            "target": {"kind": "everyone"},
            "type": "campaign",
            "title": {"fr": "Bienvenue", "en": "Welcome"},
            "body": {"fr": "La nouvelle SamaConso est là", "en": "The new SamaConso is here"},
        },
        headers=admin.headers,
    )
    assert response.status_code == 202, response.text
    nid = response.json()["id"]
    expected = devices["imported"]
    await wait_until(lambda: len(fcm_clean.state.by_notification[nid]) >= expected, 90, "broadcast delivered")
    await wait_until(lambda: all_delivered(db, uuid.UUID(nid), expected), 30, "deliveries recorded")
    received = fcm_clean.state.by_notification[nid]
    assert all(received[token] == 1 for token in s.fcm_tokens)  # the customer's two newest phones
    assert s.old_fcm_token not in received  # a third, older session: not a device
    assert s.inactive_session_token not in received  # signed out in v2
    assert len(received) == expected
