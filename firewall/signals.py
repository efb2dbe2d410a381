"""Extraction-attack signals in prompts: divergence requests and protected-corpus prefixes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from firewall.model import Finding

_DIVERGENCE = re.compile(
    r"\b(?:repeat|say|write|print|output|type)\b.{0,60}?"
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
