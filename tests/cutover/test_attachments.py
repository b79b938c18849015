"""Request attachments: copied from the v2 bucket (``samaconso-uploads``) when it holds them, listed as
missing in the report when it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from httpx import AsyncClient

from samaconso.cutover.v2_generator import GeneratedV2
from samaconso.kit.db import Database
from samaconso.kit.storage import Storage
from samaconso.settings import Settings
from tests.cutover.conftest import import_v2

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def test_attachment_copied_from_the_old_bucket_or_listed_missing(
    db: Database,
    agencies: dict[str, Any],
    v2_source: GeneratedV2,
    legacy_phones: dict[str, str],
    settings: Settings,
    client: AsyncClient,
    tmp_path: Path,
) -> None:
    s = v2_source.scenario
    old = Storage(settings)
    old.ensure_buckets_sync([settings.v2_s3_bucket])
    old.client.put_object(
        Bucket=settings.v2_s3_bucket, Key=s.attachment, Body=PDF, ContentType="application/pdf"
    )
    try:
        report = await import_v2(tmp_path)
    finally:
        old.client.delete_object(Bucket=settings.v2_s3_bucket, Key=s.attachment)
    missing = {m["fichier"]: m["reason"] for m in report["missing_attachments"]}
    assert missing["demandes/absent.jpg"] == "not_found_in_old_bucket"
    assert s.attachment not in missing
    assert report["facts"]["attachments_copied"] == 1
    login = await client.post("/api/v1/auth/login", json={"phone": s.customer_phone, "pin": s.customer_pin})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    items = (await client.get("/api/v1/me/requests", headers=headers)).json()["items"]
    details = [(await client.get(f"/api/v1/me/requests/{r['id']}", headers=headers)).json() for r in items]
    attached = [a for d in details for a in d["attachments"]]
    assert len(attached) == 1
    assert attached[0]["original_name"] == "facture-juin.pdf"
    assert attached[0]["content_type"] == "application/pdf"
    assert attached[0]["size_bytes"] == len(PDF)
    link = await client.get(f"/api/v1/files/{attached[0]['id']}", headers=headers)
    assert link.status_code == 200, link.text
