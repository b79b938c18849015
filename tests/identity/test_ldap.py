"""Staff login against a real OpenLDAP (slapd) started by the tests: search then bind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from httpx import AsyncClient
from pydantic import SecretStr
from sqlalchemy import update

from samaconso.identity import ldap as ldap_auth
from samaconso.identity.models import AuthSource, Role, User
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API, bearer
from tests.identity.slapd import BASE_DN, SERVICE_DN, Directory, start_slapd, stop_slapd
from tests.support.settings import override
from tests.support.users import make_user

PASSWORD = "Ldap-Secret-2026"


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    workdir = tmp_path_factory.mktemp("slapd")
    d = start_slapd(workdir)
    d.add_user("awa.ndiaye", PASSWORD)
    d.add_user("moussa.ba", PASSWORD)
    d.add_user("moussa.ba2", "Other-Secret-2026", ou="other", uid="mba")
    yield d
    stop_slapd(d, workdir)


@pytest.fixture
def settings_overrides(directory: Directory) -> dict[str, Any]:
    """This module's app logs staff in against the slapd directory."""
    return {
        "ldap_enabled": True,
        "ldap_url": directory.url,
        "ldap_bind_dn": SERVICE_DN,
        "ldap_bind_password": SecretStr(directory.service_password),
        "ldap_base_dn": BASE_DN,
        "ldap_timeout_s": 3.0,
    }


@pytest.fixture
def ldap_settings(settings: Settings) -> Settings:
    assert settings.ldap_enabled
    return settings


async def _ldap_staff(db: Database, settings: Settings, login: str, agency_id: Any) -> None:
    staff = await make_user(db, settings, Role.agent, agency_id=agency_id)
    async with db.sessionmaker() as s:
        await s.execute(
            update(User)
            .where(User.id == staff.id)
            .values(login=login, auth_source=AuthSource.ldap, password_hash=None)
        )
        await s.commit()


async def test_ldap_login_ok_and_wrong_password(
    client: AsyncClient, ldap_settings: Settings, db: Database, agencies: dict[str, Any]
) -> None:
    admin = await make_user(db, ldap_settings, Role.admin)
    created = await client.post(
        f"{API}/admin/users",
        headers=admin.headers,
        json={
            "login": "awa.ndiaye",
            "role": "agent",
            "agency_id": str(agencies["DKC"].id),
            "first_name": "Awa",
            "last_name": "Ndiaye",
            "auth_source": "ldap",
        },
    )
    assert created.status_code == 201, created.text
    ok = await client.post(f"{API}/auth/staff/login", json={"login": "AWA.NDIAYE", "password": PASSWORD})
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"]["auth_source"] == "ldap"
    me = await client.get(f"{API}/me", headers=bearer(ok.json()))
    assert me.json()["role"] == "agent"
    wrong = await client.post(
        f"{API}/auth/staff/login", json={"login": "awa.ndiaye", "password": "Not-The-One-1"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    # a directory account without a SamaConso staff account gets nothing
    unknown = await client.post(f"{API}/auth/staff/login", json={"login": "moussa.ba", "password": PASSWORD})
    assert unknown.status_code == 401


def test_filter_injection_is_escaped(ldap_settings: Settings) -> None:
    assert ldap_auth.check_password_sync(ldap_settings, "awa.ndiaye", PASSWORD) is True
    for attack in ("*", "*)(uid=*", "awa*", "*)(|(sAMAccountName=*", "awa.ndiaye)(cn=*", "\\2a"):
        assert ldap_auth.check_password_sync(ldap_settings, attack, PASSWORD) is False, attack
    # an empty password would be an unauthenticated bind that "succeeds": refused before the wire
    assert ldap_auth.check_password_sync(ldap_settings, "awa.ndiaye", "") is False


def test_login_attribute_is_configurable(ldap_settings: Settings) -> None:
    by_uid = override(ldap_settings, ldap_login_attribute="uid")
    assert ldap_auth.check_password_sync(by_uid, "mba", "Other-Secret-2026") is True
    assert ldap_auth.check_password_sync(by_uid, "moussa.ba2", "Other-Secret-2026") is False


async def test_injection_through_the_api(
    client: AsyncClient, ldap_settings: Settings, db: Database, agencies: dict[str, Any]
) -> None:
    await _ldap_staff(db, ldap_settings, "awa.ndiaye", agencies["DKC"].id)
    for attack in ("*", "*)(uid=*", "awa*"):
        response = await client.post(f"{API}/auth/staff/login", json={"login": attack, "password": PASSWORD})
        assert response.status_code == 401, attack


@pytest.mark.settings(ldap_url="ldap://127.0.0.1:9")  # nothing listens there: the directory is down
async def test_directory_down_is_503(
    client: AsyncClient, ldap_settings: Settings, db: Database, agencies: dict[str, Any]
) -> None:
    await _ldap_staff(db, ldap_settings, "awa.ndiaye", agencies["DKC"].id)
    response = await client.post(
        f"{API}/auth/staff/login", json={"login": "awa.ndiaye", "password": PASSWORD}
    )
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
