"""``GET /api/v1/errors``: the error catalogue, public (the app team reads it before signing in)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from samaconso.kit.errors import catalogue_entries

router = APIRouter(prefix="/api/v1", tags=["system"])


class ErrorText(BaseModel):
    fr: str = Field(examples=["Compteur introuvable."])
    en: str = Field(examples=["Meter not found."])


class ErrorCodeOut(BaseModel):
    code: str = Field(examples=["meter_not_found"])
    status: int = Field(ge=400, le=599, examples=[404])
    title: ErrorText


class ErrorCatalogueOut(BaseModel):
    """A fixed reference document (like ``/openapi.json``), not a paginated list."""

    codes: list[ErrorCodeOut]


@router.get("/errors", response_model=ErrorCatalogueOut)
async def list_error_codes() -> ErrorCatalogueOut:
    return ErrorCatalogueOut.model_validate({"codes": catalogue_entries()})
