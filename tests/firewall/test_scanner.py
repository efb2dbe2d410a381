"""One-shot scanning: findings, actions, overlap resolution and offsets."""

from __future__ import annotations

import dataclasses

import pytest

from firewall import Finding, Firewall, Scanner
from firewall.actions import Coverage, Renderer, Segment, resolve
from firewall.policy import ActionSpec, Policy
from tests.conftest import KEY

EXAMPLE = "Mail me at jane@corp.io, key sk_live_4eC39HqLyjWDarjtT1zdp7dc"


def test_readme_example(fw: Firewall) -> None:
    """The README's first example, exactly."""
    verdict = fw.scan(EXAMPLE)

    assert verdict.text == "Mail me at [EMAIL], key [SECRET:stripe]"
    assert verdict.action == "redact"
    assert verdict.status == "scanned"
    assert [(f.detector, f.rule, f.label, f.start, f.end) for f in verdict.findings] == [
        ("patterns", "email", "EMAIL", 11, 23),
        ("patterns", "stripe-key", "SECRET", 29, 61),
    ]
    assert EXAMPLE[11:23] == "jane@corp.io"


def test_outcomes_locate_each_replacement_in_the_emitted_text(fw: Firewall) -> None:
    """Each outcome's emitted offsets slice its replacement out of verdict.text."""
    verdict = fw.scan(EXAMPLE)

    slices = [verdict.text[o.emitted_start : o.emitted_end] for o in verdict.outcomes]

    assert slices == ["[EMAIL]", "[SECRET:stripe]"]


def test_clean_text_is_allowed_unchanged(fw: Firewall) -> None:
    text = "The build passed; version 2.14.1 shipped on 2024-01-15."

    verdict = fw.scan(text)

    assert (verdict.text, verdict.action, verdict.findings) == (text, "allow", ())


def test_mask_keeps_last_digits(fw: Firewall) -> None:
    """CREDIT_CARD is masked by the default policy, keeping the last four characters."""
    verdict = fw.scan("card 4111 1111 1111 1111 ok")

    assert verdict.text == "card ***************1111 ok"


def test_mask_never_reveals_more_than_half() -> None:
    renderer = Renderer(None, KEY)  # type: ignore[arg-type]
    finding = Finding("d", "r", "PIN", 0, 4)

    assert renderer.replacement(ActionSpec("mask", keep=4), Segment(0, 4, finding), "1234") == "**34"


def test_hash_is_keyed_and_stable(policy: Policy) -> None:
    """`hash` gives the same token for the same value under one key, another under another key."""
    hashing = dataclasses.replace(policy, label_actions={**policy.label_actions, "EMAIL": ActionSpec("hash")})
    text = "a jane@corp.io b jane@corp.io"

    first = Scanner(hashing, key=KEY).scan(text).text
    other_key = Scanner(hashing, key=b"another-key").scan(text).text

    token = first.split()[1]
    assert token.startswith("[EMAIL:") and first.split()[3] == token
    assert other_key.split()[1] != token
    assert "jane" not in first


def test_block_replaces_the_whole_response_and_names_the_rule(fw: Firewall) -> None:
    verdict = fw.scan("here you go:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7Zx2mLp7RtXk9fQ2Wm5Nv9Xc3Bt7Hy1Kp4Jd6Fg0SaQeUo8Ti2MlLq\n")

    assert verdict.action == "block"
    assert verdict.blocked_by == "private-key-block"
    assert "private-key-block" in verdict.text and "MIIE" not in verdict.text


def test_placeholder_is_not_a_format_string(policy: Policy) -> None:
    """Rule-supplied placeholders are filled by plain replacement: braces and % stay literal."""
    odd = ActionSpec("redact", placeholder="[{label}|{0}|%s|{rule}]")
    custom = dataclasses.replace(policy, label_actions={**policy.label_actions, "EMAIL": odd})

    text = Scanner(custom, key=KEY).scan("x jane@corp.io").text

    assert text == "x [EMAIL|{0}|%s|email]"


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        # contained: dropped
        ([("a", 0, 10), ("b", 2, 5)], [("a", 0, 10), None]),
        # partial overlap: the later one is trimmed to start where the first ends
        ([("a", 0, 5), ("b", 3, 9)], [("a", 0, 5), ("b", 5, 9)]),
        # same start: the longest wins
        ([("long", 0, 9), ("short", 0, 4)], [("long", 0, 9), None]),
        # adjacent: both kept
        ([("a", 0, 3), ("b", 3, 6)], [("a", 0, 3), ("b", 3, 6)]),
    ],
)
def test_overlaps_resolve_left_to_right(findings, expected) -> None:
    from firewall.actions import order_key

    items = sorted((Finding("d", rule, "L", s, e) for rule, s, e in findings), key=order_key)

    segments = resolve(items, Coverage())

    assert [(s.finding.rule, s.start, s.end) if s else None for s in segments] == expected


def test_same_span_higher_score_wins() -> None:
    from firewall.actions import order_key

    low, high = Finding("d", "low", "L", 0, 5, 0.4), Finding("d", "high", "L", 0, 5, 0.9)

    segments = resolve(sorted([low, high], key=order_key), Coverage())

    assert segments[0] is not None and segments[0].finding.rule == "high" and segments[1] is None


def test_overlapping_findings_never_leak_a_covered_character(fw: Firewall) -> None:
    """A term inside an email: the email wins, the term is dropped, nothing of either shows."""
    verdict = fw.scan("write to bluebird-7@corp.io now")

    assert verdict.text == "write to [EMAIL] now"
    assert {f.rule for f in verdict.findings} == {"email", "internal-codenames"}


def test_unicode_offsets_are_character_offsets(fw: Firewall) -> None:
    text = "Grüße 👋 von jürgen: jane@corp.io"

    verdict = fw.scan(text)

    finding = verdict.findings[0]
    assert text[finding.start : finding.end] == "jane@corp.io"
    assert verdict.text == "Grüße 👋 von jürgen: [EMAIL]"


def test_keywords_are_case_insensitive_whole_words(fw: Firewall) -> None:
    verdict = fw.scan("PROJECT NIGHTINGALE is live; a nightingale sang; Bluebird-70 is fine")

    assert verdict.text == "[CONFIDENTIAL] is live; a nightingale sang; Bluebird-70 is fine"


def test_hard_negatives_do_not_fire(fw: Firewall) -> None:
    text = (
        "uuid 550e8400-e29b-41d4-a716-446655440000, sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b, "
        "version 10.0.19045, total $1,234.56, order #48213, 1234 5678 9012 3456, S3 and EKS, "
        "time 12:30:45, std::vector"
    )

    assert fw.scan(text).findings == ()
