# ruff: noqa: S608 - the strings are expected T-SQL texts compared with compiled statements, never executed
"""Every gateway query compiles to the expected T-SQL (mssql dialect) and runs on the simulated source."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ClauseElement
from sqlalchemy.dialects import mssql

from samaconso.legacy import generator as g
from samaconso.legacy import queries as q
from samaconso.legacy.gateway import LegacyGateway
from samaconso.legacy.tables import MSSQL_SCHEMA_MAP
from samaconso.settings import Settings
from tests.support.legacy import LegacySource


def tsql(stmt: ClauseElement, *, translated: bool = False) -> str:
    kwargs: dict[str, Any] = {"dialect": mssql.dialect(), "compile_kwargs": {"render_postcompile": True}}  # type: ignore[no-untyped-call]
    if translated:
        kwargs |= {"schema_translate_map": MSSQL_SCHEMA_MAP, "render_schema_translate": True}
    return " ".join(str(stmt.compile(**kwargs)).split())


BILL = "sic.[HEXING_SENELECBILL_ALHDL2]"
HIST = "histh2mc.[Historique]"


def test_purchase_queries_tsql() -> None:
    top = tsql(q.purchases_top("14123456783", "30140012345"))
    assert top.startswith(
        f"SELECT DISTINCT TOP 10 {BILL}.[NUMERO_COMMANDE], {BILL}.[NUMERO_COMPTEUR], {BILL}.[POLICE]"
    )
    assert f"{BILL}.[ENERGIE3], {BILL}.[PRIX3], {BILL}.[MONTANT3] FROM {BILL}" in top
    assert top.endswith(
        f"WHERE {BILL}.[NUMERO_COMPTEUR] = :meter AND {BILL}.[POLICE] = :poc ORDER BY {BILL}.[DATE_TRANSACTION] DESC"
    )
    assert top.count(f"{BILL}.[") == 26 + 3  # the 26 columns, then WHERE x2 and ORDER BY

    period = tsql(q.purchases_between("1", "2", datetime(2026, 1, 1), datetime(2026, 1, 31)))
    assert period.startswith("SELECT DISTINCT " + BILL)
    assert "TOP" not in period
    assert f"AND {BILL}.[DATE_TRANSACTION] BETWEEN :start AND :end" in period

    by_phone = tsql(q.purchases_top_by_phone("771234567"))
    assert by_phone.startswith("SELECT DISTINCT TOP 10 ")
    assert (
        f"WHERE {BILL}.[NUMERO_COMPTEUR] IN (SELECT sic.[HEXING_INFOS_ADMINISTRATIVES].[MT_COMM_ADDR] "
        "FROM sic.[HEXING_INFOS_ADMINISTRATIVES] WHERE sic.[HEXING_INFOS_ADMINISTRATIVES].[TELEPHONE] = :phone)"
    ) in by_phone

    monthly = tsql(q.purchases_monthly("1", "2", 2026))
    assert monthly.startswith(
        f"SELECT {BILL}.[NUMERO_COMPTEUR], month({BILL}.[DATE_TRANSACTION]) AS [Mois], "
        f"year({BILL}.[DATE_TRANSACTION]) AS [Annee], {BILL}.[POLICE], "
        f"sum({BILL}.[ENERGIE_VENDUE]) AS [Total énergie], "
        f"sum(coalesce({BILL}.[MONTANT_RECU], {BILL}.[MONTANT_TTC])) AS [Total TTC]"
    )
    assert f"AND year({BILL}.[DATE_TRANSACTION]) = :year GROUP BY {BILL}.[NUMERO_COMPTEUR], month(" in monthly
    assert monthly.endswith(f"ORDER BY month({BILL}.[DATE_TRANSACTION])")

    via_new = tsql(q.purchases_last_via_new("1"))
    assert via_new.startswith(
        "SELECT TOP 10 coalesce(b.[MONTANT_RECU], b.[MONTANT_TTC]) AS [MONTANT TTC], b.[ENERGIE_VENDUE]"
    )
    assert (
        "FROM sic.[HEXING_INFOS_ADMINISTRATIVES_NEW] AS a JOIN sic.[HEXING_SENELECBILL_ALHDL2] AS b "
        "ON a.[N° COMPTEUR] = b.[NUMERO_COMPTEUR] AND a.[POC] = b.[POLICE] "
        "WHERE a.[N° COMPTEUR] = :meter ORDER BY b.[DATE_TRANSACTION] DESC"
    ) in via_new


def test_customer_and_meter_queries_tsql() -> None:
    new = "sic.[HEXING_INFOS_ADMINISTRATIVES_NEW]"
    assert tsql(q.prepaid_meter_check("1")) == (
        f"SELECT TOP 1 {new}.[POC] AS poc, {new}.[TEL] AS tel, {new}.[N° CLIENT] AS id_client, "
        f"{new}.[ADRESSE] AS adresse, {new}.[USAGE] AS usage, {new}.[CLIENT] AS [nomClient], "
        f"{new}.[AGENCE] AS agence FROM {new} WHERE {new}.[N° COMPTEUR] = :meter"
    )
    post = tsql(q.postpaid_contract_check("3001234567"))
    assert post.startswith(
        "SELECT sic.compteurs_postpaid.[TELEPHONE], sic.compteurs_postpaid.[COMPTE CONTRAT]"
    )
    assert post.endswith("WHERE sic.compteurs_postpaid.[COMPTE CONTRAT] = :contract")
    assert tsql(q.prepaid_admin_by_meter("1")).endswith(
        "WHERE sic.[HEXING_INFOS_ADMINISTRATIVES].[MT_COMM_ADDR] = :meter"
    )
    assert tsql(q.prepaid_admin_by_phone("1")).endswith(
        "WHERE sic.[HEXING_INFOS_ADMINISTRATIVES].[TELEPHONE] = :phone"
    )
    assert tsql(q.record_app_meter("1", "prepaid")) == (
        "INSERT INTO sic.compteurs_app_mobile (numero, type_compteur) VALUES (:numero, :kind)"
    )


def test_bill_queries_tsql() -> None:
    top = tsql(q.bills_top("3001234567"))
    assert top.startswith(f"SELECT DISTINCT TOP 6 {HIST}.[IDHistorique], {HIST}.[numFact]")
    assert f"{HIST}.[typeClientele], {HIST}.[DATFACT] FROM {HIST}" in top
    assert top.endswith(f"WHERE {HIST}.[numCC] = :contract ORDER BY {HIST}.[DATFACT] DESC")
    period = tsql(q.bills_between("1", date(2026, 1, 1), date(2026, 6, 30)))
    assert f"{HIST}.[DATEECH] AS [DATE_ECHEANCE], {HIST}.[BT_CONSOM1] AS [CONSO_TRANCHE1]" in period
    assert f"AND {HIST}.[DATFACT] BETWEEN :start AND :end" in period
    light = tsql(q.bills_last_light("1"))
    assert light.startswith(f"SELECT TOP 6 {HIST}.[BT_MONT_TTC] AS [MONTANT], {HIST}.[numCC]")
    assert f"{HIST}.[BT_CONSTOT] AS [CONSOMMATION TOTALE], {HIST}.[NBJRS_] FROM" in light
    monthly = tsql(q.bills_monthly("1", 2026))
    assert monthly.startswith(
        f"SELECT {HIST}.[numCC] AS numcc, month({HIST}.[DATFACT]) AS [Mois], year({HIST}.[DATFACT]) AS [Annee], "
        f"sum({HIST}.[BT_CONSTOT]) AS [Total énergie], sum({HIST}.[BT_MONT_TTC]) AS [Total TTC]"
    )
    assert tsql(q.contract_details("1")).startswith(
        f"SELECT TOP 1 {HIST}.[NOMPRES] AS nompres, {HIST}.[ADD_LIV] AS add_liv, {HIST}.[numCC] AS numcc"
    )


def test_sap_and_notice_queries_tsql() -> None:
    sap = tsql(q.sap_accounts_by_phone("771234567"))
    assert sap.startswith(
        "SELECT DISTINCT TOP 5 CAST(CAST(bi_ods.[FKKVKP].[VKONT] AS BIGINT) AS VARCHAR(12)) AS [COMPTE CONTRAT], "
        "CAST(CAST(bi_ods.[BUT000].[PARTNER] AS BIGINT) AS VARCHAR(10)) AS [N PARTENAIRE], "
        "bi_ods.[BUT000].[NAME_LAST] + :sep + bi_ods.[BUT000].[NAME_FIRST] AS [CLIENT]"
    )
    assert (
        "FROM bi_ods.[BUT000] LEFT OUTER JOIN bi_ods.[ADR2] ON bi_ods.[BUT000].[ADDRCOMM] = bi_ods.[ADR2].[ADDRNUMBER] "
        "LEFT OUTER JOIN bi_ods.[ADR6] ON bi_ods.[BUT000].[ADDRCOMM] = bi_ods.[ADR6].[ADDRNUMBER] "
        "JOIN bi_ods.[FKKVKP] ON bi_ods.[BUT000].[PARTNER] = bi_ods.[FKKVKP].[GPART]"
    ) in sap
    assert "WHERE bi_ods.[ADR2].[TELNR_CALL] = :phone AND bi_ods.[FKKVKP].[VKONT] NOT LIKE :excluded" in sap
    compiled = q.sap_accounts_by_phone("771234567").compile(dialect=mssql.dialect())  # type: ignore[no-untyped-call]
    assert compiled.params["excluded"] == "023%"
    assert compiled.params["sep"] == " "
    assert tsql(q.subscription_notice_steps("1")).endswith(
        "WHERE bi_ods.[AVIS_ETAPES_HANA].[NUM_AVIS] = :notice ORDER BY bi_ods.[AVIS_ETAPES_HANA].[CODE_ETAPE]"
    )


def test_schema_translate_map_targets_the_sql_server_databases() -> None:
    assert tsql(q.purchases_top("1", "2"), translated=True).startswith(
        "SELECT DISTINCT TOP 10 [SIC].dbo.[HEXING_SENELECBILL_ALHDL2].[NUMERO_COMMANDE]"
    )
    assert "FROM [HISTH2MC].dbo.[Historique]" in tsql(q.bills_top("1"), translated=True)
    assert "FROM [BI_ODS].dbo.[BUT000] LEFT OUTER JOIN [BI_ODS].dbo.[ADR2]" in tsql(
        q.sap_accounts_by_phone("1"), translated=True
    )
    # user input never lands in the SQL text: every value is a bound parameter
    for stmt in (q.purchases_top("'; DROP TABLE x --", "p"), q.subscription_notice_steps("' OR 1=1 --")):
        assert "DROP" not in tsql(stmt)
        assert "OR 1=1" not in tsql(stmt)


@pytest.fixture
async def gateway(settings: Settings, legacy_source: LegacySource) -> Any:
    gw = LegacyGateway.from_settings(settings)
    yield gw
    await gw.dispose()


async def test_every_gateway_query_runs_on_the_simulated_source(
    gateway: LegacyGateway, legacy_source: LegacySource
) -> None:
    meter, poc, contract = g.DEMO_PREPAID_METER, g.DEMO_PREPAID_POC, g.DEMO_POSTPAID_CONTRACT
    all_rows = await legacy_source.fetch(
        'SELECT * FROM sic."HEXING_SENELECBILL_ALHDL2" WHERE "NUMERO_COMPTEUR" = $1 ORDER BY "DATE_TRANSACTION" DESC',
        meter,
    )
    top = await gateway.purchases_top(meter, poc)
    assert [r["NUMERO_COMMANDE"] for r in top] == [r["NUMERO_COMMANDE"] for r in all_rows[:10]]
    assert len(top[0]) == 26

    now = legacy_source.now
    month_start = now.replace(day=1, hour=0, minute=0, second=0)
    this_month = await gateway.purchases_between(meter, poc, month_start, now + timedelta(seconds=1))
    assert len(this_month) == 2
    assert await gateway.purchases_between(meter, "WRONG-POC", month_start, now) == []

    by_phone = await gateway.purchases_top_by_phone(g.national(g.DEMO_PHONE))
    assert [r["NUMERO_COMMANDE"] for r in by_phone] == [r["NUMERO_COMMANDE"] for r in all_rows[:10]]

    monthly = await gateway.purchases_monthly(meter, poc, now.year)
    assert [r["Mois"] for r in monthly] == sorted(r["Mois"] for r in monthly)
    current = next(r for r in monthly if r["Mois"] == now.month)
    assert current["Total énergie"] == round(sum(float(r["ENERGIE_VENDUE"]) for r in this_month), 2)

    via_new = await gateway.purchases_last_via_new(meter)
    assert [r["DATE_TRANSACTION"] for r in via_new] == [
        r["DATE_TRANSACTION"].isoformat() for r in all_rows[:10]
    ]
    assert via_new[0]["MONTANT TTC"] == float(all_rows[0]["MONTANT_RECU"] or all_rows[0]["MONTANT_TTC"])

    check = await gateway.prepaid_meter(meter)
    assert check == {
        "poc": poc,
        "tel": "77 123 45 67",
        "id_client": "9000001",
        "adresse": "Villa 12, Sicap Liberté 2, Dakar",
        "usage": "DPP",
        "nomClient": "DIOP Awa",
        "agence": "DAKAR CENTRE",
    }
    assert await gateway.prepaid_meter("10000000000") is None
    admin = await gateway.prepaid_admin_by_meter(meter)
    assert admin[0]["TELEPHONE"] == "771234567"
    assert [r["MT_COMM_ADDR"] for r in await gateway.prepaid_admin_by_phone("771234567")] == [meter]

    post = await gateway.postpaid_contract(contract)
    assert post is not None
    assert post["N PARTENAIRE"] == g.DEMO_PARTNER
    assert post["AGENCE"] == "DAKAR CENTRE"

    bills = await legacy_source.fetch(
        'SELECT * FROM histh2mc."Historique" WHERE "numCC" = $1 ORDER BY "DATFACT" DESC', contract
    )
    top_bills = await gateway.bills_top(contract)
    assert [b["numFact"] for b in top_bills] == [b["numFact"] for b in bills[:6]]
    first, last = bills[-1]["DATFACT"], bills[0]["DATFACT"]
    between = await gateway.bills_between(contract, first, last)
    assert len(between) == len(bills)
    assert between[0]["CONSO_TRANCHE1"] == float(bills[0]["BT_CONSOM1"])
    light = await gateway.bills_last_light(contract)
    assert light[0]["CONSOMMATION TOTALE"] == float(bills[0]["BT_CONSTOT"])
    assert light[0]["DATE_ECHEANCE"] == bills[0]["DATEECH"].isoformat()
    per_month = await gateway.bills_monthly(contract, now.year)
    assert sum(r["Total TTC"] for r in per_month) == pytest.approx(
        sum(float(b["BT_MONT_TTC"]) for b in bills if b["DATFACT"].year == now.year)
    )
    details = await gateway.contract_details(contract)
    assert details == {
        "nompres": "DIOP Awa",
        "add_liv": "Villa 12, Sicap Liberté 2, Dakar",
        "numcc": contract,
        "numpartenaire": g.DEMO_PARTNER,
        "tarif": "DPP",
    }

    sap = await gateway.sap_accounts_by_phone("771234567")
    # leading zeros stripped, the partner's internal '023…' account left out
    assert sap == [
        {
            "COMPTE CONTRAT": contract,
            "N PARTENAIRE": g.DEMO_PARTNER,
            "CLIENT": "DIOP Awa",
            "TELEPHONE": "771234567",
            "EMAIL": "awa.diop@example.sn",
        }
    ]
    raw = await legacy_source.fetch(
        'SELECT "VKONT" FROM bi_ods."FKKVKP" WHERE "GPART" = $1', f"{int(g.DEMO_PARTNER):010d}"
    )
    assert sorted(r["VKONT"][:3] for r in raw) == ["003", "023"]

    steps = await gateway.subscription_notice_steps(g.DEMO_NOTICE)
    assert [s["CODE_ETAPE"] for s in steps] == ["010", "020", "030", "040", "050", "060", "070"]

    await legacy_source.fetch('DELETE FROM sic."compteurs_app_mobile" WHERE numero = $1', "99999999999")
    assert await gateway.record_app_meter("99999999999", "prepaid") is True
    assert await legacy_source.fetch(
        'SELECT * FROM sic."compteurs_app_mobile" WHERE numero = $1', "99999999999"
    ) == [{"numero": "99999999999", "type_compteur": "prepaid"}]


def test_tsql_has_no_postgres_syntax() -> None:
    for stmt in (
        q.purchases_top("1", "2"),
        q.bills_top("1"),
        q.sap_accounts_by_phone("1"),
        q.prepaid_meter_check("1"),
        q.contract_details("1"),
    ):
        text = tsql(stmt)
        assert " LIMIT " not in text
        assert "||" not in text
        assert '"' not in text
        assert re.search(r"\bTOP \d+\b", text)
