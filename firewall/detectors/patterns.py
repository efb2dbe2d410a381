"""Regex and keyword detection driven by rule files."""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick

from firewall.model import Finding
from firewall.policy.policy import PatternRule
from firewall.validators import VALIDATORS, shannon_entropy

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
    """

    name = "patterns"

    def __init__(self, rules: Iterable[PatternRule]) -> None:
        self.rules = tuple(rules)
        self.max_span = max((r.max_span for r in self.rules), default=1)
        """Longest match any rule can produce plus one look-ahead character."""
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
            rule = self.rules[index]
            for match in rule.regex.finditer(text, start):
                begin, end = match.span()
                if self._match_ok(rule, text, folded, begin, end):
                    findings.append(Finding(self.name, rule.id, rule.label, begin, end, rule.score))
        return findings

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

    @staticmethod
    def _match_ok(rule: PatternRule, text: str, folded: str, begin: int, end: int) -> bool:
        if rule.keywords and not any(k in folded[begin:end] for k in rule.keywords):
            return False
        value = text[begin:end]
        if rule.validate is not None and not VALIDATORS[rule.validate](value):
            return False
        return rule.min_entropy is None or shannon_entropy(value) >= rule.min_entropy
