"""The import's phone shortcut answers exactly what the one phone rule (``normalize_phone``) answers,
for every form v2 holds and for random garbage built from the same characters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samaconso.cutover.phone_shortcut import to_e164, to_e164_or_none
from samaconso.cutover.v2_generator import phone_forms
from samaconso.identity.phones import InvalidPhone, normalize_phone


def _rule(raw: str) -> str | None:
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        return None


def _shortcut(raw: str) -> str | None:
    try:
        return to_e164(raw)
    except InvalidPhone:
        return None


@pytest.mark.parametrize("national", ["771234567", "701112266", "781112244", "761112255", "331234567"])
def test_every_v2_form_gives_the_rule_answer(national: str) -> None:
    for form in [*phone_forms(national), f"0{national}", national[:-1], f"{national}9", f" {national} "]:
        assert _shortcut(form) == _rule(form), form
    assert _shortcut(f"+221 {national}") == ("+221" + national if national[0] == "7" else None)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789+ .-7", min_size=0, max_size=30))
def test_random_input_gives_the_rule_answer(raw: str) -> None:
    assert _shortcut(raw) == _rule(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["", "+221", "00221", "221", "+221 "]),
    st.sampled_from(["70", "72", "75", "76", "77", "78", "71", "33"]),
    st.text(alphabet="0123456789", min_size=6, max_size=8),
    st.sampled_from(["", " ", ".", "-", "  ", "--"]),
)
def test_prefixed_numbers_give_the_rule_answer(prefix: str, head: str, tail: str, sep: str) -> None:
    raw = prefix + head + sep + tail
    assert _shortcut(raw) == _rule(raw)


def test_nothing_or_not_a_phone_is_none() -> None:
    assert to_e164_or_none(None) is None
    assert to_e164_or_none("") is None
    assert to_e164_or_none("pas un numéro") is None
    assert to_e164_or_none(771234567) == "+221771234567"
