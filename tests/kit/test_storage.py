from __future__ import annotations

import httpx
from fastapi import FastAPI

from samaconso.kit.storage import Storage


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
