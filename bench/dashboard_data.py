"""Synthetic national-scale data for the dashboard benchmark, generated inside PostgreSQL.

Everything is produced server-side with ``generate_series`` (no rows travel through Python):
1 000 000 customers, 1 200 000 meters, ~1 350 000 meter links (owners + shared, every status),
~1 100 000 devices, 200 000 customer requests with their types, and a month of notifications
(broadcasts + per-user messages) with ~1 200 000 push deliveries. Ids are deterministic
(``md5(...)::uuid``) so rows can reference each other without lookups.
"""

from __future__ import annotations

USERS = 1_000_000
METERS = 1_200_000
SHARED_LINKS = 150_000
EXTRA_DEVICES = 100_000
REQUESTS = 200_000
USER_NOTIFICATIONS = 200_000
BROADCASTS = 30


def steps(scale: float = 1.0) -> list[tuple[str, str]]:
    """(label, SQL) in order; ``scale`` shrinks every volume (0.01 for a quick smoke run)."""
    n = {
        k: max(10, int(v * scale))
        for k, v in {
            "USERS": USERS,
            "METERS": METERS,
            "SHARED_LINKS": SHARED_LINKS,
            "EXTRA_DEVICES": EXTRA_DEVICES,
            "REQUESTS": REQUESTS,
            "USER_NOTIFICATIONS": USER_NOTIFICATIONS,
        }.items()
    }
    n["METERS"] = max(n["METERS"], n["USERS"])
    n["DEVICES"] = n["USERS"] + n["EXTRA_DEVICES"]
    n["BROADCASTS"] = BROADCASTS
    return [(label, sql.format(**n)) for label, sql in _STEPS]


# SQL templates: {NAME} placeholders are the integer volumes above (never user input).
_STEPS: list[tuple[str, str]] = [
    (
        "agencies",
        """
        INSERT INTO agencies (id, code, name, region, legacy_name)
        SELECT md5('a' || i)::uuid, 'A' || lpad(i::text, 2, '0'), 'Agence ' || i, 'Region', 'AGENCE ' || i
        FROM generate_series(1, 20) i
        """,
    ),
    (
        "customers + staff",
        """
        INSERT INTO users (id, role, phone, first_name, last_name, created_at, updated_at)
        SELECT md5('u' || i)::uuid, 'customer', '+22177' || lpad(i::text, 7, '0'), 'Client', 'N' || i, ts, ts
        FROM (SELECT i, now() - random() * interval '730 days' AS ts
              FROM generate_series(1, {USERS}) i) s;
        INSERT INTO users (id, role, login, agency_id)
        SELECT md5('s' || i)::uuid, CASE WHEN i <= 200 THEN 'agent' ELSE 'admin' END, 'staff' || i,
               CASE WHEN i <= 200 THEN md5('a' || (1 + i % 20))::uuid END
        FROM generate_series(1, 205) i
        """,
    ),
    (
        "meters",
        """
        INSERT INTO meters (id, kind, number, agency_id, created_at, updated_at)
        SELECT md5('m' || i)::uuid, CASE WHEN i % 100 < 57 THEN 'prepaid' ELSE 'postpaid' END,
               lpad(i::text, 11, '0'),
               CASE WHEN i % 500 = 0 THEN NULL
                    -- Dakar agencies are bigger: agencies 1-9 get twice the meters
                    ELSE md5('a' || (1 + (hashint4(i) & 2147483647) % 29 % 20))::uuid END,
               now() - random() * interval '700 days', now()
        FROM generate_series(1, {METERS}) i
        """,
    ),
    (
        "meter links (owners + shared)",
        """
        INSERT INTO meter_links (id, meter_id, user_id, status, is_owner, is_default, created_at, updated_at)
        SELECT md5('l' || i)::uuid, md5('m' || i)::uuid, md5('u' || (1 + (i - 1) % {USERS}))::uuid,
               CASE WHEN i % 50 = 0 THEN 'pending' WHEN i % 97 = 0 THEN 'revoked' ELSE 'active' END,
               i % 50 <> 0, i <= {USERS}, now() - random() * interval '700 days', now()
        FROM generate_series(1, {METERS}) i;
        INSERT INTO meter_links (id, meter_id, user_id, status, is_owner, created_at, updated_at)
        SELECT md5('ls' || i)::uuid, md5('m' || (1 + (i * 7919) % {METERS}))::uuid,
               md5('u' || (1 + (i * 104729 + 500000) % {USERS}))::uuid,
               CASE WHEN i % 10 < 7 THEN 'active' WHEN i % 10 < 9 THEN 'pending' ELSE 'refused' END,
               false, now() - random() * interval '300 days', now()
        FROM generate_series(1::bigint, {SHARED_LINKS}) i
        ON CONFLICT DO NOTHING
        """,
    ),
    (
        "devices",
        """
        INSERT INTO devices (id, user_id, device_id, fcm_token, fcm_token_hash, platform, is_active, last_seen_at)
        SELECT md5('d' || i)::uuid, md5('u' || (1 + (i - 1) % {USERS}))::uuid, 'dev-' || i,
               'tok-' || i, md5('t' || i), CASE WHEN i % 3 = 0 THEN 'ios' ELSE 'android' END,
               i % 10 <> 0, now() - random() * interval '45 days'
        FROM generate_series(1, {DEVICES}) i
        """,
    ),
    (
        "request types and requests",
        """
        INSERT INTO request_types (id, code, label_fr, label_en, sla_hours)
        VALUES (md5('t1')::uuid, 'reclamation_facture', 'Réclamation facture', 'Bill complaint', 72),
               (md5('t2')::uuid, 'coupure_panne', 'Coupure / panne', 'Outage', 24),
               (md5('t3')::uuid, 'changement_compteur', 'Changement de compteur', 'Meter change', 240),
               (md5('t4')::uuid, 'demande_branchement', 'Demande de branchement', 'Connection', 480),
               (md5('t5')::uuid, 'mise_a_jour_informations', 'Mise à jour', 'Update', 120),
               (md5('t6')::uuid, 'autre', 'Autre', 'Other', 168);
        INSERT INTO customer_requests (id, type_id, requester_id, meter_id, agency_id, status, comment,
                                       due_at, closed_at, created_at, updated_at, reference)
        SELECT md5('r' || i)::uuid, md5('t' || (1 + i % 6))::uuid, md5('u' || (1 + (i * 31) % {USERS}))::uuid,
               m.id, m.agency_id, st, 'Demande ' || i, ts + sla * interval '1 hour',
               CASE WHEN st IN ('resolved', 'rejected', 'cancelled') THEN ts + interval '20 hours' END, ts, ts,
               'BENCH-' || i
        FROM (SELECT i, now() - (random() ^ 3) * interval '180 days' AS ts,
                     CASE WHEN i % 20 < 2 THEN 'submitted' WHEN i % 20 < 4 THEN 'in_progress'
                          WHEN i % 20 < 17 THEN 'resolved' WHEN i % 20 < 19 THEN 'rejected' ELSE 'cancelled' END AS st,
                     (ARRAY[72, 24, 240, 480, 120, 168])[1 + (1 + i % 6) - 1] AS sla
              FROM generate_series(1::bigint, {REQUESTS}) i) s
        JOIN meters m ON m.id = md5('m' || (1 + (s.i * 13) % {METERS}))::uuid
        """,
    ),
    (
        "notifications (a month) and push deliveries",
        """
        INSERT INTO notifications (id, created_at, type, priority, title_fr, title_en, body_fr, body_en,
                                   target_kind, target_user_id, target_agency_ids)
        SELECT md5('nb' || i)::uuid, now() - (i * interval '1 day'), 'campaign', 'low', 't', 't', 'b', 'b',
               CASE WHEN i % 3 = 0 THEN 'everyone' ELSE 'agency' END, NULL,
               CASE WHEN i % 3 = 0 THEN NULL ELSE ARRAY[md5('a' || (1 + i % 20))::uuid] END
        FROM generate_series(1, {BROADCASTS}) i;
        INSERT INTO notifications (id, created_at, type, priority, title_fr, title_en, body_fr, body_en,
                                   target_kind, target_user_id)
        SELECT md5('nu' || i)::uuid, now() - random() * interval '60 days', 'request_updated', 'high',
               't', 't', 'b', 'b', 'user', md5('u' || (1 + (i * 17) % {USERS}))::uuid
        FROM generate_series(1::bigint, {USER_NOTIFICATIONS}) i;
        -- the latest national broadcast reached every device; per-user messages their user's device
        INSERT INTO notification_deliveries (notification_id, device_id, status)
        SELECT md5('nb3')::uuid, md5('d' || i)::uuid,
               CASE WHEN i % 25 = 0 THEN 'dead' WHEN i % 40 = 0 THEN 'failed' ELSE 'sent' END
        FROM generate_series(1, {USERS}) i;
        INSERT INTO notification_deliveries (notification_id, device_id, status)
        SELECT md5('nu' || i)::uuid, md5('d' || (1 + (i * 17) % {USERS}))::uuid,
               CASE WHEN i % 30 = 0 THEN 'failed' ELSE 'sent' END
        FROM generate_series(1::bigint, {USER_NOTIFICATIONS}) i
        """,
    ),
]
