from __future__ import annotations

import pytest

from samaconso.settings import InsecureSettingsError, Settings

STRONG = {
    "jwt_secret": "x" * 48,
    "s3_secret_key": "S3-very-strong-secret-9f8e7d",
    "flower_password": "Flower-strong-password-42",
    "metrics_token": "m" * 40,
    "database_url": "postgresql+asyncpg://samaconso:Db-Strong-Password-77@10.0.0.1:6432/samaconso",
    "redis_url": "redis://:Redis-Strong-Password-77@10.0.0.3:6379/0",
    "result_backend": "redis://:Redis-Strong-Password-77@10.0.0.3:6379/1",
    "broker_url": "amqp://samaconso:Rabbit-Strong-Password-77@10.0.0.2:5672/samaconso",
}
GOOD = "mssql+pymssql://samaconso_ro:Sql-Strong-Password-77@srv-asreports:1433"


def test_production_with_sql_server_needs_every_legacy_url_with_a_strong_password() -> None:
    ok = Settings(
        profile="production",
        legacy_backend="mssql",
        legacy_sic_url=f"{GOOD}/SIC",
        legacy_histh2mc_url=f"{GOOD}/HISTH2MC",
        legacy_bi_ods_url=f"{GOOD}/BI_ODS",
        **STRONG,  # type: ignore[arg-type]
    )
    assert ok.security_problems() == []
    with pytest.raises(InsecureSettingsError) as info:
        Settings(
            profile="production",
            legacy_backend="mssql",
            legacy_sic_url="mssql+pymssql://sa:sa@srv-asreports:1433/SIC",
            legacy_bi_ods_url=f"{GOOD}/BI_ODS",
            **STRONG,  # type: ignore[arg-type]
        )
    assert info.value.problems == [
        "SAMACONSO_LEGACY_SIC_URL has a missing or default password",
        "SAMACONSO_LEGACY_HISTH2MC_URL is missing",
    ]
