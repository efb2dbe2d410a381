"""Extraction-attack signals: divergence requests, protected-corpus prefixes, floods of
near-duplicate prompts, and degenerate repetitive outputs."""

from __future__ import annotations

import hashlib
import re
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field

from firewall.model import Finding

_DIVERGENCE = re.compile(
    r"\b(?:repeat(?:s|ing|ed)?|say(?:s|ing)?|writ(?:e|es|ing)|print(?:s|ing|ed)?|output(?:s|ting)?|typ(?:e|es|ing))\b.{0,60}?"
    r"(?:\bforever\b|\binfinitely\b|\bindefinitely\b|\bendlessly\b|\bover and over\b|\bnon-?stop\b|"
    r"\b\d{3,}\s*times\b|\bas many times as\b|\buntil (?:you|the) )",
    re.IGNORECASE | re.DOTALL,
)
_REPEATED_WORD = re.compile(r"\b(\w{2,})(?:\W+\1\b){19,}", re.IGNORECASE)


@dataclass(frozen=True)
class Signal:
    """One reason a prompt looks like an extraction attempt."""

    kind: str
    """"divergence" (make the model repeat itself until it drifts into memorised text) or
    "corpus_prefix" (the prompt quotes a protected document, to get the rest of it)."""
    detail: str
    weight: float = 1.0


@dataclass(frozen=True)
class PromptCheck:
    """What `Firewall.check_prompt` found; `suspicious` when there is any signal."""

    signals: tuple[Signal, ...] = ()
    findings: tuple[Finding, ...] = field(default=())

    @property
    def suspicious(self) -> bool:
        return bool(self.signals)


def divergence(prompt: str) -> Signal | None:
    """"Repeat the word poem forever" (Nasr et al. 2023), or a word already repeated 20+ times."""
    if _DIVERGENCE.search(prompt):
        return Signal("divergence", "asks the model to repeat something without end")
    match = _REPEATED_WORD.search(prompt)
    if match:
        return Signal("divergence", "the prompt repeats one word 20 times or more")
    return None


def corpus_prefix(findings: list[Finding]) -> Signal | None:
    """The prompt contains a span of a protected document."""
    quoted = [f for f in findings if f.label in {"PROTECTED", "ECHO"}]
    if not quoted:
        return None
    sources = sorted({f.source.partition(" §")[0] for f in quoted})
    return Signal("corpus_prefix", f"quotes protected text from {', '.join(sources)}", weight=2.0)


def simhash(text: str) -> int:
    """64-bit SimHash (Charikar 2002) of the character 5-grams of `text`: near-duplicates differ in
    few bits (random texts in about 32).

    A few lines of our own rather than datasketch: a per-principal window needs one integer per
    prompt and a popcount, not MinHash permutations (datasketch also pulls in SciPy)."""
    normal = " ".join(re.findall(r"\w+", text.casefold()))
    shingles = [normal[i : i + 5] for i in range(max(len(normal) - 4, 1))]
    weights = [0] * 64
    for shingle in shingles:
        value = int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if value >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


class NearDuplicates:
    """Per principal, the SimHashes of recent prompts; a flood is many near-copies in the window."""

    def __init__(self, *, window_s: float = 600.0, max_distance: int = 10, threshold: int = 5, keep: int = 200) -> None:
        self.window_s, self.max_distance, self.threshold, self.keep = window_s, max_distance, threshold, keep
        self._recent: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def observe(self, principal: str, prompt: str, now: float | None = None) -> Signal | None:
        """Record a prompt; a signal when `threshold` recent prompts are within `max_distance` bits."""
        now = time.monotonic() if now is None else now
        fingerprint = simhash(prompt)
        with self._lock:
            recent = self._recent.setdefault(principal, deque(maxlen=self.keep))
            while recent and now - recent[0][0] > self.window_s:
                recent.popleft()
            close = sum((fingerprint ^ other).bit_count() <= self.max_distance for _, other in recent)
            recent.append((now, fingerprint))
        if close >= self.threshold:
            return Signal("near_duplicates", f"{close} near-identical prompts in the last {self.window_s:.0f} s")
        return None


def degenerate_output(text: str, *, min_length: int = 200, ratio: float = 0.15) -> Signal | None:
    """Output that compresses to almost nothing (a model stuck repeating itself, as divergence
    attacks make it before it starts emitting memorised text)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) < min_length:
        return None
    compressed = len(zlib.compress(data, 6))
    if compressed / len(data) < ratio:
        return Signal("degenerate_output", f"output compresses to {compressed / len(data):.0%} of its size")
    return None
