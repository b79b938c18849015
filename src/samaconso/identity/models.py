"""Identity tables: agencies, users (customers and staff), sessions, refresh tokens, devices, audit."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from samaconso.kit.db import Base, Timestamps, UUIDPk


class Role(enum.StrEnum):
    customer = "customer"
    agent = "agent"
    admin = "admin"


STAFF_ROLES = frozenset({Role.agent, Role.admin})


class AuthSource(enum.StrEnum):
    local = "local"
    ldap = "ldap"


class Agency(UUIDPk, Timestamps, Base):
    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    region: Mapped[str | None] = mapped_column(String(80))
    # Upper-cased, accent-free name used to match the agency names found in the legacy systems.
    legacy_name: Mapped[str] = mapped_column(String(120), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class User(UUIDPk, Timestamps, Base):
    __tablename__ = "users"

    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", native_enum=False, length=16))
    # Customers: E.164 phone (+221...). Staff: a login. Both unique when present.
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    login: Mapped[str | None] = mapped_column(String(64), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    auth_source: Mapped[AuthSource] = mapped_column(
        Enum(AuthSource, name="auth_source", native_enum=False, length=16),
        default=AuthSource.local,
        server_default=AuthSource.local.value,
    )
    first_name: Mapped[str] = mapped_column(String(80), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(80), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), default="fr", server_default="fr")
    agency_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agencies.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    avatar_key: Mapped[str | None] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_users_role_created", "role", "created_at"),)


class AuthSession(UUIDPk, Base):
    """One login on one device: the family of rotated refresh tokens."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_used_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class RefreshToken(UUIDPk, Base):
    """Opaque refresh tokens, stored as SHA-256 digests; a rotated one reused kills its session."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    rotated_at: Mapped[datetime | None]


class Device(UUIDPk, Timestamps, Base):
    __tablename__ = "devices"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(String(128))  # chosen by the app, stable per install
    fcm_token: Mapped[str | None] = mapped_column(String(4096))
    fcm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    model: Mapped[str | None] = mapped_column(String(120))
    platform: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    last_seen_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    signed_out_at: Mapped[datetime | None]
    signed_out_reason: Mapped[str | None] = mapped_column(String(40))
    token_invalid_at: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_devices_user_device", "user_id", "device_id", unique=True),
        # Idle-device sweep (signed out after ``device_idle_days``).
        Index("ix_devices_active_last_seen", "last_seen_at", postgresql_where=text("is_active")),
        # Keyset scans over pushable devices (fan-out).
        Index(
            "ix_devices_pushable",
            "id",
            postgresql_where=text("is_active AND fcm_token IS NOT NULL AND token_invalid_at IS NULL"),
        ),
    )


class OtpPurpose(enum.StrEnum):
    signup = "signup"
    pin_reset = "pin_reset"


class OtpCode(UUIDPk, Base):
    """One-time codes sent by SMS. Only a keyed digest (HMAC-SHA256) of the code is stored."""

    __tablename__ = "otp_codes"

    phone: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[OtpPurpose] = mapped_column(
        Enum(OtpPurpose, name="otp_purpose", native_enum=False, length=16)
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (Index("ix_otp_codes_phone_created", "phone", "created_at"),)


class AuditEvent(UUIDPk, Base):
    __tablename__ = "audit_events"

    at: Mapped[datetime] = mapped_column(server_default=text("now()"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))

    __table_args__ = (Index("ix_audit_events_user_at", "user_id", "at"),)
