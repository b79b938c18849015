"""The cutover's final delta (``import-v2 --since``) carries every v2 change made after the full import,
including those v2 records with no timestamp at all: a profile edited without ``updated_at``, a link
approved, a request taken up or its comment edited, a phone signed out, and rows deleted. Each test
changes the shared v2 database and puts it back as it was (other tests read it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from samaconso.cutover import import_context
from samaconso.cutover.import_history import COMMENT_EDITED_EVENT, DELETED_EVENT, TAKEN_UP_EVENT
from samaconso.cutover.v2_generator import GeneratedV2
from samaconso.kit.db import Database
from tests.cutover.conftest import V2_URL, import_v2

# A --since far in the future: no v2 clock can say a row changed after it; only the fingerprints can.
FUTURE = "2099-01-01T00:00:00Z"


@contextmanager
def v2_changed(*statements: tuple[str, tuple[Any, ...]]) -> Iterator[None]:
    """Apply ``statements`` to v2, then restore every row they touched (saved whole beforehand)."""
    saved: list[tuple[str, list[tuple[Any, ...]]]] = []
    with psycopg.connect(V2_URL, autocommit=True) as conn:
        for statement, params in statements:
            verb, _, rest = statement.partition(" ")
            table = rest.split()[1 if verb == "DELETE" else 0]
            where = statement[statement.index(" WHERE ") :]
            where_params = params[len(params) - where.count("%s") :]
            saved.append((table, conn.execute(f"SELECT * FROM {table}{where}", where_params).fetchall()))  # noqa: S608
            conn.execute(statement, params)
    try:
        yield
    finally:
        with psycopg.connect(V2_URL, autocommit=True) as conn:
            for table, rows in reversed(saved):
                for row in rows:
                    conn.execute(f"DELETE FROM {table} WHERE id = %s", (row[0],))  # noqa: S608
                    marks = ", ".join(["%s"] * len(row))
                    conn.execute(f"INSERT INTO {table} VALUES ({marks})", row)  # noqa: S608


async def _one(db: Database, query: str, **params: Any) -> Any:
    async with db.engine.connect() as conn:
        return (await conn.execute(text(query), params)).one()


async def _v3_of(db: Database, entity: str, v2_id: int) -> Any:
    row = await _one(
        db, "SELECT v3_id FROM cutover_v2_ids WHERE entity = :e AND v2_id = :id", e=entity, id=v2_id
    )
    return row.v3_id


async def test_a_profile_edited_without_timestamp_comes_across(
    imported: dict[str, Any], db: Database, v2_source: GeneratedV2, tmp_path: Path
) -> None:
    customer = v2_source.scenario.customer_id
    with v2_changed(('UPDATE "user" SET "firstName" = \'Aïssatou\' WHERE id = %s', (customer,))):
        delta = await import_v2(tmp_path, "--since", FUTURE)
        users = delta["tables"]["user"]
        assert users["read"] == 1  # that row only: its updated_at did not move
        assert users["updated"] == 1
        row = await _one(db, "SELECT first_name FROM users WHERE phone = '+221771112233'")
        assert row.first_name == "Aïssatou"
        # nothing changed since: the next delta reads no user and no link
        again = await import_v2(tmp_path, "--since", FUTURE)
        assert again["tables"]["user"]["read"] == 0
        assert again["tables"]["user_compteur"]["read"] == 0


async def test_older_v2_servers_get_the_md5_fingerprint(
    db: Database,
    agencies: dict[str, Any],
    v2_source: GeneratedV2,
    legacy_phones: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A v2 on PostgreSQL < 14 (no hash_record_extended): same delta, through md5 of the row text."""
    monkeypatch.setattr(import_context, "ROW_HASH_MIN_VERSION", 10**9)
    await import_v2(tmp_path)
    customer = v2_source.scenario.customer_id
    with v2_changed(('UPDATE "user" SET "lastName" = \'Faye\' WHERE id = %s', (customer,))):
        delta = await import_v2(tmp_path, "--since", FUTURE)
        assert delta["tables"]["user"]["read"] == 1
        row = await _one(db, "SELECT last_name FROM users WHERE phone = '+221771112233'")
        assert row.last_name == "Faye"


async def test_a_link_approved_in_v2_becomes_active(
    imported: dict[str, Any], db: Database, v2_source: GeneratedV2, tmp_path: Path
) -> None:
    member = v2_source.scenario.pending_member_id
    status_sql = (
        "SELECT l.status FROM meter_links l JOIN users u ON u.id = l.user_id WHERE u.phone = '+221781112244'"
    )
    assert (await _one(db, status_sql)).status == "pending"
    # the owner approved Ibou in v2: est_active flips, user_compteur has no update timestamp
    with v2_changed(("UPDATE user_compteur SET est_active = true WHERE user_id = %s", (member,))):
        delta = await import_v2(tmp_path, "--since", FUTURE)
        assert delta["tables"]["user_compteur"]["updated"] == 1
        assert (await _one(db, status_sql)).status == "active"


async def test_request_status_and_comment_changes_come_across(
    imported: dict[str, Any], db: Database, v2_source: GeneratedV2, tmp_path: Path
) -> None:
    s = v2_source.scenario
    billed, outage = s.request_ids  # handled by the agent / still waiting
    outage_v3 = await _v3_of(db, "demande", outage)
    billed_v3 = await _v3_of(db, "demande", billed)
    agent_v3 = await _v3_of(db, "user", s.agent_id)
    before = await _one(db, "SELECT status, assigned_to FROM customer_requests WHERE id = :id", id=outage_v3)
    assert (before.status, before.assigned_to) == ("submitted", None)
    with v2_changed(
        ("UPDATE demande SET traite_par = %s WHERE id = %s", (s.agent_id, outage)),
        (
            "UPDATE demande SET commentaire = %s WHERE id = %s",
            ("Facture de juin : 48 000 F au lieu de 12 000", billed),
        ),
    ):
        delta = await import_v2(tmp_path, "--since", FUTURE)
        assert delta["facts"]["requests_taken_up_in_v2"] == 1
        assert delta["facts"]["requests_comment_edited_in_v2"] == 1
        after = await _one(
            db, "SELECT status, assigned_to FROM customer_requests WHERE id = :id", id=outage_v3
        )
        assert (after.status, after.assigned_to) == ("in_progress", agent_v3)
        async with db.engine.connect() as conn:
            events = (
                await conn.execute(
                    text(
                        "SELECT kind, from_status, to_status, actor_id, body FROM request_events"
                        " WHERE request_id = :id ORDER BY at, kind"
                    ),
                    {"id": outage_v3},
                )
            ).all()
        kinds = [(e.kind, e.from_status, e.to_status) for e in events]
        assert ("assignment", None, None) in kinds
        assert ("status", "submitted", "in_progress") in kinds
        taken_up = [e for e in events if e.body == TAKEN_UP_EVENT]
        assert len(taken_up) == 2
        assert all(e.actor_id == agent_v3 for e in taken_up)
        billed_row = await _one(db, "SELECT comment FROM customer_requests WHERE id = :id", id=billed_v3)
        assert billed_row.comment == "Facture de juin : 48 000 F au lieu de 12 000"
        edit = await _one(
            db, "SELECT body FROM request_events WHERE request_id = :id AND kind = 'comment'", id=billed_v3
        )
        assert edit.body == COMMENT_EDITED_EVENT + "Facture de juin : 48 000 F au lieu de 12 000"
        # carried once: the next delta moves nothing again
        again = await import_v2(tmp_path, "--since", FUTURE)
        assert again["tables"]["demande"]["read"] == 0
        count = await _one(
            db, "SELECT count(*) AS n FROM request_events WHERE request_id = :id", id=outage_v3
        )
        assert count.n == len(events)


async def test_deleted_and_signed_out_rows_are_undone(
    imported: dict[str, Any], db: Database, v2_source: GeneratedV2, tmp_path: Path
) -> None:
    s = v2_source.scenario
    with psycopg.connect(V2_URL) as conn:
        shared_link = conn.execute(
            "SELECT uc.id FROM user_compteur uc JOIN compteur c ON c.id = uc.compteur_id"
            " WHERE uc.user_id = %s AND c.numero = %s",
            (s.customer_id, s.shared_meter),
        ).fetchone()
        asked = conn.execute(
            "SELECT id FROM notification WHERE for_user_id = %s AND title = 'Demande d''accès'",
            (s.customer_id,),
        ).fetchone()
    assert shared_link is not None
    assert asked is not None
    link_v3 = await _v3_of(db, "user_compteur", shared_link[0])
    notification_v3 = await _v3_of(db, "notification", asked[0])
    outage_v3 = await _v3_of(db, "demande", s.request_ids[1])
    device_sql = "SELECT is_active, signed_out_reason FROM devices WHERE fcm_token = :t"
    assert (await _one(db, device_sql, t=s.fcm_tokens[0])).is_active is True
    assert (await _one(db, "SELECT is_active FROM users WHERE phone = '+221761112255'")).is_active is True
    with v2_changed(
        ("DELETE FROM user_compteur WHERE id = %s", (shared_link[0],)),
        ("DELETE FROM notification WHERE id = %s", (asked[0],)),
        ("DELETE FROM demande WHERE id = %s", (s.request_ids[1],)),
        ('DELETE FROM "user" WHERE id = %s', (s.weak_pin_id,)),
        # the phone signed out in v2: the session stays, inactive, with no timestamp of it
        ("UPDATE user_session SET is_active = false WHERE fcm_token = %s", (s.fcm_tokens[0],)),
    ):
        delta = await import_v2(tmp_path, "--since", FUTURE)
        tables = delta["tables"]
        assert tables["user_compteur"]["deleted"] == 1
        assert tables["notification"]["deleted"] == 1
        assert tables["demande"]["deleted"] == 1
        assert tables["user"]["deleted"] == 1
        assert tables["user_session"]["deleted"] == 1
        link = await _one(db, "SELECT status, is_default FROM meter_links WHERE id = :id", id=link_v3)
        assert (link.status, link.is_default) == ("revoked", False)
        gone = await _one(db, "SELECT count(*) AS n FROM notifications WHERE id = :id", id=notification_v3)
        assert gone.n == 0
        request = await _one(
            db, "SELECT status, closed_at FROM customer_requests WHERE id = :id", id=outage_v3
        )
        assert request.status == "cancelled"
        assert request.closed_at is not None
        cancel = await _one(
            db,
            "SELECT body FROM request_events WHERE request_id = :id AND to_status = 'cancelled'",
            id=outage_v3,
        )
        assert cancel.body == DELETED_EVENT
        assert (
            await _one(db, "SELECT is_active FROM users WHERE phone = '+221761112255'")
        ).is_active is False
        device = await _one(db, device_sql, t=s.fcm_tokens[0])
        assert (device.is_active, device.signed_out_reason) == (False, "v2_signed_out")
        # the customer's other phone still receives pushes
        assert (await _one(db, device_sql, t=s.fcm_tokens[1])).is_active is True
        again = await import_v2(tmp_path, "--since", FUTURE)
        assert all(counts["deleted"] == 0 for counts in again["tables"].values())
    # v2 as it was (rows back under their ids): the next delta brings them back
    back = await import_v2(tmp_path, "--since", FUTURE)
    assert back["tables"]["user_session"]["updated"] + back["tables"]["user_session"]["imported"] >= 1
    assert (await _one(db, device_sql, t=s.fcm_tokens[0])).is_active is True
