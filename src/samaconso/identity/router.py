"""HTTP routes of the identity domain (mounted under /api/v1). Parsing and shaping only: the rules
live in ``service.py``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from samaconso.flows import account_closure
from samaconso.identity import service
from samaconso.identity.deps import AdminUser, CurrentUser, StaffUser, directory_of, forget_session
from samaconso.identity.models import Role
from samaconso.identity.schemas import (
    Accepted,
    AgencyIn,
    AgencyOut,
    AgencyPatch,
    AuditOut,
    DeviceIn,
    DeviceOut,
    LoginRequest,
    LogoutRequest,
    MePatch,
    OtpRequest,
    PinChangeRequest,
    PinResetRequest,
    RefreshRequest,
    SignupRequest,
    StaffCreate,
    StaffLoginRequest,
    StaffPatch,
    TokenPair,
    UserOut,
)
from samaconso.kit.deps import (
    CursorQuery,
    LimitQuery,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    rate_limiter_of,
    settings_of,
    storage_of,
)
from samaconso.kit.errors import AppError
from samaconso.kit.language import request_language
from samaconso.kit.pagination import (
    Page,
    decode_cursor,
    decode_time_cursor,
    encode_cursor,
    encode_time_cursor,
)
from samaconso.notifications.service import notify_user

router = APIRouter(tags=["identity"])

NO_STORE = {"Cache-Control": "no-store"}


def _ctx(request: Request, session: Any) -> service.Ctx:
    """The service's context, from the resources the lifespan built (typed accessors of
    ``kit/deps.py`` and ``identity/deps.py``)."""

    async def forget(ids: Sequence[uuid.UUID]) -> None:
        await forget_session(request, *ids)

    return service.Ctx(
        session=session,
        settings=settings_of(request),
        limiter=rate_limiter_of(request),
        storage=storage_of(request),
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        forget=forget,
        notify=notify_user,
        directory=directory_of(request),
    )


def _next(pair: tuple[datetime, uuid.UUID] | None) -> str | None:
    return encode_time_cursor(*pair) if pair else None


# --- public: codes, sign-up, logins, refresh, PIN reset ----------------------------------------


@router.post("/auth/otp", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def request_otp(body: OtpRequest, request: Request, session: SessionDep) -> Accepted:
    """Send a 6-digit code by SMS (sign-up or PIN reset). Same answer whether the number has an
    account or not."""
    language = request_language(request)
    expires_in = await service.request_otp(_ctx(request, session), body.phone, body.purpose, language)
    return Accepted(expires_in=expires_in)


@router.post("/auth/signup", status_code=status.HTTP_201_CREATED, response_model=TokenPair)
async def signup(body: SignupRequest, request: Request, response: Response, session: SessionDep) -> TokenPair:
    issued = await service.signup(_ctx(request, session), body)
    response.headers.update(NO_STORE)
    return issued.pair


@router.post("/auth/login", response_model=TokenPair)
async def login(body: LoginRequest, request: Request, response: Response, session: SessionDep) -> TokenPair:
    issued, _ = await service.login(_ctx(request, session), body)
    response.headers.update(NO_STORE)
    return issued.pair


@router.post("/auth/staff/login", response_model=TokenPair)
async def staff_login(
    body: StaffLoginRequest, request: Request, response: Response, session: SessionDep
) -> TokenPair:
    issued = await service.staff_login(_ctx(request, session), body.login, body.password)
    response.headers.update(NO_STORE)
    return issued.pair


@router.post("/auth/refresh", response_model=TokenPair)
async def refresh(
    body: RefreshRequest, request: Request, response: Response, session: SessionDep
) -> TokenPair:
    issued = await service.refresh(_ctx(request, session), body.refresh_token)
    response.headers.update(NO_STORE)
    return issued.pair


@router.post("/auth/pin/reset", status_code=status.HTTP_204_NO_CONTENT)
async def reset_pin(body: PinResetRequest, request: Request, session: SessionDep) -> Response:
    await service.reset_pin(_ctx(request, session), body.phone, body.otp, body.new_pin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the caller --------------------------------------------------------------------------------


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    principal: CurrentUser, request: Request, session: SessionDep, body: LogoutRequest | None = None
) -> Response:
    await service.logout(_ctx(request, session), principal, bool(body and body.all))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut)
async def get_me(principal: CurrentUser, request: Request, session: SessionDep) -> UserOut:
    return await service.get_me(_ctx(request, session), principal)


@router.patch("/me", response_model=UserOut)
async def patch_me(body: MePatch, principal: CurrentUser, request: Request, session: SessionDep) -> UserOut:
    return await service.patch_me(_ctx(request, session), principal, body)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(principal: CurrentUser, request: Request, session: SessionDep) -> Response:
    if principal.role != Role.customer:
        raise AppError(
            403,
            "customer_only",
            "Les comptes agents sont gérés par les administrateurs.",
            "Staff accounts are managed by administrators.",
        )
    await account_closure.close_account(_ctx(request, session), principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/me/pin", status_code=status.HTTP_204_NO_CONTENT)
async def change_pin(
    body: PinChangeRequest, principal: CurrentUser, request: Request, session: SessionDep
) -> Response:
    await service.change_pin(_ctx(request, session), principal, body.current_pin, body.new_pin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _too_large(limit: int) -> AppError:
    return AppError(
        413,
        "image_too_large",
        f"Image trop volumineuse ({limit // (1024 * 1024)} Mo au maximum).",
        f"Image too large ({limit // (1024 * 1024)} MB at most).",
    )


MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the picture


async def _read_capped(request: Request, cap: int, limit: int) -> bytes:
    """The request body, refused (413) as soon as it grows past ``cap``: never buffered beyond it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _picture_from_multipart(request: Request, body: bytes, limit: int) -> bytes:
    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(request.headers, replay(), max_files=1, max_fields=5).parse()
    except MultiPartException as exc:
        raise AppError(400, "invalid_upload", "Envoi invalide.", "Invalid upload.") from exc
    upload = next((v for v in form.values() if isinstance(v, StarletteUploadFile)), None)
    if upload is None:
        raise AppError(400, "invalid_upload", "Aucune image reçue.", "No picture received.")
    data = await upload.read()
    await form.close()
    if len(data) > limit:
        raise _too_large(limit)
    return data


@router.put(
    "/me/avatar",
    response_model=UserOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                **{m: {"schema": {"type": "string", "format": "binary"}} for m in service.AVATAR_TYPES},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
        }
    },
)
async def put_avatar(
    principal: CurrentUser, request: Request, session: SessionDep, settings: SettingsDep
) -> UserOut:
    """The picture (JPEG, PNG or WebP, checked by content, 2 MB at most) as the raw request body, or
    as the one file of a ``multipart/form-data`` body. Oversized bodies are refused while reading."""
    limit = settings.avatar_max_bytes
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        body = await _read_capped(request, limit + MULTIPART_OVERHEAD, limit)
        data = await _picture_from_multipart(request, body, limit)
    else:
        data = await _read_capped(request, limit, limit)
    return await service.set_avatar(_ctx(request, session), principal, data)


@router.get(
    "/me/avatar",
    response_class=Response,
    responses={
        200: {
            "description": "The picture.",
            "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in service.AVATAR_TYPES},
        }
    },
)
async def get_avatar(principal: CurrentUser, request: Request, session: SessionDep) -> Response:
    data, content_type = await service.get_avatar(_ctx(request, session), principal)
    return Response(
        content=data,
        media_type=content_type,
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


# --- devices -----------------------------------------------------------------------------------


@router.post("/me/devices", response_model=DeviceOut)
async def register_device(
    body: DeviceIn, principal: CurrentUser, request: Request, session: SessionDep
) -> DeviceOut:
    return await service.register_device(_ctx(request, session), principal, body)


@router.get("/me/devices", response_model=Page[DeviceOut])
async def list_devices(
    principal: CurrentUser,
    request: Request,
    session: SessionDep,
    limit: LimitQuery = 20,
    cursor: CursorQuery = None,
) -> Page[DeviceOut]:
    items, nxt = await service.list_devices(
        _ctx(request, session), principal, limit, decode_time_cursor(cursor)
    )
    return Page[DeviceOut](items=items, next_cursor=_next(nxt))


@router.delete("/me/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_device(
    device_id: uuid.UUID, principal: CurrentUser, request: Request, session: SessionDep
) -> Response:
    await service.remove_device(_ctx(request, session), principal, device_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- staff accounts (administrators) -----------------------------------------------------------


@router.post("/admin/users", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def create_staff(body: StaffCreate, admin: AdminUser, request: Request, session: SessionDep) -> UserOut:
    return await service.create_staff(_ctx(request, session), admin, body)


@router.get("/admin/users", response_model=Page[UserOut])
async def list_staff(
    admin: AdminUser,
    request: Request,
    session: ReadSessionDep,
    role: Annotated[Role | None, Query()] = None,
    agency_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[UserOut]:
    items, nxt = await service.list_staff(
        _ctx(request, session), limit, decode_time_cursor(cursor), role, agency_id
    )
    return Page[UserOut](items=items, next_cursor=_next(nxt))


@router.get("/admin/users/{user_id}", response_model=UserOut)
async def get_staff(user_id: uuid.UUID, admin: AdminUser, request: Request, session: SessionDep) -> UserOut:
    return await service.get_staff_user(_ctx(request, session), user_id)


@router.patch("/admin/users/{user_id}", response_model=UserOut)
async def patch_staff(
    user_id: uuid.UUID, body: StaffPatch, admin: AdminUser, request: Request, session: SessionDep
) -> UserOut:
    return await service.patch_staff(_ctx(request, session), admin, user_id, body)


@router.get("/admin/audit", response_model=Page[AuditOut])
async def list_audit(
    admin: AdminUser,
    request: Request,
    session: ReadSessionDep,
    user_id: Annotated[uuid.UUID | None, Query()] = None,
    event: Annotated[str | None, Query(max_length=40)] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AuditOut]:
    rows, nxt = await service.list_audit(
        _ctx(request, session), limit, decode_time_cursor(cursor), user_id, event
    )
    return Page[AuditOut](items=[AuditOut.model_validate(r) for r in rows], next_cursor=_next(nxt))


# --- agencies ----------------------------------------------------------------------------------


@router.get("/agencies", response_model=Page[AgencyOut])
async def list_agencies(
    staff: StaffUser,
    request: Request,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AgencyOut]:
    values = decode_cursor(cursor, 1)
    rows, nxt = await service.list_agencies(
        _ctx(request, session), staff, limit, str(values[0]) if values else None
    )
    return Page[AgencyOut](
        items=[AgencyOut.model_validate(a) for a in rows], next_cursor=encode_cursor(nxt) if nxt else None
    )


@router.get("/agencies/{agency_id}", response_model=AgencyOut)
async def get_agency(
    agency_id: uuid.UUID, staff: StaffUser, request: Request, session: SessionDep
) -> AgencyOut:
    return AgencyOut.model_validate(await service.get_agency(_ctx(request, session), staff, agency_id))


@router.post("/agencies", status_code=status.HTTP_201_CREATED, response_model=AgencyOut)
async def create_agency(body: AgencyIn, admin: AdminUser, request: Request, session: SessionDep) -> AgencyOut:
    return AgencyOut.model_validate(await service.create_agency(_ctx(request, session), admin, body))


@router.patch("/agencies/{agency_id}", response_model=AgencyOut)
async def patch_agency(
    agency_id: uuid.UUID, body: AgencyPatch, admin: AdminUser, request: Request, session: SessionDep
) -> AgencyOut:
    return AgencyOut.model_validate(
        await service.patch_agency(_ctx(request, session), admin, agency_id, body)
    )
