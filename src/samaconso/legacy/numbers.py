"""Prepaid (STS) meter numbers end with a Luhn check digit."""

from __future__ import annotations


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # the digit next to the (future) check digit is doubled
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return number.isdigit() and len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


def with_luhn(digits: str) -> str:
    return digits + luhn_check_digit(digits)
