"""A client generated from ``/openapi.json`` by a standard generator (openapi-python-client, at test
time, into a temporary folder) signs up, signs in and reads every customer screen of the running app
without one hand-written request: the spec is what the mobile team can build on."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from tests.contract.conftest import LiveServer
from tests.identity.helpers import last_code

CONFIG = Path(__file__).with_name("openapi-python-client.yaml")


@pytest.fixture
def client_package(live_server: LiveServer, tmp_path: Path) -> ModuleType:
    spec_path = tmp_path / "openapi.json"
    spec_path.write_text(json.dumps(httpx.get(f"{live_server.url}/openapi.json", timeout=10).json()))
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(spec_path),
            "--meta",
            "none",
            "--config",
            str(CONFIG),
            "--output-path",
            str(tmp_path / "samaconso_client"),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    sys.path.insert(0, str(tmp_path))
    try:
        for name in [m for m in sys.modules if m == "samaconso_client" or m.startswith("samaconso_client.")]:
            del sys.modules[name]
        return importlib.import_module("samaconso_client")
    finally:
        sys.path.remove(str(tmp_path))


def _api(package: ModuleType, tag: str, operation: str) -> Any:
    return importlib.import_module(f"{package.__name__}.api.{tag}.{operation}")


async def test_generated_client_signs_up_and_reads_the_customer_screens(
    live_server: LiveServer, client_package: ModuleType, db: Database
) -> None:
    pkg = client_package
    models = importlib.import_module(f"{pkg.__name__}.models")
    public = pkg.Client(base_url=live_server.url, raise_on_unexpected_status=True, timeout=httpx.Timeout(30))

    accepted = await _api(pkg, "identity", "request_otp").asyncio_detailed(
        client=public, body=models.OtpRequest(phone=g.DEMO_PHONE, purpose=models.OtpPurpose.SIGNUP)
    )
    assert accepted.status_code == 202
    code = last_code(live_server.settings, g.DEMO_PHONE)
    tokens = await _api(pkg, "identity", "sign_up").asyncio(
        client=public,
        body=models.SignupRequest(
            phone=g.DEMO_PHONE, otp=code, pin="2580", first_name="Awa", last_name="Diop"
        ),
    )
    assert isinstance(tokens, models.TokenPair)

    # a wrong PIN is a typed problem, not an exception of the transport
    wrong = await _api(pkg, "identity", "log_in").asyncio_detailed(
        client=public, body=models.LoginRequest(phone=g.DEMO_PHONE, pin="9713")
    )
    assert wrong.status_code == 401
    assert wrong.parsed.code == "invalid_credentials"

    login = await _api(pkg, "identity", "log_in").asyncio(
        client=public, body=models.LoginRequest(phone=g.DEMO_PHONE, pin="2580")
    )
    assert isinstance(login, models.TokenPair)
    me_client = pkg.AuthenticatedClient(
        base_url=live_server.url,
        token=login.access_token,
        raise_on_unexpected_status=True,
        timeout=httpx.Timeout(30),
    )

    me = await _api(pkg, "identity", "get_me").asyncio(client=me_client)
    assert me.phone == g.DEMO_PHONE
    assert me.first_name == "Awa"

    suggestions = await _api(pkg, "meters", "list_my_meter_suggestions").asyncio(client=me_client)
    assert g.DEMO_PREPAID_METER in [s.number for s in suggestions.items]

    added = await _api(pkg, "meters", "add_my_meter").asyncio(
        client=me_client, body=models.MeterAdd(kind=models.MeterKind.PREPAID, number=g.DEMO_PREPAID_METER)
    )
    assert added.status == "active" or getattr(added.status, "value", None) == "active"
    meters = await _api(pkg, "meters", "list_my_meters").asyncio(client=me_client, limit=10)
    assert [m.number for m in meters.items] == [g.DEMO_PREPAID_METER]
    meter_id = meters.items[0].id

    one = await _api(pkg, "meters", "get_my_meter").asyncio(meter_id, client=me_client)
    assert one.id == meter_id
    summary = await _api(pkg, "consumption", "get_my_meter_summary").asyncio(meter_id, client=me_client)
    assert isinstance(summary, models.SummaryOut)
    purchases = await _api(pkg, "consumption", "list_my_meter_purchases").asyncio(meter_id, client=me_client)
    assert purchases.items, "the demo meter has purchases in the legacy source"
    assert all(isinstance(p.amount, int | float) for p in purchases.items)
    monthly = await _api(pkg, "consumption", "get_my_meter_monthly_consumption").asyncio(
        meter_id, client=me_client
    )
    assert isinstance(monthly, models.MonthlyOut)
    contract = await _api(pkg, "consumption", "get_my_meter_contract").asyncio(meter_id, client=me_client)
    assert contract.code == "not_postpaid"  # a Woyofal meter has no postpaid contract: a typed problem

    feed = await _api(pkg, "notifications", "list_my_notifications").asyncio(client=me_client)
    assert isinstance(feed.items, list)
    unread = await _api(pkg, "notifications", "get_my_unread_notification_count").asyncio(client=me_client)
    assert unread.unread == len([n for n in feed.items if not n.read])
    tariffs = await _api(pkg, "tariffs", "list_tariffs").asyncio(client=me_client, history=True)
    assert isinstance(tariffs.items, list)
    types = await _api(pkg, "requests", "list_request_types").asyncio(client=me_client)
    assert isinstance(types.items, list)
    mine = await _api(pkg, "requests", "list_my_requests").asyncio(client=me_client)
    assert mine.items == []
    devices = await _api(pkg, "identity", "list_my_devices").asyncio(client=me_client)
    assert isinstance(devices.items, list)
