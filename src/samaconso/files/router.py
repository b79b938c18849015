"""HTTP routes of the files domain (mounted under /api/v1)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from samaconso.files import service
from samaconso.files.schemas import DownloadOut, FileOut
from samaconso.files.upload import read_single_file
from samaconso.identity.deps import CurrentUser
from samaconso.kit.deps import RateLimiterDep, SessionDep, SettingsDep, StorageDep
from samaconso.requests import service as requests_service

router = APIRouter(tags=["files"])

UPLOADS_PER_HOUR = 60

_MULTIPART_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post("/files", status_code=201, response_model=FileOut, openapi_extra=_MULTIPART_DOC)
async def upload_file(
    request: Request,
    principal: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    storage: StorageDep,
) -> FileOut:
    """Upload one document (PDF, JPEG or PNG, at most ``document_max_bytes``) to attach to a request."""
    await limiter.check(f"upload:{principal.user_id}", UPLOADS_PER_HOUR, 3600)
    upload = await read_single_file(
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        request.stream(),
        max_bytes=settings.document_max_bytes,
    )
    row = await service.store_upload(
        session, storage, owner_id=principal.user_id, original_name=upload.filename, data=upload.data
    )
    return FileOut(
        id=row.id,
        original_name=row.original_name,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        attached=False,
        created_at=row.created_at,
    )


@router.get("/files/{file_id}", response_model=DownloadOut)
async def get_file(
    file_id: uuid.UUID, principal: CurrentUser, session: SessionDep, storage: StorageDep
) -> DownloadOut:
    """A short-lived (≤ 5 min) download link, for the owner and the staff handling the request."""
    link = await service.download_link(
        session, storage, principal, file_id, request_agency=requests_service.request_agency
    )
    return DownloadOut(
        id=link.file.id,
        url=link.url,
        expires_in=link.expires_in,
        original_name=link.file.original_name,
        content_type=link.file.content_type,
        size_bytes=link.file.size_bytes,
    )


@router.delete("/files/{file_id}", status_code=204)
async def delete_file(
    file_id: uuid.UUID, principal: CurrentUser, session: SessionDep, storage: StorageDep
) -> Response:
    """Delete one of my documents that is not attached to a request yet."""
    await service.delete_own(session, storage, principal, file_id)
    return Response(status_code=204)
