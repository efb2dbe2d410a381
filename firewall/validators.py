"""Checks a pattern match must pass to count (checksums), referenced by name from rule files."""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Callable


def luhn(value: str) -> bool:
    """Payment card numbers: 13-19 digits (separators ignored) with a valid Luhn check digit."""
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban(value: str) -> bool:
    """International bank account numbers: ISO 13616 mod-97 check (spaces ignored)."""
    compact = "".join(value.split()).upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def ip(value: str) -> bool:
    """IPv4 or IPv6 addresses (the standard library decides); IPv6 needs three groups or more."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == 4 or value.count(":") >= 3


def phone(value: str) -> bool:
    """Phone numbers: 10 to 15 digits (E.164 allows 15)."""
    return 10 <= sum(c.isdigit() for c in value) <= 15


def shannon_entropy(value: str) -> float:
    """Shannon entropy of the characters of `value`, in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


VALIDATORS: dict[str, Callable[[str], bool]] = {"luhn": luhn, "iban": iban, "ip": ip, "phone": phone}
"""Validators by the name a rule's `validate:` field uses."""
