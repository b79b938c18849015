"""The on-call runbook and the F5 file: each procedure of issue 16 is there and says whether it was
tried; the TLS profiles the virtual servers use are defined with TLS 1.2 as the minimum."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook-astreinte.md"
TMSH = ROOT / "deploy" / "loadbalancer" / "f5-samaconso.tmsh"
BUILT_IN_PROFILES = {"http", "tcp", "websocket"}


def blocks(kind: str) -> dict[str, str]:
    """``ltm <kind> NAME { ... }`` blocks of the tmsh file, by name (braces balanced)."""
    text = TMSH.read_text()
    out: dict[str, str] = {}
    for m in re.finditer(rf"^ltm {re.escape(kind)} (\S+) \{{", text, re.M):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out[m.group(1)] = text[m.end() : i - 1]
    return out


def test_every_profile_a_virtual_uses_is_defined_or_built_in() -> None:
    defined = {name for kind in ("profile http", "profile tcp", "profile one-connect", "profile client-ssl")
               for name in blocks(kind)}  # fmt: skip
    virtuals = blocks("virtual")
    assert {"samaconso_https_vs", "samaconso_files_vs"} <= set(virtuals)
    for name, body in virtuals.items():
        profiles = re.search(r"profiles \{(.*?)\n    \}", body, re.S)
        assert profiles, name
        used = set(re.findall(r"^\s{8}(\S+) \{", profiles.group(1), re.M))
        missing = used - defined - BUILT_IN_PROFILES
        assert missing == set(), f"{name} uses undefined profiles {missing}"


def test_client_ssl_profiles_refuse_anything_below_tls_1_2() -> None:
    profiles = blocks("profile client-ssl")
    assert set(profiles) == {"samaconso_clientssl", "samaconso_files_clientssl"}
    for name, body in profiles.items():
        options = re.search(r"options \{([^}]*)\}", body)
        assert options, name
        flags = set(options.group(1).split())
        assert {"no-ssl", "no-tlsv1", "no-tlsv1.1"} <= flags, name
        ciphers = re.search(r'ciphers "([^"]+)"', body)
        assert ciphers, name
        assert all(part.startswith("ECDHE+") for part in ciphers.group(1).split(":")), name
        assert re.search(r"cert-key-chain \{", body), name
        assert "renegotiation disabled" in body, name


def test_runbook_covers_issue_16_and_says_what_was_tried() -> None:
    text = RUNBOOK.read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    titles = [s.splitlines()[0] for s in sections]
    for needed in ("PgBouncer", "Disque plein", "push", "Exportateurs", "F5"):
        assert any(needed.lower() in t.lower() for t in titles), needed
    for section in sections:
        assert "**Essayé**" in section or "**Non essayable ici**" in section, section.splitlines()[0]
    for phrase in ("SHOW POOLS", "pg_wal", "RESERVE-ENOSPC", "TLS 1.2 minimum"):
        assert phrase in text, phrase
    # the commands it gives exist in the repository
    assert (ROOT / "deploy" / "rehearsal" / "disk_full.py").exists()
    assert "rehearsal-disk-full:" in (ROOT / "Makefile").read_text()
