"""Streaming equals one-shot scanning for every chunking (the core invariant), and a hold-back one
character short would leak."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firewall import Firewall, Scanner, load_policy
from firewall.policy import ActionSpec, Policy
from firewall.replay import load_transcripts
from tests.conftest import KEY, SAMPLES

TRANSCRIPTS = load_transcripts([SAMPLES / "transcripts"])

SECRETS = [
    "jane.doe@acme-corp.io", "ops+alerts@mail.io.org", "+1 415 555 0134", "(415) 555-0198",
    "4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "81.2.69.17",
    "2a01:4f8:85a3::8a2e:370:7334", "GB82 WEST 1234 5698 7654 32", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "ghp_aK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0kS2aEq", "AKIAQ4TZJ7LXW2MRP5VN", "Project Nightingale",
    "bluebird-7", "xoxb-204981736452-3318827465012-Qw3rTy8uIoPa5sDf2gHj7kLz",
    "-----BEGIN RSA PRIVATE KEY-----", "tok_abcde", "tok_abcd", "12-34", "1234",
    # context and structure: a value group after its key, a URL password, a header, a JWT
    'password = "Xk9fQ2mLp7Rt"', "db_pass: mQ4xZ9rT2w", "postgres://etl:p#ss!9Zq@db.acme.io/dw",
    "Authorization: Bearer 8f3kQz9LmX2pWv7Rt4YbN6cJ", "id 2024 4111 1111 1111 1111",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln", "MIIEpAIBAAKCAQEA575YX8XM5mSLFy5UBIHEYeD7p4Z",
    # sample canaries (rules/canaries.yaml), plain, disguised and partial
    "wzzt-cmwu-xx3m-e93f-ybf4", "W Z Z T - C M W U - X X 3 M - E 9 3 F - Y B F 4", "d3p6dC1jbXd1LXh4M20tZTkzZi15YmY0",
    "4fby-f39e-m3xx-uwmc-tzzw", "ya93-pg9p-623a", "8388 8103 1049 4908", "wzzt-cmwu-xx3m",
]
FILLER = st.sampled_from([" ", "\n", ", ", ".", "@", "-", ":", "+", "(", ")", "the ", "key ", "x", "7", "00"])
NOISE = st.text(alphabet="abcdefxyz0123456789@.-_:+() \nAKIS", max_size=12)


@st.composite
def texts_with_findings(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(SECRETS), FILLER, NOISE), min_size=1, max_size=14))
    return "".join(parts)


@st.composite
def chunkings(draw: st.DrawFn, text: str) -> list[str]:
    if len(text) < 2:
        return [text]
    if draw(st.booleans()):
        cuts = sorted(draw(st.sets(st.integers(1, len(text) - 1), max_size=len(text))))
    else:
        size = draw(st.integers(1, 16))
        cuts = list(range(size, len(text), size))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def split_at(text: str, cuts: list[int]) -> list[str]:
    cuts = sorted({c for c in cuts if 0 < c < len(text)})
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def stream(scanner: Scanner, pieces: list[str], hold_back: int | None = None):
    incremental = scanner.incremental() if hold_back is None else _with_hold_back(scanner, hold_back)
    out = "".join(incremental.feed(p) for p in pieces)
    out += incremental.finish()
    return out, incremental.verdict()


def _with_hold_back(scanner: Scanner, hold_back: int):
    from firewall.streaming import StreamScanner

    return StreamScanner(scanner, hold_back=hold_back)


def without_blocks(policy: Policy) -> Policy:
    """The same policy with every block turned into redact: what a stream emits before a block."""
    redact = ActionSpec("redact")
    return dataclasses.replace(
        policy,
        rule_actions={r: (redact if a.kind == "block" else a) for r, a in policy.rule_actions.items()},
        label_actions={k: (redact if a.kind == "block" else a) for k, a in policy.label_actions.items()},
    )


def assert_stream_agrees(scanner: Scanner, text: str, pieces: list[str]) -> None:
    whole = scanner.scan(text)
    out, verdict = stream(scanner, pieces)
    if whole.action != "block":
        assert out == whole.text
        assert verdict.findings == whole.findings
        assert verdict.outcomes == whole.outcomes
        assert verdict.shadow == whole.shadow  # the default policy ships a shadow rule (order-numbers)
        assert verdict.action == whole.action
        assert verdict.record_text() == whole.record_text()
        return
    # Blocked: what was released before the refusal is a prefix of the safe (redacted) text, and
    # the blocking rule is the same.
    assert verdict.action == "block" and verdict.blocked_by == whole.blocked_by
    assert out.endswith(whole.text)
    released = out[: len(out) - len(whole.text)]
    assert Scanner(without_blocks(scanner.policy), key=KEY).scan(text).text.startswith(released)


@pytest.fixture(scope="module")
def tricky_policy() -> Policy:
    return load_policy(Path(__file__).parent / "tricky_rules")


@pytest.fixture(scope="module")
def scanners(policy: Policy, tricky_policy: Policy) -> list[Scanner]:
    """The default policy, the tricky one, one whose hold-back is tight for its only rule, and one
    that flags (passes unchanged, reports and locates) some labels amid redacted ones."""
    return [Scanner(policy, key=KEY), Scanner(tricky_policy, key=KEY), token_only(tricky_policy), flagging(policy)]


def flagging(policy: Policy) -> Scanner:
    flag = ActionSpec("flag")
    flagged = dataclasses.replace(
        policy,
        detectors=tuple(d for d in policy.detectors if d != "pii"),
        label_actions={**policy.label_actions, "EMAIL": flag, "SECRET": flag, "CANARY": flag},
    )
    return Scanner(flagged, key=KEY)


def token_only(tricky_policy: Policy) -> Scanner:
    from firewall.detectors.patterns import PatternDetector

    rules = [r for r in tricky_policy.pattern_rules if r.id == "token-needs-more"]
    return Scanner(tricky_policy, detectors=[PatternDetector(rules)], key=KEY)


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[t.id for t in TRANSCRIPTS])
def test_samples_agree_whole_per_character_and_as_recorded(policy: Policy, transcript) -> None:
    """Each sample streams to the one-shot result: as recorded, whole, and one character at a time."""
    scanner = Scanner(policy, key=KEY)
    text = transcript.output

    for pieces in (list(transcript.chunks), [text], list(text)):
        assert_stream_agrees(scanner, text, pieces)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), index=st.integers(0, len(TRANSCRIPTS) - 1))
def test_samples_agree_for_any_chunking(policy: Policy, data: st.DataObject, index: int) -> None:
    """Arbitrary split points over the sample transcripts never change the output."""
    text = TRANSCRIPTS[index].output
    assert_stream_agrees(Scanner(policy, key=KEY), text, data.draw(chunkings(text)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts_with_findings(), data=st.data())
def test_generated_text_agrees_for_any_chunking(scanners: list[Scanner], text: str, data: st.DataObject) -> None:
    """Generated text dense with findings, overlaps and near-misses streams to the one-shot result."""
    pieces = data.draw(chunkings(text))
    for scanner in scanners:
        assert_stream_agrees(scanner, text, pieces)


def test_hold_back_one_short_leaks(tricky_policy: Policy) -> None:
    """With one character less hold-back, a secret whose match depends on the next character leaks.

    The `\\B` at the end of rule `token-needs-more` is only decided by the character after the match;
    the honest hold-back (max_span - 1) waits for it, a shorter one releases the token raw."""
    scanner = token_only(tricky_policy)
    text = "my token tok_abcde is here"
    pieces = list(text)

    honest, _ = stream(scanner, pieces)
    short, _ = stream(scanner, pieces, hold_back=scanner.max_span - 2)

    assert "tok_abcd" not in honest and honest == scanner.scan(text).text
    assert "tok_abcd" in short


@pytest.mark.parametrize("step", [1, None], ids=["step-1", "auto-step"])
def test_stream_never_holds_back_more_than_max_span(policy: Policy, step: int | None) -> None:
    """After every feed, at most max_span - 1 (+ step - 1) received characters are unreleased."""
    from firewall.streaming import StreamScanner

    scanner = Scanner(policy, key=KEY)
    text = " ".join(t.output for t in TRANSCRIPTS[:3] if "PRIVATE KEY" not in t.output)
    incremental = StreamScanner(scanner, step=step)
    bound = scanner.max_span - 1 + incremental.step - 1
    received = emitted = 0

    for char in text:
        received += 1
        emitted += len(incremental.feed(char))
        # Replacements change lengths, so compare positions in the input text.
        assert received - incremental._decisions.released <= bound
    assert emitted + len(incremental.finish()) == len(incremental.verdict().text)
    assert (step == 1) == (bound == scanner.max_span - 1)


def test_firewall_stream_faces_agree(policy: Policy) -> None:
    """Firewall.stream and Firewall.astream emit exactly what Firewall.scan does."""
    import asyncio

    text = TRANSCRIPTS[0].output
    with Firewall(policy, events=False, key=KEY) as fw:
        whole = fw.scan(text).text

        async def chunks():
            for c in text:
                yield c

        async def collect() -> str:
            return "".join([s async for s in fw.astream(chunks())])

        assert "".join(fw.stream(iter(text))) == whole
        assert asyncio.run(collect()) == whole


CANARY_FORMS = [
    *SECRETS[-7:],
    "ODM4OC04MTAzLTEwNDktNDkwOA==",  # base64 of the account canary
    "eD1UaGUgbWVsbG93IHRyZWxsaXMgb2YgR2Fyc2RhbGUgZ2F0aGVycyA4ODg1IGJvbGQgc2FsbW9ucy47",  # of "x=<sentence>;"
    "7a7a772d636d77752d7878336d",  # hex of a canary fragment
]
WORDS = st.sampled_from(
    "the model said that your order ships today and the invoice total is due on Friday please "
    "check config value key token at line 42 then retry".split()
)


@st.composite
def long_texts_with_canaries(draw: st.DrawFn) -> str:
    """Texts longer than the canary detector's hold-back, with disguised canaries anywhere."""
    parts = draw(st.lists(st.one_of(WORDS, WORDS, WORDS, st.sampled_from(CANARY_FORMS)), min_size=260, max_size=420))
    # Newlines join base64-looking words into one long run: decoding must stay local to each canary.
    return draw(st.sampled_from([" ", "\n", ", "])).join(parts)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=long_texts_with_canaries(), data=st.data(), step=st.sampled_from([1, None]))
def test_long_texts_with_canaries_agree_for_any_chunking(policy: Policy, text: str, data: st.DataObject, step) -> None:
    """Past the hold-back, windows re-scan with look-behind and the canary detector still agrees."""
    from firewall.streaming import StreamScanner

    # Without the PII detector: these sentence-less texts would exceed its unit cap and fail closed.
    scanner = Scanner(dataclasses.replace(policy, detectors=tuple(d for d in policy.detectors if d != "pii")), key=KEY)
    size = data.draw(st.integers(1 if step is None else 8, 40))  # step 1 with 1-char chunks is slow
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    incremental = StreamScanner(scanner, step=step)

    out = "".join(incremental.feed(p) for p in pieces) + incremental.finish()

    # longer than every fixed hold-back (pattern rules past 768 characters settle by keyword)
    assert len(text) > max(d.max_span for d in scanner.detectors if not hasattr(d, "settled"))
    assert out == scanner.scan(text).text
    assert incremental.verdict().findings == scanner.scan(text).findings
