"""Synthetic data for the simulated legacy source, loaded with PostgreSQL COPY.

Customers have Senegalese names and +221 mobile numbers; 57 % are prepaid (Woyofal: an 11- or
13-digit meter number with a Luhn check digit, purchases that follow the tariff rules of
:mod:`samaconso.legacy.tariff`, 1–3 twenty-digit tokens), the others postpaid (a contract account,
a bill about every 60 days with kWh per tranche, an SAP business partner with phone and e-mail).
Some have a subscription notice in progress. Generation is deterministic for a given seed and
start date, and streams in chunks so a million customers fit in memory.

A fixed *scenario* comes first: the demo customer's prepaid meter (purchases this month) and
postpaid contract (bills), a meter registered to somebody else (pending-approval demo) and a
subscription notice — the tests and ``make run`` rely on it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Table

from samaconso.legacy import tables as t
from samaconso.legacy.numbers import luhn_check_digit, luhn_valid, with_luhn
from samaconso.legacy.simulated import asyncpg_dsn, create_indexes, create_schema, ensure_database
from samaconso.legacy.tariff import postpaid_bill, prepaid_sale

__all__ = ["luhn_check_digit", "luhn_valid", "with_luhn"]

FIRST_NAMES = (
    "Awa",
    "Fatou",
    "Aminata",
    "Mariama",
    "Khady",
    "Astou",
    "Ndeye",
    "Coumba",
    "Aissatou",
    "Binta",
    "Rokhaya",
    "Adama",
    "Sokhna",
    "Dieynaba",
    "Oumou",
    "Yacine",
    "Marème",
    "Seynabou",
    "Ramatoulaye",
    "Mamadou",
    "Moussa",
    "Ibrahima",
    "Cheikh",
    "Abdoulaye",
    "Ousmane",
    "Modou",
    "Babacar",
    "Aliou",
    "Serigne",
    "Lamine",
    "Pape",
    "Saliou",
    "Mouhamed",
    "Alioune",
    "Boubacar",
    "Demba",
    "Samba",
    "Malick",
    "Amadou",
    "Idrissa",
    "Souleymane",
    "El Hadji",
    "Assane",
    "Omar",
    "Youssou",
)
LAST_NAMES = (
    "Diop",
    "Ndiaye",
    "Fall",
    "Sow",
    "Ba",
    "Diallo",
    "Sy",
    "Gueye",
    "Faye",
    "Mbaye",
    "Cissé",
    "Sarr",
    "Thiam",
    "Kane",
    "Ndour",
    "Seck",
    "Diouf",
    "Camara",
    "Touré",
    "Niang",
    "Dieng",
    "Sall",
    "Wade",
    "Mbengue",
    "Ka",
    "Lo",
    "Diagne",
    "Sène",
    "Badji",
    "Sagna",
    "Diatta",
    "Coly",
    "Mendy",
    "Gomis",
    "Ndao",
    "Samb",
    "Kébé",
    "Tall",
    "Barry",
    "Baldé",
)
# (legacy agency name = identity.seed.legacy_key(name), neighbourhoods)
AGENCY_AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("DAKAR CENTRE", ("Plateau", "Médina", "Fann Résidence", "Gueule Tapée")),
    ("COLOBANE", ("Colobane", "Fass", "Gibraltar")),
    ("GRAND DAKAR", ("Grand Dakar", "Sicap Liberté", "HLM Grand Yoff")),
    ("HLM", ("HLM 4", "HLM 5", "Hann Maristes")),
    ("PARCELLES ASSAINIES", ("Parcelles Unité 15", "Parcelles Unité 22", "Cambérène")),
    ("GUEDIAWAYE", ("Golf Sud", "Sam Notaire", "Wakhinane")),
    ("PIKINE", ("Pikine Icotaf", "Thiaroye Gare", "Guinaw Rails")),
    ("THIAROYE", ("Thiaroye sur Mer", "Diamaguène")),
    ("RUFISQUE", ("Rufisque Est", "Keury Souf", "Bargny")),
    ("THIES", ("Thiès Nord", "Randoulène", "Cité Lamy")),
    ("MBOUR", ("Mbour Grand Mbour", "Saly Portudal", "Tefess")),
    ("KAOLACK", ("Médina Baye", "Léona", "Kasnack")),
    ("SAINT LOUIS", ("Sor", "Guet Ndar", "Pikine Saint-Louis")),
    ("LOUGA", ("Louga Artillerie", "Keur Serigne Louga")),
    ("DIOURBEL", ("Diourbel Keur Goumak", "Ndiayène")),
    ("TOUBA", ("Touba Darou Khoudoss", "Touba Mosquée")),
    ("ZIGUINCHOR", ("Boucotte", "Lyndiane", "Kandé")),
    ("KOLDA", ("Kolda Sikilo", "Doumassou")),
    ("TAMBACOUNDA", ("Tambacounda Plateau", "Depot")),
    ("FATICK", ("Fatick Escale", "Ndiaye Ndiaye")),
)
MOBILE_PREFIXES = ("70", "75", "76")  # 77 and 78 are left to the scenario and test accounts
CHANNELS = ("WAVE", "ORANGE MONEY", "FREE MONEY", "SENELEC KIOSQUE", "WARI", "YUP", "AGENCE")
AMOUNTS = (1000, 2000, 3000, 5000, 5000, 10000, 10000, 15000, 20000, 25000, 30000)
NOTICE_STEPS = (
    ("010", "Dépôt de la demande"),
    ("020", "Étude technique"),
    ("030", "Devis émis"),
    ("040", "Paiement du devis"),
    ("050", "Travaux de branchement"),
    ("060", "Pose du compteur"),
    ("070", "Mise en service"),
)
SCRAMBLE = 7919  # coprime with 10^n: i -> (i * SCRAMBLE + offset) mod 10^n is a bijection

# --- the fixed scenario --------------------------------------------------------------------------


DEMO_PHONE = "+221771234567"
DEMO_PREPAID_METER = with_luhn("1412345678")  # 11 digits
DEMO_PREPAID_POC = "30140012345"
DEMO_POSTPAID_CONTRACT = "3001234567"
DEMO_PARTNER = "1000123456"
OTHER_OWNER_PHONE = "+221781112233"
OTHER_PREPAID_METER = with_luhn("046200000777")  # 13 digits, registered to somebody else
OTHER_PREPAID_POC = "30140099999"
OTHER_POSTPAID_CONTRACT = "3009876543"
DEMO_NOTICE = "2026004512"


@dataclass
class Customer:
    index: int
    first_name: str
    last_name: str
    phone: str  # E.164
    stored_phone: str  # as the legacy system keeps it
    agency: str
    address: str
    prepaid_meters: list[tuple[str, str]] = field(default_factory=list)  # (meter, POC)
    contracts: list[str] = field(default_factory=list)
    partner: str | None = None
    email: str | None = None
    debt: Decimal = Decimal(0)
    notice: str | None = None
    purchases_this_month: int | None = None  # force a number of purchases in the current month

    @property
    def name(self) -> str:
        return f"{self.last_name.upper()} {self.first_name}"


def national(phone: str) -> str:
    """``+221771234567`` → ``771234567`` (the form SAP and most legacy rows use)."""
    return phone[4:] if phone.startswith("+221") else phone


def scenario_customers() -> list[Customer]:
    demo = Customer(
        index=-1,
        first_name="Awa",
        last_name="Diop",
        phone=DEMO_PHONE,
        stored_phone="77 123 45 67",
        agency="DAKAR CENTRE",
        address="Villa 12, Sicap Liberté 2, Dakar",
        prepaid_meters=[(DEMO_PREPAID_METER, DEMO_PREPAID_POC)],
        contracts=[DEMO_POSTPAID_CONTRACT],
        partner=DEMO_PARTNER,
        email="awa.diop@example.sn",
        notice=DEMO_NOTICE,
        purchases_this_month=2,
    )
    other = Customer(
        index=-2,
        first_name="Ibrahima",
        last_name="Sarr",
        phone=OTHER_OWNER_PHONE,
        stored_phone="00221781112233",
        agency="THIES",
        address="Cité Lamy, Thiès",
        prepaid_meters=[(OTHER_PREPAID_METER, OTHER_PREPAID_POC)],
        contracts=[OTHER_POSTPAID_CONTRACT],
        partner="1000654321",
        purchases_this_month=1,
    )
    return [demo, other]


# --- random customers --------------------------------------------------------------------------------


def _scrambled(i: int, width: int, offset: int) -> str:
    return f"{(i * SCRAMBLE + offset) % 10**width:0{width}d}"


def random_customer(i: int, rng: random.Random) -> Customer:
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    phone = f"+221{MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)]}{_scrambled(i, 7, 1234567)}"
    style = rng.random()
    stored = (
        national(phone)
        if style < 0.6
        else (
            phone
            if style < 0.8
            else f"{national(phone)[:2]} {national(phone)[2:5]} {national(phone)[5:7]} {national(phone)[7:]}"
        )
    )
    agency, areas = AGENCY_AREAS[rng.randrange(len(AGENCY_AREAS))]
    customer = Customer(
        index=i,
        first_name=first,
        last_name=last,
        phone=phone,
        stored_phone=stored,
        agency=agency,
        address=f"Villa {rng.randint(1, 999)}, {rng.choice(areas)}",
    )
    if rng.random() < 0.57:
        # random meters start with 15 (11 digits) or 05 (13 digits): never a scenario number (14…, 04…)
        meter = (
            with_luhn("05" + _scrambled(i, 10, 5)) if i % 5 == 0 else with_luhn("15" + _scrambled(i, 8, 7))
        )
        customer.prepaid_meters.append((meter, "3" + _scrambled(i, 10, 11)))
        if rng.random() < 0.05:
            customer.debt = Decimal(rng.randrange(5000, 30000, 500))
    else:
        customer.contracts.append("4" + _scrambled(i, 9, 3))  # scenario contracts start with 3
        customer.partner = f"{2000000000 + i}"
        if rng.random() < 0.6:
            customer.email = f"{first.lower().replace(' ', '')}.{last.lower()}{i}@example.sn"
    if rng.random() < 0.02:
        customer.notice = f"2025{_scrambled(i, 6, 9)}"
    return customer


# --- rows ------------------------------------------------------------------------------------------


Rows = dict[str, list[tuple[Any, ...]]]
COLUMNS: dict[str, list[str]] = {
    table.fullname: [c.name for c in table.columns] for table in t.legacy_metadata.sorted_tables
}


def _row(table: Table, values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(c) for c in COLUMNS[table.fullname])


def _month_starts(now: datetime, months: int) -> list[datetime]:
    starts = []
    year, month = now.year, now.month
    for _ in range(months):
        starts.append(datetime(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return sorted(starts)


class Generator:
    def __init__(self, *, seed: int = 2026, now: datetime | None = None, months: int = 6) -> None:
        self.seed = seed
        self.now = (now or datetime.now(UTC)).replace(tzinfo=None, microsecond=0)
        self.months = months
        self._order = 0

    def _token(self, rng: random.Random) -> str:
        return f"{rng.randrange(10**19, 10**20)}"

    def add_customer(self, c: Customer, rng: random.Random, rows: Rows) -> None:
        def add(table: Table, values: dict[str, Any]) -> None:
            rows.setdefault(table.fullname, []).append(_row(table, values))

        for meter, poc in c.prepaid_meters:
            add(
                t.infos_administratives,
                {
                    "MT_COMM_ADDR": meter,
                    "TELEPHONE": national(c.phone),
                    "POLICE": poc,
                    "NOM_CLIENT": c.name,
                    "ADRESSE": c.address,
                    "AGENCE": c.agency,
                    "TARIF": "DPP",
                },
            )
            add(
                t.infos_administratives_new,
                {
                    "N° COMPTEUR": meter,
                    "POC": poc,
                    "TEL": c.stored_phone,
                    "N° CLIENT": f"{9000000 + abs(c.index)}",
                    "ADRESSE": c.address,
                    "USAGE": "DPP",
                    "CLIENT": c.name,
                    "AGENCE": c.agency,
                },
            )
            self._purchases(c, meter, poc, rng, add)
        for contract in c.contracts:
            add(
                t.compteurs_postpaid,
                {
                    "TELEPHONE": c.stored_phone,
                    "COMPTE CONTRAT": contract,
                    "N PARTENAIRE": c.partner,
                    "ADRESSE": c.address,
                    "TARIF": "DPP",
                    "CLIENT": c.name,
                    "AGENCE": c.agency,
                },
            )
            self._bills(c, contract, rng, add)
        if c.partner:
            addr = f"{int(c.partner) % 10**10:010d}"
            add(
                t.but000,
                {
                    "PARTNER": f"{int(c.partner):010d}",
                    "NAME_LAST": c.last_name.upper(),
                    "NAME_FIRST": c.first_name,
                    "ADDRCOMM": addr,
                },
            )
            add(t.adr2, {"ADDRNUMBER": addr, "TELNR_CALL": national(c.phone)})
            if c.email:
                add(t.adr6, {"ADDRNUMBER": addr, "SMTP_ADDR": c.email})
            for contract in c.contracts:
                add(t.fkkvkp, {"VKONT": f"{int(contract):012d}", "GPART": f"{int(c.partner):010d}"})
            if c.index % 10 == 3 or c.index == -1:
                # an internal '023…' account of the same partner: the lookup must not show it
                add(
                    t.fkkvkp,
                    {"VKONT": "023" + f"{abs(c.index) % 10**9:09d}", "GPART": f"{int(c.partner):010d}"},
                )
        if c.notice:
            self._notice(c, rng, add)

    def _purchases(
        self,
        c: Customer,
        meter: str,
        poc: str,
        rng: random.Random,
        add: Callable[[Table, dict[str, Any]], None],
    ) -> None:
        debt = c.debt
        starts = _month_starts(self.now, self.months)
        for start in starts:
            current = start.year == self.now.year and start.month == self.now.month
            end = self.now if current else (start + timedelta(days=32)).replace(day=1)
            count = (
                c.purchases_this_month
                if (current and c.purchases_this_month is not None)
                else rng.randint(1, 4)
            )
            span = max(60, int((end - start).total_seconds()) - 60)
            moments = sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(count))
            kwh_mtd = Decimal(0)
            for k, when in enumerate(moments):
                amount = Decimal(rng.choice(AMOUNTS))
                sale = prepaid_sale(
                    amount,
                    day=when.date(),
                    kwh_month_to_date=kwh_mtd,
                    monthly_fee_paid=k > 0,
                    debt_to_recover=debt,
                )
                debt -= sale.debt_recovered
                kwh_mtd += sale.kwh
                self._order += 1
                channel = rng.choice(CHANNELS)
                if channel == "AGENCE":
                    channel = f"AGENCE {c.agency}"
                tokens = [self._token(rng) for _ in range(3 if rng.random() < 0.03 else 1)]
                t1, t2, t3 = sale.tranches
                add(
                    t.senelecbill,
                    {
                        "NUMERO_COMMANDE": f"{self.seed % 100:02d}{self._order:012d}",
                        "NUMERO_COMPTEUR": meter,
                        "POLICE": poc,
                        "NOM_AGENCE_ENCAISSEMENT": channel,
                        "TARIF_USAGE": "DPP",
                        "DATE_TRANSACTION": when,
                        "MONTANT_HT": sale.amount_ht,
                        "MONTANT_TVA": sale.vat,
                        "MONTANT_TCO": sale.municipal_tax,
                        "MONTANT_TTC": sale.amount_ttc,
                        "ENERGIE_VENDUE": sale.kwh,
                        "SOLDE_DETTE": debt,
                        "DETTES": sale.debt_recovered,
                        "NOM_OPERATEUR": channel.split()[0],
                        "TOKEN": " ".join(tokens),
                        "MONTANT_RECU": None if rng.random() < 0.1 else sale.amount_received,
                        "ARRONDI": sale.rounding,
                        "ENERGIE1": t1.kwh,
                        "PRIX1": t1.price,
                        "MONTANT1": t1.amount,
                        "ENERGIE2": t2.kwh,
                        "PRIX2": t2.price,
                        "MONTANT2": t2.amount,
                        "ENERGIE3": t3.kwh,
                        "PRIX3": t3.price,
                        "MONTANT3": t3.amount,
                    },
                )

    def _bills(
        self, c: Customer, contract: str, rng: random.Random, add: Callable[[Table, dict[str, Any]], None]
    ) -> None:
        bill_day = self.now.date() - timedelta(days=rng.randint(1, 55))
        days_back = self.months * 31
        first = self.now.date() - timedelta(days=days_back)
        k = 0
        while bill_day >= first:
            days = rng.randint(58, 62)
            kwh = Decimal(rng.randint(60, 900))
            bill = postpaid_bill(kwh, days=days, day=bill_day)
            k += 1
            self._order += 1
            add(
                t.historique,
                {
                    "IDHistorique": self._order,
                    "numFact": f"{self.seed % 100:02d}{self._order:010d}",
                    "numCC": contract,
                    "numPartenaire": c.partner,
                    "dateEnvoi": datetime.combine(bill_day, datetime.min.time()) + timedelta(days=1),
                    "ADD_LIV": c.address,
                    "ADD_PRES": c.address,
                    "AI_TH1": Decimal(0),
                    "AGENCE": c.agency,
                    "BORDEREAU": f"B{self._order % 100000:05d}",
                    "BT_MONT_HT": bill.amount_ht,
                    "BT_MONT_TTC": bill.amount_ttc,
                    "BT_MONT_TCO": bill.municipal_tax,
                    "BT_TOTALFACTUR": bill.amount_ttc,
                    "BT_CONSTOT": kwh,
                    "MONT_TCO": bill.municipal_tax,
                    "MONT_TTC": bill.amount_ttc,
                    "MONT_TVA": bill.vat,
                    "myTypeFact": "FC",
                    "NBJRS_": days,
                    "NOCPTEUR": f"SN{contract[-8:]}",
                    "NOMPRES": c.name,
                    "PMAX": Decimal(6),
                    "TARIF": "DPP",
                    "TOTALFACT": bill.amount_ttc,
                    "TYPEFACT": "NORMALE",
                    "moisFacturation": bill_day.month,
                    "anneeFacturation": bill_day.year,
                    "typeClientele": "DOMESTIQUE",
                    "DATFACT": bill_day,
                    "DATEECH": bill_day + timedelta(days=15),
                    "BT_CONSOM1": bill.kwh[0],
                    "BT_CONSOM2": bill.kwh[1],
                    "BT_CONSOM3": bill.kwh[2],
                },
            )
            bill_day -= timedelta(days=days)

    def _notice(self, c: Customer, rng: random.Random, add: Callable[[Table, dict[str, Any]], None]) -> None:
        done = 3 if c.index < 0 else rng.randint(1, len(NOTICE_STEPS))
        start = self.now - timedelta(days=40)
        for n, (code, label) in enumerate(NOTICE_STEPS):
            finished = n < done
            when = start + timedelta(days=5 * n)
            add(
                t.avis_etapes,
                {
                    "NUM_AVIS": c.notice,
                    "CODE_ETAPE": code,
                    "NUM_PARTENAIRE": c.partner or f"{9000000000 + abs(c.index)}",
                    "DESC_ETAPE": label,
                    "DATE_TERM": when.date() if finished else None,
                    "HEURE_TERM": when.strftime("%H:%M:%S") if finished else None,
                    "PRENOM": c.first_name,
                    "NOM": c.last_name.upper(),
                    "TELEPHONE": national(c.phone),
                    "STATUT_AVIS": "TERMINE" if done == len(NOTICE_STEPS) else "EN COURS",
                    "DT_DERNIERE_MAJ": self.now,
                },
            )

    def chunks(self, customers: int, chunk_size: int, *, scenario: bool = True) -> Iterator[tuple[int, Rows]]:
        """Yield (customers in the chunk, rows per table)."""
        if scenario:
            rows: Rows = {}
            rng = random.Random(self.seed)
            for c in scenario_customers():
                self.add_customer(c, rng, rows)
            yield 0, rows
        for begin in range(0, customers, chunk_size):
            end = min(customers, begin + chunk_size)
            rng = random.Random(self.seed * 1_000_003 + begin)
            rows = {}
            for i in range(begin, end):
                self.add_customer(random_customer(i, rng), rng, rows)
            yield end - begin, rows


@dataclass
class LoadReport:
    customers: int
    rows: dict[str, int]
    seconds: float


async def load(
    url: str,
    customers: int,
    *,
    seed: int = 2026,
    months: int = 6,
    chunk_size: int = 2000,
    now: datetime | None = None,
    drop: bool = True,
    progress: Callable[[int], object] | None = None,
) -> LoadReport:
    """(Re)build the simulated source at ``url`` with the scenario and ``customers`` random customers."""
    import time

    began = time.perf_counter()
    await ensure_database(url)
    await create_schema(url, drop=drop)
    generator = Generator(seed=seed, now=now, months=months)
    totals: dict[str, int] = {}
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        for count, rows in generator.chunks(customers, chunk_size):
            async with conn.transaction():
                for fullname, records in rows.items():
                    schema, _, name = fullname.partition(".")
                    await conn.copy_records_to_table(
                        name, records=records, columns=COLUMNS[fullname], schema_name=schema
                    )
                    totals[name] = totals.get(name, 0) + len(records)
            if progress and count:
                progress(count)
    finally:
        await conn.close()
    await create_indexes(url)
    return LoadReport(customers, totals, time.perf_counter() - began)


async def is_seeded(url: str) -> bool:
    """Whether the simulated source exists and holds the scenario's demo meter."""
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
    except Exception:
        return False
    try:
        found = await conn.fetchval(
            'SELECT 1 FROM sic."HEXING_INFOS_ADMINISTRATIVES_NEW" WHERE "N° COMPTEUR" = $1',
            DEMO_PREPAID_METER,
        )
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()
    return bool(found)
