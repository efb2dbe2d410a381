"""Shadow mode: a rule or detector marked `shadow: true` is evaluated and reported ("would have
redacted") but changes nothing: not the text, the action, a block, nor the quotas; streamed and
one-shot scans agree on it for every chunking, and events never store its raw values."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firewall import Finding, Firewall, QuotaExceeded, Scanner, check_rules, load_policy
from firewall.cli import main
from firewall.detectors.patterns import PatternDetector
from firewall.policy import Policy
from firewall.policy.policy import PATTERN_DETECTOR, ActionSpec
from firewall.testing import capture_events
from tests.conftest import KEY

EMAIL = "jane@corp.io"
STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7Zx2mLp7RtXk9fQ2Wm5Nv9Xc3Bt7Hy1Kp4Jd6Fg0SaQeUo8Ti2MlLq"
TEXT = f"Mail me at {EMAIL}, key {STRIPE}."

SECRETS = [
    EMAIL, STRIPE, PEM, "+1 415 555 0134", "4111 1111 1111 1111", "81.2.69.17", "Project Nightingale",
    "order #A-20931", "#51877", "ghp_aK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0kS2aEq", "AKIAQ4TZJ7LXW2MRP5VN",
    "wzzt-cmwu-xx3m-e93f-ybf4", "W Z Z T - C M W U - X X 3 M - E 9 3 F - Y B F 4", "tok_abcde",
]
FILLER = st.sampled_from([" ", "\n", ", ", ".", "@", "-", ":", "#", "the ", "key ", "x", "7", "00"])


def without_pii(policy: Policy, **changes: object) -> Policy:
    return dataclasses.replace(policy, detectors=tuple(d for d in policy.detectors if d != "pii"), **changes)


def shadowed(policy: Policy, *rules: str, detectors: tuple[str, ...] = ()) -> Policy:
    keys = frozenset(("patterns", rule) for rule in rules)
    return dataclasses.replace(policy, shadow_rules=keys, shadow_detectors=frozenset(detectors))


def dropped(policy: Policy, *rules: str) -> Policy:
    """The policy as if the rules did not exist at all."""
    kept = tuple(r for r in policy.pattern_rules if r.id not in rules)
    return dataclasses.replace(policy, pattern_rules=kept, shadow_rules=frozenset())


@pytest.fixture(scope="module")
def lean(policy: Policy) -> Policy:
    """The default policy without NER (fast) and without its shipped shadow rule."""
    return without_pii(policy, shadow_rules=frozenset())


# -- the verdict -----------------------------------------------------------------------------------


def test_a_shadow_rule_reports_what_it_would_have_done_and_changes_nothing(lean: Policy) -> None:
    """The email rule in shadow: the email goes out unchanged, the verdict lists it with action
    redact, and its emitted offsets slice the very characters that went out."""
    verdict = Scanner(shadowed(lean, "email"), key=KEY).scan(TEXT)

    assert verdict.text == f"Mail me at {EMAIL}, key [SECRET:stripe]."
    assert verdict.action == "redact" and verdict.labels == ["SECRET"]
    assert [f.rule for f in verdict.findings] == ["stripe-key"]
    [hit] = verdict.shadow
    assert (hit.finding.rule, hit.action, hit.shadow) == ("email", "redact", True)
    assert verdict.text[hit.emitted_start : hit.emitted_end] == EMAIL
    assert EMAIL not in hit.preview and len(hit.digest) == 16


def test_only_shadow_hits_leave_the_response_allowed(lean: Policy) -> None:
    verdict = Scanner(shadowed(lean, "email"), key=KEY).scan(f"write to {EMAIL}")

    assert (verdict.text, verdict.action, verdict.findings) == (f"write to {EMAIL}", "allow", ())
    assert [o.finding.rule for o in verdict.shadow] == ["email"]


def test_a_shadow_block_rule_does_not_block(lean: Policy) -> None:
    """private-key-block blocks; in shadow it only says it would have."""
    verdict = Scanner(shadowed(lean, "private-key-block"), key=KEY).scan(f"here: {PEM} done")

    assert verdict.action == "allow" and verdict.blocked_by is None
    assert verdict.text == f"here: {PEM} done"
    assert [(o.finding.rule, o.action) for o in verdict.shadow] == [("private-key-block", "block")]


SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=200, deadline=None, suppress_health_check=SLOW_OK)
@given(parts=st.lists(st.one_of(st.sampled_from(SECRETS), FILLER), min_size=1, max_size=12), data=st.data())
def test_enforcement_is_as_if_shadow_rules_did_not_exist(lean: Policy, parts: list[str], data: st.DataObject) -> None:
    """For any text and any set of shadow rules, text, action, findings and outcomes equal those of
    the policy without those rules: shadow rules take no part in overlaps or blocks."""
    text = "".join(parts)
    ids = sorted(r.id for r in lean.pattern_rules)
    shadow = data.draw(st.sets(st.sampled_from(ids), max_size=6))
    with_shadow = Scanner(shadowed(lean, *shadow), key=KEY).scan(text)
    without = Scanner(dropped(lean, *shadow), key=KEY).scan(text)

    assert (with_shadow.text, with_shadow.action) == (without.text, without.action)
    assert with_shadow.blocked_by == without.blocked_by
    assert with_shadow.findings == without.findings and with_shadow.outcomes == without.outcomes
    assert {o.finding.rule for o in with_shadow.shadow} <= shadow


def test_a_shadow_detector_reports_every_finding_as_shadow(lean: Policy) -> None:
    canary = lean.canaries[0].value
    verdict = Scanner(shadowed(lean, detectors=("canary",)), key=KEY).scan(f"ref {canary} and {EMAIL}")

    assert verdict.text == f"ref {canary} and [EMAIL]"
    assert [(o.finding.detector, o.finding.label, o.action) for o in verdict.shadow] == [("canary", "CANARY", "redact")]


class Exploding:
    name = "exploding"
    max_span = 1

    def find(self, text: str, start: int = 0) -> list[Finding]:
        raise ValueError("boom")


def test_a_failing_shadow_detector_never_blocks(lean: Policy) -> None:
    """A trial must not take traffic down: its failure is reported, status stays scanned."""
    policy = shadowed(dataclasses.replace(lean, fail_mode="closed"), detectors=("exploding",))
    scanner = Scanner(policy, detectors=[PatternDetector(policy.pattern_rules), Exploding()], key=KEY)

    verdict = scanner.scan(f"mail {EMAIL}")

    assert (verdict.text, verdict.status, verdict.action) == ("mail [EMAIL]", "scanned", "redact")
    assert verdict.errors == ("exploding (shadow): raised ValueError",)


def test_record_text_masks_shadow_characters_but_keeps_enforced_replacements(lean: Policy) -> None:
    """A shadow term around an enforced email: the stored text masks the term's raw characters,
    keeps [EMAIL] as emitted, and every offset stays valid (same length)."""
    term = dataclasses.replace(
        next(r for r in lean.pattern_rules if r.id == "internal-codenames"),
        id="trial-term", terms=(f"memo {EMAIL} end",), max_span=len(f"memo {EMAIL} end") + 1, keywords=(),
    )
    policy = shadowed(dataclasses.replace(lean, pattern_rules=(*lean.pattern_rules, term)), "trial-term")

    verdict = Scanner(policy, key=KEY).scan(f"see memo {EMAIL} end now")

    assert verdict.text == "see memo [EMAIL] end now"
    [hit] = verdict.shadow
    assert verdict.text[hit.emitted_start : hit.emitted_end] == "memo [EMAIL] end"
    assert verdict.record_text() == "see *****[EMAIL]**** now"
    assert len(verdict.record_text()) == len(verdict.text)


# -- streaming ---------------------------------------------------------------------------------------


@st.composite
def chunkings(draw: st.DrawFn, text: str) -> list[str]:
    if len(text) < 2:
        return [text]
    cuts = sorted(draw(st.sets(st.integers(1, len(text) - 1), max_size=len(text))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@pytest.fixture(scope="module")
def shadow_scanners(policy: Policy) -> list[Scanner]:
    """Shadow rules among enforced ones; a shadow detector; NER (the real trial case) in shadow."""
    return [
        Scanner(shadowed(without_pii(policy), "email", "stripe-key", "private-key-block", "order-numbers"), key=KEY),
        Scanner(shadowed(without_pii(policy), "internal-codenames", detectors=("canary",)), key=KEY),
        Scanner(shadowed(policy, "phone-nanp", detectors=("pii",)), key=KEY),
    ]


SENTENCE = st.just("Jane Smith lives in Paris. ")  # NER's PERSON and LOCATION, for the PII trial
PARTS = st.lists(st.one_of(st.sampled_from(SECRETS), FILLER, SENTENCE), min_size=1, max_size=14)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=PARTS, data=st.data())
def test_streams_agree_with_one_shot_on_shadow_hits(
    shadow_scanners: list[Scanner], parts: list[str], data: st.DataObject
) -> None:
    """Output, findings, outcomes and shadow hits (offsets included) are the same for any chunking."""
    text = "".join(parts)
    pieces = data.draw(chunkings(text))
    for scanner in shadow_scanners:
        whole = scanner.scan(text)
        incremental = scanner.incremental()
        out = "".join(incremental.feed(p) for p in pieces) + incremental.finish()
        streamed = incremental.verdict()

        if whole.action == "block":
            assert streamed.action == "block" and streamed.blocked_by == whole.blocked_by
            continue
        assert out == whole.text
        assert (streamed.findings, streamed.outcomes) == (whole.findings, whole.outcomes)
        assert streamed.shadow == whole.shadow
        assert streamed.record_text() == whole.record_text()


def test_firewall_stream_reports_shadow_hits_like_scan(lean: Policy) -> None:
    with Firewall(shadowed(lean, "email"), events=False, key=KEY) as fw:
        verdicts = []
        out = "".join(fw.stream(list(TEXT), on_verdict=verdicts.append))

        assert out == fw.scan(TEXT).text
        assert verdicts[0].shadow == fw.scan(TEXT).shadow


# -- events and quotas ---------------------------------------------------------------------------------


def test_events_mark_shadow_findings_and_store_nothing_raw(lean: Policy) -> None:
    """The event lists the shadow hit (shadow=True, would-be action, offsets into the stored
    output), the stored output masks it, labels are the enforced ones, and the raw value is nowhere."""
    with Firewall(shadowed(lean, "email"), events=False, key=KEY) as fw, capture_events(fw) as events:
        fw.scan(TEXT, prompt=f"is {EMAIL} right?", principal="p")

    [event] = events
    shadow = [f for f in event.findings if f.shadow]
    assert [(f.rule, f.action, f.label) for f in shadow] == [("email", "redact", "EMAIL")]
    assert event.labels == ["SECRET"] and event.action == "redact"
    assert event.output == "Mail me at ************, key [SECRET:stripe]."
    assert event.output[shadow[0].start : shadow[0].end] == "*" * len(EMAIL)
    assert event.prompt == "is ************ right?"
    assert EMAIL not in json.dumps(event.to_dict())


def test_shadow_hits_do_not_count_as_quota_violations(lean: Policy) -> None:
    """Canary leaks weigh 3: two of them earn a block, unless the canary detector is on trial."""
    canary = lean.canaries[0].value
    quotas = {"storage": "memory://", "requests": "100/minute", "violations": "10/10 minutes",
              "penalties": [{"weight": 6, "action": "block", "for": "10 minutes"}]}

    def leak_twice(policy: Policy) -> Firewall:
        fw = Firewall(dataclasses.replace(policy, quotas=quotas), events=False, key=KEY)
        for _ in range(2):
            fw.check_prompt("what is the reference?", principal="mallory")
            fw.scan(f"The reference is {canary}.", principal="mallory")
        return fw

    enforced = leak_twice(lean)
    with pytest.raises(QuotaExceeded):
        enforced.check_prompt("hello", principal="mallory")
    trial = leak_twice(shadowed(lean, detectors=("canary",)))
    trial.check_prompt("hello", principal="mallory")  # admitted
    enforced.close()
    trial.close()


# -- rule files and the command line ---------------------------------------------------------------


def test_shadow_loads_from_any_pack_and_from_detector_settings(rules_dir: Path) -> None:
    (rules_dir / "packs" / "trial.yaml").write_text(
        "rules:\n  - id: trial\n    label: TRIAL\n    terms: [Zebra Accord]\n    shadow: true\n"
        "    examples: {match: ['the Zebra Accord']}\n"
    )
    policy_file = rules_dir / "policy.yaml"
    settings = policy_file.read_text()
    assert "    min_share: 0.6" in settings  # under detectors.canary
    policy_file.write_text(settings.replace("    min_share: 0.6", "    shadow: true\n    min_share: 0.6"))

    policy = load_policy(rules_dir)

    assert {("patterns", "trial"), ("patterns", "order-numbers")} <= policy.shadow_rules
    assert policy.shadow_detectors == {"canary"}
    assert next(r for r in policy.pattern_rules if r.id == "trial").shadow
    assert "shadow" not in policy.detector_settings["canary"]


def test_a_bad_shadow_value_is_a_problem_at_its_line(rules_dir: Path) -> None:
    path = rules_dir / "packs" / "trial.yaml"
    path.write_text(
        "rules:\n  - id: trial\n    label: TRIAL\n    terms: [x]\n    shadow: maybe\n    examples: {match: [x]}\n"
    )

    problems = check_rules(rules_dir)

    assert [(p.path, p.line) for p in problems] == [(path, 5)]
    assert "shadow" in problems[0].message


def test_rules_check_accepts_shadow_rules(rules_dir: Path) -> None:
    result = CliRunner().invoke(main, ["rules", "check", "--rules", str(rules_dir)])

    assert result.exit_code == 0, result.output


def test_scan_json_lists_shadow_hits(rules_dir: Path) -> None:
    """`scan --json` adds `shadow` (hits with their would-be action) when a shadow rule matched."""
    text = "your order #A-20931 left the warehouse"
    args = ["scan", "-", "--json", "--events", "none", "--rules", str(rules_dir)]
    result = CliRunner().invoke(main, args, input=text)

    body = json.loads(result.stdout)
    assert body["text"] == text and body["action"] == "allow"
    [hit] = body["shadow"]
    assert (hit["rule"], hit["label"], hit["action"]) == ("order-numbers", "ORDER_ID", "redact")
    assert text[hit["start"] : hit["end"]] == "#A-20931"


# -- rule ids are per detector ---------------------------------------------------------------------


def test_shadow_and_rule_actions_are_keyed_by_detector_and_rule(lean: Policy) -> None:
    """A pattern rule whose id equals a canary's id (made in code: the loader refuses it) is in
    shadow mode and flags: the canary's own findings stay enforced all the same."""
    canary = lean.canaries[0]
    policy = dataclasses.replace(
        lean,
        shadow_rules=frozenset({("patterns", canary.id)}),
        rule_actions={**lean.rule_actions, ("patterns", canary.id): ActionSpec("flag")},
    )

    verdict = Scanner(policy, key=KEY).scan(f"the reference is {canary.value}.")

    assert canary.value not in verdict.text and verdict.shadow == ()
    assert [(o.finding.detector, o.finding.rule, o.action) for o in verdict.outcomes] == [
        ("canary", canary.id, "redact")
    ]


def test_the_pattern_detector_name_is_the_one_policies_key_on() -> None:
    assert PatternDetector.name == PATTERN_DETECTOR
