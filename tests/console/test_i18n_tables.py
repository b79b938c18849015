"""The console's French and English tables (``console/static/i18n.js``) are kept by hand: they must
have the same keys, no empty text, the same ``{placeholders}``, and hold every key the pages ask
for — a missing key would show its id (``resendConfirm``) to a counter agent."""

from __future__ import annotations

import re
from pathlib import Path

import samaconso.console
from samaconso.identity.models import Role
from samaconso.meters.models import LinkStatus
from samaconso.notifications.models import NotificationType, TargetKind
from samaconso.requests.models import RequestStatus

STATIC = Path(samaconso.console.__file__).parent / "static"
PAIR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*"((?:[^"\\\n]|\\.)*)"\s*,?')
DELIVERY = ("queued", "fanning_out", "sending", "done")
# Server values the pages show through a table (``t(`st_${status}`)``...): every one needs its text.
SERVER_VALUES = {
    "st_": [s.value for s in RequestStatus],
    "ds_": list(DELIVERY),
    "nt_": [n.value for n in NotificationType],
    "tk_": [k.value for k in TargetKind],
    "ls_": [s.value for s in LinkStatus],
    "role_": [r.value for r in Role],
    "by_": ["customer", "agent", "admin", "system"],
    "lang_": ["fr", "en"],
}


def _table(source: str, name: str) -> dict[str, str]:
    """The ``const NAME = {...};`` object of i18n.js, read pair by pair: anything else inside it
    (a value in single quotes, a computed key, a comment) fails the test instead of being skipped."""
    match = re.search(rf"const {name} = \{{(.*?)\n\}};", source, re.S)
    assert match, f"{name} table not found"
    body, table, pos = match.group(1), {}, 0
    while pos < len(body.rstrip()):
        pair = PAIR.match(body, pos)
        assert pair, f"{name}: cannot read {body[pos : pos + 60]!r}"
        assert pair.group(1) not in table, f"{name}: {pair.group(1)} twice"
        table[pair.group(1)] = pair.group(2)
        pos = pair.end()
    return table


def _tables() -> tuple[dict[str, str], dict[str, str]]:
    source = (STATIC / "i18n.js").read_text(encoding="utf-8")
    return _table(source, "FR"), _table(source, "EN")


def test_french_and_english_tables_have_the_same_keys_and_no_empty_text() -> None:
    fr, en = _tables()
    assert len(fr) > 100
    assert sorted(set(fr) - set(en)) == [], "keys missing in EN"
    assert sorted(set(en) - set(fr)) == [], "keys missing in FR"
    assert [k for k, v in fr.items() if not v.strip()] == []
    assert [k for k, v in en.items() if not v.strip()] == []
    holes = {
        k: (fr[k], en[k])
        for k in fr
        if set(re.findall(r"\{\w+\}", fr[k])) != set(re.findall(r"\{\w+\}", en[k]))
    }
    assert holes == {}, "placeholders differ"


def test_every_key_the_pages_use_is_in_the_tables() -> None:
    fr, _ = _tables()
    used: set[str] = set()
    for page in STATIC.glob("*.js"):
        used |= set(re.findall(r"""\bt\(\s*["']([A-Za-z0-9_]+)["']""", page.read_text(encoding="utf-8")))
    used |= {prefix + value for prefix, values in SERVER_VALUES.items() for value in values}
    assert len(used) > 100
    assert sorted(used - set(fr)) == []
