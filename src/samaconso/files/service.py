"""Documents: upload (type checked by content), attach to a request, download links, purge."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import filetype
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from samaconso.files import repository as repo
from samaconso.files.models import StoredFile
from samaconso.identity.models import Role
from samaconso.identity.principal import Principal
from samaconso.kit.db import Database
from samaconso.kit.errors import AppError, unavailable
from samaconso.kit.storage import Storage, StorageError
from samaconso.kit.transaction import after_commit, unit_of_work

log = structlog.get_logger(__name__)

# Detected MIME type -> extension used in the storage key. Anything else is refused (415).
ALLOWED_TYPES: dict[str, str] = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
UNATTACHED_GRACE_S = 24 * 3600
DOWNLOAD_TTL_S = 300


# The agency handling a request, asked when staff open a document attached to it. The requests
# domain (above this one: it attaches documents) provides it; files never imports requests.
RequestAgency = Callable[[AsyncSession, uuid.UUID], Awaitable[uuid.UUID | None]]


def file_not_found() -> AppError:
    return AppError(404, "file_not_found", "Document introuvable.", "Document not found.")


def detect_content_type(data: bytes) -> str | None:
    """The real type from the magic bytes; the client's name and Content-Type are not trusted."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    kind = filetype.guess(data[:8192])
    if kind is not None and kind.mime in ALLOWED_TYPES:
        return str(kind.mime)
    return None


def clean_name(name: str) -> str:
    """The original name, kept for display and as the download name only."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if c.isprintable())
    return name.strip()[:255] or "document"


async def store_upload(
    session: AsyncSession, storage: Storage, *, owner_id: uuid.UUID, original_name: str, data: bytes
) -> StoredFile:
    if not data:
        raise AppError(422, "empty_file", "Le document est vide.", "The document is empty.")
    content_type = detect_content_type(data)
    if content_type is None:
        raise AppError(
            415,
            "unsupported_file_type",
            "Type de document non accepté : envoyez un PDF, un JPEG ou un PNG.",
            "Document type not accepted: send a PDF, JPEG or PNG.",
        )
    file_id = uuid.uuid4()
    key = f"uploads/{owner_id}/{file_id.hex}.{ALLOWED_TYPES[content_type]}"
    bucket = storage.settings.s3_bucket_documents
    try:
        await storage.put(bucket, key, data, content_type, {"file-id": str(file_id)})
    except StorageError as exc:
        raise unavailable("storage") from exc
    row = StoredFile(
        id=file_id,
        owner_id=owner_id,
        bucket=bucket,
        key=key,
        content_type=content_type,
        size_bytes=len(data),
        original_name=clean_name(original_name),
    )
    session.add(row)
    try:
        await session.flush()
    except Exception:
        try:
            await storage.delete(bucket, key)
        except StorageError:
            log.warning("orphan_object_left", key=key)
        raise
    log.info("file_uploaded", file_id=str(file_id), size=len(data), content_type=content_type)
    return row


async def attach(
    session: AsyncSession, *, owner_id: uuid.UUID, file_ids: Sequence[uuid.UUID], request_id: uuid.UUID
) -> None:
    """Attach the owner's unattached files to a request (inside the caller's transaction)."""
    wanted = list(dict.fromkeys(file_ids))
    if not wanted:
        return
    rows = {f.id: f for f in await repo.lock_many(session, wanted)}
    for file_id in wanted:
        row = rows.get(file_id)
        if row is None or row.owner_id != owner_id:
            raise file_not_found()
        if row.request_id is not None:
            raise AppError(
                409,
                "file_already_attached",
                "Ce document est déjà joint à une demande.",
                "This document is already attached to a request.",
            )
    await repo.mark_attached(session, wanted, request_id)


async def attachments_of(session: AsyncSession, request_id: uuid.UUID) -> Sequence[StoredFile]:
    return await repo.of_request(session, request_id)


async def _visible_to(
    session: AsyncSession, principal: Principal, row: StoredFile, request_agency: RequestAgency
) -> bool:
    if row.owner_id == principal.user_id:
        return True
    if principal.role == Role.customer or row.request_id is None:
        return False
    if principal.is_admin:
        return True
    agency = await request_agency(session, row.request_id)
    return agency is not None and principal.agency_id is not None and agency == principal.agency_id


@dataclass
class DownloadLink:
    file: StoredFile
    url: str
    expires_in: int


async def download_link(
    session: AsyncSession,
    storage: Storage,
    principal: Principal,
    file_id: uuid.UUID,
    *,
    request_agency: RequestAgency,
) -> DownloadLink:
    row = await repo.get(session, file_id)
    if row is None or not await _visible_to(session, principal, row, request_agency):
        raise file_not_found()
    try:
        url = await storage.presigned_get(
            row.bucket, row.key, filename=row.original_name, ttl_s=DOWNLOAD_TTL_S
        )
    except StorageError as exc:
        raise unavailable("storage") from exc
    return DownloadLink(file=row, url=url, expires_in=min(DOWNLOAD_TTL_S, storage.settings.s3_presign_ttl_s))


async def delete_own(
    session: AsyncSession, storage: Storage, principal: Principal, file_id: uuid.UUID
) -> None:
    row = await repo.get(session, file_id, for_update=True)
    if row is None or row.owner_id != principal.user_id:
        raise file_not_found()
    if row.request_id is not None:
        raise AppError(
            409,
            "file_attached",
            "Ce document est joint à une demande et ne peut plus être supprimé.",
            "This document is attached to a request and can no longer be deleted.",
        )
    await repo.delete_ids(session, [row.id])
    bucket, key, row_id = row.bucket, row.key, row.id

    async def delete_object() -> None:  # once the row is gone for good
        try:
            await storage.delete(bucket, key)
        except StorageError:
            # The row is gone; the object is unreachable and only costs space. Logged for operators.
            log.warning("file_object_not_deleted", file_id=str(row_id))

    after_commit(session, delete_object)


async def purge_unattached(
    db: Database, storage: Storage, *, older_than_s: int = UNATTACHED_GRACE_S, batch: int = 500
) -> int:
    """Remove unattached uploads older than the grace period (objects first, then rows). Idempotent."""
    purged = 0
    while True:
        async with unit_of_work(db.sessionmaker) as session:
            rows = await repo.stale_unattached(session, older_than_s=older_than_s, limit=batch)
            if not rows:
                return purged
            done: list[uuid.UUID] = []
            for row in rows:
                try:
                    await storage.delete(row.bucket, row.key)
                except StorageError:
                    log.warning("file_purge_object_failed", file_id=str(row.id))
                    continue
                done.append(row.id)
            if done:
                await repo.delete_ids(session, done)
            purged += len(done)
            log.info("files_purged", count=len(done))
            if len(rows) < batch or not done:
                return purged
