"""The synthetic legacy data follows Senelec's rules (DOMAIN §5) and the legacy formats."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from samaconso.identity.agency_names import legacy_key
from samaconso.identity.phones import normalize_phone
from samaconso.identity.seed import AGENCIES
from samaconso.legacy.numbers import luhn_valid, with_luhn
from samaconso.legacy.tariff import MONTHLY_FEE, postpaid_bill, prepaid_sale, tranche_status
from tests.support.legacy import LegacySource

D = Decimal


def test_published_tranche_boundaries() -> None:
    # 2025 grid: tranche 1 ends at 14 446 FCFA, tranche 2 at 28 436 FCFA (Senelec's published figures)
    t1 = prepaid_sale(D("14447"), day=date(2025, 6, 1), kwh_month_to_date=D(0), monthly_fee_paid=False)
    assert [t.kwh for t in t1.tranches] == [D("150.0"), D(0), D(0)]
    t2 = prepaid_sale(D("28437"), day=date(2025, 6, 1), kwh_month_to_date=D(0), monthly_fee_paid=False)
    assert [t.kwh for t in t2.tranches] == [D("150.0"), D("100.0"), D(0)]
    assert t2.vat == 0
    # 2026 grid: tranche 1 ends at 13 036.5 FCFA
    t3 = prepaid_sale(D("13036.5"), day=date(2026, 3, 1), kwh_month_to_date=D(0), monthly_fee_paid=False)
    assert t3.tranches[0].kwh == D("150.0")
    assert t3.tranches[0].price == D("82.00")
    assert t3.rounding == 0


def test_vat_only_above_250_kwh_and_fee_once() -> None:
    sale = prepaid_sale(D("20000"), day=date(2026, 3, 10), kwh_month_to_date=D(240), monthly_fee_paid=True)
    assert sale.monthly_fee == 0
    assert sale.tranches[1].kwh == D("10.0")
    assert sale.tranches[2].kwh > 0
    assert sale.vat == (sale.tranches[2].amount * D("0.18")).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert sale.municipal_tax == (sale.amount_ht * D("0.025")).quantize(D("0.01"), rounding=ROUND_HALF_UP)


@given(
    amount=st.integers(min_value=1000, max_value=200_000),
    mtd=st.decimals(min_value=0, max_value=600, places=1),
    paid=st.booleans(),
    debt=st.integers(min_value=0, max_value=50_000),
)
@settings(max_examples=200, deadline=None)
def test_prepaid_sale_adds_up(amount: int, mtd: Decimal, paid: bool, debt: int) -> None:
    sale = prepaid_sale(
        D(amount), day=date(2026, 5, 1), kwh_month_to_date=mtd, monthly_fee_paid=paid, debt_to_recover=D(debt)
    )
    assert sale.amount_ttc + sale.debt_recovered + sale.rounding == D(amount)
    assert D(0) <= sale.rounding < D("20")  # less than 0.1 kWh at the dearest price (+ cent roundings)
    assert sale.monthly_fee == (0 if paid else MONTHLY_FEE)
    # tranches fill in order from the kWh already bought this month
    used = mtd + sale.tranches[0].kwh
    assert used <= 150 or sale.tranches[0].kwh == 0
    if sale.tranches[1].kwh:
        assert mtd + sale.tranches[0].kwh >= 150
    if sale.tranches[2].kwh:
        assert mtd + sale.tranches[0].kwh + sale.tranches[1].kwh >= 250
    if mtd + sale.kwh <= 250:
        assert sale.vat == 0


def test_postpaid_tranches_scale_with_days_and_status() -> None:
    bill = postpaid_bill(D(700), days=60, day=date(2026, 4, 1))
    assert bill.kwh == (D(300), D(200), D(200))
    assert bill.vat == (D(200) * D("159.36") * D("0.18")).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert tranche_status(120).tranche == 1
    assert tranche_status(120).kwh_left_in_tranche == 30
    assert tranche_status(200).kwh_left_in_tranche == 50
    assert tranche_status(300).tranche == 3
    assert tranche_status(300).kwh_left_in_tranche is None
    assert tranche_status(280, days=60).tranche == 1


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert with_luhn("7992739871") == "79927398713"


async def test_generated_rows_follow_the_rules(legacy_source: LegacySource) -> None:
    # The source is shared by the session: other tests add hand-written rows (partial, like some
    # legacy rows). The rules checked here are the generator's: its rows carry the seed's prefix.
    mine = f"{7 % 100:02d}%"  # tests.support.legacy loads with seed=7
    admins = await legacy_source.fetch('SELECT * FROM sic."HEXING_INFOS_ADMINISTRATIVES_NEW"')
    assert len(admins) >= 10
    known_agencies = {legacy_key(name) for _, name, _ in AGENCIES}
    for row in admins:
        assert len(row["N° COMPTEUR"]) in (11, 13)
        assert luhn_valid(row["N° COMPTEUR"])
        assert normalize_phone(row["TEL"]).startswith("+2217")
        assert row["AGENCE"] in known_agencies

    purchases = await legacy_source.fetch(
        'SELECT * FROM sic."HEXING_SENELECBILL_ALHDL2" WHERE "NUMERO_COMMANDE" LIKE $1 '
        'ORDER BY "NUMERO_COMPTEUR", "DATE_TRANSACTION"',
        mine,
    )
    by_month: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for p in purchases:
        when = p["DATE_TRANSACTION"]
        by_month[(p["NUMERO_COMPTEUR"], when.year, when.month)].append(p)
        tokens = p["TOKEN"].split()
        assert 1 <= len(tokens) <= 3
        assert all(len(t) == 20 and t.isdigit() for t in tokens)
        assert p["ENERGIE1"] + p["ENERGIE2"] + p["ENERGIE3"] == p["ENERGIE_VENDUE"]
        assert p["MONTANT_TCO"] == (p["MONTANT_HT"] * D("0.025")).quantize(D("0.01"), rounding=ROUND_HALF_UP)
        assert p["MONTANT_TVA"] == (p["MONTANT3"] * D("0.18")).quantize(D("0.01"), rounding=ROUND_HALF_UP)
        expected_t1 = D("91.17") if when.year < 2026 else D("82.00")
        assert p["PRIX1"] == expected_t1
        assert p["PRIX2"] == p["PRIX3"] == D("136.49")
    for rows in by_month.values():
        kwh = D(0)
        for k, p in enumerate(rows):
            fee = p["MONTANT_TTC"] - p["MONTANT_HT"] - p["MONTANT_TVA"] - p["MONTANT_TCO"]
            assert fee == (MONTHLY_FEE if k == 0 else 0)  # the 429 FCFA fee: first purchase of the month only
            if p["ENERGIE3"]:
                assert kwh + p["ENERGIE1"] + p["ENERGIE2"] >= 250  # VAT only above 250 kWh in the month
            kwh += p["ENERGIE_VENDUE"]

    bills = await legacy_source.fetch(
        'SELECT * FROM histh2mc."Historique" WHERE "numFact" LIKE $1 ORDER BY "numCC", "DATFACT"', mine
    )
    assert bills
    for b in bills:
        assert 58 <= b["NBJRS_"] <= 62
        assert b["BT_CONSOM1"] + b["BT_CONSOM2"] + b["BT_CONSOM3"] == b["BT_CONSTOT"]
        assert b["BT_MONT_TTC"] == b["BT_MONT_HT"] + b["BT_MONT_TCO"] + b["MONT_TVA"]
    notices = await legacy_source.fetch('SELECT DISTINCT "NUM_AVIS" FROM bi_ods."AVIS_ETAPES_HANA"')
    assert notices
