"""The FCM v1 client against the HTTP/2 stand-in, and one pipeline batch run in-process."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import update

from samaconso.identity.models import Agency
from samaconso.kit.db import Database
from samaconso.meters.models import LinkStatus, Meter, MeterKind, MeterLink
from samaconso.notifications import pipeline, repository, service
from samaconso.notifications.curl_http2 import CurlHttp2Client
from samaconso.notifications.fcm import FcmSender, PushMessage
from samaconso.notifications.models import DeliveryStatus, NotificationType, TargetKind
from samaconso.settings import Settings
from tests.notifications.conftest import add_customers, add_devices, delivery_statuses, link_meter
from tests.support import fcm_standin
from tests.support.fcm_standin import FcmStandIn


def msg(token: str) -> PushMessage:
    return PushMessage(token=token, title="t", body="b", data={"k": "v"}, priority="high", collapse_id="n1")


async def test_sender_oauth_http2_dead_tokens_and_retries(settings: Settings, fcm_clean: FcmStandIn) -> None:
    sender = FcmSender(settings, base_backoff_s=0.01)
    try:
        fcm_clean.config.throttle_first = 2  # every message is refused twice (429 + Retry-After) first
        fcm_clean.config.retry_after_s = 0.01
        results = await sender.send_many([msg(f"ok-{i}") for i in range(200)] + [msg("dead-1")])
        assert [r.outcome for r in results[:200]] == ["sent"] * 200
        assert results[200].outcome == "dead"
        assert results[200].error == "UNREGISTERED"
        assert fcm_clean.state.throttled == 2 * 201
        assert fcm_clean.state.tokens_issued == 1  # the bearer token is cached
        assert fcm_clean.state.rejected_auth == 0
        assert sum(fcm_clean.state.accepted.values()) == 200
        # FCM gone for good: retries stop and the message is marked failed
        fcm_clean.config.throttle_first = 1000
        failed = await sender.send(msg("ok-x"))
        assert failed.outcome == "failed"
        assert failed.attempts == 6
    finally:
        await sender.aclose()


async def test_send_batch_records_each_delivery_once(
    db: Database, settings: Settings, fcm_clean: FcmStandIn
) -> None:
    users = await add_customers(db, 30)
    tokens = await add_devices(db, users)
    async with db.sessionmaker() as session:
        n = service.add_notification(
            session,
            type_=NotificationType.campaign,
            content=service.Content("Info", "Info", "Corps", "Body"),
            target=TargetKind.everyone,
            audiences=[service.EVERYONE_AUDIENCE],
        )
        await session.commit()
    sender = FcmSender(settings)
    try:
        last = uuid.UUID(int=2**128 - 1)
        first = await pipeline.send_batch(db, sender, n.id, None, last, redelivered=False)
        again = await pipeline.send_batch(db, sender, n.id, None, last, redelivered=True)
    finally:
        await sender.aclose()
    assert first == {"sent": 30, "dead": 0, "failed": 0}
    assert again == {"sent": 0, "dead": 0, "failed": 0}
    assert await delivery_statuses(db, n.id) == {DeliveryStatus.sent: 30}
    assert fcm_clean.state.by_notification[str(n.id)] == dict.fromkeys(tokens, 1)


async def test_push_targets_follow_meter_links(
    db: Database, settings: Settings, fcm_clean: FcmStandIn, agencies: dict[str, Agency]
) -> None:
    """Agency, outage, meter, all-agencies and user targets push to exactly their users' devices."""
    dkc, ths, col = agencies["DKC"].id, agencies["THS"].id, agencies["COL"].id
    users = await add_customers(db, 6)
    tokens = dict(zip(users, await add_devices(db, users), strict=True))
    in_dkc, in_ths, both, no_meter, revoked, _other = users
    dkc_meter = await link_meter(db, in_dkc, dkc)
    await link_meter(db, in_ths, ths)
    await link_meter(db, both, ths)
    async with db.sessionmaker() as session:  # `both` also shares the DKC meter
        session.add(MeterLink(meter_id=dkc_meter, user_id=both, status=LinkStatus.active))
        await session.flush()
        session.add(Meter(kind=MeterKind.postpaid, number="99887766", agency_id=col))  # nobody linked
        await session.commit()
    revoked_meter = await link_meter(db, revoked, dkc)
    async with db.sessionmaker() as session:
        await session.execute(
            update(MeterLink).where(MeterLink.meter_id == revoked_meter).values(status=LinkStatus.revoked)
        )
        await session.commit()
    sender = FcmSender(settings)

    async def pushed_to(kind: TargetKind, **columns: object) -> set[uuid.UUID]:
        async with db.sessionmaker() as session:
            n = service.add_notification(
                session,
                type_=NotificationType.campaign,
                content=service.Content("a", "a", "b", "b"),
                target=kind,
                audiences=["test"],
                **columns,  # type: ignore[arg-type]
            )
            await session.commit()
        async with db.sessionmaker() as session:
            first_page = await repository.device_page(session, n, None, 500)
        if first_page:
            await pipeline.send_batch(db, sender, n.id, None, first_page[-1], redelivered=False)
        got = set(fcm_clean.state.by_notification.get(str(n.id), {}))
        return {u for u, t in tokens.items() if t in got}

    try:
        assert await pushed_to(TargetKind.agency, target_agency_ids=[dkc]) == {in_dkc, both}
        assert await pushed_to(TargetKind.outage, target_agency_ids=[dkc, ths]) == {in_dkc, in_ths, both}
        assert await pushed_to(TargetKind.meter, target_meter_id=dkc_meter) == {in_dkc, both}
        assert await pushed_to(TargetKind.all_agencies) == {in_dkc, in_ths, both}
        assert await pushed_to(TargetKind.user, target_user_id=no_meter) == {no_meter}
        assert await pushed_to(TargetKind.agency, target_agency_ids=[col]) == set()
        assert await pushed_to(TargetKind.everyone) == set(users)  # `other` and `revoked` only here
    finally:
        await sender.aclose()


async def test_request_body_is_the_fcm_message_whatever_the_token_and_content(
    settings: Settings, fcm_clean: FcmStandIn
) -> None:
    sender = FcmSender(settings)
    try:
        contents = [("Coupure à Thiès", 'Dépannage "urgent"\n'), ("Info", "Corps")]
        tokens = ["plain-token", 'tok"with\\quotes', "ütf-8 ✓", ""]
        for title, body in contents:
            for token in tokens:
                m = PushMessage(token, title, body, {"type": "outage", "k": "é"}, "urgent", "n-42")
                assert json.loads(sender._encode(m)) == m.to_fcm()
    finally:
        await sender.aclose()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (benchmark stand-in only)")
async def test_node_standin_speaks_the_same_fcm_protocol(settings: Settings, tmp_path: Path) -> None:
    """bench.fanout uses fcm_standin.mjs when node is installed: same OAuth2, checks and answers."""
    script = Path(fcm_standin.__file__).parent / "fcm_standin.mjs"
    proc = subprocess.Popen(["node", str(script), "--dir", str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        node_settings = settings.model_copy(
            update={
                "fcm_endpoint": info["url"],
                "fcm_token_uri": f"{info['url']}/token",
                "fcm_credentials_file": Path(info["credentials_file"]),
            }
        )
        control = CurlHttp2Client(info["url"])
        headers = ["Content-Type: application/json"]
        config = {"throttle_first": 1, "retry_after_s": 0.01}
        await control.request("POST", "/_config", headers, json.dumps(config).encode())
        sender = FcmSender(node_settings, base_backoff_s=0.01)
        try:
            results = await sender.send_many([msg(f"ok-{i}") for i in range(50)] + [msg("dead-1")])
        finally:
            await sender.aclose()
        assert [r.outcome for r in results] == ["sent"] * 50 + ["dead"]
        assert results[50].error == "UNREGISTERED"
        # a request without a valid bearer token, or with a bad shape, is refused like FCM does
        path = f"/v1/projects/{settings.fcm_project_id}/messages:send"
        anonymous = await control.request("POST", path, headers, json.dumps(msg("x").to_fcm()).encode())
        assert anonymous.status == 401
        stats = json.loads((await control.request("GET", "/_stats", headers)).body)
        await control.aclose()
        assert stats["accepted_total"] == 50
        assert stats["duplicates"] == 0
        assert stats["throttled"] == 51
        assert stats["unregistered"] == 1
        assert stats["rejected_auth"] == 1
        assert stats["tokens_issued"] == 1
    finally:
        proc.terminate()
        proc.wait(5)
