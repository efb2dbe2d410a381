"""Fold text to a canonical skeleton for disguise-proof matching, keeping a map back to the input.

The skeleton keeps letters and digits only, lower-cased, with Unicode look-alikes folded onto the
ASCII character they imitate: NFKC compatibility forms (fullwidth, mathematical alphanumerics),
and homoglyphs from Unicode's confusables data (as shipped by `confusable-homoglyphs`). Separators,
punctuation, spaces, control and format characters (zero-width joiners and the like) are dropped.
ASCII characters that the confusables data says imitate each other (0/O, 1/l/I) share one class
(`merge_table`, applied last so rot13 and reversal still see the real letters).

Some lower-case look-alikes (Cyrillic к, м, т) have no entry of their own in the confusables data,
but their capitals do; the fold table is therefore built by closure over upper and lower case.
"""

from __future__ import annotations

import json
import string
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import compress

DROPPED = "\x00"
_ASCII_ALNUM = frozenset(string.ascii_letters + string.digits)
_CATEGORIES_DROPPED = ("C", "Z", "P")  # control/format, separators/spaces, punctuation
_EXTRA_RANGES = (range(0x1D400, 0x1D800), range(0x1F100, 0x1F200), range(0xE0000, 0xE0080))


@dataclass(frozen=True)
class View:
    """A skeleton and, for each of its characters, the input span it came from."""

    text: str
    starts: list[int]
    ends: list[int]


@cache
def _confusables() -> dict[str, list[str]]:
    raw = json.loads((resources.files("confusable_homoglyphs") / "confusables.json").read_text("utf-8"))
    return {key: [entry["c"] for entry in entries] for key, entries in raw.items()}


@cache
def merge_table() -> dict[int, str]:
    """str.translate table merging ASCII look-alikes (0/o, 1/l/i) into one class each.

    Applied after folding (and after any rot13 or reversal of the folded text, which must see the
    letters as they were)."""
    parent = {c: c for c in string.ascii_lowercase + string.digits}

    def find(c: str) -> str:
        while parent[c] != c:
            c = parent[c]
        return c

    for key, alikes in _confusables().items():
        if key in _ASCII_ALNUM:
            for alike in alikes:
                if alike in _ASCII_ALNUM:
                    a, b = sorted((find(key.lower()), find(alike.lower())), key=_representative_order)
                    parent[b] = a
    return {ord(c): find(c) for c in parent if find(c) != c}


def _representative_order(c: str) -> tuple[bool, str]:
    return (not c.isalpha(), c)  # letters first: "o" stands for 0/o, "l" for 1/l/i


def _ascii_for(char: str) -> str | None:
    """The ASCII letter or digit `char` imitates, by NFKC or confusables, closed over case."""
    for candidate in dict.fromkeys((char, char.upper(), char.lower())):
        if candidate in _ASCII_ALNUM:
            return candidate
        nfkc = unicodedata.normalize("NFKC", candidate)
        if len(nfkc) == 1 and nfkc in _ASCII_ALNUM:
            return nfkc
        for alike in _confusables().get(candidate, ()):
            if alike in _ASCII_ALNUM:
                return alike
    return None


@cache
def fold_table() -> dict[int, str]:
    """str.translate table: every character that changes maps to one character or DROPPED."""
    table: dict[int, str] = {}
    candidates = set(_confusables())
    for alikes in _confusables().values():
        candidates.update(alikes)
    codepoints = {ord(c) for c in candidates if len(c) == 1}
    codepoints.update(range(0x10000))
    for extra in _EXTRA_RANGES:
        codepoints.update(extra)
    for code in codepoints:
        char = chr(code)
        if unicodedata.category(char)[0] in _CATEGORIES_DROPPED or char in "_`^~|\\$+<=>":
            table[code] = DROPPED
            continue
        ascii_char = _ascii_for(char)
        if ascii_char is not None and ascii_char.lower() != char:
            table[code] = ascii_char.lower()
    return table


def canonical(text: str) -> str:
    """The skeleton of `text`, look-alike classes merged (for registered values)."""
    return text.translate(fold_table()).replace(DROPPED, "").translate(merge_table())


def canonical_view(text: str) -> View:
    """The folded text (classes not yet merged: see `merge_table`) with each character's input offsets."""
    mapped = text.translate(fold_table())
    if DROPPED not in mapped:
        positions = list(range(len(mapped)))
        return View(mapped, positions, [p + 1 for p in positions])
    positions = list(compress(range(len(mapped)), map(DROPPED.__ne__, mapped)))
    return View(mapped.replace(DROPPED, ""), positions, [p + 1 for p in positions])
