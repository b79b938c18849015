"""Grace window for refresh races: apps often send two refreshes with the same token at once
(cold start, two screens). The first rotates it; for ``refresh_grace_s`` seconds the same token
answers the *same* new pair instead of counting as a stolen token and killing the session. After
the window, reuse detection applies as before.

The new pair is kept in Redis under the old token's digest, sealed with a key derived from the old
token itself (AES-256-GCM): Redis alone cannot hand out anyone's tokens.
"""

from __future__ import annotations

import base64
import os

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis
from redis.exceptions import RedisError

from samaconso.identity.schemas import TokenPair
from samaconso.kit.security import token_digest

log = structlog.get_logger(__name__)

_LABEL = b"samaconso/refresh-grace/v1"


def _key(old_token: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(old_token.encode())


def _redis_key(old_token: str) -> str:
    return "refresh-grace:" + token_digest(old_token)


async def remember(redis: Redis, old_token: str, pair: TokenPair, ttl_s: int) -> None:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(old_token)).encrypt(nonce, pair.model_dump_json().encode(), _LABEL)
    try:
        await redis.set(_redis_key(old_token), base64.b64encode(nonce + sealed), ex=max(1, ttl_s))
    except (RedisError, OSError) as exc:
        log.warning("refresh_grace_unavailable", error=type(exc).__name__)


async def recall(redis: Redis, old_token: str) -> TokenPair | None:
    try:
        raw = await redis.get(_redis_key(old_token))
    except (RedisError, OSError) as exc:
        log.warning("refresh_grace_unavailable", error=type(exc).__name__)
        return None
    if not raw:
        return None
    try:
        data = base64.b64decode(raw)
        plain = AESGCM(_key(old_token)).decrypt(data[:12], data[12:], _LABEL)
    except (InvalidTag, ValueError):
        return None
    return TokenPair.model_validate_json(plain)
