"""The legacy gateway: one object the services call, one connection pool and circuit breaker per
legacy database (SIC, HISTH2MC, BI_ODS).

* ``legacy_backend=mssql`` (production): SQLAlchemy's ``mssql+pymssql`` engine (a blocking driver)
  run in worker threads (``anyio.to_thread`` with a capacity limiter the size of the pool), login and
  query timeouts on the driver, TLS encryption required by default, bounded pool.
* ``legacy_backend=simulated``: the same statements on PostgreSQL (asyncpg) where the logical
  schemas ``sic``/``histh2mc``/``bi_ods`` exist as schemas of one database.

Every call runs under the database's :class:`CircuitBreaker` with an overall deadline of
``legacy_timeout_s``: a database that is down or slow turns into ``503 + Retry-After`` for the
endpoints that need it and nothing else.

Two levels: the row methods (``prepaid_meter``, ``purchases_between``…) answer the legacy rows as
plain JSON-able dicts, exactly as the queries name their columns (tested against the legacy
schema); the record methods (``meter``, ``purchases``, ``bills``…) are what services call: they
cache the rows in Redis (customer data 1 h, purchases/bills/totals 5 min, misses never) and answer
typed records (``legacy/records.py``), so no legacy column name leaves this package.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol

import anyio
import structlog
from sqlalchemy import Engine, Executable, create_engine, make_url
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from samaconso.kit.cache import Cache
from samaconso.kit.outbound import CircuitBreaker
from samaconso.legacy import queries as q
from samaconso.legacy import records
from samaconso.legacy.tables import BI_ODS, HISTH2MC, MSSQL_SCHEMA_MAP, SIC, SIMULATED_SCHEMA_MAP
from samaconso.settings import Settings

log = structlog.get_logger(__name__)

Row = dict[str, Any]

# Each logical database is a separate outbound target (metrics label, breaker).
DATABASES = (SIC, HISTH2MC, BI_ODS)
SERVICE_NAME = {SIC: "legacy_sic", HISTH2MC: "legacy_histh2mc", BI_ODS: "legacy_bi_ods"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip()
    return value


def _rows(result_rows: Any) -> list[Row]:
    return [{k: _jsonable(v) for k, v in row._mapping.items()} for row in result_rows]


def simulated_url(settings: Settings) -> str:
    """The simulated source: ``legacy_simulated_url``, or the app database with ``_legacy`` appended."""
    if settings.legacy_simulated_url:
        return settings.legacy_simulated_url
    url = make_url(settings.database_url)
    return url.set(database=f"{url.database}_legacy").render_as_string(hide_password=False)


class Source(Protocol):
    async def fetch(self, stmt: Executable) -> list[Row]: ...

    async def execute(self, stmt: Executable) -> None: ...

    async def dispose(self) -> None: ...


class SimulatedSource:
    """PostgreSQL stand-in for a SQL Server database (asyncpg, bounded pool, timeouts)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.execution_options(schema_translate_map=SIMULATED_SCHEMA_MAP)
        self._owner = engine

    @classmethod
    def create(cls, url: str, *, pool_size: int, timeout_s: float) -> SimulatedSource:
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=timeout_s,
            pool_pre_ping=True,
            pool_recycle=600,
            connect_args={"timeout": timeout_s, "command_timeout": timeout_s},
        )
        return cls(engine)

    async def fetch(self, stmt: Executable) -> list[Row]:
        async with self.engine.connect() as conn:
            result = await conn.execute(stmt)
            return _rows(result.fetchall())

    async def execute(self, stmt: Executable) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(stmt)

    async def dispose(self) -> None:
        await self._owner.dispose()


class MssqlSource:
    """SQL Server through pymssql (FreeTDS, TLS) in worker threads; never blocks the event loop."""

    def __init__(self, engine: Engine, pool_size: int) -> None:
        self.engine = engine.execution_options(schema_translate_map=MSSQL_SCHEMA_MAP)
        self._owner = engine
        self.limiter = anyio.CapacityLimiter(pool_size)

    @classmethod
    def create(cls, url: str, *, pool_size: int, timeout_s: float) -> MssqlSource:
        target: URL = make_url(url)
        if target.drivername == "mssql":
            target = target.set(drivername="mssql+pymssql")
        query = dict(target.query)
        encryption = str(query.pop("encryption", "require"))
        target = target.set(query=query)
        seconds = max(1, round(timeout_s))
        engine = create_engine(
            target,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=timeout_s,
            pool_pre_ping=True,
            pool_recycle=600,
            connect_args={
                "login_timeout": seconds,
                "timeout": seconds,
                "encryption": encryption,
                "appname": "samaconso",
            },
        )
        return cls(engine, pool_size)

    async def _in_thread(self, fn: Callable[[], Any]) -> Any:
        # abandon_on_cancel: when the deadline passes the request answers at once; the thread
        # finishes on its own, bounded by the driver's query timeout.
        return await anyio.to_thread.run_sync(fn, limiter=self.limiter, abandon_on_cancel=True)

    async def fetch(self, stmt: Executable) -> list[Row]:
        def run() -> list[Row]:
            with self.engine.connect() as conn:
                return _rows(conn.execute(stmt).fetchall())

        rows: list[Row] = await self._in_thread(run)
        return rows

    async def execute(self, stmt: Executable) -> None:
        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(stmt)

        await self._in_thread(run)

    async def dispose(self) -> None:
        await anyio.to_thread.run_sync(self._owner.dispose)


CUSTOMER_DATA_TTL_S = 3600  # who a meter belongs to, contracts, SAP accounts
CONSUMPTION_TTL_S = 300  # purchases, bills, monthly totals
NOTICE_TTL_S = 300  # subscription-request steps


def _span(first: date, last: date) -> tuple[datetime, datetime]:
    return datetime.combine(first, time.min), datetime.combine(last, time.max).replace(microsecond=0)


class LegacyGateway:
    """Typed async access to every legacy query. Raises ``AppError(503)`` when a database fails."""

    def __init__(self, sources: dict[str, Source], timeout_s: float, cache: Cache | None = None) -> None:
        self.sources = sources
        self.cache = cache
        self.timeout_s = timeout_s
        # the whole call (pool wait, connect, query) ends a little before the API's 3 s promise
        self.deadline_s = max(0.5, timeout_s - 0.25)
        self.breakers = {
            name: CircuitBreaker(SERVICE_NAME[name], failure_threshold=3, reset_timeout_s=15.0)
            for name in DATABASES
        }

    @classmethod
    def from_settings(cls, settings: Settings, cache: Cache | None = None) -> LegacyGateway:
        timeout = settings.legacy_timeout_s
        sources: dict[str, Source] = {}
        if settings.legacy_backend == "mssql":
            urls = {
                SIC: settings.legacy_sic_url,
                HISTH2MC: settings.legacy_histh2mc_url,
                BI_ODS: settings.legacy_bi_ods_url,
            }
            for name, url in urls.items():
                if not url:
                    raise RuntimeError(
                        f"SAMACONSO_LEGACY_{name.upper()}_URL is required with legacy_backend=mssql"
                    )
                sources[name] = MssqlSource.create(
                    url, pool_size=settings.legacy_pool_size, timeout_s=timeout
                )
        else:
            shared = SimulatedSource.create(
                simulated_url(settings), pool_size=settings.legacy_pool_size, timeout_s=timeout
            )
            sources = dict.fromkeys(DATABASES, shared)
        return cls(sources, timeout, cache)

    async def dispose(self) -> None:
        seen: set[int] = set()
        for source in self.sources.values():
            if id(source) not in seen:
                seen.add(id(source))
                await source.dispose()

    async def _fetch(self, database: str, stmt: Executable) -> list[Row]:
        source = self.sources[database]
        return await self.breakers[database].call_or_503(
            SERVICE_NAME[database], functools.partial(source.fetch, stmt), timeout_s=self.deadline_s
        )

    async def _first(self, database: str, stmt: Executable) -> Row | None:
        rows = await self._fetch(database, stmt)
        return rows[0] if rows else None

    # --- SIC --------------------------------------------------------------------------------------
    async def prepaid_meter(self, meter: str) -> Row | None:
        return await self._first(SIC, q.prepaid_meter_check(meter))

    async def postpaid_contract(self, contract: str) -> Row | None:
        return await self._first(SIC, q.postpaid_contract_check(contract))

    async def prepaid_phones(self, meters: list[str]) -> list[Row]:
        return await self._fetch(SIC, q.prepaid_phones(meters))

    async def postpaid_phones(self, contracts: list[str]) -> list[Row]:
        return await self._fetch(SIC, q.postpaid_phones(contracts))

    async def prepaid_admin_by_phone(self, phone: str) -> list[Row]:
        return await self._fetch(SIC, q.prepaid_admin_by_phone(phone))

    async def prepaid_admin_by_meter(self, meter: str) -> list[Row]:
        return await self._fetch(SIC, q.prepaid_admin_by_meter(meter))

    async def purchases_top(self, meter: str, poc: str) -> list[Row]:
        return await self._fetch(SIC, q.purchases_top(meter, poc))

    async def purchases_between(self, meter: str, poc: str, start: datetime, end: datetime) -> list[Row]:
        return await self._fetch(SIC, q.purchases_between(meter, poc, start, end))

    async def purchases_top_by_phone(self, phone: str) -> list[Row]:
        return await self._fetch(SIC, q.purchases_top_by_phone(phone))

    async def purchases_monthly(self, meter: str, poc: str, year: int) -> list[Row]:
        return await self._fetch(SIC, q.purchases_monthly(meter, poc, year))

    async def purchases_last_via_new(self, meter: str) -> list[Row]:
        return await self._fetch(SIC, q.purchases_last_via_new(meter))

    async def record_app_meter(self, number: str, kind: str) -> bool:
        """Best effort: tell SIC the meter joined the app. Never raises; returns whether it worked."""
        source = self.sources[SIC]
        try:
            with anyio.fail_after(self.deadline_s):
                await source.execute(q.record_app_meter(number, kind))
        except Exception as exc:  # best effort by design
            log.warning("legacy_record_app_meter_failed", error=type(exc).__name__)
            return False
        return True

    # --- HISTH2MC ---------------------------------------------------------------------------------
    async def bills_top(self, contract: str) -> list[Row]:
        return await self._fetch(HISTH2MC, q.bills_top(contract))

    async def bills_between(self, contract: str, start: date, end: date) -> list[Row]:
        return await self._fetch(HISTH2MC, q.bills_between(contract, start, end))

    async def bills_last_light(self, contract: str) -> list[Row]:
        return await self._fetch(HISTH2MC, q.bills_last_light(contract))

    async def bills_monthly(self, contract: str, year: int) -> list[Row]:
        return await self._fetch(HISTH2MC, q.bills_monthly(contract, year))

    async def contract_details(self, contract: str) -> Row | None:
        return await self._first(HISTH2MC, q.contract_details(contract))

    # --- BI_ODS -----------------------------------------------------------------------------------
    async def sap_accounts_by_phone(self, phone: str) -> list[Row]:
        return await self._fetch(BI_ODS, q.sap_accounts_by_phone(phone))

    async def subscription_notice_steps(self, notice: str) -> list[Row]:
        return await self._fetch(BI_ODS, q.subscription_notice_steps(notice))

    # --- records: cached, typed (what services call) ------------------------------------------
    async def _meter_row(self, kind: str, number: str) -> Row | None:
        if kind == "prepaid":
            return await self.prepaid_meter(number)
        return await self.postpaid_contract(number)

    async def meter(self, kind: str, number: str) -> records.MeterRecord | None:
        """A prepaid meter (``kind`` "prepaid") or a contract account; None when unknown (misses
        are not cached)."""
        key = f"legacy:meter:{kind}:{number}"
        cache = self.cache
        cached: dict[str, Any] | None = await cache.get(key) if cache is not None else None
        if cached is not None:
            return records.meter_from_json(cached)
        row = await self._meter_row(kind, number)
        if row is None:
            return None
        found = records.prepaid_meter(row) if kind == "prepaid" else records.postpaid_contract(row)
        if cache is not None:
            await cache.set(key, dataclasses.asdict(found), CUSTOMER_DATA_TTL_S)
        return found

    async def _cached(self, key: str, ttl_s: int, load: Callable[[], Any]) -> Any:
        if self.cache is None:
            return await load()
        return await self.cache.get_or_load(f"legacy:{key}", ttl_s, load)

    async def purchases(
        self, meter_number: str, poc: str, first: date, last: date
    ) -> list[records.PurchaseRecord]:
        """Purchases of a prepaid meter between two days (both included), in no particular order."""
        start, end = _span(first, last)
        rows = await self._cached(
            f"purchases:{meter_number}:{poc}:{first.isoformat()}:{last.isoformat()}",
            CONSUMPTION_TTL_S,
            lambda: self.purchases_between(meter_number, poc, start, end),
        )
        return [records.purchase(r) for r in rows]

    async def latest_purchases(self, meter_number: str, poc: str) -> list[records.PurchaseRecord]:
        rows = await self._cached(
            f"purchases:top:{meter_number}:{poc}",
            CONSUMPTION_TTL_S,
            lambda: self.purchases_top(meter_number, poc),
        )
        return [records.purchase(r) for r in rows]

    async def bills(self, contract: str, first: date, last: date) -> list[records.BillRecord]:
        rows = await self._cached(
            f"bills:{contract}:{first.isoformat()}:{last.isoformat()}",
            CONSUMPTION_TTL_S,
            lambda: self.bills_between(contract, first, last),
        )
        return [records.bill(r) for r in rows]

    async def monthly_purchases(self, meter_number: str, poc: str, year: int) -> list[records.MonthTotal]:
        rows = await self._cached(
            f"monthly:p:{meter_number}:{poc}:{year}",
            CONSUMPTION_TTL_S,
            lambda: self.purchases_monthly(meter_number, poc, year),
        )
        return [records.month_total(r) for r in rows]

    async def monthly_bills(self, contract: str, year: int) -> list[records.MonthTotal]:
        rows = await self._cached(
            f"monthly:b:{contract}:{year}",
            CONSUMPTION_TTL_S,
            lambda: self.bills_monthly(contract, year),
        )
        return [records.month_total(r) for r in rows]

    async def contract(self, contract_account: str) -> records.ContractDetails | None:
        async def load() -> dict[str, Any]:
            return {"details": await self.contract_details(contract_account)}

        data = await self._cached(f"contract:{contract_account}", CUSTOMER_DATA_TTL_S, load)
        details = data.get("details")
        return records.contract_details(details) if details else None

    async def sap_accounts(self, national_phone: str) -> list[records.SapAccount]:
        rows = await self._cached(
            f"sap:{national_phone}",
            CUSTOMER_DATA_TTL_S,
            lambda: self.sap_accounts_by_phone(national_phone),
        )
        return [records.sap_account(r) for r in rows]

    async def meters_of_phone(self, national_phone: str) -> list[records.PhoneMeter]:
        """Prepaid meters (HEXING administrative data) then contracts (SAP) registered under a phone, in
        the legacy systems' order (stable for the cache's lifetime)."""

        async def load() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            for row in await self.prepaid_admin_by_phone(national_phone):
                entry = records.prepaid_admin(row)
                if entry is not None:
                    found.append({"kind": entry.kind, "number": entry.number, "name": entry.customer_name})
            for account in map(records.sap_account, await self.sap_accounts_by_phone(national_phone)):
                if account.contract_account:
                    found.append(
                        {
                            "kind": "postpaid",
                            "number": account.contract_account,
                            "name": account.customer_name,
                        }
                    )
            return found

        rows = await self._cached(f"byphone:{national_phone}", CUSTOMER_DATA_TTL_S, load)
        return [records.PhoneMeter(kind=r["kind"], number=r["number"], customer_name=r["name"]) for r in rows]

    async def notice_steps(self, notice: str) -> list[records.NoticeStep]:
        rows = await self._cached(
            f"notice:{notice}", NOTICE_TTL_S, lambda: self.subscription_notice_steps(notice)
        )
        return [records.notice_step(r) for r in rows]
