"""Point 3: lockouts tell nothing about which numbers or logins exist, grow for repeat offenders,
and one requester cannot lock a phone's owner out of codes for an hour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text, update

from samaconso.identity.models import AuthSource, Role, User
from samaconso.kit import security
from samaconso.kit.db import Database
from samaconso.settings import Settings
from tests.identity.helpers import API, new_phone, signup
from tests.support.users import make_user

IGNORED_HEADERS = {"x-request-id", "content-length", "date"}


def _shape(response: Response) -> tuple[int, dict[str, str], dict[str, object]]:
    headers = {k: v for k, v in response.headers.items() if k not in IGNORED_HEADERS}
    body = {k: v for k, v in response.json().items() if k != "request_id"}
    return response.status_code, headers, body


async def _end_all_locks(app: FastAPI, db: Database) -> None:
    """Time passes: every lock ends (database locks and the phantom ones in Redis)."""
    async with db.sessionmaker() as s:
        await s.execute(update(User).values(locked_until=User.created_at))
        await s.commit()
    redis = app.state.redis
    async for key in redis.scan_iter(match="rl:phantom:*:lock"):
        await redis.delete(key)


async def _five_wrong(client: AsyncClient, path: str, body: dict[str, str]) -> list[Response]:
    return [await client.post(f"{API}{path}", json=body) for _ in range(6)]


async def test_unknown_number_answers_exactly_like_a_real_one(
    client: AsyncClient, settings: Settings, app: FastAPI, db: Database
) -> None:
    real = (await signup(client, settings))["user"]["phone"]
    ghost = new_phone()
    for round_ in range(2):  # the first lockout, then the second (longer) one
        real_answers = await _five_wrong(client, "/auth/login", {"phone": real, "pin": "9999"})
        ghost_answers = await _five_wrong(client, "/auth/login", {"phone": ghost, "pin": "9999"})
        assert [r.status_code for r in real_answers] == [401, 401, 401, 401, 423, 423]
        assert [_shape(r) for r in real_answers] == [_shape(r) for r in ghost_answers], round_
        assert real_answers[4].headers["retry-after"] == str(900 * 2**round_)
        await _end_all_locks(app, db)


async def test_unknown_staff_login_answers_exactly_like_a_real_one(
    client: AsyncClient, settings: Settings, app: FastAPI, db: Database, agencies: dict[str, object]
) -> None:
    staff = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)  # type: ignore[attr-defined]
    async with db.sessionmaker() as s:
        login = (await s.execute(text("SELECT login FROM users WHERE id = :i"), {"i": staff.id})).scalar_one()
    for round_ in range(2):
        real_answers = await _five_wrong(
            client, "/auth/staff/login", {"login": login, "password": "wrong-pass-123"}
        )
        ghost_answers = await _five_wrong(
            client, "/auth/staff/login", {"login": "nobody.here", "password": "wrong-pass-123"}
        )
        assert [_shape(r) for r in real_answers] == [_shape(r) for r in ghost_answers], round_
        assert real_answers[4].status_code == 423
        assert real_answers[4].headers["retry-after"] == str(900 * 2**round_)
        await _end_all_locks(app, db)


async def test_lockouts_escalate_for_repeat_offenders(
    client: AsyncClient, settings: Settings, app: FastAPI, db: Database
) -> None:
    phone = (await signup(client, settings))["user"]["phone"]
    announced = []
    for _ in range(4):
        answers = await _five_wrong(client, "/auth/login", {"phone": phone, "pin": "0000"})
        announced.append(int(answers[4].headers["retry-after"]))
        await _end_all_locks(app, db)
    assert announced == [900, 1800, 3600, 7200]


@pytest.fixture
async def owner_client(app: FastAPI, db: Database) -> AsyncIterator[AsyncClient]:
    """The phone's owner, on another network than the attacker."""
    transport = ASGITransport(app=app, client=("10.20.30.40", 50001))
    async with AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def _age_codes(db: Database, phone: str, seconds: int) -> None:
    async with db.sessionmaker() as s:
        await s.execute(
            text("UPDATE otp_codes SET created_at = created_at - make_interval(secs => :s) WHERE phone = :p"),
            {"s": seconds, "p": phone},
        )
        await s.commit()


async def test_someone_elses_requests_do_not_block_the_owner_for_an_hour(
    client: AsyncClient, owner_client: AsyncClient, db: Database
) -> None:
    victim = new_phone()
    attacker = []
    for _ in range(4):
        attacker.append(await client.post(f"{API}/auth/otp", json={"phone": victim, "purpose": "signup"}))
        await _age_codes(db, victim, 300)  # a few minutes between the attacker's requests
    assert [r.status_code for r in attacker] == [202, 202, 202, 429]
    assert int(attacker[3].headers["retry-after"]) > 2000  # the attacker waits for the hour to end
    owner = await owner_client.post(f"{API}/auth/otp", json={"phone": victim, "purpose": "signup"})
    assert owner.status_code == 202, owner.text  # the owner is not locked out by someone else


async def test_codes_to_one_phone_back_off_and_stay_bounded(app: FastAPI, db: Database) -> None:
    victim = new_phone()
    statuses = []
    for n in range(8):
        transport = ASGITransport(app=app, client=(f"10.9.9.{n + 1}", 50000))
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            first = await http.post(f"{API}/auth/otp", json={"phone": victim, "purpose": "signup"})
            statuses.append(first.status_code)
        if n == 3:  # beyond one requester's quota, codes to the phone back off
            transport = ASGITransport(app=app, client=("10.9.8.1", 50000))
            async with AsyncClient(transport=transport, base_url="http://testserver") as http:
                again = await http.post(f"{API}/auth/otp", json={"phone": victim, "purpose": "signup"})
            assert again.status_code == 429
            assert 60 < int(again.headers["retry-after"]) <= 120
        await _age_codes(db, victim, 480)  # 8 minutes pass: beyond every backoff step used here
    assert statuses[:6] == [202] * 6
    assert statuses[6] == 429  # 6 codes per phone per hour, whoever asks


class _CountingHasher:
    """The app's Argon2id hasher, counting the verifications it runs."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.verified = 0

    def verify(self, stored: str, secret: str) -> bool:
        self.verified += 1
        return bool(self.inner.verify(stored, secret))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> _CountingHasher:
    spy = _CountingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", spy)
    return spy


async def _costs(
    client: AsyncClient, hasher: _CountingHasher, path: str, body: dict[str, str], tries: int = 6
) -> list[tuple[int, int]]:
    """(status, hashes run) of each attempt."""
    found = []
    for _ in range(tries):
        before = hasher.verified
        r = await client.post(f"{API}{path}", json=body)
        found.append((r.status_code, hasher.verified - before))
    return found


async def test_every_login_attempt_costs_one_hash_known_unknown_or_locked(
    client: AsyncClient, settings: Settings, db: Database, agencies: dict[str, Any], hasher: _CountingHasher
) -> None:
    """Timing: a locked account used to answer 423 without hashing while an unknown one hashed
    first, so the time of a 423 told whether the number had an account. Every path now runs the
    hasher exactly once (the code path is asserted, not the wall clock)."""
    wrong = [(401, 1)] * 4 + [(423, 1), (423, 1)]
    real = (await signup(client, settings))["user"]["phone"]
    assert await _costs(client, hasher, "/auth/login", {"phone": real, "pin": "9999"}) == wrong
    assert await _costs(client, hasher, "/auth/login", {"phone": new_phone(), "pin": "9999"}) == wrong
    # the right PIN of a locked account: still one hash, still locked
    assert await _costs(client, hasher, "/auth/login", {"phone": real, "pin": "2580"}, 1) == [(423, 1)]

    staff = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    directory_agent = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    async with db.sessionmaker() as s:
        login = (await s.execute(text("SELECT login FROM users WHERE id = :i"), {"i": staff.id})).scalar_one()
        await s.execute(
            update(User)
            .where(User.id == directory_agent.id)
            .values(login="awa.ldap", auth_source=AuthSource.ldap, password_hash=None)
        )
        await s.commit()
    for name in (login, "nobody.here"):
        body = {"login": name, "password": "wrong-pass-123"}
        assert await _costs(client, hasher, "/auth/staff/login", body) == wrong, name
    # a directory account costs the same hash (the directory is off here: 503 after it)
    ldap_try = {"login": "awa.ldap", "password": "wrong-pass-123"}
    assert await _costs(client, hasher, "/auth/staff/login", ldap_try, 1) == [(503, 1)]
    async with db.sessionmaker() as s:
        await s.execute(
            update(User)
            .where(User.id == directory_agent.id)
            .values(locked_until=text("now() + interval '1 hour'"))
        )
        await s.commit()
    assert await _costs(client, hasher, "/auth/staff/login", ldap_try, 1) == [(423, 1)]
