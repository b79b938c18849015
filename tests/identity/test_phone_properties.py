"""Property tests for the phone parser and the PIN rules."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from samaconso.identity.phones import SENEGAL_MOBILE_PREFIXES, InvalidPhone, normalize_phone, pin_problem

prefixes = st.sampled_from(SENEGAL_MOBILE_PREFIXES)
subscriber = st.text(alphabet="0123456789", min_size=7, max_size=7)


def _spaced(digits: str) -> str:
    return f"{digits[:2]} {digits[2:5]} {digits[5:7]} {digits[7:]}"


@given(prefixes, subscriber, st.sampled_from(["{n}", "+221{n}", "00221{n}", "+221 {s}", "{s}", "00221 {s}"]))
def test_every_written_form_gives_the_same_e164(prefix: str, rest: str, form: str) -> None:
    national = prefix + rest
    assert normalize_phone(form.format(n=national, s=_spaced(national))) == "+221" + national


@given(
    st.text(alphabet="0123456789", min_size=2, max_size=2).filter(lambda p: p not in SENEGAL_MOBILE_PREFIXES),
    subscriber,
)
def test_non_mobile_prefixes_are_refused(prefix: str, rest: str) -> None:
    try:
        normalize_phone("+221" + prefix + rest)
    except InvalidPhone:
        return
    raise AssertionError(f"{prefix}{rest} accepted")


@given(st.text(max_size=40))
def test_parser_never_crashes(raw: str) -> None:
    try:
        result = normalize_phone(raw)
    except InvalidPhone:
        return
    assert result.startswith("+221")
    assert len(result) == 13


WEAK = {d * n for d in "0123456789" for n in (4, 5, 6)} | {
    run[i : i + n] for run in ("0123456789", "9876543210") for n in (4, 5, 6) for i in range(11 - n)
}


@given(st.text(alphabet="0123456789", min_size=4, max_size=6))
def test_pin_rules(pin: str) -> None:
    assert (pin_problem(pin) is not None) == (pin in WEAK)


@given(st.text(max_size=8).filter(lambda p: not (p.isascii() and p.isdigit() and 4 <= len(p) <= 6)))
def test_non_pins_refused(pin: str) -> None:
    assert pin_problem(pin) is not None
