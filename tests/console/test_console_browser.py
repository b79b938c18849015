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
from tests.identity.helpers import sms_to
from tests.notifications.conftest import WorkerFactory, add_devices
from tests.requests.helpers import PDF_MINI, write_comments
from tests.support.fcm_standin import FcmStandIn
from tests.support.legacy import LegacySource
from tests.support.users import make_user

API = "/api/v1"
CHROMIUM = "/usr/bin/chromium"
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
    request_id = r.json()["id"]
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
            await page.get_by_role("link", name="Journal d'audit").click()
            await page.get_by_label("Événement").fill("token_resent")
            await page.get_by_role("button", name="Filtrer").click()
            await expect(page.locator("main table")).to_contain_text(order)
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
    # the only console errors allowed: the refused customer's 404 (fetch logs it)
    unexpected = [e for e in errors if not re.search(r"404", e)]
    assert unexpected == [], unexpected
