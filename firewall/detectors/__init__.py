"""The detector protocol, and the registry that builds detectors from a policy by kind.

A detector finds spans and never edits text. To add one, write a class with `name`,
`max_span` and `find`, and register a builder here::

    class ShoutDetector:
        name = "shout"
        max_span = 41                      # longest finding (40) + 1 character of look-ahead

        def find(self, text: str, start: int = 0) -> list[Finding]:
            return [Finding(self.name, "shout", "SHOUT", m.start(), m.end())
                    for m in SHOUT.finditer(text, start)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from firewall.errors import ConfigError

if TYPE_CHECKING:
    from firewall.model import Finding
    from firewall.policy.policy import Policy


class Detector(Protocol):
    """Finds spans to act on; one instance serves every scan of one policy (thread-safe reads)."""

    name: str
    max_span: int
    """Longest stretch of text that decides one finding: its longest match plus any look-ahead.
    A stream scanner holds back `max_span - 1` characters, so this must be honest."""

    def find(self, text: str, start: int = 0) -> list[Finding]:
        """Findings that begin at or after `start`; `text[:start]` is look-behind context only.

        Offsets index `text`. A finding must depend only on the text from `start` onwards within
        `max_span` of its own start (plus the one character before it, as for `\\b`)."""
        ...


# Optional, looked up by the scanner and the stream scanner when a detector has them:
#   lookbehind: int          most text before a stream window its findings may depend on
#   settled(text) -> int     findings before this offset are final (a stream need not wait max_span)
#   reads_to_settled: bool   findings before settled(text) depend only on the text before it, so a
#                            stream gives it only that much (PII: each unit analysed once)
#   wait_loaded() -> None    blocks while models load in the background (not charged to the budget)
#   prefetch(texts)          batch work ahead of scanning many texts (replay)
#   with_prompt(prompt)      a per-request variant that knows the caller's own text


def _build_patterns(policy: Policy) -> Detector:
    from firewall.detectors.patterns import PatternDetector

    return PatternDetector(policy.pattern_rules)


def _build_canary(policy: Policy) -> Detector:
    from firewall.detectors.canary import CanaryDetector

    return CanaryDetector(policy.canaries, **policy.detector_settings.get("canary", {}))


def _build_corpus(policy: Policy) -> Detector:
    from firewall.corpus import CorpusIndex
    from firewall.detectors.corpus import CorpusDetector

    settings = policy.detector_settings.get("corpus", {})
    indexes = [CorpusIndex(policy.folder / name) for name in settings.get("indexes", ())]
    return CorpusDetector(indexes, min_chars=settings.get("min_chars", 50))


def _build_pii(policy: Policy) -> Detector:
    from firewall.detectors.pii import PiiDetector, PiiSettings

    return PiiDetector(PiiSettings(**policy.detector_settings.get("pii", {})))


DETECTORS: dict[str, Callable[[Policy], Detector]] = {
    "canary": _build_canary,
    "patterns": _build_patterns,
    "corpus": _build_corpus,
    "pii": _build_pii,  # last: the expensive one
}
"""Detector kinds by name, in the order a scan runs them (cheap first)."""


def build_detectors(policy: Policy) -> list[Detector]:
    """Instantiate the policy's enabled detectors, cheapest first."""
    unknown = set(policy.detectors) - set(DETECTORS)
    if unknown:
        raise ConfigError(f"unknown detector kind(s) {sorted(unknown)}; known: {sorted(DETECTORS)}")
    return [build(policy) for kind, build in DETECTORS.items() if kind in policy.detectors]
