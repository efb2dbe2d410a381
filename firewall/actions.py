"""Resolve overlapping findings and turn them into the emitted text (the one place text changes).

Overlaps resolve left to right: findings are ordered by start, then longest, then highest score,
then detector and rule name. A finding that lies inside an earlier-chosen one is dropped; one that
overlaps it partly is trimmed to begin where the earlier one ends and keeps its own action. So no
character covered by any finding is emitted unchanged, and every decision depends only on findings
that start at or before it, which lets the stream scanner decide as soon as a finding is final.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from firewall.errors import ConfigError
from firewall.model import Finding
from firewall.policy.policy import ActionSpec, Policy


def order_key(finding: Finding) -> tuple[int, int, float, str, str]:
    return (finding.start, finding.start - finding.end, -finding.score, finding.detector, finding.rule)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of input text to replace, and the finding whose action replaces it.

    A `continuation` directly follows a segment of the same rule, label and source document (the
    source up to " §", its paragraph): it is replaced by nothing, so a long span found as many
    overlapping pieces reads as one placeholder."""

    start: int
    end: int
    finding: Finding
    continuation: bool = False


class Coverage:
    """Where the chosen segments end, and whose the last one was: the state `resolve` carries."""

    def __init__(self) -> None:
        self.end = 0
        self.last: tuple[str, str, str] | None = None


def resolve(findings: Iterable[Finding], coverage: Coverage) -> list[Segment | None]:
    """Choose segments for `findings` (in `order_key` order, all starting at or after those of any
    earlier call with the same `coverage`): one entry per finding, None when it lies inside an
    earlier one."""
    segments: list[Segment | None] = []
    for finding in findings:
        if finding.end <= coverage.end:
            segments.append(None)
            continue
        key = (finding.rule, finding.label, finding.source.partition(" §")[0])
        continuation = finding.start <= coverage.end and coverage.last == key
        segments.append(Segment(max(finding.start, coverage.end), finding.end, finding, continuation))
        coverage.end, coverage.last = finding.end, key
    return segments


class Renderer:
    """Replacement text for a segment, per the policy's action table."""

    def __init__(self, policy: Policy, key: bytes) -> None:
        self.policy = policy
        self._key = key

    def digest(self, value: str) -> str:
        """Keyed hash of a raw value (HMAC-SHA256, hex, 16 chars): stable per key, not reversible."""
        return hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]

    def replacement(self, spec: ActionSpec, segment: Segment, value: str) -> str:
        finding = segment.finding
        if spec.kind == "mask":
            keep = min(spec.keep, len(value) // 2)  # never reveal more than half
            return spec.char * (len(value) - keep) + value[len(value) - keep :]
        if spec.kind == "encrypt":
            return _fill("[{label}:enc:", finding) + encrypt(value, _key_from_env(spec.key_env)) + "]"
        if segment.continuation:
            return ""
        if spec.kind == "hash":
            template = spec.placeholder or "[{label}:{hash}]"
            return _fill(template, finding).replace("{hash}", self.digest(value)[:10])
        return _fill(spec.placeholder or "[{label}]", finding)


def _fill(template: str, finding: Finding) -> str:
    # Plain replacement, never str.format: placeholders come from rule files.
    filled = template.replace("{label}", finding.label).replace("{rule}", finding.rule)
    return filled.replace("{source}", finding.source)


_ENCRYPTED = re.compile(r"\[([A-Z][A-Z0-9_]*):enc:([A-Za-z0-9+/=_-]+)\]")


def _key_from_env(name: str) -> bytes:
    key = os.environ.get(name, "").encode()
    if len(key) not in (16, 24, 32):
        raise ConfigError(f"the encrypt action needs ${name} set to a 16, 24 or 32 byte key")
    return key


def encrypt(value: str, key: bytes) -> str:
    """AES-CBC with a random IV, base64 (Presidio's Encrypt operator): not stable across calls."""
    from presidio_anonymizer.operators import Encrypt

    return Encrypt().operate(value, {"key": key})


def deanonymize(text: str, key: bytes | str) -> str:
    """Put back the values that the `encrypt` action replaced, with the same key (Presidio's Decrypt)."""
    from presidio_anonymizer.operators import Decrypt

    raw = key.encode() if isinstance(key, str) else key
    return _ENCRYPTED.sub(lambda m: Decrypt().operate(m.group(2), {"key": raw}), text)


def preview(value: str) -> str:
    """A masked preview safe to store: the first and last character at most, and the length."""
    if len(value) <= 6:
        return "*" * len(value)
    return f"{value[0]}{'*' * min(len(value) - 2, 8)}{value[-1]} ({len(value)})"
