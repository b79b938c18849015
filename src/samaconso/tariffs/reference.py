"""Reference tariff data published by the regulator (CRSE) and Senelec, loaded by the seed.

This is data, not logic: the engine only ever reads grids from the database. Admins add later
versions through ``POST /api/v1/admin/tariffs``. Sources: DOMAIN §5.

* DPP (domestic small power, ≤ 6 kW), 2023-01-01 → 2025-12-31: 91.17 / 136.49 / 149.06 (postpaid);
  prepaid T3 = 136.49 with 18 % VAT on the kWh above 250 in the month.
* DPP from 2026-01-01: 82.00 / 136.49 / 159.36 (postpaid); prepaid 82.00 / 136.49 / 136.49 + VAT.
* PPP (professional small power): only tranche 1 (147.43) is published; it is seeded as a single
  unbounded tranche, no VAT threshold, until the full grid is entered by an admin.
* Monthly fee (redevance) 429 FCFA, municipal tax 2.5 %, minimum purchase 1 000 FCFA.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from samaconso.tariffs.engine import TariffGrid, Tranche

D = Decimal
FEE = D(429)
TCO = D("0.025")
VAT = D("0.18")
MIN_PURCHASE = D(1000)


def _dpp(start: date, end: date | None, t1: str, t2: str, t3_post: str) -> TariffGrid:
    return TariffGrid(
        code="DPP",
        effective_from=start,
        effective_to=end,
        tranches=(
            Tranche(1, D(0), D(150), D(t1), D(t1)),
            Tranche(2, D(150), D(250), D(t2), D(t2)),
            Tranche(3, D(250), None, D(t3_post), D(t2)),
        ),
        monthly_fee=FEE,
        municipal_tax_rate=TCO,
        vat_rate=VAT,
        vat_from_kwh=D(250),
        minimum_purchase=MIN_PURCHASE,
    )


DPP_2023 = _dpp(date(2023, 1, 1), date(2025, 12, 31), "91.17", "136.49", "149.06")
DPP_2026 = _dpp(date(2026, 1, 1), None, "82.00", "136.49", "159.36")
PPP_2023 = TariffGrid(
    code="PPP",
    effective_from=date(2023, 1, 1),
    effective_to=None,
    tranches=(Tranche(1, D(0), None, D("147.43"), D("147.43")),),
    monthly_fee=FEE,
    municipal_tax_rate=TCO,
    vat_rate=VAT,
    vat_from_kwh=None,
    minimum_purchase=MIN_PURCHASE,
)

REFERENCE_GRIDS: tuple[tuple[str, TariffGrid], ...] = (
    ("CRSE 2023 - domestique petite puissance", DPP_2023),
    ("CRSE 2026 - domestique petite puissance", DPP_2026),
    ("CRSE 2023 - professionnel petite puissance (tranche 1)", PPP_2023),
)

# (code, position, kwh_min, kwh_max, colour, label_fr, label_en): colours for the app's charts.
GREEN, AMBER, RED = "#2E7D32", "#F9A825", "#C62828"
REFERENCE_BANDS: tuple[tuple[str, int, Decimal, Decimal | None, str, str, str], ...] = (
    ("DPP", 1, D(0), D(150), GREEN, "Tranche sociale", "Social tranche"),
    ("DPP", 2, D(150), D(250), AMBER, "Tranche 2", "Tranche 2"),
    ("DPP", 3, D(250), None, RED, "Tranche 3 (TVA)", "Tranche 3 (VAT)"),
    ("PPP", 1, D(0), None, AMBER, "Tranche unique", "Single tranche"),
)
