"""A detector that raises or runs past its budget fails closed (block) or open, per policy; nothing leaks."""

from __future__ import annotations

import dataclasses
import time

import pytest

from firewall import Finding, Firewall, Scanner
from firewall.detectors.patterns import PatternDetector
from firewall.policy import Policy
from firewall.testing import capture_events
from tests.conftest import KEY

LEAK = "reach me at jane@corp.io please"


class Exploding:
    name = "exploding"
    max_span = 1

    def find(self, text: str, start: int = 0) -> list[Finding]:
        raise ValueError(f"cannot handle {text!r}")  # its message quotes raw text


class Slow:
    name = "slow"
    max_span = 1

    def find(self, text: str, start: int = 0) -> list[Finding]:
        time.sleep(0.05)
        return []


def scanner(policy: Policy, mode: str, broken: object, budget_ms: float = 250) -> Scanner:
    tuned = dataclasses.replace(policy, fail_mode=mode, detector_budget_ms=budget_ms)
    return Scanner(tuned, detectors=[PatternDetector(policy.pattern_rules), broken], key=KEY)


@pytest.mark.parametrize("broken", [Exploding(), Slow()], ids=["raises", "too-slow"])
def test_fail_closed_blocks(policy: Policy, broken: object) -> None:
    """Default: a broken detector blocks the whole response, and the verdict says why."""
    verdict = scanner(policy, "closed", broken, budget_ms=20).scan(LEAK)

    assert verdict.status == "fail_closed"
    assert verdict.action == "block"
    assert "jane" not in verdict.text and "reach me" not in verdict.text
    assert verdict.errors and verdict.errors[0].startswith(broken.name)


@pytest.mark.parametrize("broken", [Exploding(), Slow()], ids=["raises", "too-slow"])
def test_fail_open_passes_with_other_detectors_applied(policy: Policy, broken: object) -> None:
    """Fail-open passes the response, still redacted by the detectors that worked, and says so."""
    verdict = scanner(policy, "open", broken, budget_ms=20).scan(LEAK)

    assert verdict.status == "fail_open"
    assert verdict.text == "reach me at [EMAIL] please"


def test_fail_closed_stops_a_stream(policy: Policy) -> None:
    incremental = scanner(policy, "closed", Exploding()).incremental()

    out = incremental.feed(LEAK) + incremental.finish()

    assert "jane" not in out and incremental.verdict().status == "fail_closed"


def test_detector_error_text_never_reaches_events(policy: Policy) -> None:
    """The exception message quotes raw text; the event keeps only the detector and type."""
    fw = Firewall(dataclasses.replace(policy, fail_mode="open"), events=False, key=KEY)
    fw._active = type(fw._active)(fw.policy, scanner(policy, "open", Exploding()))

    with capture_events(fw) as events:
        fw.scan(LEAK)

    assert events[0].errors == ("exploding: raised ValueError",)
    assert "jane" not in repr(events)


def test_budget_is_not_tripped_by_fast_detectors(policy: Policy) -> None:
    verdict = scanner(policy, "closed", Slow(), budget_ms=5_000).scan(LEAK)

    assert verdict.status == "scanned" and verdict.text == "reach me at [EMAIL] please"
