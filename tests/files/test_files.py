"""Documents: upload limits (size while streaming, type by content), downloads, authorization, purge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text

from samaconso.files import service as files_service
from samaconso.identity.models import Agency, Role
from samaconso.kit.db import Database
from samaconso.kit.storage import Storage
from samaconso.settings import Settings
from samaconso.worker import BEAT_SCHEDULE, route_for
from tests.requests.helpers import PDF_MINI, PNG_1PX, link, make_meter, seed_types, upload
from tests.support.users import make_user

API = "/api/v1"
# What a Windows executable starts with ("MZ" header + DOS stub)
EXE_BYTES = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + b"This program cannot be run in DOS mode"
)


async def _object_exists(storage: Storage, key: str) -> bool:
    try:
        await storage.get(storage.settings.s3_bucket_documents, key)
    except Exception:
        return False
    return True


async def _key_of(db: Database, file_id: str) -> str | None:
    async with db.sessionmaker() as session:
        row = await session.execute(text("SELECT key FROM stored_files WHERE id = :id"), {"id": file_id})
        return row.scalar_one_or_none()


async def test_upload_detects_type_by_content_and_downloads_as_attachment(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    customer = await make_user(db, settings, Role.customer)
    response = await client.post(
        f"{API}/files",
        headers=customer.headers,
        files={"file": ("../../etc/Relevé mars.pdf", PDF_MINI, "application/octet-stream")},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content_type"] == "application/pdf"
    assert body["original_name"] == "Relevé mars.pdf"
    assert body["size_bytes"] == len(PDF_MINI)
    key = await _key_of(db, body["id"])
    assert key is not None
    assert "Relev" not in key
    assert ".." not in key

    link_response = await client.get(f"{API}/files/{body['id']}", headers=customer.headers)
    assert link_response.status_code == 200
    info = link_response.json()
    assert 0 < info["expires_in"] <= 300
    assert int(parse_qs(urlsplit(info["url"]).query)["X-Amz-Expires"][0]) <= 300
    async with httpx.AsyncClient() as http:
        fetched = await http.get(info["url"])
    assert fetched.status_code == 200
    assert fetched.content == PDF_MINI
    assert fetched.headers["content-disposition"].startswith("attachment;")
    assert "mars.pdf" in fetched.headers["content-disposition"]

    png = await client.post(
        f"{API}/files", headers=customer.headers, files={"file": ("scan.jpg", PNG_1PX, "image/jpeg")}
    )
    assert png.json()["content_type"] == "image/png"  # the content decides, not the name or header


@pytest.mark.parametrize(
    ("name", "data", "claimed"),
    [
        ("facture.pdf", EXE_BYTES, "application/pdf"),
        ("photo.png", b"<html><script>alert(1)</script></html>", "image/png"),
        ("doc.pdf", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "application/pdf"),
    ],
)
async def test_disguised_files_are_refused(
    client: AsyncClient, db: Database, settings: Settings, name: str, data: bytes, claimed: str
) -> None:
    customer = await make_user(db, settings, Role.customer)
    response = await client.post(
        f"{API}/files", headers=customer.headers, files={"file": (name, data, claimed)}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_file_type"
    async with db.sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM stored_files"))).scalar_one() == 0


async def test_oversize_is_refused_while_streaming(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    customer = await make_user(db, settings, Role.customer)
    limit = settings.document_max_bytes
    boundary = "samaconsoboundary"
    chunk = 64 * 1024
    total_chunks = (20 * 1024 * 1024) // chunk  # a 20 MB file sent without Content-Length
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode() + b"%PDF-1.4\n"
        for _ in range(total_chunks):
            sent += 1
            yield b"0" * chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = customer.headers | {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    response = await client.post(f"{API}/files", headers=headers, content=body())
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    # the server stopped reading right after the limit, not at the end of the 20 MB
    assert sent <= limit // chunk + 2
    assert sent < total_chunks

    # exactly at the limit is fine; one byte more is not
    at_limit = b"%PDF-1.4\n" + b"0" * (limit - 9)
    ok = await client.post(
        f"{API}/files", headers=customer.headers, files={"file": ("a.pdf", at_limit, "application/pdf")}
    )
    assert ok.status_code == 201
    over = await client.post(
        f"{API}/files",
        headers=customer.headers,
        files={"file": ("b.pdf", at_limit + b"0", "application/pdf")},
    )
    assert over.status_code == 413


async def test_declared_oversize_is_refused_before_reading(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    customer = await make_user(db, settings, Role.customer)
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        read += 1
        yield b"x" * 1024

    headers = customer.headers | {
        "Content-Type": "multipart/form-data; boundary=b",
        "Content-Length": str(50 * 1024 * 1024),
    }
    response = await client.post(f"{API}/files", headers=headers, content=body())
    assert response.status_code == 413
    assert read == 0


async def test_malformed_or_missing_upload(client: AsyncClient, db: Database, settings: Settings) -> None:
    customer = await make_user(db, settings, Role.customer)
    no_file = await client.post(
        f"{API}/files", headers=customer.headers, data={"other": "x"}, files={"x": ("a", b"", "text/plain")}
    )
    assert no_file.status_code == 400
    as_json = await client.post(f"{API}/files", headers=customer.headers, json={"file": "x"})
    assert as_json.status_code == 400
    empty = await client.post(
        f"{API}/files", headers=customer.headers, files={"file": ("a.pdf", b"", "application/pdf")}
    )
    assert empty.status_code == 422
    anonymous = await client.post(f"{API}/files", files={"file": ("a.png", PNG_1PX, "image/png")})
    assert anonymous.status_code == 401


async def test_only_owner_and_the_requests_agency_staff_can_download(
    client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    await seed_types(db, settings)
    owner = await make_user(db, settings, Role.customer)
    other = await make_user(db, settings, Role.customer)
    agent_dkc = await make_user(db, settings, Role.agent, agency_id=agencies["DKC"].id)
    agent_ths = await make_user(db, settings, Role.agent, agency_id=agencies["THS"].id)
    admin = await make_user(db, settings, Role.admin)
    meter = await make_meter(db, agency_id=agencies["DKC"].id)
    await link(db, owner.id, meter, is_default=True)
    file_id = await upload(client, owner.headers)

    # unattached: only the owner
    for user in (other, agent_dkc, agent_ths, admin):
        assert (await client.get(f"{API}/files/{file_id}", headers=user.headers)).status_code == 404
    assert (await client.delete(f"{API}/files/{file_id}", headers=other.headers)).status_code == 404

    created = await client.post(
        f"{API}/me/requests",
        json={
            "type": "reclamation_facture",
            "comment": "Voir la photo",
            "attachments": [file_id],
            "meter_id": str(meter),
        },
        headers=owner.headers,
    )
    assert created.status_code == 201
    assert (await client.get(f"{API}/files/{file_id}", headers=owner.headers)).status_code == 200
    assert (await client.get(f"{API}/files/{file_id}", headers=agent_dkc.headers)).status_code == 200
    assert (await client.get(f"{API}/files/{file_id}", headers=admin.headers)).status_code == 200
    assert (await client.get(f"{API}/files/{file_id}", headers=agent_ths.headers)).status_code == 404
    assert (await client.get(f"{API}/files/{file_id}", headers=other.headers)).status_code == 404

    # attached documents can no longer be deleted
    attached = await client.delete(f"{API}/files/{file_id}", headers=owner.headers)
    assert attached.status_code == 409
    assert attached.json()["code"] == "file_attached"


async def test_owner_deletes_unattached_file(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings
) -> None:
    owner = await make_user(db, settings, Role.customer)
    file_id = await upload(client, owner.headers)
    key = await _key_of(db, file_id)
    assert key is not None
    assert await _object_exists(app.state.storage, key)
    assert (await client.delete(f"{API}/files/{file_id}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/files/{file_id}", headers=owner.headers)).status_code == 404
    assert not await _object_exists(app.state.storage, key)


async def test_purge_removes_only_old_unattached_files(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, agencies: dict[str, Agency]
) -> None:
    await seed_types(db, settings)
    owner = await make_user(db, settings, Role.customer)
    old_loose = await upload(client, owner.headers)
    old_attached = await upload(client, owner.headers)
    fresh_loose = await upload(client, owner.headers)
    created = await client.post(
        f"{API}/me/requests",
        json={"type": "autre", "comment": "Pièce jointe", "attachments": [old_attached]},
        headers=owner.headers,
    )
    assert created.status_code == 201
    async with db.sessionmaker() as session:
        await session.execute(
            text("UPDATE stored_files SET created_at = now() - interval '25 hours' WHERE id IN (:a, :b)"),
            {"a": old_loose, "b": old_attached},
        )
        await session.commit()
    keys = {f: await _key_of(db, f) for f in (old_loose, old_attached, fresh_loose)}

    purged = await files_service.purge_unattached(db, app.state.storage)
    assert purged == 1
    assert (await client.get(f"{API}/files/{old_loose}", headers=owner.headers)).status_code == 404
    assert (await client.get(f"{API}/files/{old_attached}", headers=owner.headers)).status_code == 200
    assert (await client.get(f"{API}/files/{fresh_loose}", headers=owner.headers)).status_code == 200
    assert not await _object_exists(app.state.storage, str(keys[old_loose]))
    assert await _object_exists(app.state.storage, str(keys[fresh_loose]))
    assert await files_service.purge_unattached(db, app.state.storage) == 0

    # scheduled hourly on the low-priority queue
    entry = BEAT_SCHEDULE["files-purge-unattached"]
    assert entry["task"] == "samaconso.files.tasks.purge_unattached"
    assert route_for(entry["task"]) == "low_priority"
    from samaconso.worker import celery_app

    celery_app.loader.import_default_modules()  # what a worker does at start
    assert entry["task"] in celery_app.tasks
