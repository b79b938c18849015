"""The worker's push sender is one of the resources its start-up builds (``worker_wiring.build_resources``),
shared by every batch of the process and closed with the others at shutdown."""

from __future__ import annotations

from samaconso.notifications.fcm import PushMessage
from samaconso.settings import Settings
from samaconso.worker_wiring import build_resources
from tests.support.fcm_standin import FcmStandIn


def _message(token: str) -> PushMessage:
    return PushMessage(
        token=token, title="Coupure", body="Retour prévu à 18 h", data={}, priority="high", collapse_id="n1"
    )


async def test_worker_resources_push_through_one_sender_per_process(
    settings: Settings, fcm_clean: FcmStandIn
) -> None:
    first = build_resources(settings)
    try:
        results = [await first.pusher.send(_message(f"ok-{i}")) for i in range(3)]
        assert [r.outcome for r in results] == ["sent"] * 3
        assert sum(fcm_clean.state.accepted.values()) == 3
        assert fcm_clean.state.tokens_issued == 1  # one sender for the process: its bearer token is reused
    finally:
        await first.aclose()
    # A second worker process (or a test) builds its own sender: nothing is kept in a module global.
    second = build_resources(settings)
    try:
        assert second.pusher is not first.pusher
        assert (await second.pusher.send(_message("ok-again"))).outcome == "sent"
        assert fcm_clean.state.tokens_issued == 2
    finally:
        await second.aclose()
