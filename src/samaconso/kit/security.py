"""Password/PIN hashing (Argon2id; bcrypt hashes carried from v2 are verified and upgraded), access
tokens (JWT HS256) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import bcrypt
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from samaconso.settings import Settings

_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)  # OWASP Argon2id baseline
# Verifying against this keeps unknown-account logins as slow as real ones (no user enumeration).
_DUMMY_HASH = _hasher.hash("not-a-real-secret")


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def is_legacy_hash(stored_hash: str | None) -> bool:
    """A bcrypt hash carried from SamaConso v2 (not yet upgraded to Argon2id)."""
    return stored_hash is not None and stored_hash.startswith(BCRYPT_PREFIXES)


@dataclass(frozen=True)
class Verified:
    """The outcome of :func:`verify_and_update`: ``new_hash`` is set when the caller must store it
    (a bcrypt hash from v2, or Argon2 parameters older than today's) — only ever on success."""

    ok: bool
    new_hash: str | None = None
    was_legacy: bool = False


def _bcrypt_matches(stored_hash: str, secret: str) -> bool:
    try:
        return bcrypt.checkpw(secret.encode(), stored_hash.encode())
    except ValueError:  # malformed hash, or a secret longer than bcrypt's 72 bytes
        return False


def verify_and_update(stored_hash: str | None, secret: str) -> Verified:
    """Check ``secret`` against an Argon2id or a v2 bcrypt hash; on success say which hash to store
    now (Argon2id), so a carried bcrypt hash is replaced at the first successful sign-in."""
    if stored_hash is not None and is_legacy_hash(stored_hash):
        if not _bcrypt_matches(stored_hash, secret):
            return Verified(ok=False, was_legacy=True)
        return Verified(ok=True, new_hash=_hasher.hash(secret), was_legacy=True)
    try:
        ok = _hasher.verify(stored_hash or _DUMMY_HASH, secret) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verified(ok=False)
    if ok and stored_hash is not None and _hasher.check_needs_rehash(stored_hash):
        return Verified(ok=True, new_hash=_hasher.hash(secret))
    return Verified(ok=ok)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    return verify_and_update(stored_hash, secret).ok


def needs_rehash(stored_hash: str) -> bool:
    if is_legacy_hash(stored_hash):
        return True
    return _hasher.check_needs_rehash(stored_hash)


def new_opaque_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """SHA-256 of a high-entropy opaque token: stored and looked up by an index, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    role: str
    expires_at: datetime


def issue_access_token(settings: Settings, *, user_id: uuid.UUID, session_id: uuid.UUID, role: str) -> str:
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "sub": str(user_id),
        "sid": str(session_id),
        "jti": uuid.uuid4().hex,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl_s)).timestamp()),
        "typ": "access",
    }
    return jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def decode_access_token(settings: Settings, token: str) -> AccessClaims | None:
    claims = _verified_access_token(token, settings.jwt_secret.get_secret_value(), settings.jwt_issuer)
    # the signature of these exact bytes was checked once; the lifetime is checked on every call
    if claims is None or claims.expires_at <= datetime.now(UTC):
        return None
    return claims


@lru_cache(maxsize=20_000)
def _verified_access_token(token: str, secret: str, issuer: str) -> AccessClaims | None:
    """The claims of an access token whose signature, issuer and type hold (None otherwise), kept
    per process for the tokens seen recently: a token is verified once, not on every request."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=issuer,
            options={"require": ["exp", "sub", "sid", "jti", "iss"]},
        )
        if payload.get("typ") != "access":
            return None
        return AccessClaims(
            user_id=uuid.UUID(payload["sub"]),
            session_id=uuid.UUID(payload["sid"]),
            token_id=str(payload["jti"]),
            role=str(payload.get("role", "")),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )
    except (jwt.PyJWTError, ValueError, KeyError):
        return None


def access_token_expired(settings: Settings, token: str) -> bool:
    """True when ``token`` is one of ours (signature, issuer, type) whose lifetime is over: the app
    is told ``token_expired`` (refresh) rather than a bare ``unauthenticated``."""
    try:
        payload = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=["HS256"],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "sub", "sid", "jti", "iss"], "verify_exp": False},
        )
    except (jwt.PyJWTError, ValueError, KeyError):
        return False
    return payload.get("typ") == "access" and int(payload["exp"]) <= int(datetime.now(UTC).timestamp())
