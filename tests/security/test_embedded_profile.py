"""Point 4: the embedded profile signs with its own key (one per data directory, file 0600) and
``samaconso api`` on that profile refuses to listen beyond loopback."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from samaconso.settings import EMBEDDED_SECRET, Settings, with_own_signing_key


def _embedded(data_dir: Path) -> Settings:
    return with_own_signing_key(Settings(profile="embedded", data_dir=data_dir, jwt_secret=EMBEDDED_SECRET))


def test_embedded_profile_generates_its_own_signing_key(tmp_path: Path) -> None:
    first = _embedded(tmp_path / "a")
    key_file = tmp_path / "a" / "signing.key"
    assert first.jwt_secret.get_secret_value() != EMBEDDED_SECRET
    assert len(first.jwt_secret.get_secret_value()) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert _embedded(tmp_path / "a").jwt_secret == first.jwt_secret  # stable for one data dir
    assert _embedded(tmp_path / "b").jwt_secret != first.jwt_secret  # another dir, another key


def test_tokens_signed_with_the_shipped_constant_are_refused(tmp_path: Path) -> None:
    import uuid

    from samaconso.kit.security import decode_access_token, issue_access_token

    shipped = Settings(profile="embedded", data_dir=tmp_path, jwt_secret=EMBEDDED_SECRET)
    minted = issue_access_token(shipped, user_id=uuid.uuid4(), session_id=uuid.uuid4(), role="admin")
    assert decode_access_token(_embedded(tmp_path), minted) is None


def _api(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAMACONSO_PROFILE": "embedded",
        "SAMACONSO_DATA_DIR": str(tmp_path),
        "SAMACONSO_JWT_SECRET": EMBEDDED_SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "samaconso.cli", "api", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_embedded_api_refuses_a_public_address(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "10.1.2.3"):
        result = _api(tmp_path, "--host", host, "--port", "1")
        assert result.returncode == 2, result.stderr
        assert "loopback" in result.stderr
