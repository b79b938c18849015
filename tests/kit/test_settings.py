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


def test_production_starts_with_strong_secrets() -> None:
    settings = Settings(profile="production", **STRONG)  # type: ignore[arg-type]
    assert settings.is_production
    assert settings.security_problems() == []


def test_production_refuses_default_jwt_secret_and_names_it() -> None:
    values = {**STRONG, "jwt_secret": "embedded-insecure-secret-do-not-use-in-production"}
    with pytest.raises(InsecureSettingsError) as info:
        Settings(profile="production", **values)  # type: ignore[arg-type]
    assert any("SAMACONSO_JWT_SECRET" in p for p in info.value.problems)


def test_production_refuses_short_signing_key() -> None:
    with pytest.raises(InsecureSettingsError) as info:
        Settings(profile="production", **{**STRONG, "jwt_secret": "short-key-of-20-bytes"})  # type: ignore[arg-type]
    assert info.value.problems == ["SAMACONSO_JWT_SECRET is too short (at least 32 characters)"]


def test_production_refuses_default_passwords_in_urls() -> None:
    values = {**STRONG, "broker_url": "amqp://guest:guest@10.0.0.2:5672//"}
    with pytest.raises(InsecureSettingsError) as info:
        Settings(profile="production", **values)  # type: ignore[arg-type]
    assert info.value.problems == ["SAMACONSO_BROKER_URL has a missing or default password"]


def test_production_refuses_missing_metrics_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAMACONSO_METRICS_TOKEN", raising=False)
    values = {k: v for k, v in STRONG.items() if k != "metrics_token"}
    with pytest.raises(InsecureSettingsError) as info:
        Settings(profile="production", **values)  # type: ignore[arg-type]
    assert "SAMACONSO_METRICS_TOKEN is missing" in info.value.problems


def test_secrets_can_come_from_files(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SAMACONSO_JWT_SECRET", raising=False)
    (tmp_path / "samaconso_jwt_secret").write_text("k" * 40)
    settings = Settings(_secrets_dir=tmp_path)
    assert settings.jwt_secret.get_secret_value() == "k" * 40


def test_embedded_profile_accepts_defaults() -> None:
    settings = Settings(profile="embedded")
    assert settings.security_problems()  # the defaults are not production-grade...
    assert settings.profile == "embedded"  # ...but the embedded profile still starts


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [
        f"SAMACONSO_{name.upper()}"
        for name in Settings.model_fields
        if f"`SAMACONSO_{name.upper()}`" not in readme
    ]
    assert missing == [], f"settings missing from the README configuration reference: {missing}"


def test_production_warns_when_messages_would_not_leave() -> None:
    settings = Settings(profile="production", sms_backend="file", push_backend="file", **STRONG)  # type: ignore[arg-type]
    warnings = settings.deployment_warnings()
    assert any(w.startswith("SAMACONSO_SMS_BACKEND=file") for w in warnings)
    assert any(w.startswith("SAMACONSO_PUSH_BACKEND=file") for w in warnings)
    assert Settings(profile="embedded").deployment_warnings() == []
