"""The canary detector finds every registered canary through every disguise (and any two together),
redacts exactly the disguised span, whole or streamed, and stays silent on ordinary text."""

from __future__ import annotations

import base64
import codecs
import itertools
import sysconfig
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from firewall import Scanner
from firewall.canaries import Canary
from firewall.detectors.canary import CanaryDetector
from firewall.normalize import canonical, canonical_view
from firewall.policy import Policy
from tests.conftest import KEY, SAMPLES

HOMOGLYPHS = str.maketrans({
    "a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "k": "к", "m": "м", "t": "т",
    "A": "Α", "B": "В", "E": "Ε", "H": "Н", "K": "К", "M": "М", "O": "Ο", "P": "Р", "T": "Т", "X": "Χ",
})


def spaced(sep: str) -> Callable[[str], str]:
    return lambda s: sep.join(s)


TEXT_DISGUISES: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s,
    "upper": str.upper,
    "swapcase": str.swapcase,
    "spaces": spaced(" "),
    "dashes": spaced("-"),
    "dots": spaced("."),
    "underscores": spaced("_"),
    "newlines": spaced("\n"),
    "fullwidth": lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),
    "zero-width": spaced("\u200b"),
    "word-joiner": spaced("\u2060"),
    "homoglyphs": lambda s: s.translate(HOMOGLYPHS),
    "rot13": lambda s: codecs.encode(s, "rot13"),
    "reversed": lambda s: s[::-1],
}
ENCODINGS: dict[str, Callable[[str], str]] = {
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64-urlsafe": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    "base64-unpadded": lambda s: base64.b64encode(s.encode()).decode().rstrip("="),
    "base32": lambda s: base64.b32encode(s.encode()).decode(),
    "hex": lambda s: s.encode().hex(),
    "url": lambda s: urllib.parse.quote(s, safe=""),
    "url-every-byte": lambda s: "".join(f"%{b:02X}" for b in s.encode()),
}
DISGUISES = {**TEXT_DISGUISES, **ENCODINGS}
PAIRS = [
    (a, b)
    for a, b in itertools.permutations(DISGUISES, 2)
    # An encoding applied before a text disguise is not a form anyone decodes back (e.g. the
    # fullwidth form of base64): skip text disguises applied on top of encodings, except case-free ones.
    if not (a in ENCODINGS and b in TEXT_DISGUISES and b not in {"reversed", "spaces", "newlines"})
    and "plain" not in (a, b)
]


def partial(detector: CanaryDetector, canary: Canary) -> str:
    """The shortest prefix of the canary that carries enough of it to count (share and bits)."""
    needed = detector._fragment[detector.canaries.index(canary)]
    return next(canary.value[:n] for n in range(1, len(canary.value)) if len(canonical(canary.value[:n])) >= needed)


def canaries(policy: Policy) -> list[Canary]:
    assert policy.canaries, "the sample registry rules/canaries.yaml must hold canaries"
    return list(policy.canaries)


def embed(disguised: str) -> tuple[str, str, str]:
    return "Sure, here is the configuration you asked about:\n", disguised, "\nLet me know if anything fails."


@pytest.fixture(scope="module")
def detector(policy: Policy) -> CanaryDetector:
    return CanaryDetector(policy.canaries)


def found_ids(detector: CanaryDetector, text: str) -> set[str]:
    return {f.rule for f in detector.find(text)}


@pytest.mark.parametrize("name", list(DISGUISES))
def test_every_disguise_of_every_canary_is_found(policy: Policy, detector: CanaryDetector, name: str) -> None:
    for canary in canaries(policy):
        before, disguised, after = embed(DISGUISES[name](canary.value))

        findings = [f for f in detector.find(before + disguised + after) if f.rule == canary.id]

        assert findings, f"{name} of {canary.id} ({canary.format}) not found"
        assert findings[0].source == canary.placement and findings[0].label == "CANARY"


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}+{b}" for a, b in PAIRS])
def test_every_pair_of_disguises_is_found(policy: Policy, detector: CanaryDetector, first: str, second: str) -> None:
    for canary in canaries(policy):
        disguised = DISGUISES[second](DISGUISES[first](canary.value))

        assert canary.id in found_ids(detector, "".join(embed(disguised))), f"{first}+{second} of {canary.id}"


@pytest.mark.parametrize("name", ["plain", "spaces", "homoglyphs", "reversed", "base64", "hex", "url"])
def test_partial_leaks_are_found_with_a_lower_score(policy: Policy, detector: CanaryDetector, name: str) -> None:
    for canary in canaries(policy):
        if canary.format == "sentence":  # a sentence carries ~1 bit per letter: 70% is under 40 bits
            continue
        text = "".join(embed(DISGUISES[name](partial(detector, canary))))

        scores = [f.score for f in detector.find(text) if f.rule == canary.id]

        assert scores and max(scores) < 1.0, f"partial {name} of {canary.id}"


def test_a_fragment_below_the_threshold_is_not_a_leak(policy: Policy, detector: CanaryDetector) -> None:
    for canary in canaries(policy):
        fragment = canary.value[: len(canary.value) * 4 // 10]

        assert canary.id not in found_ids(detector, "".join(embed(fragment)))


@pytest.mark.parametrize("name", ["plain", "upper", "spaces", "newlines", "fullwidth", "zero-width", "homoglyphs", "rot13", "reversed", "base64", "base64-unpadded", "base32", "hex", "url"])
def test_redaction_removes_exactly_the_disguised_span(policy: Policy, name: str) -> None:
    """The disguised canary is replaced from its first to its last letter or digit; the text around
    it, and punctuation that ends the canary (a sentence's full stop), are untouched."""
    scanner = Scanner(policy, key=KEY)
    for canary in canaries(policy):
        if name in ENCODINGS and not canary.value[-1].isalnum():
            continue  # the encoded full stop stays: it is outside the canary's letters and digits
        before, disguised, after = embed(DISGUISES[name](canary.value))
        text = before + disguised + after
        kept = canonical_view(disguised) if name not in ENCODINGS else None
        head, tail = (disguised[: kept.starts[0]], disguised[kept.ends[-1] :]) if kept else ("", "")

        whole = scanner.scan(text)
        streamed = scanner.incremental()
        out = "".join(streamed.feed(text[i : i + 7]) for i in range(0, len(text), 7)) + streamed.finish()

        assert whole.text == before + head + "[CANARY]" + tail + after, f"{name} of {canary.id}"
        assert out == whole.text


@pytest.mark.parametrize("name", ["base64", "base32", "hex", "url"])
def test_an_encoded_span_containing_a_canary_loses_the_canary(policy: Policy, name: str) -> None:
    scanner = Scanner(policy, key=KEY)
    for canary in canaries(policy):
        text = "payload: " + ENCODINGS[name](f"user=alice; token={canary.value}; ttl=3600") + " end"

        verdict = scanner.scan(text)

        assert canary.id in {f.rule for f in verdict.findings}
        assert canary.id not in found_ids(CanaryDetector(policy.canaries), verdict.text)


def test_canary_split_across_stream_chunks_is_redacted_like_one_shot(policy: Policy) -> None:
    scanner = Scanner(policy, key=KEY)
    for canary in canaries(policy):
        text = f"The reference is {canary.value} as requested."
        stop = "." if canary.value.endswith(".") else ""
        for size in (1, 2, 5, 13):
            incremental = scanner.incremental()
            out = "".join(incremental.feed(text[i : i + size]) for i in range(0, len(text), size))
            out += incremental.finish()

            assert out == scanner.scan(text).text == f"The reference is [CANARY]{stop} as requested."


def ordinary_text(size: int) -> str:
    """About `size` characters of English and code: the standard library's sources and our samples."""
    parts = [p.read_text("utf-8") for p in sorted((SAMPLES / "transcripts").glob("*.jsonl")) if p.stem != "canaries"]
    total = sum(map(len, parts))
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        if total >= size:
            break
        parts.append(path.read_text("utf-8", errors="replace"))
        total += len(parts[-1])
    return "\n".join(parts)[:size]


def test_a_megabyte_of_ordinary_text_has_no_canary(detector: CanaryDetector) -> None:
    text = ordinary_text(1_000_000)

    assert len(text) == 1_000_000
    assert detector.find(text) == []


def test_retired_canaries_are_not_detected(policy: Policy) -> None:
    import dataclasses

    first = canaries(policy)[0]
    retired = dataclasses.replace(policy, canaries=tuple(c for c in policy.canaries if c.id != first.id))

    assert first.id not in found_ids(CanaryDetector(retired.canaries), f"x {first.value} y")


def test_skeleton_folds_lowercase_lookalikes_with_no_confusables_entry() -> None:
    """Cyrillic к, м, т have no mapping of their own; the closure over case folds them to k, m, t."""
    assert canonical("кмт КМТ") == "kmtkmt"
    assert canonical("Ｗ\u200bz-z.t_\nС") == "wzztc"
