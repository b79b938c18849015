"""Test environment: real PostgreSQL, Redis and RabbitMQ on their standard local ports.

Set before anything imports ``samaconso.settings``. Override any value with the same variables.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DB = f"samaconso_test_{os.getpid()}"
TMP = Path(tempfile.mkdtemp(prefix="samaconso-tests-"))

DEFAULTS = {
    "SAMACONSO_PROFILE": "test",
    "SAMACONSO_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{TEST_DB}",
    "SAMACONSO_REDIS_URL": "redis://127.0.0.1:6379/15",
    "SAMACONSO_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "SAMACONSO_RESULT_BACKEND": "redis://127.0.0.1:6379/14",
    "SAMACONSO_DATA_DIR": str(TMP / "data"),
    "SAMACONSO_LOG_JSON": "true",
    "SAMACONSO_LOG_LEVEL": "INFO",
    "SAMACONSO_S3_ACCESS_KEY": "samaconso-test",
    "SAMACONSO_S3_SECRET_KEY": "samaconso-test-secret-key",
    "SAMACONSO_JWT_SECRET": "test-signing-key-that-is-long-enough-0123456789",
}


def apply() -> None:
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
