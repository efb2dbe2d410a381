"""Presidio's predefined pattern recognizers (US_SSN, US_PASSPORT, CRYPTO, UK_NHS, ...) by name.

Each recognizer runs on its own, without Presidio's AnalyzerEngine (which would run NER again and
every other recognizer): its patterns, checksums and invalidation rules as Presidio wrote them.
Presidio raises a finding's score when one of the recognizer's context words ("ssn", "passport")
stands shortly before it; `boost` does the same with plain lower-cased words, the recognizer's and
the policy's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from firewall.detectors.pii.catalog import PRESIDIO_RECOGNIZERS
from firewall.detectors.pii.ner import quiet_imports

CONTEXT_BOOST = 0.35
"""Presidio's default: what a context word adds to a score..."""
CONTEXT_FLOOR = 0.4
"""...and the least score a finding with context gets."""
CONTEXT_WINDOW = 5
"""Words before a finding searched for a context word (Presidio's default prefix)."""
_WORD = re.compile(r"[^\W_]+")


def build(entities: Sequence[str], language: str) -> list[Any]:
    """One recognizer per requested Presidio entity (the natively served ones are not here)."""
    wanted = [e for e in entities if e in PRESIDIO_RECOGNIZERS]
    if not wanted:
        return []
    with quiet_imports():
        from presidio_analyzer import predefined_recognizers

    return [getattr(predefined_recognizers, PRESIDIO_RECOGNIZERS[e])(supported_language=language) for e in wanted]


WITHOUT_DIGITS = frozenset({"EMAIL_ADDRESS", "URL", "DATE_TIME", "MAC_ADDRESS", "CRYPTO", "UK_POSTCODE"})
"""Entities that may be written without a digit; the others are not looked for in a text without one."""


def analyze(recognizers: Sequence[Any], text: str) -> list[tuple[str, int, int, float, tuple[str, ...]]]:
    """(entity, start, end, score, context words) of each finding in `text`."""
    found = []
    digits = any(c.isdigit() for c in text)
    for recognizer in recognizers:
        if not digits and recognizer.supported_entities[0] not in WITHOUT_DIGITS:
            continue
        for r in recognizer.analyze(text, recognizer.supported_entities, None):
            found.append((r.entity_type, r.start, r.end, r.score, tuple(recognizer.context or ())))
    return found


def boost(text: str, start: int, score: float, words: Sequence[str]) -> float:
    """`score`, raised as Presidio would when a context word precedes text[start:]."""
    if not words or score >= 1.0:
        return score
    before = [w.lower() for w in _WORD.findall(text[max(0, start - 100) : start])][-CONTEXT_WINDOW:]
    if any(w == c or (len(c) > 3 and w.startswith(c)) for w in before for c in words):
        return min(1.0, max(score + CONTEXT_BOOST, CONTEXT_FLOOR))
    return score
