"""SMS texts carry one-time codes: they never travel in clear as Celery task arguments (Flower,
task events and AMQP frames would show them). The API seals ``(phone, message)`` with AES-256-GCM
under a key derived from the signing secret (HKDF, own label); the worker opens it. A tampered or
foreign token does not open."""

from __future__ import annotations

import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from samaconso.settings import Settings

_LABEL = b"samaconso/sms-task-arguments/v1"


class SealError(ValueError):
    """The sealed SMS could not be opened (wrong key or altered)."""


def _key(settings: Settings) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL)
    return hkdf.derive(settings.jwt_secret.get_secret_value().encode())


def seal_sms(settings: Settings, phone: str, message: str) -> str:
    nonce = os.urandom(12)
    plain = json.dumps({"to": phone, "text": message}).encode()
    sealed = AESGCM(_key(settings)).encrypt(nonce, plain, _LABEL)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_sms(settings: Settings, token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        plain = AESGCM(_key(settings)).decrypt(raw[:12], raw[12:], _LABEL)
        data = json.loads(plain)
        return str(data["to"]), str(data["text"])
    except (InvalidTag, ValueError, KeyError, TypeError) as exc:
        raise SealError("sealed SMS does not open") from exc
