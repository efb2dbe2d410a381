"""Every rule's own examples, one test case each: what `outguard rules check` verifies."""

from __future__ import annotations

import pytest

from firewall import Scanner, load_policy
from firewall.detectors.patterns import PatternDetector
from tests.conftest import KEY, RULES

POLICY = load_policy(RULES)
CASES = [
    pytest.param(rule, text, should_match, id=f"{rule.id}-{'match' if should_match else 'no_match'}-{i}")
    for rule in POLICY.pattern_rules
    for should_match, texts in ((True, rule.examples_match), (False, rule.examples_no_match))
    for i, text in enumerate(texts)
]


@pytest.mark.parametrize(("rule", "text", "should_match"), CASES)
def test_rule_example(rule, text: str, should_match: bool) -> None:
    found = PatternDetector([rule]).find(text)

    assert bool(found) == should_match


ENFORCED = [r for r in POLICY.pattern_rules if not r.shadow]
SHADOW = [r for r in POLICY.pattern_rules if r.shadow]


@pytest.mark.parametrize("rule", ENFORCED, ids=[r.id for r in ENFORCED])
def test_match_examples_are_changed_by_the_full_policy(rule) -> None:
    """Under the whole policy (all rules, overlaps resolved) a match example never passes unchanged."""
    scanner = Scanner(POLICY, key=KEY)

    for text in rule.examples_match:
        assert scanner.scan(text).text != text


@pytest.mark.parametrize("rule", SHADOW, ids=[r.id for r in SHADOW])
def test_match_examples_of_shadow_rules_are_reported_not_changed(rule) -> None:
    """A shadow rule's match examples show up as shadow hits and pass unchanged (unless an
    enforced rule also matches them)."""
    scanner = Scanner(POLICY, key=KEY)

    for text in rule.examples_match:
        verdict = scanner.scan(text)
        assert rule.id in {o.finding.rule for o in verdict.shadow}
        assert rule.id not in {f.rule for f in verdict.findings}
