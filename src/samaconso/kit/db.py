"""PostgreSQL access: SQLAlchemy 2 async over asyncpg, safe behind PgBouncer in transaction mode.

PgBouncer (transaction pooling) may hand each transaction to a different server connection, so
nothing may rely on session state: no named prepared statements cached across transactions
(asyncpg's statement cache is disabled and each prepared statement gets a unique name), no
``SET`` outside a transaction, no advisory session locks.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, DateTime, Engine, MetaData, event, exc, func, make_url, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import Uuid

from samaconso.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        uuid.UUID: Uuid(as_uuid=True),
    }


class UUIDPk:
    """Random UUID primary key: ids are not guessable and not sequential."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    """Creation/update times set by the database clock, always UTC-aware."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), nullable=False
    )


def keyset_after(
    columns: tuple[Any, Any], after: tuple[Any, Any], *, descending: bool
) -> ColumnElement[bool]:
    """Rows strictly after a keyset cursor (e.g. ``(created_at, id)``) in the list's order, as one
    row-value comparison (PostgreSQL serves it from an index on those columns)."""
    row, mark = tuple_(*columns), tuple_(*after)
    return row < mark if descending else row > mark


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def make_engine(settings: Settings, *, url: str | None = None, pool_size: int | None = None) -> AsyncEngine:
    connect_args: dict[str, Any] = {
        "timeout": 5,
        "command_timeout": settings.database_statement_timeout_ms / 1000 + 5,
        "server_settings": {"application_name": f"samaconso-{settings.instance_name}"},
    }
    # PgBouncer >= 1.21 with max_prepared_statements maps the clients' named statements onto its
    # servers' own: asyncpg's and SQLAlchemy's statement caches are safe behind it (one Parse per
    # statement and connection instead of one per execution). An older one would hand a cached
    # statement to a server that never prepared it: the caches are off.
    caches_off = settings.database_behind_pgbouncer and not settings.database_pgbouncer_prepared_statements
    if caches_off:
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = _unique_statement_name
    if settings.database_behind_pgbouncer:
        # PgBouncer forwards only a few start-up parameters; keep the packet minimal.
        connect_args.pop("server_settings")
    target = make_url(url or settings.database_url)
    if caches_off:
        # SQLAlchemy keeps its own cache of prepared statements per connection: off as well.
        target = target.update_query_dict({"prepared_statement_cache_size": "0"})
    ping_every_checkout = settings.database_pool_pre_ping and settings.database_pool_ping_idle_s == 0
    engine = create_async_engine(
        target,
        pool_size=pool_size or settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_s,
        pool_pre_ping=ping_every_checkout,
        # SQL errors (which may reach logs with a traceback) never carry bound values: PIN hashes, tokens.
        hide_parameters=True,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    if settings.database_pool_pre_ping and not ping_every_checkout:
        _ping_when_idle(engine.sync_engine, settings.database_pool_ping_idle_s)
    return engine


_CHECKED_IN_AT = "samaconso_checked_in_at"


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection at checkout only when it sat idle ``idle_s`` or longer.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: three round trips (asyncpg: BEGIN, a
    statement, ROLLBACK) before each request's own — the largest cost of a cached read's miss once
    measured (README, hot path). A connection in steady use has just proved itself; one that waited
    (a quiet night, PgBouncer or the network restarted meanwhile) is pinged, and a dead one is
    replaced before the request uses it (``DisconnectionError``: the pool connects anew)."""
    pool = engine.pool
    dialect = engine.dialect

    @event.listens_for(pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since < idle_s:
            return  # new (it just connected) or in steady use
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:  # the driver's own error for a closed socket or a gone server
            raise exc.DisconnectionError("pooled connection lost while idle") from error
        if not alive:
            raise exc.DisconnectionError("pooled connection lost while idle")


class Database:
    """One engine and session factory, built at start-up (app lifespan, worker process, command).

    Its sessions are of a class of their own (``session_class``), so session events (the outbox's
    after-commit publish) are attached to this database only, never to every session of the process."""

    def __init__(self, settings: Settings, *, url: str | None = None) -> None:
        self.engine = make_engine(settings, url=url)
        self.session_class: type[Session] = type("DatabaseSession", (Session,), {})
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False, sync_session_class=self.session_class
        )

    async def dispose(self) -> None:
        await self.engine.dispose()
