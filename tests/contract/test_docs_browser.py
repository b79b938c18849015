"""``/docs`` and ``/redoc`` in a real browser (Debian's Chromium driven by Playwright), offline:
every request leaving the app's own address is refused and must not happen; Swagger UI renders the
operations and its Authorize button; ReDoc renders too. Screenshots are kept in the artefacts dir."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Route, async_playwright

from tests.contract.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.timeout(180)
async def test_docs_render_offline_with_authorize(live_server: LiveServer, artefacts: Path) -> None:
    assert CHROMIUM.exists(), "Debian's chromium is missing: scripts/ensure-services.sh installs it"
    own = urlsplit(live_server.url).netloc
    outside: list[str] = []

    async def offline(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            outside.append(url)
            await route.abort()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1800})
            await page.route("**/*", offline)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            response = await page.goto(f"{live_server.url}/docs", wait_until="networkidle")
            assert response is not None
            assert response.status == 200
            assert "default-src 'none'" in (response.headers.get("content-security-policy") or "")
            await page.wait_for_selector(".opblock-summary", timeout=60_000)
            operations = await page.locator(".opblock-summary").count()
            assert operations >= 73, operations
            assert await page.get_by_text("listMyMeters").count() >= 1  # operationIds are displayed
            authorize = page.locator("button.authorize")
            assert await authorize.count() == 1
            await authorize.click()
            await page.wait_for_selector("text=bearerAuth", timeout=10_000)
            await page.screenshot(path=str(artefacts / "swagger-authorize.png"))
            await page.keyboard.press("Escape")
            await page.screenshot(path=str(artefacts / "swagger.png"))

            redoc = await browser.new_page(viewport={"width": 1280, "height": 1400})
            await redoc.route("**/*", offline)
            await redoc.goto(f"{live_server.url}/redoc", wait_until="networkidle")
            await redoc.wait_for_selector("h2:has-text('My meters')", timeout=60_000)
            assert await redoc.locator("h2").count() >= 73
            await redoc.screenshot(path=str(artefacts / "redoc.png"))
            assert not errors, errors
        finally:
            await browser.close()
    assert outside == [], f"the docs tried to reach outside the app: {outside}"
