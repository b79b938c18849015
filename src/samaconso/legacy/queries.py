"""Every legacy query of DOMAIN §4, built with SQLAlchemy Core from :mod:`samaconso.legacy.tables`.

No SQL text is glued by hand: the mssql dialect renders ``TOP n`` from ``.limit(n)``, the brackets
around names such as ``[N° COMPTEUR]``, ``+`` for string concatenation; the PostgreSQL dialect renders
the same statements for the simulated source. ``month()``/``year()`` are SQL Server built-ins; the
simulated source defines functions of the same names.

Parameters are named bind parameters (``bindparam``) so the drivers never see user input in SQL.
"""

# ruff: noqa: SIM300 - upper-case legacy column names look like constants to the Yoda rule
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Insert,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    insert,
    select,
)

from samaconso.legacy.tables import (
    adr2,
    adr6,
    avis_etapes,
    but000,
    compteurs_app_mobile,
    compteurs_postpaid,
    fkkvkp,
    historique,
    infos_administratives,
    infos_administratives_new,
    senelecbill,
)

PURCHASE_TOP = 10
BILL_TOP = 6
SAP_TOP = 5
EXCLUDED_CONTRACT_PREFIX = "023"

s = senelecbill.c
h = historique.c

# The purchase columns every SIC purchase query returns (DOMAIN §4.1, queries 1–3).
PURCHASE_COLUMNS = [
    s.NUMERO_COMMANDE,
    s.NUMERO_COMPTEUR,
    s.POLICE,
    s.NOM_AGENCE_ENCAISSEMENT,
    s.TARIF_USAGE,
    s.DATE_TRANSACTION,
    s.MONTANT_HT,
    s.MONTANT_TVA,
    s.MONTANT_TCO,
    s.MONTANT_TTC,
    s.ENERGIE_VENDUE,
    s.SOLDE_DETTE,
    s.DETTES,
    s.NOM_OPERATEUR,
    s.TOKEN,
    s.MONTANT_RECU,
    s.ARRONDI,
    s.ENERGIE1,
    s.PRIX1,
    s.MONTANT1,
    s.ENERGIE2,
    s.PRIX2,
    s.MONTANT2,
    s.ENERGIE3,
    s.PRIX3,
    s.MONTANT3,
]

# The bill columns from IDHistorique to DATFACT (DOMAIN §4.2, queries 1–2).
BILL_COLUMNS = [
    h.IDHistorique,
    h.numFact,
    h.numCC,
    h.numPartenaire,
    h.dateEnvoi,
    h.ADD_LIV,
    h.ADD_PRES,
    h.AI_TH1,
    h.AGENCE,
    h.BORDEREAU,
    h.BT_MONT_HT,
    h.BT_MONT_TTC,
    h.BT_MONT_TCO,
    h.BT_TOTALFACTUR,
    h.BT_CONSTOT,
    h.MONT_TCO,
    h.MONT_TTC,
    h.MONT_TVA,
    h.myTypeFact,
    h.NBJRS_,
    h.NOCPTEUR,
    h.NOMPRES,
    h.PMAX,
    h.TARIF,
    h.TOTALFACT,
    h.TYPEFACT,
    h.moisFacturation,
    h.anneeFacturation,
    h.typeClientele,
    h.DATFACT,
]


def _p(name: str, value: Any) -> Any:
    return bindparam(name, value)


# --- SIC: purchases ------------------------------------------------------------------------------


def purchases_top(meter: str, poc: str) -> Select[Any]:
    """Q1: the 10 latest purchases of a meter and POC."""
    return (
        select(*PURCHASE_COLUMNS)
        .distinct()
        .where(s.NUMERO_COMPTEUR == _p("meter", meter), s.POLICE == _p("poc", poc))
        .order_by(s.DATE_TRANSACTION.desc())
        .limit(PURCHASE_TOP)
    )


def purchases_between(meter: str, poc: str, start: datetime, end: datetime) -> Select[Any]:
    """Q2: the purchases of a meter and POC in a period (bounds included), newest first."""
    return (
        select(*PURCHASE_COLUMNS)
        .distinct()
        .where(
            s.NUMERO_COMPTEUR == _p("meter", meter),
            s.POLICE == _p("poc", poc),
            s.DATE_TRANSACTION.between(_p("start", start), _p("end", end)),
        )
        .order_by(s.DATE_TRANSACTION.desc(), s.NUMERO_COMMANDE.desc())
    )


def purchases_top_by_phone(phone: str) -> Select[Any]:
    """Q3: the 10 latest purchases of every meter registered under a phone."""
    meters_of_phone = select(infos_administratives.c.MT_COMM_ADDR).where(
        infos_administratives.c.TELEPHONE == _p("phone", phone)
    )
    return (
        select(*PURCHASE_COLUMNS)
        .distinct()
        .where(s.NUMERO_COMPTEUR.in_(meters_of_phone))
        .order_by(s.DATE_TRANSACTION.desc())
        .limit(PURCHASE_TOP)
    )


def purchases_monthly(meter: str, poc: str, year: int) -> Select[Any]:
    """Q4: kWh and FCFA per month of one year (the legacy query uses the current year)."""
    month = func.month(s.DATE_TRANSACTION)
    year_ = func.year(s.DATE_TRANSACTION)
    return (
        select(
            s.NUMERO_COMPTEUR,
            month.label("Mois"),
            year_.label("Annee"),
            s.POLICE,
            func.sum(s.ENERGIE_VENDUE).label("Total énergie"),
            func.sum(func.coalesce(s.MONTANT_RECU, s.MONTANT_TTC)).label("Total TTC"),
        )
        .where(
            s.NUMERO_COMPTEUR == _p("meter", meter),
            s.POLICE == _p("poc", poc),
            year_ == _p("year", year),
        )
        .group_by(s.NUMERO_COMPTEUR, month, year_, s.POLICE)
        .order_by(month)
    )


def purchases_last_via_new(meter: str) -> Select[Any]:
    """Q5: the 10 latest purchases through HEXING_INFOS_ADMINISTRATIVES_NEW (meter and POC join)."""
    a = infos_administratives_new.alias("a")
    b = senelecbill.alias("b")
    return (
        select(
            func.coalesce(b.c.MONTANT_RECU, b.c.MONTANT_TTC).label("MONTANT TTC"),
            b.c.ENERGIE_VENDUE,
            b.c.DATE_TRANSACTION,
            b.c.NUMERO_COMPTEUR,
            b.c.TOKEN,
            b.c.DETTES,
            b.c.SOLDE_DETTE,
            b.c.POLICE,
            b.c.ENERGIE1,
            b.c.ENERGIE2,
            b.c.ENERGIE3,
            b.c.PRIX1,
            b.c.PRIX2,
            b.c.PRIX3,
            b.c.MONTANT1,
            b.c.MONTANT2,
            b.c.MONTANT3,
        )
        .select_from(
            a.join(
                b,
                and_(a.c["N° COMPTEUR"] == b.c.NUMERO_COMPTEUR, a.c.POC == b.c.POLICE),
            )
        )
        .where(a.c["N° COMPTEUR"] == _p("meter", meter))
        .order_by(b.c.DATE_TRANSACTION.desc())
        .limit(PURCHASE_TOP)
    )


# --- SIC: customers and meters ---------------------------------------------------------------------


def prepaid_admin_by_phone(phone: str) -> Select[Any]:
    return select(infos_administratives).where(infos_administratives.c.TELEPHONE == _p("phone", phone))


def prepaid_admin_by_meter(meter: str) -> Select[Any]:
    return select(infos_administratives).where(infos_administratives.c.MT_COMM_ADDR == _p("meter", meter))


def prepaid_meter_check(meter: str) -> Select[Any]:
    """Verify a prepaid meter (first row)."""
    n = infos_administratives_new.c
    return (
        select(
            n.POC.label("poc"),
            n.TEL.label("tel"),
            n["N° CLIENT"].label("id_client"),
            n.ADRESSE.label("adresse"),
            n.USAGE.label("usage"),
            n.CLIENT.label("nomClient"),
            n.AGENCE.label("agence"),
        )
        .where(n["N° COMPTEUR"] == _p("meter", meter))
        .limit(1)
    )


def postpaid_contract_check(contract: str) -> Select[Any]:
    """Verify a postpaid contract account."""
    return select(compteurs_postpaid).where(
        compteurs_postpaid.c["COMPTE CONTRAT"] == _p("contract", contract)
    )


def prepaid_phones(meters: list[str]) -> Select[Any]:
    """The phone registered for each of many prepaid meters (cutover: owners re-decided in bulk)."""
    n = infos_administratives_new.c
    return select(n["N° COMPTEUR"].label("number"), n.TEL.label("tel")).where(
        n["N° COMPTEUR"].in_(bindparam("meters", meters, expanding=True))
    )


def postpaid_phones(contracts: list[str]) -> Select[Any]:
    """The phone registered for each of many postpaid contract accounts."""
    c = compteurs_postpaid.c
    return select(c["COMPTE CONTRAT"].label("number"), c.TELEPHONE.label("tel")).where(
        c["COMPTE CONTRAT"].in_(bindparam("contracts", contracts, expanding=True))
    )


def record_app_meter(number: str, kind: str) -> Insert:
    """Tell the legacy side a meter joined the app (best effort)."""
    return insert(compteurs_app_mobile).values(numero=_p("numero", number), type_compteur=_p("kind", kind))


# --- HISTH2MC: bills -------------------------------------------------------------------------------


def bills_top(contract: str) -> Select[Any]:
    """Q1: the 6 latest bills of a contract account."""
    return (
        select(*BILL_COLUMNS)
        .distinct()
        .where(h.numCC == _p("contract", contract))
        .order_by(h.DATFACT.desc())
        .limit(BILL_TOP)
    )


def bills_between(contract: str, start: date, end: date) -> Select[Any]:
    """Q2: bills of a period, with due date and kWh per tranche, newest first."""
    return (
        select(
            *BILL_COLUMNS,
            h.DATEECH.label("DATE_ECHEANCE"),
            h.BT_CONSOM1.label("CONSO_TRANCHE1"),
            h.BT_CONSOM2.label("CONSO_TRANCHE2"),
            h.BT_CONSOM3.label("CONSO_TRANCHE3"),
        )
        .distinct()
        .where(h.numCC == _p("contract", contract), h.DATFACT.between(_p("start", start), _p("end", end)))
        .order_by(h.DATFACT.desc(), h.numFact.desc())
    )


def bills_last_light(contract: str) -> Select[Any]:
    """Q3: the 6 latest bills, light columns."""
    return (
        select(
            h.BT_MONT_TTC.label("MONTANT"),
            h.numCC,
            h.numFact,
            h.DATFACT,
            h.DATEECH.label("DATE_ECHEANCE"),
            h.BT_CONSOM1.label("CONSO_TRANCHE1"),
            h.BT_CONSOM2.label("CONSO_TRANCHE2"),
            h.BT_CONSOM3.label("CONSO_TRANCHE3"),
            h.BT_CONSTOT.label("CONSOMMATION TOTALE"),
            h.NBJRS_,
        )
        .where(h.numCC == _p("contract", contract))
        .order_by(h.DATFACT.desc())
        .limit(BILL_TOP)
    )


def bills_monthly(contract: str, year: int) -> Select[Any]:
    """Q4: kWh and FCFA per billing month of one year."""
    month = func.month(h.DATFACT)
    year_ = func.year(h.DATFACT)
    return (
        select(
            h.numCC.label("numcc"),
            month.label("Mois"),
            year_.label("Annee"),
            func.sum(h.BT_CONSTOT).label("Total énergie"),
            func.sum(h.BT_MONT_TTC).label("Total TTC"),
        )
        .where(h.numCC == _p("contract", contract), year_ == _p("year", year))
        .group_by(h.numCC, month, year_)
        .order_by(month)
    )


def contract_details(contract: str) -> Select[Any]:
    """Q5: the contract's holder, address, partner and tariff."""
    return (
        select(
            h.NOMPRES.label("nompres"),
            h.ADD_LIV.label("add_liv"),
            h.numCC.label("numcc"),
            h.numPartenaire.label("numpartenaire"),
            h.TARIF.label("tarif"),
        )
        .where(h.numCC == _p("contract", contract))
        .order_by(h.DATFACT.desc())
        .limit(1)
    )


# --- BI_ODS: SAP lookups and subscription notices ------------------------------------------------


def _strip_leading_zeros(column: Any, length: int) -> Any:
    # CAST(CAST(x AS BIGINT) AS VARCHAR(n)): the same on SQL Server and PostgreSQL; SAP keys are digits.
    return cast(cast(column, BigInteger), String(length))


def sap_accounts_by_phone(phone: str) -> Select[Any]:
    """Postpaid customer lookup by phone: contract accounts, partner, name, phone, e-mail."""
    b, a2, a6, f = but000.c, adr2.c, adr6.c, fkkvkp.c
    contract = _strip_leading_zeros(f.VKONT, 12).label("COMPTE CONTRAT")
    return (
        select(
            contract,
            _strip_leading_zeros(b.PARTNER, 10).label("N PARTENAIRE"),
            (b.NAME_LAST + bindparam("sep", " ", type_=String) + b.NAME_FIRST).label("CLIENT"),
            a2.TELNR_CALL.label("TELEPHONE"),
            a6.SMTP_ADDR.label("EMAIL"),
        )
        .distinct()
        .select_from(
            but000.outerjoin(adr2, b.ADDRCOMM == a2.ADDRNUMBER)
            .outerjoin(adr6, b.ADDRCOMM == a6.ADDRNUMBER)
            .join(fkkvkp, b.PARTNER == f.GPART)
        )
        .where(
            a2.TELNR_CALL == _p("phone", phone),
            f.VKONT.not_like(bindparam("excluded", EXCLUDED_CONTRACT_PREFIX + "%", type_=String)),
        )
        .order_by(contract)
        .limit(SAP_TOP)
    )


def subscription_notice_steps(notice: str) -> Select[Any]:
    """Every step of a subscription notice, ordered by step code."""
    return (
        select(avis_etapes)
        .where(avis_etapes.c.NUM_AVIS == _p("notice", notice))
        .order_by(avis_etapes.c.CODE_ETAPE)
    )
