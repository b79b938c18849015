"""Streaming ``multipart/form-data`` reader with a hard size limit.

The body is parsed chunk by chunk as it arrives: as soon as the file part grows past the limit the
upload is refused (413) without reading the rest. Only one part named ``file`` is kept; other small
form fields are ignored (bounded too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from samaconso.kit.errors import AppError

# Multipart framing (boundaries, part headers) on top of the file itself.
FRAMING_ALLOWANCE = 16 * 1024
MAX_OTHER_FIELDS_BYTES = 8 * 1024
MAX_PARTS = 8  # the file and a few small fields; 240 001 empty parts are refused at the ninth


def too_large(max_bytes: int) -> AppError:
    mb = max_bytes / (1024 * 1024)
    return AppError(
        413,
        "file_too_large",
        f"Le fichier dépasse la taille maximale autorisée ({mb:g} Mo).",
        f"The file exceeds the maximum allowed size ({mb:g} MB).",
    )


def bad_upload() -> AppError:
    return AppError(
        400,
        "invalid_upload",
        "Envoyez le document en multipart/form-data dans le champ « file ».",
        "Send the document as multipart/form-data in the 'file' field.",
    )


@dataclass
class _State:
    max_bytes: int
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    in_file: bool = False
    file_seen: bool = False
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    other_bytes: int = 0
    parts: int = 0
    done: bool = False


@dataclass
class UploadedFile:
    filename: str
    data: bytes


async def read_single_file(
    content_type: str | None,
    content_length: str | None,
    chunks: AsyncIterator[bytes],
    *,
    max_bytes: int,
    field_name: str = "file",
) -> UploadedFile:
    mime, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise bad_upload()
    # A declared length far beyond the limit is refused before reading anything.
    if content_length and content_length.isdigit() and int(content_length) > max_bytes + FRAMING_ALLOWANCE:
        raise too_large(max_bytes)

    state = _State(max_bytes=max_bytes)

    def on_part_begin() -> None:
        state.parts += 1
        if state.parts > MAX_PARTS:
            raise bad_upload()
        state.headers = {}
        state.in_file = False

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state.header_value += data[start:end]

    def on_header_end() -> None:
        state.headers[bytes(state.header_field).strip().lower()] = bytes(state.header_value).strip()
        state.header_field.clear()
        state.header_value.clear()

    def on_headers_finished() -> None:
        _, disp = parse_options_header(state.headers.get(b"content-disposition"))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        if name == field_name and b"filename" in disp and not state.file_seen:
            state.in_file = True
            state.file_seen = True
            state.filename = disp[b"filename"].decode("utf-8", "replace")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state.in_file:
            if len(state.data) + (end - start) > state.max_bytes:
                raise too_large(state.max_bytes)
            state.data += data[start:end]
        else:
            state.other_bytes += end - start
            if state.other_bytes > MAX_OTHER_FIELDS_BYTES:
                raise bad_upload()

    def on_end() -> None:
        state.done = True

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_end": on_end,
        },
    )
    try:
        async for chunk in chunks:
            if chunk:
                parser.write(chunk)
            if state.done:
                break
        parser.finalize()
    except AppError:
        raise
    except Exception as exc:  # malformed multipart framing
        raise bad_upload() from exc
    if not state.file_seen or state.filename is None:
        raise bad_upload()
    return UploadedFile(filename=state.filename, data=bytes(state.data))
