"""Point 9: the production guard refuses unsafe choices and warns on unusual ones, naming the
setting and why — at start-up and through ``samaconso check-config``."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from samaconso.settings import InsecureSettingsError, Settings
from tests.kit.test_settings import STRONG

SQL = "mssql+pymssql://sic:Sic-Strong-Password-77@srv-asreports:1433/SIC"
UNSAFE: list[tuple[dict[str, Any], str]] = [
    ({"result_backend": "redis://10.0.0.3:6379/1"}, "SAMACONSO_RESULT_BACKEND"),
    ({"cors_origins": ["*"]}, "SAMACONSO_CORS_ORIGINS"),
    (
        {"push_backend": "fcm", "fcm_credentials_file": "/run/secrets/fcm.json", "fcm_verify_tls": False},
        "SAMACONSO_FCM_VERIFY_TLS",
    ),
    (
        {"push_backend": "fcm", "fcm_credentials_file": "/run/secrets/fcm.json", "fcm_verify_tls": "false"},
        "SAMACONSO_FCM_VERIFY_TLS",
    ),
    (
        {
            "ldap_enabled": True,
            "ldap_url": "ldap://ad.senelec.sn:389",
            "ldap_bind_password": "Ldap-Strong-Password-1",
        },
        "SAMACONSO_LDAP_URL",
    ),
    (
        {
            "legacy_backend": "mssql",
            "legacy_sic_url": SQL + "?encryption=off",
            "legacy_histh2mc_url": SQL.replace("SIC", "HISTH2MC"),
            "legacy_bi_ods_url": SQL.replace("SIC", "BI_ODS"),
        },
        "SAMACONSO_LEGACY_SIC_URL",
    ),
    ({"access_token_ttl_s": 365 * 86400}, "SAMACONSO_ACCESS_TOKEN_TTL_S"),
    ({"pin_max_failures": 1_000_000}, "SAMACONSO_PIN_MAX_FAILURES"),
]


@pytest.mark.parametrize(("change", "setting"), UNSAFE, ids=[s for _, s in UNSAFE])
def test_production_refuses_unsafe_choice_and_names_it(change: dict[str, Any], setting: str) -> None:
    with pytest.raises(InsecureSettingsError) as info:
        Settings(profile="production", **{**STRONG, **change})
    named = [p for p in info.value.problems if setting in p]
    assert len(named) == 1, info.value.problems
    assert ":" in named[0] or "password" in named[0]  # says why


def test_flower_admin_user_is_a_warning_not_a_refusal() -> None:
    fields: dict[str, Any] = {**STRONG, "flower_user": "admin"}
    settings = Settings(profile="production", **fields)
    assert any("SAMACONSO_FLOWER_USER=admin" in w for w in settings.deployment_warnings())
    assert settings.security_problems() == []


def test_check_config_reports_unsafe_and_unusual(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMACONSO_")}
    env.update({f"SAMACONSO_{k.upper()}": v for k, v in STRONG.items()})
    env.update(
        {
            "SAMACONSO_CORS_ORIGINS": '["*"]',
            "SAMACONSO_ACCESS_TOKEN_TTL_S": "31536000",
            "SAMACONSO_PIN_MAX_FAILURES": "1000000",
            "SAMACONSO_FLOWER_USER": "admin",
            "SAMACONSO_DATA_DIR": str(tmp_path),
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "samaconso.cli", "check-config"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    for name in ("SAMACONSO_CORS_ORIGINS", "SAMACONSO_ACCESS_TOKEN_TTL_S", "SAMACONSO_PIN_MAX_FAILURES"):
        assert f"- {name}" in result.stdout
    assert "! SAMACONSO_FLOWER_USER=admin" in result.stdout
