"""Regex and keyword detection driven by rule files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import ahocorasick

from firewall.model import Finding
from firewall.placeholders import is_placeholder
from firewall.policy.loader import LONG_SPAN
from firewall.policy.policy import PatternRule
from firewall.validators import CHECKSUMS, VALIDATORS, shannon_entropy

LONG_LEAD = 64
PROBES, PROBE_EVERY = 32, 16
"""At most PROBES + len(text) / PROBE_EVERY searches inside rejected matches, per rule and text."""
"""A rule wider than LONG_SPAN must have one of its keywords within this many characters of its
match's start (checked on every match), so a stream need wait for it only near a keyword."""

_PREFILTER, _TERM = 0, 1


def fold_case(text: str) -> str:
    """Lower-case `text` without changing its length, so offsets stay valid."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded  # every character mapped to exactly one
    return "".join(c if len(low := c.lower()) != 1 else low for c in text)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


class PatternDetector:
    """Find regex and keyword matches for the rules of one policy.

    One Aho-Corasick pass over the case-folded text finds both keyword rules' terms and the
    prefilter keywords of regex rules; a regex with keywords runs only when one occurs, and its
    match counts only if it contains one (so the decision depends on the match alone, which keeps
    streamed and one-shot scans equal).

    A regex with a `(?P<value>...)` group reports that group only (the key name, quotes, `Bearer`
    or the rest of a URL stay visible), and every check applies to the value. A match that fails
    a check does not hide one that starts inside it (`id 2024 4111 1111 1111 1111`).
    """

    name = "patterns"

    def __init__(self, rules: Iterable[PatternRule]) -> None:
        self.rules = tuple(rules)
        self.max_span = max((r.max_span for r in self.rules), default=1)
        """Longest match any rule can produce plus one look-ahead character."""
        self.lookbehind = max((r.lead + 1 for r in self.rules if r.value_group), default=0)
        """A value may start this far after its match does (the key name before it)."""
        short = [r.max_span for r in self.rules if r.max_span <= LONG_SPAN]
        self._short_hold = max(short, default=1) - 1
        self._long = [r for r in self.rules if r.max_span > LONG_SPAN]
        self._always = [i for i, r in enumerate(self.rules) if r.regex is not None and not r.keywords]
        self._automaton = self._build_automaton()

    def _build_automaton(self) -> ahocorasick.Automaton | None:
        entries: dict[str, list[tuple[int, int, int]]] = {}
        for index, rule in enumerate(self.rules):
            if rule.regex is not None:
                for word in rule.keywords:
                    entries.setdefault(word, []).append((_PREFILTER, index, len(word)))
            else:
                for term in rule.terms:
                    entries.setdefault(fold_case(term), []).append((_TERM, index, len(term)))
        if not entries:
            return None
        automaton = ahocorasick.Automaton()
        for word, payload in entries.items():
            automaton.add_word(word, tuple(payload))
        automaton.make_automaton()
        return automaton

    def settled(self, text: str) -> int:
        """Findings that start before this offset are final. Rules up to LONG_SPAN wide need their
        full width of look-ahead; a longer rule (a whole private key, a JWT) only while one of its
        keywords lies within its reach of the end, since its matches carry a keyword near their start."""
        point = len(text) - self._short_hold
        folded = None
        for rule in self._long:
            window_start = max(0, len(text) - rule.max_span - LONG_LEAD)
            folded = folded if folded is not None else fold_case(text)
            for word in rule.keywords:
                found = folded.find(word, window_start)
                if found >= 0:
                    point = min(point, found - LONG_LEAD)
        return max(point, 0)

    def find(self, text: str, start: int = 0) -> list[Finding]:
        folded = fold_case(text) if self._automaton is not None or any(r.keywords for r in self.rules) else text
        findings: list[Finding] = []
        candidates = set(self._always)
        if self._automaton is not None:
            for last, payload in self._automaton.iter(folded):
                for kind, index, length in payload:
                    if kind == _PREFILTER:
                        candidates.add(index)
                        continue
                    begin = last - length + 1
                    if begin >= start and self._term_ok(self.rules[index], text, begin, last + 1):
                        rule = self.rules[index]
                        findings.append(Finding(self.name, rule.id, rule.label, begin, last + 1, rule.score))
        for index in sorted(candidates):
            findings.extend(self._regex_findings(self.rules[index], text, folded, start))
        return findings

    def _regex_findings(self, rule: PatternRule, text: str, folded: str, start: int) -> Iterator[Finding]:
        # Searching inside rejected matches is for short rules (a card after another number); the
        # searches are bounded per text, so no input makes a rule cost more than linear time.
        budget = [0 if rule.max_span > LONG_SPAN else PROBES + len(text) // PROBE_EVERY]
        for match in rule.regex.finditer(text, max(0, start - rule.lead)):
            found = self._accept(rule, text, folded, match, start)
            if found is not None:
                yield found
            elif budget[0] > 0 and match.end() - match.start() > 1:
                yield from self._probe(rule, text, folded, match.start() + 1, match.end(), start, budget)

    def _probe(
        self, rule: PatternRule, text: str, folded: str, begin: int, end: int, start: int, budget: list[int]
    ) -> Iterator[Finding]:
        """Matches that start inside a rejected one, at begin..end-1, while `budget` searches last.
        RE2 re-encodes the text it is given on every call, so each search sees a slice: the
        rejected match plus one rule width."""
        cut = begin - 1
        piece = text[cut : min(len(text), end + rule.max_span)]
        position = 1
        while position < end - cut and budget[0] > 0:
            budget[0] -= 1
            match = rule.regex.search(piece, position)
            if match is None or match.start() >= end - cut:
                return
            found = self._accept(rule, text, folded, _Shifted(match, cut), start)
            if found is not None:
                yield found
                return  # the main scan resumes after the first match, as finditer would
            position = match.start() + 1

    def _accept(self, rule: PatternRule, text: str, folded: str, match: Any, start: int) -> Finding | None:
        """The finding for one regex match, or None when a check rejects it."""
        begin, end = match.span()
        for group in rule.value_groups:
            begin, end = match.span(group)
            if begin >= 0:
                break
        if rule.max_length is not None:
            end = min(end, match.start() + rule.max_length)  # a longer run is cut, not waved through
        if begin < start or begin == end:
            return None
        if rule.keywords and not any(k in folded[match.start() : match.end()] for k in rule.keywords):
            return None
        if rule.max_span > LONG_SPAN and not any(
            k in folded[match.start() : match.start() + LONG_LEAD + len(k)] for k in rule.keywords
        ):
            return None
        value = text[begin:end]
        key = match.group(rule.key_group) if rule.key_group else None
        if rule.validate is not None and not VALIDATORS[rule.validate](value, key):
            return None
        if rule.min_entropy is not None and shannon_entropy(value) < rule.min_entropy:
            return None
        if rule.placeholders and is_placeholder(value):
            return None
        if any(a.search(value) for a in rule.allow):
            return None
        if rule.ignore_keys is not None and key and rule.ignore_keys.fullmatch(key):
            return None
        score = 1.0 if rule.checksum is not None and CHECKSUMS[rule.checksum](value) else rule.score
        return Finding(self.name, rule.id, rule.label, begin, end, score)

    @staticmethod
    def _term_ok(rule: PatternRule, text: str, begin: int, end: int) -> bool:
        if not rule.ignore_case and text[begin:end] not in rule.terms:
            return False
        if rule.whole_word:
            if begin > 0 and _is_word(text[begin - 1]) and _is_word(text[begin]):
                return False
            if end < len(text) and _is_word(text[end]) and _is_word(text[end - 1]):
                return False
        return True


class _Shifted:
    """A match found in a slice, with offsets into the whole text."""

    __slots__ = ("_match", "_offset")

    def __init__(self, match: Any, offset: int) -> None:
        self._match, self._offset = match, offset

    def span(self, group: str | int = 0) -> tuple[int, int]:
        begin, end = self._match.span(group)
        return (begin + self._offset, end + self._offset) if begin >= 0 else (begin, end)

    def start(self) -> int:
        return self._match.start() + self._offset

    def end(self) -> int:
        return self._match.end() + self._offset

    def group(self, index: int) -> str | None:
        return self._match.group(index)
