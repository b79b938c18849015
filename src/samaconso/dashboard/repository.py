"""All SQL of the dashboard: aggregate queries only (nothing is loaded row by row into Python).

The rollup queries compute every agency and the national figures in a handful of passes
(``GROUPING SETS`` / one temporary table of active (agency, user) pairs); they run in the periodic
refresh, not in the request path. The live queries (requests) use index-only scans.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.dashboard.models import NATIONAL, DashboardDaily, DashboardRollup

# A transaction-level advisory lock (PgBouncer-safe): one refresh at a time across the platform.
REFRESH_LOCK_KEY = 0x5A4D_DA5B


async def tune_for_aggregates(session: AsyncSession) -> None:
    # JIT compilation costs more than it saves on these short aggregates; hash joins want memory.
    await session.execute(text("SET LOCAL jit = off"))
    await session.execute(text("SET LOCAL work_mem = '64MB'"))


async def try_refresh_lock(session: AsyncSession) -> bool:
    return bool(
        (
            await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": REFRESH_LOCK_KEY})
        ).scalar()
    )


async def _rows(session: AsyncSession, sql: str, **params: Any) -> Sequence[RowMapping]:
    return (await session.execute(text(sql), params)).mappings().all()


async def agency_ids(session: AsyncSession) -> list[str]:
    return [str(r["id"]) for r in await _rows(session, "SELECT id FROM agencies")]


async def links_by_scope(session: AsyncSession) -> Sequence[RowMapping]:
    """Link counts per meter agency (``agency`` NULL and ``national`` 0: meters without agency) and
    nationally (``national`` 1)."""
    return await _rows(
        session,
        """
        SELECT m.agency_id::text AS agency, GROUPING(m.agency_id) AS national,
               count(*) AS total,
               count(*) FILTER (WHERE l.status = 'active') AS active,
               count(*) FILTER (WHERE l.status = 'pending') AS pending,
               count(*) FILTER (WHERE l.status = 'refused') AS refused,
               count(*) FILTER (WHERE l.status = 'revoked') AS revoked,
               count(*) FILTER (WHERE l.status = 'active' AND m.kind = 'prepaid') AS active_prepaid,
               count(*) FILTER (WHERE l.status = 'active' AND m.kind = 'postpaid') AS active_postpaid,
               count(*) FILTER (WHERE l.status = 'active' AND l.is_owner) AS active_owner_links,
               count(*) FILTER (WHERE l.status = 'active' AND NOT l.is_owner) AS active_shared_links
        FROM meter_links l JOIN meters m ON m.id = l.meter_id
        GROUP BY GROUPING SETS ((m.agency_id), ())
        """,
    )


async def build_active_pairs(session: AsyncSession) -> None:
    """Temporary table (dropped at commit) of (agency, user) with an active link, and the user's role
    there: owner of at least one meter, and/or shared access to one."""
    await session.execute(
        text(
            """
            CREATE TEMP TABLE dash_active_pairs ON COMMIT DROP AS
            SELECT m.agency_id, l.user_id, bool_or(l.is_owner) AS owner, bool_or(NOT l.is_owner) AS shared
            FROM meter_links l JOIN meters m ON m.id = l.meter_id
            WHERE l.status = 'active'
            GROUP BY m.agency_id, l.user_id
            """
        )
    )
    await session.execute(text("ANALYZE dash_active_pairs"))


async def users_by_agency(session: AsyncSession) -> Sequence[RowMapping]:
    return await _rows(
        session,
        """
        SELECT p.agency_id::text AS agency, count(*) AS customers,
               count(*) FILTER (WHERE p.owner) AS owners, count(*) FILTER (WHERE p.shared) AS shared_users,
               coalesce(sum(d.n), 0) AS active_devices
        FROM dash_active_pairs p
        LEFT JOIN (SELECT user_id, count(*) AS n FROM devices WHERE is_active GROUP BY user_id) d
               ON d.user_id = p.user_id
        WHERE p.agency_id IS NOT NULL
        GROUP BY p.agency_id
        """,
    )


async def users_national(session: AsyncSession) -> RowMapping:
    rows = await _rows(
        session,
        """
        WITH per_user AS (
            SELECT user_id, bool_or(owner) AS owner, bool_or(shared) AS shared
            FROM dash_active_pairs GROUP BY user_id
        )
        SELECT (SELECT count(*) FROM users WHERE role = 'customer' AND deleted_at IS NULL) AS customers,
               (SELECT count(*) FROM per_user) AS customers_with_meter,
               (SELECT count(*) FROM per_user WHERE owner) AS owners,
               (SELECT count(*) FROM per_user WHERE shared) AS shared_users,
               (SELECT count(*) FROM devices d JOIN users u ON u.id = d.user_id
                 WHERE d.is_active AND u.role = 'customer') AS active_devices
        """,
    )
    return rows[0]


async def signups_by_day(session: AsyncSession, since: datetime) -> Sequence[RowMapping]:
    """Customer sign-ups per UTC day since ``since``: nationally (``agency`` NULL, ``national`` 1) and
    per agency of the customers' active meters (``national`` 0)."""
    return await _rows(
        session,
        """
        SELECT NULL::text AS agency, 1 AS national, (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
        FROM users WHERE role = 'customer' AND created_at >= :since
        GROUP BY 3
        UNION ALL
        SELECT p.agency_id::text, 0, (u.created_at AT TIME ZONE 'UTC')::date, count(*)
        FROM dash_active_pairs p JOIN users u ON u.id = p.user_id
        WHERE u.created_at >= :since AND p.agency_id IS NOT NULL
        GROUP BY 1, 3
        """,
        since=since,
    )


async def notifications_daily(session: AsyncSession, since: datetime) -> Sequence[RowMapping]:
    """Per UTC day since ``since``, nationally (``agency`` NULL) and per agency: notifications
    addressed to the scope and the pushes that reached a final state / were delivered.

    Per agency: broadcasts to everyone / all agencies / this agency (or an outage zone including it),
    messages about its meters, personal messages to its customers; pushes to its customers' devices.
    """
    return await _rows(
        session,
        """
        WITH recent AS (
            SELECT id, (created_at AT TIME ZONE 'UTC')::date AS day, target_kind, target_user_id,
                   target_meter_id, target_agency_ids
            FROM notifications WHERE created_at >= :since
        ),
        addressed AS (
            SELECT a.id AS agency_id, r.id, r.day
            FROM recent r JOIN agencies a
              ON r.target_kind IN ('everyone', 'all_agencies') OR a.id = ANY (r.target_agency_ids)
            UNION
            SELECT m.agency_id, r.id, r.day
            FROM recent r JOIN meters m ON m.id = r.target_meter_id
            WHERE m.agency_id IS NOT NULL
            UNION
            SELECT p.agency_id, r.id, r.day
            FROM recent r JOIN dash_active_pairs p ON p.user_id = r.target_user_id
            WHERE p.agency_id IS NOT NULL
        ),
        sent AS (
            SELECT NULL::text AS agency, day, count(*) AS sent FROM recent GROUP BY day
            UNION ALL
            SELECT agency_id::text, day, count(*) FROM addressed GROUP BY agency_id, day
        ),
        pushes AS (
            SELECT r.day, d.status, dv.user_id
            FROM notification_deliveries d
            JOIN recent r ON r.id = d.notification_id
            JOIN devices dv ON dv.id = d.device_id
            WHERE d.status IN ('sent', 'failed', 'dead')
        ),
        pushed AS (
            SELECT NULL::text AS agency, day, count(*) AS attempts,
                   count(*) FILTER (WHERE status = 'sent') AS delivered
            FROM pushes GROUP BY day
            UNION ALL
            SELECT p.agency_id::text, x.day, count(*), count(*) FILTER (WHERE x.status = 'sent')
            FROM pushes x
            JOIN (SELECT DISTINCT agency_id, user_id FROM dash_active_pairs WHERE agency_id IS NOT NULL) p
              ON p.user_id = x.user_id
            GROUP BY p.agency_id, x.day
        )
        SELECT coalesce(s.agency, p.agency) AS agency, coalesce(s.day, p.day) AS day,
               coalesce(s.sent, 0) AS sent, coalesce(p.attempts, 0) AS attempts,
               coalesce(p.delivered, 0) AS delivered
        FROM sent s
        FULL JOIN pushed p ON p.agency IS NOT DISTINCT FROM s.agency AND p.day = s.day
        """,
        since=since,
    )


async def known_notification_days(session: AsyncSession, first: date, last: date) -> int:
    """How many national daily buckets exist between two days (to spot days never computed)."""
    found: int = (
        await session.execute(
            select(func.count())
            .select_from(DashboardDaily)
            .where(DashboardDaily.scope == NATIONAL, DashboardDaily.day >= first, DashboardDaily.day <= last)
        )
    ).scalar_one()
    return found


async def save_daily(session: AsyncSession, first: date, rows: list[dict[str, Any]]) -> None:
    """Replace the buckets from ``first`` on, and forget the ones older than the longest window."""
    await session.execute(delete(DashboardDaily).where(DashboardDaily.day >= first))
    await session.execute(delete(DashboardDaily).where(DashboardDaily.day < first - timedelta(days=40)))
    if rows:
        await session.execute(insert(DashboardDaily).values(rows))


async def notification_windows(session: AsyncSession, since: date) -> Sequence[RowMapping]:
    return (
        (
            await session.execute(
                select(
                    DashboardDaily.scope,
                    DashboardDaily.day,
                    DashboardDaily.notifications,
                    DashboardDaily.push_attempts,
                    DashboardDaily.push_delivered,
                ).where(DashboardDaily.day >= since)
            )
        )
        .mappings()
        .all()
    )


async def db_now(session: AsyncSession) -> datetime:
    now: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
    return now


async def save_rollups(session: AsyncSession, figures: dict[str, dict[str, Any]]) -> None:
    stmt = insert(DashboardRollup).values([{"scope": k, "figures": v} for k, v in figures.items()])
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["scope"], set_={"figures": stmt.excluded.figures, "computed_at": text("now()")}
        )
    )


async def load_rollup(session: AsyncSession, scope: str) -> DashboardRollup | None:
    return (await session.scalars(select(DashboardRollup).where(DashboardRollup.scope == scope))).first()


async def requests_by_status(session: AsyncSession, agency_id: uuid.UUID | None) -> Sequence[RowMapping]:
    """Live: requests per status and how many open ones are past their SLA (index-only scan)."""
    where = "WHERE agency_id = :agency" if agency_id is not None else ""
    return await _rows(
        session,
        f"""
        SELECT status, count(*) AS n,
               count(*) FILTER (WHERE status IN ('submitted', 'in_progress') AND due_at < now()) AS overdue
        FROM customer_requests {where}
        GROUP BY status
        """,  # noqa: S608 - fixed clause, the value is a bound parameter
        **({"agency": agency_id} if agency_id is not None else {}),
    )


async def request_ratings(session: AsyncSession, agency_id: uuid.UUID | None) -> Sequence[RowMapping]:
    """Live: how many resolved requests were rated with each score (partial index on the ratings)."""
    where = "AND agency_id = :agency" if agency_id is not None else ""
    return await _rows(
        session,
        f"""
        SELECT rating_score AS score, count(*) AS n
        FROM customer_requests WHERE rating_score IS NOT NULL {where}
        GROUP BY rating_score
        """,  # noqa: S608 - fixed clause, the value is a bound parameter
        **({"agency": agency_id} if agency_id is not None else {}),
    )


async def agency_exists(session: AsyncSession, agency_id: uuid.UUID) -> bool:
    return (
        await session.execute(text("SELECT 1 FROM agencies WHERE id = :a"), {"a": agency_id})
    ).first() is not None
