"""Build a v2 database with the messy shapes of V2.md §1, for the tests (a few hundred users) and the
bench (a million): phones in every typed form, duplicate accounts and links, NULLs, orphan links,
shared FCM tokens, unreliable timestamps, and bcrypt hashes (cost 12) — a handful computed once and
reused, since hashing a million secrets is not what is being measured.

A fixed scenario comes first (the accounts the tests sign in with, :class:`Scenario`); the bulk is
random but seeded, so a size and a seed always give the same database."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import bcrypt
import psycopg

from samaconso.cutover.v2_schema import V2_DDL, V2_REFERENCE

# The PINs and passwords behind the few precomputed hashes (the tests sign in with them).
BULK_PINS = ("2580", "4681", "7392", "0000", "123", "98765432")
STAFF_PASSWORD = "Senelec-2024-Agent"  # noqa: S105 - a generated test account's password
WEAK_STAFF_PASSWORD = "agent123"  # noqa: S105 - v2 had no password rule

AGENCIES = (
    ("DAKAR CENTRE", "Dakar Centre"),
    ("THIES", "Thiès"),
    ("SAINT LOUIS", "Saint-Louis"),
    ("KAOLACK", "Kaolack"),
    ("ZIGUINCHOR", "Ziguinchor"),
    ("PIKINE", "Pikine"),
    ("RUFISQUE", "Rufisque"),
    ("MBOUR", "Mbour"),
    ("TOUBA", "Touba"),
    ("DAKAR CENTRE", "Dakar Centre"),  # the same agency twice: v2 has no unique constraint
    ("KEDOUGOU", "Kédougou"),  # not in v3's reference list: created by the import
)


def phone_forms(national: str) -> list[str]:
    """Every way v2 stored one mobile number (9 national digits, e.g. ``771234567``)."""
    n = national
    spaced = f"{n[:2]} {n[2:5]} {n[5:7]} {n[7:]}"
    return [
        n,
        spaced,
        f"+221{n}",
        f"00221{n}",
        f"221{n}",
        spaced.replace(" ", "."),
        spaced.replace(" ", "-"),
        f"+221 {spaced}",
    ]


@dataclass
class Scenario:
    """Known v2 rows the tests check after an import (ids are v2 ids)."""

    customer_id: int = 0
    customer_phone: str = "+221771112233"
    customer_pin: str = "1357"
    customer_stored_phone: str = "77 111 22 33"
    duplicate_ids: list[int] = field(default_factory=list)  # same phone, other forms, older/inactive
    prepaid_meter: str = "14200000001"  # the customer's own meter; v2 recorded them as non-owner
    shared_meter: str = "14200000002"  # somebody else's meter the customer was given access to
    postpaid_contract: str = "300000001"
    pending_member_id: int = 0  # asked for access to the prepaid meter, not approved yet
    pending_member_phone: str = "+221781112244"
    weak_pin_id: int = 0
    weak_pin_phone: str = "+221761112255"
    weak_pin: str = "0000"
    inactive_id: int = 0
    inactive_phone: str = "+221701112266"
    invalid_phone_id: int = 0
    agent_id: int = 0
    agent_login: str = "a.diallo"
    agent_password: str = STAFF_PASSWORD
    weak_agent_login: str = "m.sarr"
    weak_agent_password: str = WEAK_STAFF_PASSWORD
    admin_login: str = "admin.national"
    ldap_login: str = "f.ndiaye"
    agency_name: str = "KEDOUGOU"
    fcm_tokens: list[str] = field(default_factory=list)  # active sessions of the customer (2 newest)
    old_fcm_token: str = ""  # the customer's third, oldest active session
    inactive_session_token: str = ""
    request_ids: list[int] = field(default_factory=list)
    attachment: str = "demandes/facture-juin.pdf"


@dataclass
class GeneratedV2:
    users: int = 0
    links: int = 0
    sessions: int = 0
    notifications: int = 0
    requests: int = 0
    scenario: Scenario = field(default_factory=Scenario)


def _hashes(secrets: tuple[str, ...]) -> dict[str, str]:
    return {s: bcrypt.hashpw(s.encode(), bcrypt.gensalt(12)).decode() for s in secrets}


class _Writer:
    """Rows buffered per table and sent with COPY."""

    COLUMNS: ClassVar[dict[str, tuple[str, ...]]] = {
        "agence": ("id", "nom", "nom_corrige"),
        "user": (
            "id",
            '"firstName"',
            '"lastName"',
            '"phoneNumber"',
            '"codePin"',
            "email",
            "login",
            "password",
            "is_activate",
            "ldap",
            "role",
            "id_agence",
            "created_at",
            "updated_at",
        ),
        "compteur": ("id", "numero", "type_compteur"),
        "user_compteur": (
            "id",
            "compteur_id",
            "type_compteur",
            "user_id",
            "est_proprietaire",
            "est_active",
            "autorise_par",
            "active_par",
            "etat_id",
            "id_client",
            "num_compte_contrat",
            "numero_compteur",
            "id_agence",
            "nom_agence",
            "nom_client",
            "poc",
            "tarif",
            "adresse",
            '"default"',
            "created_at",
        ),
        "user_session": (
            "id",
            "user_id",
            "device_model",
            "fcm_token",
            "refresh_token_hash",
            "refresh_token_expires_at",
            "is_active",
            "last_login",
        ),
        "notification": (
            "id",
            "type_notification_id",
            "event_id",
            "by_user_id",
            "for_user_id",
            "title",
            "body",
            "is_read",
            "created_at",
        ),
        "demande": (
            "id",
            "fait_par",
            "traite_par",
            "user_compteur_id",
            "type_demande",
            "commentaire",
            "fichier",
            "created_at",
        ),
    }

    def __init__(self, conn: psycopg.Connection[Any], flush_at: int = 20_000) -> None:
        self.conn = conn
        self.flush_at = flush_at
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in self.COLUMNS}
        self.ids: dict[str, int] = dict.fromkeys(self.COLUMNS, 0)
        self.counts: dict[str, int] = dict.fromkeys(self.COLUMNS, 0)

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows[table].append(row)
        self.counts[table] += 1
        if len(self.rows[table]) >= self.flush_at:
            self.flush(table)

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.rows):
            rows = self.rows[name]
            if not rows:
                continue
            quoted = '"user"' if name == "user" else name
            with (
                self.conn.cursor() as cur,
                cur.copy(f"COPY {quoted} ({', '.join(self.COLUMNS[name])}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            rows.clear()

    def finish(self) -> None:
        self.flush()
        with self.conn.cursor() as cur:
            for name in self.COLUMNS:
                quoted = '"user"' if name == "user" else name
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{quoted}', 'id'), greatest({self.ids[name]}, 1))"
                )


def create_schema(conn: psycopg.Connection[Any]) -> None:
    with conn.cursor() as cur:
        cur.execute(V2_DDL)
        cur.execute(V2_REFERENCE)


def generate(url: str, users: int, *, seed: int = 14, now: datetime | None = None) -> GeneratedV2:
    """Create the v2 schema in the (empty) database at ``url`` and fill it. ``users`` counts the bulk
    accounts on top of the fixed scenario."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    pins = _hashes((*BULK_PINS, Scenario.customer_pin, "2468"))
    staff = _hashes((STAFF_PASSWORD, WEAK_STAFF_PASSWORD))
    with psycopg.connect(url, autocommit=False) as conn:
        create_schema(conn)
        w = _Writer(conn)
        for nom, clean in AGENCIES:
            w.add("agence", (w.next_id("agence"), nom, clean))
        w.flush("agence")
        out = GeneratedV2()
        out.scenario = _scenario(w, pins, staff, now)
        _bulk(w, rng, users, pins, staff, now)
        w.finish()
        conn.commit()
    out.users = w.counts["user"]
    out.links = w.counts["user_compteur"]
    out.sessions = w.counts["user_session"]
    out.notifications = w.counts["notification"]
    out.requests = w.counts["demande"]
    return out


def _user(
    w: _Writer,
    *,
    phone: str | None,
    pin_hash: str | None,
    first: str | None = "Awa",
    last: str | None = "Diop",
    role: int | None = 1,
    login: str | None = None,
    password: str | None = None,
    active: bool | None = True,
    ldap: bool | None = False,
    agence: int | None = None,
    created: datetime | None = None,
    updated: datetime | None = None,
    email: str | None = None,
) -> int:
    uid = w.next_id("user")
    w.add(
        "user",
        (
            uid,
            first,
            last,
            phone,
            pin_hash,
            email,
            login,
            password,
            active,
            ldap,
            role,
            agence,
            created,
            updated,
        ),
    )
    return uid


def _meter(w: _Writer, number: str, kind: int) -> int:
    mid = w.next_id("compteur")
    w.add("compteur", (mid, number, kind))
    return mid


def _link(
    w: _Writer,
    *,
    meter_id: int | None,
    number: str,
    kind: int,
    user_id: int,
    owner: bool | None,
    active: bool | None,
    default: bool | None = False,
    agence: int | None = 1,
    created: datetime | None = None,
) -> int:
    lid = w.next_id("user_compteur")
    contract = number if kind == 2 else None
    w.add(
        "user_compteur",
        (
            lid,
            meter_id,
            kind,
            user_id,
            owner,
            active,
            None,
            None,
            None,
            f"C{number[-6:]}",
            contract,
            number,
            agence,
            AGENCIES[(agence or 1) - 1][0],
            "CLIENT TEST",
            f"P{number[-5:]}" if kind == 1 else None,
            "DPP",
            "Dakar",
            default,
            created,
        ),
    )
    return lid


def _session(
    w: _Writer, user_id: int, token: str | None, *, active: bool | None, last_login: datetime | None
) -> None:
    w.add(
        "user_session",
        (w.next_id("user_session"), user_id, "Samsung A14", token, "ab" * 32, None, active, last_login),
    )


def _scenario(w: _Writer, pins: dict[str, str], staff: dict[str, str], now: datetime) -> Scenario:
    s = Scenario()
    old = now - timedelta(days=700)
    kedougou = len(AGENCIES)
    # The customer and two older duplicates of the same phone (other forms, one inactive, one PIN-less).
    s.customer_id = _user(
        w,
        phone=s.customer_stored_phone,
        pin_hash=pins[s.customer_pin],
        created=old,
        updated=now - timedelta(days=3),
        email="awa.diop@example.sn",
    )
    s.duplicate_ids.append(
        _user(w, phone="00221771112233", pin_hash=pins["2468"], active=False, created=old, updated=old)
    )
    s.duplicate_ids.append(_user(w, phone="+221-77-111-22-33", pin_hash=None, created=None, updated=None))
    owner_of_shared = _user(w, phone="780000001", pin_hash=pins["2580"], first="Moussa", last="Fall")
    s.pending_member_id = _user(w, phone="78 111 22 44", pin_hash=pins["2580"], first="Ibou", last="Ba")
    s.weak_pin_id = _user(w, phone="761112255", pin_hash=pins[s.weak_pin], first="Fatou", last="Sy")
    s.inactive_id = _user(w, phone="70 111 22 66", pin_hash=pins["2580"], active=False)
    s.invalid_phone_id = _user(w, phone="33 823 00 00", pin_hash=pins["2580"])
    s.agent_id = _user(
        w,
        phone=None,
        pin_hash=None,
        role=3,
        login="A.Diallo",
        password=staff[STAFF_PASSWORD],
        agence=kedougou,
        first="Aliou",
        last="Diallo",
    )
    _user(
        w,
        phone=None,
        pin_hash=None,
        role=3,
        login=s.weak_agent_login,
        password=staff[WEAK_STAFF_PASSWORD],
        agence=1,
    )
    _user(w, phone=None, pin_hash=None, role=2, login=s.admin_login, password=staff[STAFF_PASSWORD])
    _user(w, phone=None, pin_hash=None, role=3, login=s.ldap_login, password=None, ldap=True, agence=2)

    prepaid = _meter(w, s.prepaid_meter, 1)
    _meter(w, s.prepaid_meter, 1)  # the same meter twice in `compteur`
    shared = _meter(w, s.shared_meter, 1)
    postpaid = _meter(w, s.postpaid_contract, 2)
    own_link = _link(
        w,
        meter_id=prepaid,
        number=s.prepaid_meter,
        kind=1,
        user_id=s.customer_id,
        owner=False,
        active=True,
        default=True,
    )
    _link(
        w, meter_id=prepaid, number=s.prepaid_meter, kind=1, user_id=s.customer_id, owner=False, active=True
    )
    _link(
        w,
        meter_id=postpaid,
        number=s.postpaid_contract,
        kind=2,
        user_id=s.duplicate_ids[0],
        owner=True,
        active=True,
    )
    _link(w, meter_id=shared, number=s.shared_meter, kind=1, user_id=owner_of_shared, owner=True, active=True)
    _link(w, meter_id=shared, number=s.shared_meter, kind=1, user_id=s.customer_id, owner=False, active=True)
    _link(
        w,
        meter_id=prepaid,
        number=s.prepaid_meter,
        kind=1,
        user_id=s.pending_member_id,
        owner=False,
        active=False,
    )
    _link(w, meter_id=prepaid, number=s.prepaid_meter, kind=1, user_id=999_999_999, owner=True, active=True)

    s.fcm_tokens = [f"fcm-scenario-new-{n}-" + "x" * 140 for n in range(2)]
    s.old_fcm_token = "fcm-scenario-oldest-" + "y" * 140
    s.inactive_session_token = "fcm-scenario-inactive-" + "z" * 140
    _session(w, s.customer_id, s.old_fcm_token, active=True, last_login=now - timedelta(days=40))
    _session(w, s.customer_id, s.fcm_tokens[0], active=True, last_login=now - timedelta(days=2))
    _session(w, s.customer_id, s.fcm_tokens[1], active=True, last_login=now - timedelta(hours=5))
    _session(w, s.customer_id, s.fcm_tokens[1], active=True, last_login=now - timedelta(days=9))  # same token
    _session(w, s.customer_id, s.inactive_session_token, active=False, last_login=now - timedelta(days=1))
    _session(w, s.customer_id, "", active=True, last_login=now)

    w.add(
        "notification",
        (
            w.next_id("notification"),
            3,
            own_link,
            None,
            s.customer_id,
            "Accès validé",
            "Accès accordé",
            True,
            now - timedelta(days=10),
        ),
    )
    w.add(
        "notification",
        (
            w.next_id("notification"),
            1,
            own_link,
            None,
            s.customer_id,
            "Demande d'accès",
            "Ibou demande",
            False,
            now - timedelta(days=5),
        ),
    )
    w.add(
        "notification",
        (
            w.next_id("notification"),
            1,
            own_link,
            None,
            s.customer_id,
            "Trop ancienne",
            "Vieille",
            False,
            now - timedelta(days=200),
        ),
    )
    w.add(
        "notification",
        (
            w.next_id("notification"),
            None,
            None,
            None,
            None,
            "Maintenance",
            "Coupure programmée",
            True,
            now - timedelta(days=20),
        ),
    )
    for comment, handler, fichier in (
        ("Ma facture de juin est trop élevée", s.agent_id, s.attachment),
        ("Coupure depuis hier", None, "demandes/absent.jpg"),
    ):
        rid = w.next_id("demande")
        w.add(
            "demande",
            (
                rid,
                s.customer_id,
                handler,
                own_link,
                1 if handler else 2,
                comment,
                fichier,
                now - timedelta(days=4),
            ),
        )
        s.request_ids.append(rid)
    w.add("demande", (w.next_id("demande"), 999_999_998, None, None, 4, "Orpheline", None, now))
    w.flush()
    return s


_FIRST = ("Awa", "Moussa", "Fatou", "Ibrahima", "Aminata", "Cheikh", "Mariama", "Ousmane", None, "")
_LAST = ("Diop", "Ndiaye", "Fall", "Sow", "Ba", "Gueye", "Sarr", "Faye", None)
_PREFIXES = ("70", "75", "76", "77", "78")


def _messy_time(rng: random.Random, now: datetime, boot: datetime) -> datetime | None:
    r = rng.random()
    if r < 0.1:
        return None
    if r < 0.25:
        return boot  # the ORM default evaluated once at process start
    return now - timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))


def _bulk(
    w: _Writer, rng: random.Random, users: int, pins: dict[str, str], staff: dict[str, str], now: datetime
) -> None:
    boot = now - timedelta(days=300)
    pin_hashes = [pins[p] for p in BULK_PINS]
    phones: list[str] = []  # national numbers of the bulk customers, for duplicates
    meters: list[tuple[int, str, int]] = []  # (compteur id, number, kind) to share and duplicate
    for n in range(users):
        roll = rng.random()
        created = _messy_time(rng, now, boot)
        if roll < 0.002:  # staff
            role = 2 if rng.random() < 0.1 else 3
            is_ldap = rng.random() < 0.3
            _user(
                w,
                phone=None,
                pin_hash=None,
                role=role,
                login=f"agent{n}" if rng.random() < 0.97 else None,
                password=None if is_ldap else staff[STAFF_PASSWORD],
                ldap=is_ldap,
                agence=rng.randrange(1, len(AGENCIES) + 1) if role == 3 else None,
                created=created,
                updated=created,
            )
            continue
        if phones and roll < 0.03:  # the same person signed up again, typing the number another way
            national = rng.choice(phones)
        elif roll < 0.035:
            national = ""
        else:
            national = f"{rng.choice(_PREFIXES)}{(n * 7919 + 1_000_003) % 10_000_000:07d}"
            if len(phones) < 200_000:
                phones.append(national)
        if not national:
            raw: str | None = rng.choice((None, "", "33 820 12 34", "12345", "n/a"))
        else:
            raw = rng.choice(phone_forms(national))
        active_roll = rng.random()
        uid = _user(
            w,
            phone=raw,
            pin_hash=None if rng.random() < 0.01 else rng.choice(pin_hashes),
            first=rng.choice(_FIRST),
            last=rng.choice(_LAST),
            role=rng.choice((1, 1, 1, None)),
            active=None if active_roll < 0.02 else active_roll > 0.07,
            created=created,
            updated=created if rng.random() < 0.5 else None,
        )
        _bulk_links(w, rng, uid, meters, now, boot)
        _bulk_sessions(w, rng, uid, now)
        if rng.random() < 0.3:
            w.add(
                "notification",
                (
                    w.next_id("notification"),
                    rng.choice((1, 3)),
                    None,
                    None,
                    uid,
                    "Compteur",
                    "Accès",
                    rng.random() < 0.5,
                    _messy_time(rng, now, boot),
                ),
            )
        if rng.random() < 0.04:
            w.add(
                "demande",
                (
                    w.next_id("demande"),
                    uid,
                    None,
                    w.ids["user_compteur"] or None,
                    rng.randrange(1, 5),
                    "Réclamation",
                    "demandes/x.jpg" if rng.random() < 0.2 else None,
                    _messy_time(rng, now, boot),
                ),
            )
    for _ in range(min(50, users // 1000 + 1)):
        w.add(
            "notification",
            (
                w.next_id("notification"),
                None,
                None,
                None,
                None,
                "Info",
                "Message à tous",
                False,
                now - timedelta(days=rng.randrange(0, 200)),
            ),
        )


def _bulk_links(
    w: _Writer,
    rng: random.Random,
    uid: int,
    meters: list[tuple[int, str, int]],
    now: datetime,
    boot: datetime,
) -> None:
    count = rng.choices((0, 1, 2, 3), weights=(15, 60, 20, 5))[0]
    for i in range(count):
        if meters and rng.random() < 0.1:  # somebody else's meter, shared with this user
            mid, number, kind = rng.choice(meters)
            owner, active = False, rng.random() < 0.7
        else:
            kind = 1 if rng.random() < 0.75 else 2
            number = f"14{w.ids['compteur'] + 1:09d}" if kind == 1 else f"3{w.ids['compteur'] + 1:08d}"
            mid = _meter(w, number, kind)
            if rng.random() < 0.02:
                _meter(w, number, kind)  # duplicate `compteur` row
            if len(meters) < 100_000:
                meters.append((mid, number, kind))
            owner, active = rng.random() < 0.6, True  # many owners recorded as non-owners
        created = _messy_time(rng, now, boot)
        _link(
            w,
            meter_id=mid,
            number=number,
            kind=kind,
            user_id=uid,
            owner=owner,
            active=active,
            default=i == 0,
            agence=rng.randrange(1, len(AGENCIES) + 1),
            created=created,
        )
        if rng.random() < 0.02:  # duplicate link for the same (user, meter)
            _link(
                w,
                meter_id=mid,
                number=number,
                kind=kind,
                user_id=uid,
                owner=owner,
                active=active,
                created=created,
            )
    if rng.random() < 0.01:  # orphan: the user row was deleted in v2 (no cascades)
        _link(
            w,
            meter_id=None,
            number=f"14{rng.randrange(10**9):09d}",
            kind=1,
            user_id=uid + 10**9,
            owner=True,
            active=True,
        )


def _bulk_sessions(w: _Writer, rng: random.Random, uid: int, now: datetime) -> None:
    for k in range(rng.choices((0, 1, 2, 3), weights=(25, 50, 18, 7))[0]):
        token: str | None = f"v2tok-{uid}-{k}-{rng.getrandbits(128):032x}{'q' * 100}"
        if rng.random() < 0.05:
            token = rng.choice((None, ""))
        elif rng.random() < 0.01:
            token = f"v2tok-shared-{uid % 1000}"  # one phone, several accounts / reinstalls
        _session(
            w,
            uid,
            token,
            active=rng.random() < 0.75,
            last_login=None if rng.random() < 0.05 else now - timedelta(minutes=rng.randrange(0, 200_000)),
        )
