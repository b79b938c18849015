"""The tariff engine: Senelec's published thresholds, rounding, inverse, postpaid, properties."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samaconso.tariffs import engine
from samaconso.tariffs.engine import TariffError, TariffGrid, Tranche
from samaconso.tariffs.reference import DPP_2023, DPP_2026, PPP_2023

GRIDS = [DPP_2023, DPP_2026, PPP_2023]


def test_published_2025_thresholds_are_reproduced_exactly() -> None:
    assert engine.tranche_thresholds(DPP_2023) == [(1, D("14446")), (2, D("28436"))]
    # and the money lands exactly on the boundaries
    end_t1 = engine.prepaid_purchase(DPP_2023, D(14446))
    assert end_t1.kwh == 150
    assert [ln.tranche for ln in end_t1.lines] == [1]
    assert end_t1.rounding == 0
    end_t2 = engine.prepaid_purchase(DPP_2023, D(28436))
    assert end_t2.kwh == 250
    assert [(ln.tranche, ln.kwh) for ln in end_t2.lines] == [(1, D(150)), (2, D(100))]
    assert end_t2.fee == 429
    assert end_t2.vat == 0


def test_2026_tranche_1_ends_at_13036_5() -> None:
    assert engine.tranche_thresholds(DPP_2026)[0] == (1, D("13036.5"))
    assert engine.prepaid_cost(DPP_2026, D(150)).charged == D("13036.5")
    assert engine.prepaid_cost(DPP_2026, D(150)).payable == 13037


def test_one_franc_less_stays_below_the_boundary_one_more_crosses() -> None:
    below = engine.prepaid_purchase(DPP_2023, D(14445))
    assert below.kwh == D("149.9")
    assert {ln.tranche for ln in below.lines} == {1}
    above = engine.prepaid_purchase(DPP_2023, D(28600))
    assert above.lines[-1].tranche == 3
    assert above.lines[-1].vat > 0


def test_breakdown_taxes_fee_and_vat_above_250() -> None:
    p = engine.prepaid_purchase(DPP_2026, D(50000))
    assert p.fee == 429
    assert [ln.tranche for ln in p.lines] == [1, 2, 3]
    t3 = p.lines[2]
    assert t3.unit_price == D("136.49")
    assert t3.vat == engine.cents(t3.kwh * D("136.49") * D("0.18"))
    assert p.municipal_tax == sum(ln.municipal_tax for ln in p.lines)
    assert p.lines[0].vat == 0
    assert p.lines[1].vat == 0
    assert p.charged + p.rounding == D(50000)
    assert 0 <= p.rounding < D("16.5")  # less than one tenth of kWh in tranche 3 + half a franc


def test_fee_only_once_a_month_and_month_to_date_shifts_the_tranches() -> None:
    first = engine.prepaid_purchase(DPP_2026, D(5000))
    again = engine.prepaid_purchase(DPP_2026, D(5000), month_to_date_kwh=first.kwh, fee_paid=True)
    assert first.fee == 429
    assert again.fee == 0
    assert again.kwh > first.kwh  # no fee the second time, still in tranche 1
    late = engine.prepaid_purchase(DPP_2026, D(5000), month_to_date_kwh=D(140), fee_paid=True)
    assert next((ln.tranche, ln.kwh) for ln in late.lines) == (1, D(10))
    assert late.lines[1].tranche == 2


def test_minimum_purchase_and_bad_input() -> None:
    with pytest.raises(TariffError) as exc:
        engine.prepaid_purchase(DPP_2026, D(999))
    assert exc.value.code == "below_minimum_purchase"
    with pytest.raises(TariffError):
        engine.prepaid_cost(DPP_2026, D(0))
    with pytest.raises(TariffError):
        engine.prepaid_purchase(DPP_2026, D(2000), month_to_date_kwh=D(-1))
    assert engine.payable(DPP_2026, engine.prepaid_cost(DPP_2026, D(1)).charged) == 1000


def test_postpaid_estimate_scales_tranche_widths_with_days() -> None:
    est = engine.postpaid_estimate(DPP_2026, D(600), 60)
    assert [(ln.tranche, ln.kwh) for ln in est.lines] == [(1, D(300)), (2, D(200)), (3, D(100))]
    assert est.lines[2].unit_price == D("159.36")
    assert est.vat == engine.cents(100 * D("159.36") * D("0.18"))
    assert est.monthly_fee == 0  # the redevance is a Woyofal charge: legacy bills carry none
    assert est.energy_amount == sum(ln.amount for ln in est.lines)
    assert est.municipal_tax == engine.cents(est.energy_amount * D("0.025"))
    assert est.total == est.energy_amount + est.municipal_tax + est.vat
    # the case: 754 kWh over 58 days, billed 103 398.23 FCFA under the 2026 grid
    assert engine.postpaid_estimate(DPP_2026, D(754), 58).total == D("103398.23")
    # a width that is not a whole number of kWh (59 days: tranche 2 is 196.66… wide) is truncated
    odd = engine.postpaid_estimate(DPP_2026, D(700), 59)
    assert [ln.kwh for ln in odd.lines] == [D(295), D("196.66"), D("208.34")]
    short = engine.postpaid_estimate(DPP_2026, D(100), 15)  # 15 days: tranche 1 is 75 kWh wide
    assert [(ln.tranche, ln.kwh) for ln in short.lines] == [(1, D(75)), (2, D(25))]
    with pytest.raises(TariffError):
        engine.postpaid_estimate(DPP_2026, D(100), 0)


def test_grid_validation_rejects_gaps_overlaps_and_bounded_last() -> None:
    def grid(*tranches: Tranche) -> TariffGrid:
        return TariffGrid("X", date(2026, 1, 1), None, tranches, D(0), D(0), D(0), None)

    ok = grid(Tranche(1, D(0), D(100), D(1), D(1)), Tranche(2, D(100), None, D(2), D(2)))
    assert engine.validate_grid(ok) == []
    gap = grid(Tranche(1, D(0), D(100), D(1), D(1)), Tranche(2, D(120), None, D(2), D(2)))
    assert engine.validate_grid(gap)
    bounded = grid(Tranche(1, D(0), D(100), D(1), D(1)))
    assert engine.validate_grid(bounded)
    not_zero = grid(Tranche(1, D(10), None, D(1), D(1)))
    assert engine.validate_grid(not_zero)


def test_pick_version_by_purchase_date() -> None:
    assert engine.pick_version(GRIDS, "DPP", date(2025, 12, 31)) is DPP_2023
    assert engine.pick_version(GRIDS, "DPP", date(2026, 1, 1)) is DPP_2026
    assert engine.pick_version(GRIDS, "DPP", date(2022, 12, 31)) is None


def test_advice_when_crossing_into_a_dearer_tranche() -> None:
    adv = engine.advise(DPP_2026, D(5000), month_to_date_kwh=D(120), fee_paid=True)
    assert adv.crosses_tranche
    assert adv.current_tranche == 1
    assert adv.kwh_left_in_current_tranche == 30
    assert adv.cost_to_finish_tranche == engine.prepaid_cost(DPP_2026, D(30), fee_paid=True).payable
    assert adv.split is not None
    assert adv.split.now_kwh == 30
    assert adv.split.total_kwh == adv.split.now_kwh + adv.split.next_month_kwh
    calm = engine.advise(DPP_2026, D(2000))
    assert not calm.crosses_tranche
    assert calm.split is None


money = st.integers(min_value=1000, max_value=300_000).map(D)
mtd = st.integers(min_value=0, max_value=4000).map(lambda n: D(n) / 10)
grids = st.sampled_from(GRIDS)


@settings(max_examples=300, deadline=None)
@given(grids, money, st.integers(min_value=0, max_value=5000).map(D), mtd, st.booleans())
def test_more_money_never_buys_fewer_kwh(grid: TariffGrid, x: D, extra: D, m: D, fee: bool) -> None:
    a = engine.prepaid_purchase(grid, x, month_to_date_kwh=m, fee_paid=fee)
    b = engine.prepaid_purchase(grid, x + extra, month_to_date_kwh=m, fee_paid=fee)
    assert b.kwh >= a.kwh


@settings(max_examples=300, deadline=None)
@given(grids, money, mtd, st.booleans())
def test_inverse_of_forward_is_at_most_the_money_and_close(grid: TariffGrid, x: D, m: D, fee: bool) -> None:
    bought = engine.prepaid_purchase(grid, x, month_to_date_kwh=m, fee_paid=fee)
    if bought.kwh == 0:
        return
    cost = engine.prepaid_cost(grid, bought.kwh, month_to_date_kwh=m, fee_paid=fee).charged
    assert cost <= x
    dearest = max(t.price_prepaid for t in grid.tranches) * (1 + grid.municipal_tax_rate + grid.vat_rate)
    assert x - cost < dearest / 10 + D("0.5")  # less than one more tenth of kWh
    assert cost == bought.charged


@settings(max_examples=300, deadline=None)
@given(grids, st.integers(min_value=1, max_value=6000).map(lambda n: D(n) / 10), mtd, st.booleans())
def test_forward_of_inverse_gives_the_kwh_asked(grid: TariffGrid, k: D, m: D, fee: bool) -> None:
    cost = engine.prepaid_cost(grid, k, month_to_date_kwh=m, fee_paid=fee)
    if cost.charged < grid.minimum_purchase:
        return
    again = engine.prepaid_purchase(grid, cost.charged, month_to_date_kwh=m, fee_paid=fee)
    assert again.kwh == k
    assert again.rounding == 0


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([DPP_2023, DPP_2026]), mtd)
def test_tranche_boundaries_land_where_the_grid_says(grid: TariffGrid, m: D) -> None:
    for tranche in grid.tranches:
        if tranche.kwh_to is None or m >= tranche.kwh_to:
            continue
        cost = engine.prepaid_cost(grid, tranche.kwh_to - m, month_to_date_kwh=m, fee_paid=True)
        if cost.charged < grid.minimum_purchase:
            continue
        exact = engine.prepaid_purchase(grid, cost.charged, month_to_date_kwh=m, fee_paid=True)
        assert exact.month_to_date_after == tranche.kwh_to
        assert exact.lines[-1].tranche == tranche.position
        more = engine.prepaid_purchase(grid, cost.charged + 200, month_to_date_kwh=m, fee_paid=True)
        assert more.lines[-1].tranche == tranche.position + 1


@settings(max_examples=200, deadline=None)
@given(grids, money, mtd, st.booleans())
def test_advice_is_consistent(grid: TariffGrid, x: D, m: D, fee: bool) -> None:
    advice = engine.advise(grid, x, month_to_date_kwh=m, fee_paid=fee)
    bought = engine.prepaid_purchase(grid, x, month_to_date_kwh=m, fee_paid=fee)
    assert advice.crosses_tranche == (
        len({ln.tranche for ln in bought.lines}) > 1
        or (bool(bought.lines) and bought.lines[0].tranche != advice.current_tranche)
    )
    if advice.split is not None:
        assert advice.split.now_amount + advice.split.next_month_amount == x
        assert advice.split.total_kwh == advice.split.now_kwh + advice.split.next_month_kwh
        assert advice.kwh_left_in_current_tranche is not None
        assert advice.split.now_kwh <= advice.kwh_left_in_current_tranche


def test_tranche_reached_follows_the_grid_and_the_billed_days() -> None:
    assert engine.tranche_reached(DPP_2026, D(120)) == (1, D(30))
    assert engine.tranche_reached(DPP_2026, D(150)) == (1, D(0))  # the bound still closes tranche 1
    assert engine.tranche_reached(DPP_2026, D("150.1")) == (2, D("99.9"))
    assert engine.tranche_reached(DPP_2026, D(300)) == (3, None)
    assert engine.tranche_reached(DPP_2026, D(280), days=60) == (1, D(20))  # 60 days: 300 then 500
    assert engine.tranche_reached(DPP_2026, D(480), days=60) == (2, D(20))
    assert engine.tranche_reached(PPP_2023, D(900)) == (1, None)  # one unbounded tranche
