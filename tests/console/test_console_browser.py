"""The agency console in a real browser: Playwright driving Debian's Chromium against a real
``samaconso api`` process (and a real worker for the push fan-out).

An agent signs in, finds the demo customer by phone, opens her purchases and re-sends a token (the
SMS lands in the outbox), takes a request from the queue to resolved; an administrator sends a
national notification and sees it delivered; an agent of another agency cannot open the customer.
Screenshots are kept (the directory is printed at the end of the run)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from httpx import AsyncClient
from playwright.async_api import FilePayload, Page, async_playwright, expect
from sqlalchemy import select

from samaconso.identity.models import Agency, Role, User
from samaconso.kit.db import Database
from samaconso.kit.security import hash_secret
from samaconso.legacy import generator as g
from samaconso.meters.models import Meter
from samaconso.requests.seed import seed as seed_request_types
from samaconso.settings import Settings
from samaconso.tariffs.seed import seed as seed_tariffs
from tests.identity.helpers import sms_to
from tests.notifications.conftest import WorkerFactory, add_devices
from tests.requests.helpers import PDF_MINI, write_comments
from tests.support.fcm_standin import FcmStandIn
from tests.support.legacy import LegacySource
from tests.support.users import make_user

API = "/api/v1"
CHROMIUM = "/usr/bin/chromium"
# The machine running the suite may be busy (CI, shared boxes): give each expectation 15 s, not 5.
expect.set_options(timeout=15_000)
PASSWORD = "Console-Test-2026"


async def _staff(db: Database, login: str, role: Role, agency_id: uuid.UUID | None) -> None:
    async with db.sessionmaker() as session:
        session.add(
            User(
                role=role,
                login=login,
                password_hash=hash_secret(PASSWORD),
                first_name=login.split(".")[0].title(),
                last_name="Test",
                agency_id=agency_id,
            )
        )
        await session.commit()


async def _sign_in(page: Page, base: str, login: str) -> None:
    await page.goto(f"{base}/console/")
    await page.get_by_label("Identifiant").fill(login)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("link", name="Clients")).to_be_visible()


async def _purchase_count(client: AsyncClient, customer_id: str, meter_id: str) -> int:
    """How many purchases the API lists for the meter (all on one page), as the agent sees them."""
    r = await client.post(f"{API}/auth/staff/login", json={"login": "agent.local", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await client.get(
        f"{API}/staff/customers/{customer_id}/meters/{meter_id}/purchases",
        params={"limit": 100},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    count = len(r.json()["items"])
    assert count > 10, count  # more than one page of the console
    return count


async def _sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page.get_by_role("button", name="Se connecter")).to_be_visible()


@pytest.mark.timeout(280)
async def test_agent_and_admin_work_from_the_console(
    client: AsyncClient,
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    legacy_source: LegacySource,
    fcm: FcmStandIn,
    start_api: Callable[..., str],
    start_worker: WorkerFactory,
    screenshots: Path,
) -> None:
    # --- data: the demo customer with her Woyofal meter, a device, a request; three staff accounts
    await seed_request_types(db, settings)
    await seed_tariffs(db, settings)
    awa = await make_user(db, settings, phone=g.DEMO_PHONE, first_name="Awa", last_name="Diop")
    r = await client.post(
        f"{API}/me/meters", json={"kind": "prepaid", "number": g.DEMO_PREPAID_METER}, headers=awa.headers
    )
    assert r.status_code == 201, r.text
    meter_id = r.json()["id"]
    async with db.sessionmaker() as session:
        agency_id = (
            await session.execute(select(Meter.agency_id).where(Meter.id == uuid.UUID(meter_id)))
        ).scalar_one()
    assert agency_id is not None
    other_agency = next(a for a in agencies.values() if a.id != agency_id)
    await add_devices(db, [awa.id], prefix="console")
    r = await client.post(
        f"{API}/me/requests",
        json={"type": "coupure_panne", "meter_id": meter_id, "comment": "Plus de courant depuis ce matin."},
        headers=awa.headers,
    )
    assert r.status_code == 201, r.text
    request_id, reference = r.json()["id"], r.json()["reference"]
    # a long conversation: the request page shows the newest 20 events and pages in the older ones
    await write_comments(db, request_id, awa.id, [f"Relance {i}" for i in range(25)])
    await _staff(db, "agent.local", Role.agent, agency_id)
    await _staff(db, "agent.ailleurs", Role.agent, other_agency.id)
    await _staff(db, "admin.pays", Role.admin, None)

    base = start_api()
    start_worker("console")
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="fr-FR")
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            # --- agent: sign in, find the customer by phone, re-send a purchase's token
            await _sign_in(page, base, "agent.local")
            await page.get_by_label("Téléphone, nom, numéro de compteur ou de contrat").fill("77 123 45 67")
            await page.get_by_role("button", name="Rechercher").click()
            await expect(page.locator("#results")).to_contain_text("Awa Diop")
            await page.locator("#results").get_by_role("link", name="Ouvrir").click()
            await expect(page.get_by_role("heading", name="Awa Diop")).to_be_visible()
            await page.get_by_role("button", name="Voir les achats").click()
            first = page.get_by_role("button", name="Renvoyer le code par SMS").first
            await expect(first).to_be_visible()
            # the purchases come by pages of 10: "Afficher la suite" brings the rest of the year
            rows = page.locator("#purchases tbody tr")
            await expect(rows).to_have_count(10)
            await page.locator("#purchases").get_by_role("button", name="Afficher la suite").click()
            await expect(rows).to_have_count(await _purchase_count(client, str(awa.id), meter_id))
            order = await first.get_attribute("data-order")
            assert order
            before = len(sms_to(settings, g.DEMO_PHONE))
            await first.click()
            await expect(page.get_by_role("dialog")).to_contain_text(order)
            await page.screenshot(
                path=str(screenshots / "01-agent-customer-resend-confirm.png"), full_page=True
            )
            await page.get_by_role("button", name="Confirmer").click()
            await expect(page.locator("#flash")).to_contain_text(f"Code de l'achat {order} renvoyé par SMS")
            messages = sms_to(settings, g.DEMO_PHONE)
            assert len(messages) == before + 1
            assert order in messages[-1]["message"]
            await page.screenshot(path=str(screenshots / "02-agent-token-resent.png"), full_page=True)

            # --- agent: the request queue, take the request, answer with a canned reply, resolve
            await page.get_by_role("link", name="Demandes").click()
            await expect(page.locator("#queue")).to_contain_text("Coupure / panne")
            await expect(page.locator("#queue")).to_contain_text(reference)
            await page.screenshot(path=str(screenshots / "03a-agent-queue.png"), full_page=True)
            await page.locator("#queue").get_by_role("link", name="Ouvrir").first.click()
            await expect(page.locator("#request-status")).to_have_text("soumise")
            await page.get_by_role("button", name="Prendre en charge").click()
            await expect(page.locator("#request-status")).to_have_text("en cours")
            await page.get_by_label("Réponse type").select_option("canned2")
            await page.get_by_role("button", name="Résoudre").click()
            await expect(page.locator("#request-status")).to_have_text("résolue")
            await expect(page.locator("main")).not_to_contain_text("null")
            # submitted, 25 messages, in progress, resolved: 20 shown, the 8 older ones on demand
            await expect(page.locator("#timeline tr")).to_have_count(20)
            await expect(page.locator("#timeline")).not_to_contain_text("Relance 4")
            await page.get_by_role("button", name="Événements plus anciens").click()
            await expect(page.locator("#timeline tr")).to_have_count(28)
            await expect(page.locator("#timeline tr").last).to_contain_text("soumise")
            await expect(page.locator("#timeline")).to_contain_text("Relance 0")
            await expect(page.locator("#older-events")).to_be_hidden()
            await page.screenshot(path=str(screenshots / "03-agent-request-resolved.png"), full_page=True)
            mine = await client.get(f"{API}/me/requests/{request_id}", headers=awa.headers)
            assert mine.json()["status"] == "resolved"
            assert "votre problème est résolu" in mine.text

            # --- agent: files a request for the walk-in customer, with a scanned bill attached
            await page.goto(f"{base}/console/#/customer/{awa.id}")
            await page.get_by_label("Type", exact=True).select_option("reclamation_facture")
            await page.get_by_label("Message au client").fill("Facture de mars contestée au guichet.")
            await page.get_by_label("Pièce jointe (PDF, JPEG, PNG)").set_input_files(
                files=[FilePayload(name="facture.pdf", mimeType="application/pdf", buffer=PDF_MINI)]
            )
            await page.get_by_role("button", name="Déposer une demande pour le client").last.click()
            await expect(page.locator("#request-status")).to_have_text("soumise")
            await expect(page.locator("main")).to_contain_text("Facture de mars contestée au guichet.")
            mine_all = await client.get(f"{API}/me/requests", headers=awa.headers)
            assert len(mine_all.json()["items"]) == 2

            # --- agent: an outage notice to the agency's customers, with its live delivery figures
            await page.get_by_role("link", name="Notifications").click()
            await page.get_by_label("Destinataires").select_option("outage")
            await page.get_by_label("Titre (français)").fill("Coupure Dakar Centre")
            await page.get_by_label("Titre (anglais)").fill("Outage in Dakar Centre")
            await page.get_by_label("Message (français)").fill("Travaux sur le réseau jusqu'à 14 h.")
            await page.get_by_label("Message (anglais)").fill("Network works until 2 pm.")
            await page.get_by_role("button", name="Envoyer la notification").click()
            await page.get_by_role("button", name="Confirmer").click()
            await expect(page.locator('dd[data-k="deliveryStatus"]')).to_have_text("terminé", timeout=60_000)
            await expect(page.locator('dd[data-k="sent"]')).to_have_text("1")
            feed = await client.get(f"{API}/me/notifications", headers=awa.headers)
            assert "Coupure Dakar Centre" in feed.text
            await _sign_out(page)

            # --- administrator: national notification with two confirmations, delivered live
            await _sign_in(page, base, "admin.pays")
            await page.get_by_role("link", name="Notifications").click()
            await page.get_by_label("Destinataires").select_option("everyone")
            await page.get_by_label("Titre (français)").fill("Maintenance nationale")
            await page.get_by_label("Titre (anglais)").fill("Nationwide maintenance")
            await page.get_by_label("Message (français)").fill("Coupure programmée dimanche de 8 h à 10 h.")
            await page.get_by_label("Message (anglais)").fill("Planned outage on Sunday 8-10 am.")
            await expect(page.locator("#n-preview")).to_contain_text("Maintenance nationale")
            await page.get_by_role("button", name="Envoyer la notification").click()
            await expect(page.get_by_role("dialog")).to_contain_text("Tout le monde")
            await page.get_by_role("button", name="Confirmer").click()
            await expect(page.get_by_role("dialog")).to_contain_text("NATIONALE")
            await page.get_by_role("button", name="Confirmer").click()
            await expect(page.locator('dd[data-k="deliveryStatus"]')).to_have_text("terminé", timeout=60_000)
            await expect(page.locator('dd[data-k="sent"]')).to_have_text("1")
            await page.screenshot(path=str(screenshots / "04-admin-national-delivered.png"), full_page=True)
            feed = await client.get(f"{API}/me/notifications", headers=awa.headers)
            assert "Maintenance nationale" in feed.text

            # --- administrator: withdraws it from the sent list (gone from the customer's feed)
            await page.locator("#n-sent").get_by_role("button", name="Retirer").first.click()
            await page.get_by_role("button", name="Confirmer").click()
            await expect(page.locator("#n-sent")).to_contain_text("retirée")
            feed = await client.get(f"{API}/me/notifications", headers=awa.headers)
            assert "Maintenance nationale" not in feed.text

            # --- administrator: creates then deactivates an agency; the audit log shows the re-send
            await page.get_by_role("link", name="Agences").click()
            await page.get_by_label("Code").fill("TSTX")
            await page.get_by_label("Nom", exact=True).fill("Agence Essai")
            await page.get_by_role("button", name="Créer").click()
            row = page.get_by_role("row", name=re.compile("Agence Essai"))
            await expect(row).to_contain_text("actif")
            await row.get_by_role("button", name="Désactiver").click()
            await page.get_by_role("button", name="Confirmer").click()
            await expect(page.get_by_role("row", name=re.compile("Agence Essai"))).to_contain_text("inactif")
            # --- administrator: a new tariff version through the form; the API's field errors
            # show next to their fields, then the corrected version is added (and audited)
            await page.get_by_role("link", name="Tarifs").click()
            await page.get_by_label("Tarif", exact=True).select_option("DPP")
            await page.get_by_label("Du", exact=True).fill("2027-01-01")
            await page.get_by_label("Libellé", exact=True).fill("CRSE 2027 (console)")
            price = page.get_by_label("Tranche 1 — Prix Woyofal (FCFA/kWh)")
            await price.fill("-5")
            await page.get_by_label("TVA (%)").fill("dix-huit")
            await page.get_by_role("button", name="Ajouter la version").click()
            await expect(page.get_by_role("dialog")).to_contain_text("DPP")
            await page.get_by_role("button", name="Confirmer").click()
            await expect(price).to_have_attribute("aria-invalid", "true")
            await expect(page.locator('[id="err-tranches.0.price_prepaid"]')).to_have_text(
                "valeur trop petite (plus de 0)"
            )
            await expect(page.locator("#err-vat_rate")).not_to_be_empty()
            await expect(page.locator("#flash")).to_contain_text("corrigez les champs signalés")
            await page.screenshot(path=str(screenshots / "07-admin-tariff-field-errors.png"), full_page=True)
            await price.fill("79,5")
            await page.get_by_label("TVA (%)").fill("18")
            await page.get_by_role("button", name="Ajouter la version").click()
            await page.get_by_role("button", name="Confirmer").click()
            await expect(page.locator("#flash")).to_contain_text(
                "Version du tarif DPP ajoutée à partir du 01/01/2027"
            )
            await expect(page.locator("main table").first).to_contain_text("CRSE 2027 (console)")
            grid = await client.get(f"{API}/tariffs", params={"on": "2027-02-01"}, headers=awa.headers)
            dpp = next(v for v in grid.json()["items"] if v["code"] == "DPP")
            assert (dpp["label"], dpp["tranches"][0]["price_prepaid"], dpp["vat_rate"]) == (
                "CRSE 2027 (console)",
                79.5,
                0.18,
            )
            # the console in English: same page, English labels
            await page.get_by_role("button", name="English").click()
            await expect(page.get_by_role("link", name="Audit log")).to_be_visible()
            await expect(page.get_by_role("button", name="Add the version")).to_be_visible()
            await page.screenshot(path=str(screenshots / "08-admin-tariffs-english.png"), full_page=True)
            await page.get_by_role("button", name="Français").click()

            await page.get_by_role("link", name="Journal d'audit").click()
            # (one line each: the filtered page is drawn, not the whole log it replaces)
            audit_rows = page.locator("#audit tbody tr")
            await page.get_by_label("Événement").fill("token_resent")
            await page.get_by_role("button", name="Filtrer").click()
            await expect(audit_rows).to_have_count(1)
            await expect(audit_rows).to_contain_text(order)
            # ... and who took the request from the queue
            await page.get_by_label("Événement").fill("request_assigned")
            await page.get_by_role("button", name="Filtrer").click()
            await expect(audit_rows).to_have_count(1)
            await expect(audit_rows).to_contain_text(f"reference={reference}")
            await page.screenshot(path=str(screenshots / "09-admin-audit-assignment.png"), full_page=True)
            await page.get_by_role("link", name="Tableau de bord").click()
            await expect(page.locator("svg.chart").first).to_be_visible()
            await page.screenshot(path=str(screenshots / "06-admin-dashboard.png"), full_page=True)
            await _sign_out(page)

            # --- an agent of another agency cannot open the customer, nor find her
            await _sign_in(page, base, "agent.ailleurs")
            await page.goto(f"{base}/console/#/customer/{awa.id}")
            await expect(page.locator("#flash")).to_contain_text("Client introuvable")
            await page.goto(f"{base}/console/#/customers?q=771234567")
            await expect(page.locator("#results")).to_have_text("Aucun client trouvé.")
            await page.screenshot(path=str(screenshots / "05-other-agency-refused.png"), full_page=True)

            # --- idle sessions end: 15 minutes without a key or a click signs the agent out
            idle = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="fr-FR")
            await idle.clock.install()
            await _sign_in(idle, base, "agent.local")
            await idle.clock.fast_forward("15:05")
            await expect(idle.locator("#flash")).to_contain_text("Session fermée après inactivité")
            await expect(idle.get_by_role("button", name="Se connecter")).to_be_visible()
            assert await idle.evaluate("sessionStorage.getItem('sc.token')") is None
        finally:
            await browser.close()
    # the only console errors allowed: the refused customer's 404 and the refused tariff's 422
    # (Chromium logs every failed fetch)
    unexpected = [e for e in errors if not re.search(r"status of (404|422)", e)]
    assert unexpected == [], unexpected
    assert len([e for e in errors if "status of 422" in e]) == 1, errors


@pytest.mark.timeout(120)
async def test_a_working_agent_stays_signed_in_and_the_idle_timeout_is_the_setting(
    db: Database,
    settings: Settings,
    agencies: dict[str, Agency],
    start_api: Callable[..., str],
) -> None:
    """Access tokens of 3 s: the console renews them with the refresh token while the agent works;
    the deployment's idle timeout (here 2 minutes) is the one the page applies."""
    await seed_request_types(db, settings)
    await _staff(db, "agent.guichet", Role.agent, agencies["DKC"].id)
    base = start_api(SAMACONSO_ACCESS_TOKEN_TTL_S="3", SAMACONSO_STAFF_IDLE_TIMEOUT_S="120")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="fr-FR")
            await _sign_in(page, base, "agent.guichet")
            assert await page.evaluate("document.documentElement.dataset.idleMs") == "120000"
            first = await page.evaluate("sessionStorage.getItem('sc.token')")
            await page.wait_for_timeout(4500)  # the access token has expired
            await page.get_by_role("link", name="Demandes").click()
            await expect(page.locator("#queue")).to_contain_text("Aucune demande pour ces filtres.")
            await expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
            renewed = await page.evaluate("sessionStorage.getItem('sc.token')")
            assert renewed
            assert renewed != first

            idle = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="fr-FR")
            await idle.clock.install()
            await _sign_in(idle, base, "agent.guichet")
            await idle.clock.fast_forward("01:50")
            await expect(idle.get_by_role("button", name="Se déconnecter")).to_be_visible()
            await idle.clock.fast_forward("00:15")
            await expect(idle.locator("#flash")).to_contain_text("Session fermée après inactivité")
            assert await idle.evaluate("sessionStorage.getItem('sc.refresh')") is None
        finally:
            await browser.close()
