"""Bills that add up: priced tranche lines, the PDF invoice read back, the postpaid simulator against
the seeded bills, monthly figures spread over the billed days and last year's month."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from httpx import AsyncClient
from pypdf import PdfReader

from samaconso.kit.db import Database
from samaconso.legacy import generator as g
from samaconso.legacy.simulated import asyncpg_dsn
from samaconso.settings import Settings
from samaconso.tariffs.seed import seed as seed_tariffs
from tests.support.legacy import LegacySource
from tests.support.users import TestUser, make_user

BILLS_SQL = 'SELECT * FROM histh2mc."Historique" WHERE "numCC" = $1 ORDER BY "DATFACT" DESC'
# contracts these tests add to the shared simulated source themselves (never generated ones)
TEST_CONTRACT_PREFIX = "300555"
ALL_BILLS_SQL = 'SELECT * FROM histh2mc."Historique" WHERE "numCC" NOT LIKE $1 ORDER BY "numCC", "DATFACT"'
# the published grids (DOMAIN §5), written here independently of the seed
POSTPAID_PRICES = {2025: (91.17, 136.49, 149.06), 2026: (82.00, 136.49, 159.36)}


def _prices(day: date) -> tuple[float, float, float]:
    return POSTPAID_PRICES[2026] if day >= date(2026, 1, 1) else POSTPAID_PRICES[2025]


async def _awa_postpaid(client: AsyncClient, db: Database, settings: Settings) -> tuple[TestUser, str]:
    await seed_tariffs(db, settings)
    awa = await make_user(db, settings, phone=g.DEMO_PHONE, first_name="Awa", last_name="Diop")
    r = await client.post(
        "/api/v1/me/meters",
        json={"kind": "postpaid", "number": g.DEMO_POSTPAID_CONTRACT},
        headers=awa.headers,
    )
    assert r.status_code == 201, r.text
    return awa, r.json()["id"]


def _fr(value: float) -> str:
    whole, cents = f"{value:,.2f}".split(".")
    return f"{whole.replace(',', ' ')},{cents}"


async def test_bill_lines_carry_price_and_amount_and_add_up_to_the_total(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa, meter_id = await _awa_postpaid(client, db, settings)
    rows = await legacy_source.fetch(BILLS_SQL, g.DEMO_POSTPAID_CONTRACT)
    r = await client.get(f"/api/v1/me/meters/{meter_id}/bills?limit=100", headers=awa.headers)
    assert r.status_code == 200, r.text
    bills = r.json()["items"]
    assert [b["number"] for b in bills] == [row["numFact"] for row in rows]
    for bill, row in zip(bills, rows, strict=True):
        prices = _prices(row["DATFACT"])
        for line, price in zip(bill["tranches"], prices, strict=True):
            assert line["unit_price"] == price
            assert line["amount"] == round(line["kwh"] * price + 1e-9, 2)
        lines = round(sum(t["amount"] for t in bill["tranches"]), 2)
        # the rounding rule: lines to the centime add up to the amount excl. tax, and with the
        # municipal tax and VAT to the total, to the centime
        assert lines == float(row["BT_MONT_HT"]) == bill["amount_excl_tax"]
        assert (
            round(lines + bill["municipal_tax"] + bill["vat"], 2)
            == bill["amount"]
            == float(row["BT_MONT_TTC"])
        )
        assert bill["other_charges"] == 0
        assert bill["due_date"] == row["DATEECH"].isoformat()
        assert bill["paid"] is None  # the legacy history has no payment column
        assert bill["period_start"] == (row["DATFACT"] - timedelta(days=row["NBJRS_"] - 1)).isoformat()
        assert bill["tariff"] == "DPP"


async def test_bill_pdf_is_a_french_invoice_whose_lines_add_up(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa, meter_id = await _awa_postpaid(client, db, settings)
    row = (await legacy_source.fetch(BILLS_SQL, g.DEMO_POSTPAID_CONTRACT))[0]
    r = await client.get(f"/api/v1/me/meters/{meter_id}/bills/{row['numFact']}/pdf", headers=awa.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert f"facture-{row['numFact']}.pdf" in r.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(r.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "FACTURE D'ÉLECTRICITÉ" in text
    assert f"Facture n° {row['numFact']}" in text
    assert "Titulaire : DIOP Awa" in text
    assert f"Compte contrat : {g.DEMO_POSTPAID_CONTRACT}" in text
    assert row["DATEECH"].strftime("%d/%m/%Y") in text
    start = row["DATFACT"] - timedelta(days=row["NBJRS_"] - 1)
    assert f"Période du {start:%d/%m/%Y} au {row['DATFACT']:%d/%m/%Y} ({row['NBJRS_']} jours)" in text
    prices = _prices(row["DATFACT"])
    amounts = []
    for i, price in enumerate(prices, start=1):
        kwh = float(row[f"BT_CONSOM{i}"])
        amount = float((Decimal(str(kwh)) * Decimal(str(price))).quantize(Decimal("0.01")))
        amounts.append(amount)
        assert f"{_fr(amount)}" in text
    assert round(sum(amounts), 2) == float(row["BT_MONT_HT"])
    for column in ("BT_MONT_HT", "BT_MONT_TCO", "MONT_TVA", "BT_MONT_TTC"):
        assert _fr(float(row[column])) in text, column
    assert "TOTAL TTC" in text

    # another bill number, someone else's meter, a prepaid meter: clear problems
    missing = await client.get(
        f"/api/v1/me/meters/{meter_id}/bills/999999999999/pdf",
        headers={**awa.headers, "Accept-Language": "en"},
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "bill_not_found"
    assert missing.json()["detail"] == "Bill not found."
    bad = await client.get(f"/api/v1/me/meters/{meter_id}/bills/abc/pdf", headers=awa.headers)
    assert bad.status_code == 404
    assert bad.json()["detail"] == "Facture introuvable."
    mallory = await make_user(db, settings)
    other = await client.get(
        f"/api/v1/me/meters/{meter_id}/bills/{row['numFact']}/pdf", headers=mallory.headers
    )
    assert other.status_code == 404
    assert (await client.get(f"/api/v1/me/meters/{meter_id}/bills/{row['numFact']}/pdf")).status_code == 401


async def test_postpaid_simulator_agrees_with_every_seeded_bill(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    await seed_tariffs(db, settings)
    user = await make_user(db, settings)
    rows = await legacy_source.fetch(ALL_BILLS_SQL, f"{TEST_CONTRACT_PREFIX}%")
    assert len(rows) >= 20
    for row in rows:
        r = await client.post(
            "/api/v1/simulator/postpaid",
            json={"kwh": float(row["BT_CONSTOT"]), "days": row["NBJRS_"], "on": row["DATFACT"].isoformat()},
            headers=user.headers,
        )
        assert r.status_code == 200, r.text
        est = r.json()
        assert est["monthly_fee"] == 0
        assert [t["kwh"] for t in est["tranches"] if t["kwh"]] == [
            float(row[f"BT_CONSOM{i}"]) for i in (1, 2, 3) if row[f"BT_CONSOM{i}"]
        ]
        assert est["energy_amount"] == float(row["BT_MONT_HT"]), row["numFact"]
        assert est["municipal_tax"] == float(row["BT_MONT_TCO"])
        assert est["vat"] == float(row["MONT_TVA"])
        assert est["total"] == float(row["BT_MONT_TTC"]), row["numFact"]


# ---------------------------------------------------------------- monthly figures and last year
CONTRACT = TEST_CONTRACT_PREFIX + "0001"
PREPAID = g.with_luhn("1455550001")
POC = "30145550001"


async def _insert(url: str, table: str, rows: list[dict[str, Any]]) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url), timeout=5)
    try:
        for row in rows:
            cols = ", ".join(f'"{c}"' for c in row)
            marks = ", ".join(f"${i}" for i in range(1, len(row) + 1))
            await conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", *row.values())  # noqa: S608
    finally:
        await conn.close()


async def test_monthly_postpaid_spreads_each_bill_and_shows_last_year(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    await seed_tariffs(db, settings)
    year = datetime.now(UTC).year
    user = await make_user(db, settings, phone="+221775550001")
    await _insert(
        legacy_source.url,
        'sic."compteurs_postpaid"',
        [
            {
                "TELEPHONE": "775550001",
                "COMPTE CONTRAT": CONTRACT,
                "TARIF": "DPP",
                "CLIENT": "NDIAYE Fatou",
                "AGENCE": "HLM",
            }
        ],
    )
    # 60-day bills back to back over two years (the last one covers 1 Jan of this year - 60 days on)
    bills = []
    end = date(year, 3, 1)
    n = 0
    while end > date(year - 1, 1, 1):
        n += 1
        bills.append(
            {
                "numFact": f"77{n:08d}",
                "numCC": CONTRACT,
                "DATFACT": end,
                "DATEECH": end + timedelta(days=15),
                "NBJRS_": 60,
                "BT_CONSTOT": Decimal(600),
                "BT_MONT_TTC": Decimal(60000),
                "BT_MONT_HT": Decimal(55000),
                "BT_MONT_TCO": Decimal(1375),
                "MONT_TVA": Decimal(3625),
                "BT_CONSOM1": Decimal(300),
                "BT_CONSOM2": Decimal(200),
                "BT_CONSOM3": Decimal(100),
            }
        )
        end -= timedelta(days=60)
    await _insert(legacy_source.url, 'histh2mc."Historique"', bills)
    r = await client.post(
        "/api/v1/me/meters", json={"kind": "postpaid", "number": CONTRACT}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    meter_id = r.json()["id"]

    m = await client.get(
        f"/api/v1/me/meters/{meter_id}/consumption/monthly?year={year}", headers=user.headers
    )
    assert m.status_code == 200, m.text
    months = {x["month"]: x for x in m.json()["months"]}
    # 10 kWh a day: January has 31 days of bills, February 28 or 29, March 1 day, the rest none
    feb_days = (date(year, 3, 1) - date(year, 2, 1)).days
    assert months[1]["kwh"] == 310.0
    assert months[1]["amount"] == 31000.0
    assert months[2]["kwh"] == 10.0 * feb_days
    assert months[3]["kwh"] == 10.0
    assert all(months[k]["kwh"] == 0 for k in range(4, 13))
    # last year: every month covered, so no month without consumption (no zig-zag)
    for k in range(1, 13):
        days = (date(year - 1 + k // 12, k % 12 + 1, 1) - date(year - 1, k, 1)).days
        assert months[k]["last_year_kwh"] == 10.0 * days, k
        assert months[k]["last_year_amount"] == 1000.0 * days, k


async def test_monthly_prepaid_shows_the_same_month_last_year(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    year = datetime.now(UTC).year
    user = await make_user(db, settings, phone="+221775550002")
    await _insert(
        legacy_source.url,
        'sic."HEXING_INFOS_ADMINISTRATIVES_NEW"',
        [
            {
                "N° COMPTEUR": PREPAID,
                "POC": POC,
                "TEL": "775550002",
                "USAGE": "DPP",
                "CLIENT": "FALL Modou",
                "AGENCE": "HLM",
            }
        ],
    )
    await _insert(
        legacy_source.url,
        'sic."HEXING_SENELECBILL_ALHDL2"',
        [
            {
                "NUMERO_COMMANDE": f"88{i:012d}",
                "NUMERO_COMPTEUR": PREPAID,
                "POLICE": POC,
                "DATE_TRANSACTION": when,
                "MONTANT_TTC": Decimal(amount),
                "MONTANT_RECU": Decimal(amount),
                "ENERGIE_VENDUE": Decimal(kwh),
            }
            for i, (when, amount, kwh) in enumerate(
                [
                    (datetime(year - 1, 5, 3, 10), 5000, "55.5"),
                    (datetime(year - 1, 5, 20, 10), 2000, "22.1"),
                    (datetime(year, 5, 4, 9), 3000, "33.3"),
                ]
            )
        ],
    )
    r = await client.post(
        "/api/v1/me/meters", json={"kind": "prepaid", "number": PREPAID}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    m = await client.get(
        f"/api/v1/me/meters/{r.json()['id']}/consumption/monthly?year={year}", headers=user.headers
    )
    may = m.json()["months"][4]
    assert (may["kwh"], may["amount"]) == (33.3, 3000.0)
    assert (may["last_year_kwh"], may["last_year_amount"]) == (77.6, 7000.0)
    assert m.json()["months"][5]["last_year_kwh"] == 0


async def test_postpaid_summary_states_the_period_of_its_tranche(
    client: AsyncClient, db: Database, settings: Settings, legacy_source: LegacySource
) -> None:
    awa, meter_id = await _awa_postpaid(client, db, settings)
    row = (await legacy_source.fetch(BILLS_SQL, g.DEMO_POSTPAID_CONTRACT))[0]
    s = (await client.get(f"/api/v1/me/meters/{meter_id}/summary", headers=awa.headers)).json()
    period = s["tranche_period"]
    assert period["end"] == row["DATFACT"].isoformat()
    assert period["start"] == (row["DATFACT"] - timedelta(days=row["NBJRS_"] - 1)).isoformat()
    assert period["kwh"] == float(row["BT_CONSTOT"])
    # tranche widths scale with the billed days: 150 and 250 kWh a month
    scale = row["NBJRS_"] / 30
    kwh = float(row["BT_CONSTOT"])
    assert s["tranche"] == (1 if kwh <= 150 * scale else 2 if kwh <= 250 * scale else 3)
    assert s["last_bill"]["tranches"][0]["unit_price"] is not None
