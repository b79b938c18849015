"""Response bodies of the files domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class FileOut(BaseModel):
    id: uuid.UUID
    original_name: str
    content_type: str
    size_bytes: int
    attached: bool
    created_at: datetime


class DownloadOut(BaseModel):
    id: uuid.UUID
    url: str
    expires_in: int
    original_name: str
    content_type: str
    size_bytes: int
