"""The one response cache of the hot reads (issue 17): whole JSON answers per user, in Redis —
its generations and entries (the HTTP side, no framework here: ``kit/response_cache.py``).

What is cached: the bytes of a ``200`` answer to a ``GET`` of a route listed by the app
(``app.py``: ``HOT_READS``, served by ``kit/response_cache.py``), per signed-in user, path,
query string and language. Nothing else.

How it stays fresh (one ``INCR``, no key scan):

* every entry's key carries the user's *generation* (``respgen:u:<user>``), the *everyone*
  generation (``respgen:all``), for a meter's own routes the meter's (``respgen:m:<meter>``) and,
  for the feed routes (the list, the unread count), the *everyone's feeds* generation
  (``respgen:feed``): a broadcast or a withdrawal changes every feed, not every profile, meter
  list or summary — after a national push the app's other hot reads stay cached;
  A change bumps a generation, so the next read builds a new key: the old entry is never read again
  and expires on its own;
* a service (or repository) that changes what a user sees calls :func:`changed` (that user),
  :func:`feeds_changed_for_everyone` (a broadcast, a withdrawal) or :func:`changed_for_everyone`
  on its session;
  ORM rows mark by themselves (``after_flush``): ``users`` rows and rows carrying a ``user_id``
  (links, devices, sessions…) their user, ``meters`` rows their meter, the shared rows (agencies,
  tariff grid) everyone; a bulk statement on meters or shared rows marks everyone. The generations
  are bumped once the transaction commits (never on rollback), before the request's answer leaves
  (``kit/transaction.py``'s after-commit work);
* the session check runs before every cached answer: a revoked session gets its 401 at once;
* every entry also lives at most ``response_cache_ttl_s`` seconds (the stated staleness of what no
  hook sees: a meter's fields in the lists of its other users, legacy data — itself cached 5 min by
  the gateway), at least three quarters of it: the life is drawn at random in between, so entries
  written in one burst do not expire in one wave of misses.

Fail-open: when Redis misbehaves the request goes to the route as if nothing were cached.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from samaconso.kit.db import Database
from samaconso.kit.transaction import AFTER_COMMIT_KEY

log = structlog.get_logger(__name__)

USERS_KEY = "samaconso_changed_users"
METERS_KEY = "samaconso_changed_meters"
EVERYONE_KEY = "samaconso_changed_everyone"
FEEDS_KEY = "samaconso_changed_feeds"
# rows every user's answers may show: a change to one invalidates everyone's entries
SHARED_TABLES = frozenset({"agencies", "tariff_versions", "tariff_tranches", "tariff_bands"})
GENERATION_TTL_S = 86_400  # ≫ any entry's TTL: a generation that expired had no entry left to serve
USER_GENERATION = "respgen:u:"
EVERYONE_GENERATION = "respgen:all"
METER_GENERATION = "respgen:m:"
FEED_GENERATION = "respgen:feed"
ENTRY = "resp:"

# One round trip for a read: the caller's session state, the generations and the entry they
# designate.
_LOOKUP = """
local gu = redis.call('GET', KEYS[1]) or '0'
local ga = redis.call('GET', KEYS[2]) or '0'
local gm = '-'
if ARGV[3] == '1' then gm = redis.call('GET', KEYS[4]) or '0' end
if ARGV[4] == '1' then ga = ga .. '.' .. (redis.call('GET', KEYS[5]) or '0') end
local key = ARGV[1] .. gu .. ':' .. ga .. ':' .. gm .. ':' .. ARGV[2]
return {gu, ga, gm, redis.call('GET', key), redis.call('GET', KEYS[3])}
"""


def changed(session: AsyncSession | Session, *user_ids: uuid.UUID | str) -> None:
    """What these users see changes with this transaction: their cached reads go once it commits."""
    session.info.setdefault(USERS_KEY, set()).update(str(u) for u in user_ids)


def changed_for_everyone(session: AsyncSession | Session) -> None:
    """A change every user may see in any hot read (agencies, the tariff grid)."""
    session.info[EVERYONE_KEY] = True


def feeds_changed_for_everyone(session: AsyncSession | Session) -> None:
    """A change of every user's feed only (a broadcast, a withdrawn notification): the feed routes'
    entries go, the others stay."""
    session.info[FEEDS_KEY] = True


class ResponseCache:
    """Generations and entries in Redis; attached to a database to bump after its commits."""

    def __init__(self, redis: Redis, ttl_s: int, *, enabled: bool = True) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.enabled = enabled and ttl_s > 0
        self._lookup = redis.register_script(_LOOKUP)
        self._attached: list[Database] = []
        self.pending: set[asyncio.Task[None]] = set()

    # --- invalidation -----------------------------------------------------------------------------
    async def bump(
        self,
        user_ids: Iterable[str],
        everyone: bool = False,
        meter_ids: Iterable[str] = (),
        *,
        feeds: bool = False,
    ) -> None:
        keys = [USER_GENERATION + u for u in sorted(set(user_ids))]
        keys += [METER_GENERATION + m for m in sorted(set(meter_ids))]
        if everyone:
            keys.append(EVERYONE_GENERATION)
        if feeds:
            keys.append(FEED_GENERATION)
        if not keys:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incr(key)
                    pipe.expire(key, GENERATION_TTL_S)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # the entries still expire within ttl_s: that is the staleness left when Redis is down
            log.warning("cache_unavailable", op="bump", error=type(exc).__name__)

    def attach(self, db: Database) -> None:
        """Bump the generations marked in ``db``'s sessions once each transaction commits."""
        if db in self._attached:
            return
        event.listen(db.session_class, "after_flush", _mark_rows)
        event.listen(db.session_class, "do_orm_execute", _mark_statement)
        event.listen(db.session_class, "after_commit", self._after_commit)
        event.listen(db.session_class, "after_rollback", _forget_marks)
        self._attached.append(db)

    def detach(self) -> None:
        for db in self._attached:
            event.remove(db.session_class, "after_flush", _mark_rows)
            event.remove(db.session_class, "do_orm_execute", _mark_statement)
            event.remove(db.session_class, "after_commit", self._after_commit)
            event.remove(db.session_class, "after_rollback", _forget_marks)
        self._attached.clear()

    def _after_commit(self, session: Session) -> None:
        users: set[str] = session.info.pop(USERS_KEY, set())
        meters: set[str] = session.info.pop(METERS_KEY, set())
        everyone = bool(session.info.pop(EVERYONE_KEY, False))
        feeds = bool(session.info.pop(FEEDS_KEY, False))
        if not users and not meters and not everyone and not feeds:
            return
        try:
            task = asyncio.get_running_loop().create_task(self.bump(users, everyone, meters, feeds=feeds))
        except RuntimeError:  # no loop (a sync caller): the entries' TTL bounds the staleness
            return
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

        async def bumped() -> None:
            await asyncio.shield(task)

        # the request's (or task's) after-commit work waits for the bump: the answer that follows a
        # change never leaves before the change is visible to the next read
        session.info.setdefault(AFTER_COMMIT_KEY, []).append(bumped)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        self.detach()
        if self.pending:
            await asyncio.wait(self.pending, timeout=timeout_s)

    # --- reads ------------------------------------------------------------------------------------
    async def lookup(
        self, user: str, variant: str, session_key: str, meter: str | None = None, *, feed: bool = False
    ) -> tuple[str, bytes | None, bytes | None]:
        """(key to store under on a miss, cached entry or None, the session's cached state or None);
        ``feed``: a feed route's entry, which also carries the everyone's feeds generation."""
        prefix = f"{ENTRY}{user}:"
        gu, ga, gm, raw, session_state = await self._lookup(
            keys=[
                USER_GENERATION + user,
                EVERYONE_GENERATION,
                session_key,
                METER_GENERATION + (meter or "-"),
                FEED_GENERATION,
            ],
            args=[prefix, variant, "1" if meter else "0", "1" if feed else "0"],
        )
        return f"{prefix}{_text(gu)}:{_text(ga)}:{_text(gm)}:{variant}", raw, session_state

    async def store(self, key: str, entry: bytes) -> None:
        await self.redis.set(key, entry, ex=self.entry_ttl_s())

    def entry_ttl_s(self) -> int:
        """An entry's life: ``ttl_s`` less up to a quarter, at random. Entries written together (the
        burst after a broadcast, everyone opening the app) then do not all expire in the same second
        and come back as one wave of misses; the stated staleness (at most ``ttl_s``) still holds."""
        return self.ttl_s - random.randrange(self.ttl_s // 4 + 1)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _mark_rows(session: Session, _flush_context: Any) -> None:
    """Rows of a user (``users``) or carrying a ``user_id`` mark that user as changed; ``meters``
    rows their meter; the shared rows (agencies, tariff grid) everyone."""
    users: set[str] = set()
    meters: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table == "users":
            users.add(str(obj.id))
        elif table == "meters":
            meters.add(str(obj.id))
        elif table in SHARED_TABLES:
            session.info[EVERYONE_KEY] = True
        elif getattr(obj, "user_id", None) is not None:
            users.add(str(obj.user_id))
    if users:
        session.info.setdefault(USERS_KEY, set()).update(users)
    if meters:
        session.info.setdefault(METERS_KEY, set()).update(meters)


def _mark_statement(state: ORMExecuteState) -> None:
    """A bulk INSERT/UPDATE/DELETE of meters or shared rows (no ORM objects to tell which): everyone."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table == "meters" or table in SHARED_TABLES:
        state.session.info[EVERYONE_KEY] = True


def _forget_marks(session: Session) -> None:
    session.info.pop(USERS_KEY, None)
    session.info.pop(METERS_KEY, None)
    session.info.pop(EVERYONE_KEY, None)
    session.info.pop(FEEDS_KEY, None)
