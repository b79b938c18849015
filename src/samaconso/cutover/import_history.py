"""History: notifications of the last 90 days and customer requests (``demande``).

* v2 per-user notifications → direct messages (audience ``user:<id>``) with their read state; v2
  global rows (``for_user_id`` NULL) → broadcasts to everyone, unread (v2 kept one read flag shared by
  everybody). They are history: no outbox job, marked fanned out, so nothing is pushed again.
* Requests keep their type (matched by label, created when v3 has none), requester, handler
  (→ ``in_progress``; none → ``submitted``), meter, comment; their first history event says
  "Importée depuis la v2". Attachments are copied from the v2 bucket into ``documents`` when it can be
  read; otherwise they are listed as missing in the report.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

import filetype
import structlog

from samaconso.cutover.import_context import ImportContext
from samaconso.kit.storage import Storage

log = structlog.get_logger(__name__)

HISTORY_DAYS = 90
IMPORTED_EVENT = "Importée depuis la v2 (imported from v2)"
TAKEN_UP_EVENT = "Prise en charge dans la v2 (taken up in v2)"
COMMENT_EDITED_EVENT = "Commentaire modifié dans la v2 (comment edited in v2) : "
DELETED_EVENT = "Supprimée dans la v2 (deleted in v2)"
NOTIFICATION_TYPES = {1: "meter_access_requested", 3: "meter_access_granted"}
DEFAULT_SLA_HOURS = 72

STAGE_NOTIFICATIONS = """
CREATE TEMP TABLE st_notifications (
    v2_id bigint PRIMARY KEY, v2_user_id bigint, type text, title text, body text, is_read boolean,
    created_at timestamptz, skip text, user_v3 uuid, v3_id uuid, existed boolean DEFAULT false
) ON COMMIT DROP
"""


async def import_notifications(ctx: ImportContext) -> None:
    counts = ctx.report.table("notification")
    await ctx.execute(STAGE_NOTIFICATIONS)
    # is_read flips with no timestamp: the fingerprint sees it
    await ctx.survey(
        "notification",
        "SELECT n.id, n.for_user_id,"  # noqa: S608 - constants
        f" {await ctx.row_hash('n.id, n.for_user_id, n.type_notification_id, n.title, n.body, n.is_read, n.created_at')}"
        " FROM notification n",
        parent="user",
    )
    changed = ctx.where_changed("notification", "n")
    recent = f"n.created_at >= now() - interval '{HISTORY_DAYS} days'"
    old = await ctx.v2.scalar(
        f"SELECT count(*) FROM notification n WHERE NOT coalesce({recent}, false) AND {changed}",  # noqa: S608
        ctx.params("notification"),
    )
    counts.read += int(old or 0)
    counts.skip(f"older_than_{HISTORY_DAYS}_days_or_undated", int(old or 0))
    async for rows in ctx.stream(
        "v2 notification",
        "notification",
        f"SELECT count(*) FROM notification n WHERE {recent} AND {changed}",  # noqa: S608
        "SELECT n.id, n.for_user_id, n.type_notification_id, n.title, n.body, n.is_read, n.created_at"  # noqa: S608
        f" FROM notification n WHERE {recent} AND {changed} ORDER BY n.id",
    ):
        counts.read += len(rows)
        staged = [
            (
                v2_id,
                user_id,
                NOTIFICATION_TYPES.get(type_id, "campaign"),
                (title or "").strip()[:200],
                (body or "").strip()[:2000],
                is_read is True,
                created,
            )
            for v2_id, user_id, type_id, title, body, is_read, created in rows
        ]
        await ctx.copy(
            "st_notifications",
            ("v2_id", "v2_user_id", "type", "title", "body", "is_read", "created_at"),
            staged,
        )
    await ctx.execute(
        """
        UPDATE st_notifications n SET user_v3 = m.v3_id
        FROM cutover_v2_ids m WHERE m.entity = 'user' AND m.v2_id = n.v2_user_id
        """
    )
    await ctx.execute(
        "UPDATE st_notifications SET skip = 'orphan_user' WHERE v2_user_id IS NOT NULL AND user_v3 IS NULL"
    )
    await ctx.execute(
        """
        UPDATE st_notifications n SET v3_id = m.v3_id, existed = true
        FROM cutover_v2_ids m JOIN notifications x ON x.id = m.v3_id
        WHERE m.entity = 'notification' AND m.v2_id = n.v2_id
        """
    )
    await ctx.execute(
        "UPDATE st_notifications SET v3_id = gen_random_uuid() WHERE v3_id IS NULL AND skip IS NULL"
    )
    for reason, n in await ctx.fetch(
        "SELECT skip, count(*) FROM st_notifications WHERE skip IS NOT NULL GROUP BY 1"
    ):
        counts.skip(reason, n)
    counts.imported += await ctx.execute(
        """
        INSERT INTO notifications (id, created_at, type, priority, title_fr, title_en, body_fr, body_en, data,
                                   target_kind, target_user_id, fanout_started_at, targeted_devices,
                                   fanout_done_at)
        SELECT v3_id, least(created_at, now()), type, 'low', title, title, body, body,
               jsonb_build_object('type', type, 'notification_id', v3_id::text, 'v2_id', v2_id::text),
               CASE WHEN user_v3 IS NULL THEN 'everyone' ELSE 'user' END, user_v3, now(), 0, now()
        FROM st_notifications WHERE skip IS NULL AND NOT existed
        """
    )
    await ctx.execute(
        """
        INSERT INTO notification_audiences (audience, created_at, notification_id)
        SELECT CASE WHEN user_v3 IS NULL THEN 'everyone' ELSE 'user:' || user_v3 END,
               least(created_at, now()), v3_id
        FROM st_notifications WHERE skip IS NULL AND NOT existed
        """
    )
    counts.updated += await ctx.execute(
        """
        UPDATE notifications x SET title_fr = n.title, title_en = n.title, body_fr = n.body, body_en = n.body
        FROM st_notifications n WHERE n.existed AND n.skip IS NULL AND x.id = n.v3_id
        """
    )
    # read in v2 since the last import (no timestamp): read in v3; unread again in v2: unread
    await ctx.execute(
        """
        DELETE FROM notification_receipts r USING st_notifications n
        WHERE n.existed AND n.skip IS NULL AND NOT n.is_read AND n.user_v3 IS NOT NULL
          AND r.notification_id = n.v3_id AND r.user_id = n.user_v3
        """
    )
    await ctx.execute(
        """
        INSERT INTO notification_receipts (user_id, notification_id, read_at)
        SELECT user_v3, v3_id, least(created_at, now()) FROM st_notifications
        WHERE skip IS NULL AND is_read AND user_v3 IS NOT NULL
        ON CONFLICT (user_id, notification_id) DO UPDATE
            SET read_at = coalesce(notification_receipts.read_at, excluded.read_at)
        """
    )
    await ctx.execute(
        """
        INSERT INTO cutover_v2_ids (entity, v2_id, v3_id, outcome)
        SELECT 'notification', v2_id, v3_id, 'imported' FROM st_notifications WHERE skip IS NULL
        ON CONFLICT (entity, v2_id) DO UPDATE SET outcome = excluded.outcome, last_imported_at = now()
        """
    )
    # deleted in v2 since the last import: gone from the customer's inbox in v3 too
    lost = await ctx.lost("notification")
    counts.deleted += await ctx.execute(
        f"DELETE FROM notifications WHERE id IN (SELECT v3_id FROM {lost})"  # noqa: S608 - constant name
    )
    await ctx.remember("notification")


STAGE_REQUESTS = """
CREATE TEMP TABLE st_requests (
    v2_id bigint PRIMARY KEY, v2_requester bigint, v2_handler bigint, v2_link bigint, type_id uuid,
    comment text, fichier text, created_at timestamptz, skip text, requester uuid, handler uuid,
    meter_id uuid, v3_id uuid, existed boolean DEFAULT false
) ON COMMIT DROP
"""


async def _request_types(ctx: ImportContext) -> dict[int, Any]:
    """v2 ``type_demande`` id → v3 request type, matched by label (case-insensitive), else created."""
    existing = {
        str(label).strip().lower(): tid
        for tid, label in await ctx.fetch("SELECT id, label_fr FROM request_types")
    }
    types: dict[int, Any] = {}
    for v2_id, label in await ctx.v2.rows("SELECT id, label FROM type_demande ORDER BY id"):
        name = (label or f"Type v2 {v2_id}").strip()[:120]
        key = name.lower()
        if key not in existing:
            tid = uuid.uuid4()
            await ctx.execute(
                "INSERT INTO request_types (id, code, label_fr, label_en, sla_hours, is_active, created_at,"
                " updated_at) VALUES (%(id)s, %(code)s, %(l)s, %(l)s, %(sla)s, true, now(), now())"
                " ON CONFLICT (code) DO NOTHING",
                {"id": tid, "code": f"v2_{v2_id}", "l": name, "sla": DEFAULT_SLA_HOURS},
            )
            row = await ctx.fetchone("SELECT id FROM request_types WHERE code = %(c)s", {"c": f"v2_{v2_id}"})
            existing[key] = row[0]
            ctx.report.facts["request_types_created"] = ctx.report.facts.get("request_types_created", 0) + 1
        types[v2_id] = existing[key]
    return types


async def import_requests(ctx: ImportContext) -> None:
    counts = ctx.report.table("demande")
    types = await _request_types(ctx)
    await ctx.execute(STAGE_REQUESTS)
    cols = "d.id, d.fait_par, d.traite_par, d.user_compteur_id, d.type_demande, d.commentaire, d.fichier, d.created_at"
    # taken up (traite_par) or its comment edited: no timestamp in v2, the fingerprint sees it
    await ctx.survey(
        "demande",
        f"SELECT d.id, d.fait_par, {await ctx.row_hash(cols)} FROM demande d",  # noqa: S608 - constants
        parent="user",
    )
    changed = ctx.where_changed("demande", "d")
    async for rows in ctx.stream(
        "v2 demande",
        "demande",
        f"SELECT count(*) FROM demande d WHERE {changed}",  # noqa: S608 - constants and an int
        "SELECT d.id, d.fait_par, d.traite_par, d.user_compteur_id, d.type_demande, d.commentaire, d.fichier,"  # noqa: S608
        f" d.created_at FROM demande d WHERE {changed} ORDER BY d.id",
    ):
        counts.read += len(rows)
        staged = [
            (
                v2_id,
                requester,
                handler,
                link,
                types.get(type_id),
                (comment or "").strip()[:4000],
                (fichier or "").strip() or None,
                created,
                None if type_id in types else "unknown_type",
            )
            for v2_id, requester, handler, link, type_id, comment, fichier, created in rows
        ]
        await ctx.copy(
            "st_requests",
            (
                "v2_id",
                "v2_requester",
                "v2_handler",
                "v2_link",
                "type_id",
                "comment",
                "fichier",
                "created_at",
                "skip",
            ),
            staged,
        )
    await ctx.execute(
        """
        UPDATE st_requests r SET requester = m.v3_id
        FROM cutover_v2_ids m JOIN users u ON u.id = m.v3_id AND u.role = 'customer'
        WHERE m.entity = 'user' AND m.v2_id = r.v2_requester
        """
    )
    await ctx.execute(
        """
        UPDATE st_requests r SET handler = m.v3_id
        FROM cutover_v2_ids m JOIN users u ON u.id = m.v3_id AND u.role <> 'customer'
        WHERE m.entity = 'user' AND m.v2_id = r.v2_handler
        """
    )
    await ctx.execute(
        """
        UPDATE st_requests r SET meter_id = l.meter_id
        FROM cutover_v2_ids m JOIN meter_links l ON l.id = m.v3_id
        WHERE m.entity = 'user_compteur' AND m.v2_id = r.v2_link
        """
    )
    await ctx.execute(
        "UPDATE st_requests SET skip = 'orphan_requester' WHERE skip IS NULL AND requester IS NULL"
    )
    await ctx.execute(
        """
        UPDATE st_requests r SET v3_id = m.v3_id, existed = true
        FROM cutover_v2_ids m JOIN customer_requests x ON x.id = m.v3_id
        WHERE m.entity = 'demande' AND m.v2_id = r.v2_id
        """
    )
    await ctx.execute("UPDATE st_requests SET v3_id = gen_random_uuid() WHERE v3_id IS NULL AND skip IS NULL")
    for reason, n in await ctx.fetch(
        "SELECT skip, count(*) FROM st_requests WHERE skip IS NOT NULL GROUP BY 1"
    ):
        counts.skip(reason, n)
    fresh = int(
        (await ctx.fetchone("SELECT count(*) FROM st_requests WHERE skip IS NULL AND NOT existed"))[0]
    )
    async with ctx.bulk_write("customer_requests", fresh), ctx.bulk_write("request_events", fresh):
        await _insert_requests(ctx)
    counts.imported += fresh
    await _after_requests(ctx)


async def _insert_requests(ctx: ImportContext) -> None:
    await ctx.execute(
        """
        INSERT INTO customer_requests (id, type_id, requester_id, meter_id, agency_id, status, comment,
                                       assigned_to, due_at, closed_at, created_at, updated_at, reference)
        SELECT r.v3_id, r.type_id, r.requester, r.meter_id, m.agency_id,
               CASE WHEN r.handler IS NULL THEN 'submitted' ELSE 'in_progress' END, r.comment, r.handler,
               least(coalesce(r.created_at, now()), now()) + make_interval(hours => t.sla_hours), NULL,
               least(coalesce(r.created_at, now()), now()), now(),
               -- the short reference customers quote (DKC-2026-004512), from the one series
               upper(coalesce(a.code, 'SEN')) || '-'
               || extract(year FROM least(coalesce(r.created_at, now()), now()))::int || '-'
               || lpad(nextval('customer_request_reference_seq')::text, 6, '0')
        FROM st_requests r JOIN request_types t ON t.id = r.type_id LEFT JOIN meters m ON m.id = r.meter_id
        LEFT JOIN agencies a ON a.id = m.agency_id
        WHERE r.skip IS NULL AND NOT r.existed
        """
    )
    await ctx.execute(
        """
        INSERT INTO request_events (id, request_id, at, actor_id, actor_role, kind, from_status, to_status, body)
        SELECT gen_random_uuid(), r.v3_id, least(coalesce(r.created_at, now()), now()), NULL, 'system', 'status',
               NULL, CASE WHEN r.handler IS NULL THEN 'submitted' ELSE 'in_progress' END, %(body)s
        FROM st_requests r WHERE r.skip IS NULL AND NOT r.existed
        """,
        {"body": IMPORTED_EVENT},
    )


async def _after_requests(ctx: ImportContext) -> None:
    """What changed in v2 on a request v3 already has (a delta, or a re-run): v2 records a request's
    progress only by its handler (``traite_par``) and its comment, with no timestamp."""
    counts = ctx.report.table("demande")
    # taken up, or handed to another agent, in v2: assigned in v3 (and in progress if it was still
    # submitted), with the history events the v3 screens show; a closed request is left closed
    await ctx.execute(
        """
        CREATE TEMP TABLE st_request_moves ON COMMIT DROP AS
        SELECT r.v3_id, r.handler, u.role AS handler_role, c.status AS old_status,
               CASE WHEN c.status = 'submitted' THEN 'in_progress' ELSE c.status END AS new_status
        FROM st_requests r JOIN customer_requests c ON c.id = r.v3_id JOIN users u ON u.id = r.handler
        WHERE r.existed AND r.skip IS NULL AND c.assigned_to IS DISTINCT FROM r.handler
          AND c.status IN ('submitted', 'in_progress')
        """
    )
    await ctx.execute(
        """
        INSERT INTO request_events (id, request_id, at, actor_id, actor_role, kind, from_status, to_status, body)
        SELECT gen_random_uuid(), v3_id, now(), handler, handler_role, 'assignment', NULL, NULL, %(body)s
        FROM st_request_moves
        UNION ALL
        SELECT gen_random_uuid(), v3_id, now(), handler, handler_role, 'status', old_status, new_status, %(body)s
        FROM st_request_moves WHERE new_status <> old_status
        """,
        {"body": TAKEN_UP_EVENT},
    )
    moved = await ctx.execute(
        """
        UPDATE customer_requests c SET assigned_to = m.handler, status = m.new_status, updated_at = now()
        FROM st_request_moves m WHERE c.id = m.v3_id
        """
    )
    # the comment edited in v2: the request says the new text, its history keeps the change
    await ctx.execute(
        """
        CREATE TEMP TABLE st_request_comments ON COMMIT DROP AS
        SELECT r.v3_id, r.comment FROM st_requests r JOIN customer_requests c ON c.id = r.v3_id
        WHERE r.existed AND r.skip IS NULL AND c.comment IS DISTINCT FROM r.comment
        """
    )
    await ctx.execute(
        """
        INSERT INTO request_events (id, request_id, at, actor_id, actor_role, kind, from_status, to_status, body)
        SELECT gen_random_uuid(), v3_id, now(), NULL, 'system', 'comment', NULL, NULL, %(prefix)s || comment
        FROM st_request_comments
        """,
        {"prefix": COMMENT_EDITED_EVENT},
    )
    edited = await ctx.execute(
        """
        UPDATE customer_requests c SET comment = m.comment, updated_at = now()
        FROM st_request_comments m WHERE c.id = m.v3_id
        """
    )
    counts.updated += int(
        (await ctx.fetchone("SELECT count(*) FROM st_requests WHERE existed AND skip IS NULL"))[0]
    )
    ctx.report.facts["requests_taken_up_in_v2"] = ctx.report.facts.get("requests_taken_up_in_v2", 0) + moved
    ctx.report.facts["requests_comment_edited_in_v2"] = (
        ctx.report.facts.get("requests_comment_edited_in_v2", 0) + edited
    )
    await ctx.execute(
        """
        INSERT INTO cutover_v2_ids (entity, v2_id, v3_id, outcome)
        SELECT 'demande', v2_id, v3_id, 'imported' FROM st_requests WHERE skip IS NULL
        ON CONFLICT (entity, v2_id) DO UPDATE SET outcome = excluded.outcome, last_imported_at = now()
        """
    )
    # deleted in v2 since the last import: an open request is cancelled (its history says why)
    lost = await ctx.lost("demande")
    await ctx.execute(
        f"""
        INSERT INTO request_events (id, request_id, at, actor_id, actor_role, kind, from_status, to_status, body)
        SELECT gen_random_uuid(), c.id, now(), NULL, 'system', 'status', c.status, 'cancelled', %(body)s
        FROM customer_requests c WHERE c.id IN (SELECT v3_id FROM {lost})
          AND c.status IN ('submitted', 'in_progress')
        """,  # noqa: S608 - a constant name
        {"body": DELETED_EVENT},
    )
    counts.deleted += await ctx.execute(
        f"""
        UPDATE customer_requests SET status = 'cancelled', closed_at = now(), updated_at = now()
        WHERE id IN (SELECT v3_id FROM {lost}) AND status IN ('submitted', 'in_progress')
        """  # noqa: S608 - a constant name
    )
    await ctx.remember("demande")
    await copy_attachments(ctx)


def object_key(fichier: str, bucket: str) -> str:
    """``fichier`` is an object name or a URL of the old bucket: the key inside the bucket."""
    if "://" not in fichier:
        return fichier.lstrip("/")
    path = urlparse(fichier).path.lstrip("/")
    prefix = f"{bucket}/"
    return path[len(prefix) :] if path.startswith(prefix) else path


def _v2_storage(ctx: ImportContext) -> Storage:
    s = ctx.settings
    update: dict[str, Any] = {}
    if s.v2_s3_endpoint_url:
        update["s3_endpoint_url"] = s.v2_s3_endpoint_url
    if s.v2_s3_access_key:
        update["s3_access_key"] = s.v2_s3_access_key
    if s.v2_s3_secret_key is not None:
        update["s3_secret_key"] = s.v2_s3_secret_key
    return Storage(s.model_copy(update=update))


async def copy_attachments(ctx: ImportContext) -> None:
    """Copy each new request's v2 attachment into the documents bucket (a StoredFile attached to the
    request); what cannot be read is listed as missing. A dry run only checks that it can be read."""
    todo = await ctx.fetch(
        "SELECT v2_id, v3_id, requester, fichier FROM st_requests"
        " WHERE skip IS NULL AND NOT existed AND fichier IS NOT NULL ORDER BY v2_id"
    )
    if not todo:
        return
    bucket = ctx.settings.v2_s3_bucket
    old = _v2_storage(ctx)
    new = Storage(ctx.settings)
    try:
        await asyncio.to_thread(old.client.head_bucket, Bucket=bucket)
    except Exception as exc:
        log.warning("v2_bucket_unreachable", bucket=bucket, error=type(exc).__name__)
        for v2_id, _, _, fichier in todo:
            ctx.report.missing(v2_id, fichier, "old_bucket_unreachable")
        return
    copied = 0
    for v2_id, request_id, owner, fichier in todo:
        key = object_key(fichier, bucket)
        try:
            data, stored_type = await old.get(bucket, key)
        except Exception:
            ctx.report.missing(v2_id, fichier, "not_found_in_old_bucket")
            continue
        if len(data) > ctx.settings.document_max_bytes:
            ctx.report.missing(v2_id, fichier, "too_large")
            continue
        kind = filetype.guess(data)
        content_type = kind.mime if kind is not None else (stored_type or "application/octet-stream")
        new_key = f"requests/v2/{uuid.uuid4().hex}"
        if not ctx.dry_run:
            try:
                await new.put(
                    ctx.settings.s3_bucket_documents,
                    new_key,
                    data,
                    content_type[:64],
                    {"v2-demande": str(v2_id)},
                )
            except Exception:
                ctx.report.missing(v2_id, fichier, "copy_failed")
                continue
        await ctx.execute(
            """
            INSERT INTO stored_files (id, owner_id, bucket, key, content_type, size_bytes, original_name,
                                      request_id, attached_at, created_at)
            VALUES (gen_random_uuid(), %(owner)s, %(bucket)s, %(key)s, %(ct)s, %(size)s, %(name)s, %(rid)s,
                    now(), now())
            """,
            {
                "owner": owner,
                "bucket": ctx.settings.s3_bucket_documents,
                "key": new_key,
                "ct": content_type[:64],
                "size": len(data),
                "name": PurePosixPath(key).name[:255] or "piece-jointe",
                "rid": request_id,
            },
        )
        copied += 1
    ctx.report.facts["attachments_copied"] = ctx.report.facts.get("attachments_copied", 0) + copied
