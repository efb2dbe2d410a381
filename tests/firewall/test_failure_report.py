"""A detector failure is reported as what it is: the verdict, its event (in every sink), `scan --json`
and the refusal say which detector failed and why, and never claim that a rule matched. Budgets
scale with the length of the text a detector is given."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from firewall import Finding, Firewall, Scanner
from firewall.cli import SCAN_WITHHELD, main
from firewall.detectors import Detector
from firewall.detectors.patterns import PatternDetector
from firewall.events import Event, JsonlSink, SQLiteSink
from firewall.events.redis_stream import decode, encode
from firewall.events.store import EventStore
from firewall.model import DetectorFailure
from firewall.policy import Policy
from firewall.policy.policy import ActionSpec
from firewall.scanner import budget_ms
from firewall.testing import capture_events
from tests.conftest import KEY, RULES

LEAK = "reach me at jane.doe@acmecorp.com please"  # not a reserved domain (those name nobody)
RAW = ("jane",)
"""What must never be kept: the raising detector's message quotes the whole text, and with it this."""


class Raising:
    """Raises with a message that quotes the text it was given (which must never be kept)."""

    name = "flaky"
    max_span = 1

    def find(self, text: str, start: int = 0) -> list[Finding]:
        raise ValueError(f"cannot handle {text!r}")


class PerChars:
    """Takes `ms` per started 4,000 characters of the text, as NER's cost grows with length."""

    max_span = 1

    def __init__(self, name: str, ms: float) -> None:
        self.name = name
        self.ms = ms

    def find(self, text: str, start: int = 0) -> list[Finding]:
        time.sleep(self.ms * max(1, math.ceil(len(text) / 4000)) / 1000)
        return []


class Boom:
    """Finds every "BOOM" (a label the tests make a blocking one)."""

    name = "boom"
    max_span = 4

    def find(self, text: str, start: int = 0) -> list[Finding]:
        at = text.find("BOOM", start)
        return [] if at < 0 else [Finding(self.name, "boom-rule", "BOOM", at, at + 4)]


def scanner(policy: Policy, mode: str, *extra: Detector, budget: float = 60_000, **changes: object) -> Scanner:
    tuned = dataclasses.replace(policy, fail_mode=mode, detector_budget_ms=budget, **changes)  # type: ignore[arg-type]
    return Scanner(tuned, detectors=[PatternDetector(policy.pattern_rules), *extra], key=KEY)


def assert_no_raw(*values: object) -> None:
    for value in values:
        assert not any(raw in repr(value) for raw in RAW), value


# -- the verdict ---------------------------------------------------------------------------------


def test_a_raising_detector_fails_closed_naming_itself_not_a_rule(policy: Policy) -> None:
    verdict = scanner(policy, "closed", Raising()).scan(LEAK)

    assert (verdict.status, verdict.action) == ("fail_closed", "block")
    assert verdict.error == DetectorFailure("flaky", "raised ValueError")
    assert verdict.blocked_by is None
    assert verdict.text == "[outguard] This response was withheld because a detector failed (flaky: raised ValueError)."
    assert "matched rule" not in verdict.text and "rule" not in verdict.text
    assert verdict.errors == ("flaky: raised ValueError",)
    assert "reach me" not in verdict.text
    assert verdict.to_dict()["error"] == {"detector": "flaky", "reason": "raised ValueError"}
    assert_no_raw(verdict.text, verdict.errors, verdict.error)


def test_a_detector_over_its_budget_fails_closed_with_the_figures(policy: Policy) -> None:
    verdict = scanner(policy, "closed", PerChars("slow", 80), budget=20).scan(LEAK)

    assert verdict.status == "fail_closed" and verdict.blocked_by is None
    assert verdict.error is not None and verdict.error.detector == "slow"
    assert verdict.error.reason.startswith("ran ")
    assert verdict.error.reason.endswith(f"ms, over its budget of 20 ms for {len(LEAK)} characters")
    assert "matched rule" not in verdict.text and "(slow: ran " in verdict.text
    assert_no_raw(verdict.text, verdict.error)


def test_fail_open_passes_the_response_and_still_names_the_failure(policy: Policy) -> None:
    verdict = scanner(policy, "open", Raising()).scan(LEAK)

    assert verdict.status == "fail_open" and verdict.action == "redact"
    assert verdict.text == "reach me at [EMAIL] please"
    assert verdict.error == DetectorFailure("flaky", "raised ValueError")
    assert verdict.blocked_by is None


def test_the_first_failure_decides_and_every_failure_is_listed(policy: Policy) -> None:
    class Other(Raising):
        name = "other"

        def find(self, text: str, start: int = 0) -> list[Finding]:
            raise KeyError(text)

    verdict = scanner(policy, "open", Raising(), Other()).scan(LEAK)

    assert verdict.error == DetectorFailure("flaky", "raised ValueError")
    assert verdict.errors == ("flaky: raised ValueError", "other: raised KeyError")


def test_a_rules_block_keeps_naming_its_rule_when_a_detector_also_failed(policy: Policy) -> None:
    """The block came first: the refusal names that rule; the failure is still reported."""
    blocking = scanner(policy, "closed", Boom(), Raising(),
                       label_actions={**policy.label_actions, "BOOM": ActionSpec("block")})

    verdict = blocking.scan("say BOOM now")

    assert verdict.status == "fail_closed" and verdict.blocked_by == "boom-rule"
    assert verdict.text == policy.refusal_for("boom-rule") and "boom-rule" in verdict.text
    assert verdict.error == DetectorFailure("flaky", "raised ValueError")


def test_a_failing_shadow_detector_decides_nothing(policy: Policy) -> None:
    verdict = scanner(policy, "closed", Raising(), shadow_detectors=frozenset({"flaky"})).scan(LEAK)

    assert verdict.status == "scanned" and verdict.error is None
    assert verdict.errors == ("flaky (shadow): raised ValueError",)


def test_a_stream_that_fails_closed_says_which_detector(policy: Policy) -> None:
    stream = scanner(policy, "closed", Raising()).incremental()

    out = stream.feed(LEAK) + stream.finish()
    verdict = stream.verdict()

    assert verdict.status == "fail_closed" and verdict.error == DetectorFailure("flaky", "raised ValueError")
    assert "matched rule" not in out and "a detector failed (flaky: raised ValueError)" in out
    assert_no_raw(out)


def test_refusal_texts_insert_names_as_data(policy: Policy) -> None:
    """Neither a rule id nor a failure is ever a format string."""
    hostile = "{rule}{0}%s{reason}"

    assert policy.refusal_for(hostile) == policy.refusal.replace("{rule}", hostile)
    assert policy.refusal_for(failure=DetectorFailure(hostile, "raised {detector}")) == (
        f"[outguard] This response was withheld because a detector failed ({hostile}: raised {{detector}})."
    )


# -- budgets scale with the text ------------------------------------------------------------------


@pytest.mark.parametrize(("chars", "expected"), [(0, 50), (1, 50), (4000, 50), (4001, 100), (24_000, 300),
                                                  (1_000_000, 12_500)])
def test_the_budget_is_the_setting_per_started_4000_characters(chars: int, expected: float) -> None:
    assert budget_ms(50, chars) == expected


def test_a_detector_whose_cost_grows_with_the_text_passes_within_its_scaled_budget(policy: Policy) -> None:
    """50 ms per 4,000 characters: 40,000 characters get 500 ms. 30 ms per 4,000 characters (300
    ms) passes; 80 ms per 4,000 characters (800 ms) fails. Wide margins either way."""
    text = ("All is well here. " * 2300)[:40_000]

    fits = scanner(policy, "closed", PerChars("steady", 30), budget=50).scan(text)
    too_slow = scanner(policy, "closed", PerChars("sluggish", 80), budget=50).scan(text)

    assert fits.status == "scanned" and fits.error is None and fits.text == text
    assert too_slow.status == "fail_closed"
    assert too_slow.error is not None and too_slow.error.detector == "sluggish"
    assert "over its budget of 500 ms for 40,000 characters" in too_slow.error.reason


# -- events, in every sink ------------------------------------------------------------------------


@pytest.fixture
def with_failing_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    """Firewalls built in this test run the pattern rules and a detector that raises."""
    monkeypatch.setattr(
        "firewall.scanner.build_detectors", lambda policy: [PatternDetector(policy.pattern_rules), Raising()]
    )


@pytest.mark.usefixtures("with_failing_detector")
@pytest.mark.parametrize("mode", ["closed", "open"])
def test_the_event_of_a_failed_scan_carries_the_failure(policy: Policy, mode: str) -> None:
    with Firewall(dataclasses.replace(policy, fail_mode=mode), events=False, key=KEY) as fw, \
            capture_events(fw) as events:
        fw.scan(LEAK)

    [event] = events
    assert event.status == f"fail_{mode}"
    assert event.error == DetectorFailure("flaky", "raised ValueError")
    assert event.blocked_by is None
    assert_no_raw(event)


RoundTrip = Callable[[list[Event]], list[Event]]
"""Write events to a sink and read them back."""


def _sqlite(tmp_path: Path) -> RoundTrip:
    def round_trip(events: list[Event]) -> list[Event]:
        sink = SQLiteSink(tmp_path / "events.db")
        sink.write(events)
        sink.close()
        store = EventStore(tmp_path / "events.db")
        try:
            return store.tail()
        finally:
            store.close()

    return round_trip


def _jsonl(tmp_path: Path) -> RoundTrip:
    def round_trip(events: list[Event]) -> list[Event]:
        sink = JsonlSink(tmp_path / "events.jsonl")
        sink.write(events)
        sink.close()
        lines = (tmp_path / "events.jsonl").read_text("utf-8").splitlines()
        return [Event.decode(line, n) for n, line in enumerate(lines, 1)]

    return round_trip


def _redis_body(tmp_path: Path) -> RoundTrip:
    """The body the Redis Streams sink writes and its reader decodes (no server needed for that)."""
    return lambda events: [decode(f"1-{n}", {b"event": encode(e).encode()}) for n, e in enumerate(events)]


@pytest.mark.usefixtures("with_failing_detector")
@pytest.mark.parametrize("sink", [_sqlite, _jsonl, _redis_body], ids=["sqlite", "jsonl", "redis-body"])
def test_every_sink_round_trips_the_failure(policy: Policy, tmp_path: Path, sink: Callable[[Path], RoundTrip]) -> None:
    with Firewall(dataclasses.replace(policy, fail_mode="closed"), events=False, key=KEY) as fw, \
            capture_events(fw) as events:
        fw.scan(LEAK)
    written = [*events, Event(kind="verdict", action="allow", status="scanned", output="fine")]

    failed, clean = sink(tmp_path)(written)

    assert failed.error == DetectorFailure("flaky", "raised ValueError") and failed.status == "fail_closed"
    assert failed.errors == ("flaky: raised ValueError",)
    assert dataclasses.replace(failed, id=None) == written[0]
    assert clean.error is None


def test_an_event_written_before_the_field_existed_reads_back_without_one() -> None:
    old = {"kind": "verdict", "ts": 1.0, "status": "fail_closed", "errors": ["pii: raised ValueError"],
           "blocked_by": "detector:pii"}

    event = Event.decode(json.dumps(old), 7)

    assert event.kind == "verdict" and event.error is None and event.errors == ("pii: raised ValueError",)


@pytest.mark.usefixtures("with_failing_detector")
def test_the_firewalls_own_sqlite_writer_stores_the_failure(policy: Policy, tmp_path: Path) -> None:
    with Firewall(dataclasses.replace(policy, fail_mode="closed"), events=f"sqlite:///{tmp_path}/ev.db",
                  key=KEY) as fw:
        fw.scan(LEAK)
    store = EventStore(tmp_path / "ev.db")
    try:
        [event] = [e for e in store.tail() if e.kind == "verdict"]
    finally:
        store.close()

    assert event.error == DetectorFailure("flaky", "raised ValueError")
    assert "jane" not in (tmp_path / "ev.db").read_bytes().decode("utf-8", "replace")


# -- the command line -----------------------------------------------------------------------------


def scan(*args: str, rules: Path = RULES) -> Result:
    return CliRunner().invoke(main, ["scan", "-", "--events", "none", "--rules", str(rules), *args], input=LEAK,
                              catch_exceptions=False)


@pytest.mark.usefixtures("with_failing_detector")
def test_scan_json_names_the_failed_detector_and_exits_withheld() -> None:
    result = scan("--json")

    assert result.exit_code == SCAN_WITHHELD == 3
    body = json.loads(result.stdout)
    assert body["error"] == {"detector": "flaky", "reason": "raised ValueError"}
    assert (body["status"], body["action"]) == ("fail_closed", "block")
    assert "matched rule" not in body["text"]
    assert_no_raw(result.stdout, result.stderr)


@pytest.mark.usefixtures("with_failing_detector")
def test_plain_scan_says_on_stderr_which_detector_failed() -> None:
    result = scan()

    assert result.exit_code == 3
    assert result.stdout.startswith("[outguard] This response was withheld because a detector failed (flaky:")
    [line] = result.stderr.splitlines()
    assert line == "outguard: detector flaky: raised ValueError; the response was withheld (fail-closed)"


@pytest.mark.usefixtures("with_failing_detector")
def test_a_fail_open_scan_passes_exits_0_and_still_says_so(rules_dir: Path) -> None:
    policy_file = rules_dir / "policy.yaml"
    policy_file.write_text(policy_file.read_text().replace("fail_mode: closed", "fail_mode: open"))

    plain, as_json = scan(rules=rules_dir), scan("--json", rules=rules_dir)

    assert plain.exit_code == as_json.exit_code == 0
    assert plain.stdout == "reach me at [EMAIL] please\n"
    assert plain.stderr.strip() == (
        "outguard: detector flaky: raised ValueError; the response was passed anyway (fail-open)"
    )
    assert json.loads(as_json.stdout)["error"] == {"detector": "flaky", "reason": "raised ValueError"}
