"""Typed records from legacy rows: the column maps cover each record's fields, once each."""

from __future__ import annotations

from samaconso.legacy import records as r


def test_a_prepaid_meter_row_becomes_a_record() -> None:
    row = {
        "poc": 12,
        "id_client": "P-1",
        "usage": "DPP",
        "nomClient": "Awa Diop",
        "adresse": "Sicap",
        "tel": "771234567",
        "agence": "DAKAR CENTRE",
        "other": "ignored",
    }
    assert r.prepaid_meter(row) == r.MeterRecord(
        poc="12",
        partner="P-1",
        tariff_code="DPP",
        customer_name="Awa Diop",
        address="Sicap",
        phone="771234567",
        agency="DAKAR CENTRE",
    )


def test_a_postpaid_contract_row_has_no_poc_and_missing_columns_stay_none() -> None:
    row = {"N PARTENAIRE": 4401, "TARIF": "DPP", "CLIENT": "Awa Diop", "AGENCE": "THIES"}
    assert r.postpaid_contract(row) == r.MeterRecord(
        poc=None,
        partner="4401",
        tariff_code="DPP",
        customer_name="Awa Diop",
        address=None,
        phone=None,
        agency="THIES",
    )


def test_contract_details_and_sap_accounts() -> None:
    details = {"nompres": "Diop", "add_liv": "Rue 10", "numpartenaire": 7, "tarif": None}
    assert r.contract_details(details) == r.ContractDetails(
        holder="Diop", address="Rue 10", partner="7", tariff=None
    )
    sap = {"COMPTE CONTRAT": 300012, "CLIENT": "Ba", "EMAIL": "ba@example.sn"}
    assert r.sap_account(sap) == r.SapAccount(
        contract_account="300012", customer_name="Ba", email="ba@example.sn"
    )
