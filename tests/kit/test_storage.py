from __future__ import annotations

import httpx
from fastapi import FastAPI

from samaconso.kit.storage import Storage
from samaconso.settings import Settings


async def test_buckets_exist_and_objects_round_trip(app: FastAPI) -> None:
    storage: Storage = app.state.storage
    names = {b["Name"] for b in storage.client.list_buckets()["Buckets"]}
    assert {"avatars", "documents"} <= names
    await storage.put("documents", "t/hello.txt", b"bonjour", "text/plain", {"original-name": "hello.txt"})
    data, content_type = await storage.get("documents", "t/hello.txt")
    assert data == b"bonjour"
    assert content_type == "text/plain"


async def test_presigned_url_downloads_as_attachment(app: FastAPI) -> None:
    storage: Storage = app.state.storage
    await storage.put("documents", "t/facture.pdf", b"%PDF-1.4 test", "application/pdf", {})
    url = await storage.presigned_get("documents", "t/facture.pdf", filename="facture mars.pdf", ttl_s=60)
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.content == b"%PDF-1.4 test"
    assert response.headers["content-disposition"] == 'attachment; filename="facture mars.pdf"'
    async with httpx.AsyncClient() as http:
        tampered = await http.get(url.replace("facture.pdf", "other.pdf"))
    assert tampered.status_code == 403


async def test_links_are_signed_for_the_public_address(settings: Settings) -> None:
    # The app reaches MinIO through a public name (here "localhost" instead of the internal 127.0.0.1).
    public = settings.s3_endpoint_url.replace("127.0.0.1", "localhost")
    storage = Storage(settings.model_copy(update={"s3_public_endpoint_url": public}))
    await storage.put("documents", "t/avis.pdf", b"%PDF-1.4 avis", "application/pdf", {})
    url = await storage.presigned_get("documents", "t/avis.pdf", filename="avis.pdf", ttl_s=60)
    assert url.startswith(public + "/documents/t/avis.pdf?")
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.content == b"%PDF-1.4 avis"
