"""A postpaid bill as a PDF invoice (fpdf2), in French, laid out like Senelec's bill: issuer
header, bill number and dates, customer and contract, billed period, consumption, tranche lines,
taxes, total and due date.

The core PDF fonts cover Latin-1, which holds every French letter; text outside it is replaced
(customer names come from the legacy systems).
"""

from __future__ import annotations

from datetime import date

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from samaconso.consumption.bills import BillDocument

SENELEC_BLUE = (0, 84, 159)
GREY = (90, 90, 90)
TRANCHE_NAMES = {1: "Tranche 1 (sociale)", 2: "Tranche 2", 3: "Tranche 3"}


def fcfa(value: float | None) -> str:
    """103398.23 → '103 398,23' (French: space between thousands, comma before the centimes)."""
    if value is None:
        return "-"
    whole, cents = f"{value:,.2f}".split(".")
    return f"{whole.replace(',', ' ')},{cents}"


def kwh(value: float) -> str:
    return f"{value:,.2f}".replace(",", " ").replace(".", ",")


def day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "-"


def _latin1(text: str | None) -> str:
    return (text or "-").encode("latin-1", "replace").decode("latin-1")


class _Invoice(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=7)
        self.set_text_color(*GREY)
        self.cell(
            0,
            5,
            "Senelec - Société nationale d'électricité du Sénégal - document édité par SamaConso",
            align="C",
        )


def render(doc: BillDocument) -> bytes:
    bill = doc.bill
    pdf = _Invoice(format="A4")
    pdf.set_title(f"Facture {bill.number}")
    pdf.set_author("Senelec")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()

    def line(text: str, *, size: float = 10, bold: bool = False, h: float = 6, align: str = "L") -> None:
        pdf.set_font("Helvetica", "B" if bold else "", size)
        pdf.cell(0, h, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align=align)

    # issuer and bill references
    pdf.set_text_color(*SENELEC_BLUE)
    line("SENELEC", size=20, bold=True, h=9)
    pdf.set_text_color(0, 0, 0)
    line("Société nationale d'électricité du Sénégal", size=9)
    pdf.ln(4)
    line("FACTURE D'ÉLECTRICITÉ - BASSE TENSION", size=13, bold=True)
    line(f"Facture n° {bill.number}    du {day(bill.date)}")
    line(f"Date limite de paiement : {day(bill.due_date)}", bold=True)
    pdf.ln(3)

    # customer and contract
    line("Client", size=11, bold=True)
    line(f"Titulaire : {doc.holder or '-'}")
    line(f"Adresse : {doc.address or '-'}")
    line(f"Compte contrat : {doc.meter.number}    Partenaire : {doc.partner or '-'}")
    line(f"Compteur : {bill.meter_serial or '-'}    Tarif : {bill.tariff or doc.meter.tariff_code or '-'}")
    line(f"Agence : {doc.agency or '-'}")
    pdf.ln(3)

    # period and consumption
    line("Consommation", size=11, bold=True)
    line(f"Période du {day(bill.period_start)} au {day(bill.date)} ({bill.days or '-'} jours)")
    line(f"Consommation facturée : {kwh(bill.kwh)} kWh")
    line("Index relevés : non communiqués par l'historique de facturation", size=8)
    pdf.ln(3)

    # tranche lines
    widths = (60, 35, 45, 50)
    pdf.set_font("Helvetica", "B", 10)
    pdf.set_fill_color(225, 234, 245)
    for text, w in zip(("Tranche", "kWh", "Prix unitaire HT", "Montant HT (FCFA)"), widths, strict=True):
        pdf.cell(w, 7, _latin1(text), border=1, fill=True, align="C")
    pdf.ln()
    pdf.set_font("Helvetica", "", 10)
    for t in bill.tranches:
        cells = (
            TRANCHE_NAMES.get(t.tranche, f"Tranche {t.tranche}"),
            kwh(t.kwh),
            fcfa(t.unit_price),
            fcfa(t.amount),
        )
        for i, (text, w) in enumerate(zip(cells, widths, strict=True)):
            pdf.cell(w, 7, _latin1(text), border=1, align="L" if i == 0 else "R")
        pdf.ln()
    pdf.ln(3)

    # taxes and total
    def total_row(label: str, value: float | None, *, bold: bool = False) -> None:
        pdf.set_font("Helvetica", "B" if bold else "", 10)
        pdf.cell(140, 7, _latin1(label), border=1)
        pdf.cell(50, 7, fcfa(value), border=1, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    total_row("Montant hors taxes", bill.amount_excl_tax)
    total_row("Taxe communale (TCO 2,5 %)", bill.municipal_tax)
    total_row("TVA (18 %)", bill.vat)
    if bill.other_charges:
        total_row("Autres montants", bill.other_charges)
    total_row("TOTAL TTC - NET À PAYER (FCFA)", bill.amount, bold=True)
    pdf.ln(4)
    line(
        "Montants arrondis au centime : chaque ligne = kWh x prix unitaire ; taxe communale et TVA "
        "calculées sur les montants des lignes.",
        size=7,
    )
    return bytes(pdf.output())
