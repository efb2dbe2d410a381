"""rules/packs/pii.yaml on values that are and are not personal data: emails (plain and
obfuscated) and IP addresses are found with their exact span, while documentation-reserved
domains (RFC 2606/6761), private, loopback, documentation (RFC 5737/3849) and other non-public
addresses, and version numbers that look like addresses, are left alone."""

from __future__ import annotations

import dataclasses

import pytest

from firewall import Scanner
from firewall.detectors.patterns import PatternDetector
from firewall.policy import Policy
from firewall.validators import VALIDATORS, ip
from tests.conftest import KEY

# (text, the spans the pii pack must report in it, in order)
EMAILS = [
    ("Mail me at jane@corpmail.net.", ["jane@corpmail.net"]),
    ("ops+alerts@mail.acme-corp.io", ["ops+alerts@mail.acme-corp.io"]),
    ('<a href="mailto:jane@acme-corp.io">', ["jane@acme-corp.io"]),
    ("contact: Jane.Doe@Acme-Corp.IO", ["Jane.Doe@Acme-Corp.IO"]),
    ("jane@my-example.com", ["jane@my-example.com"]),
    ("phish from support@example.com.evil.io", ["support@example.com.evil.io"]),
]
OBFUSCATED_EMAILS = [
    ("jane.doe (at) acmecorp (dot) com", ["jane.doe (at) acmecorp (dot) com"]),
    ("mail jane [at] acmecorp [dot] com today", ["jane [at] acmecorp [dot] com"]),
    ("or jane at acmecorp dot com today", ["jane at acmecorp dot com"]),
    ("jane{at}acmecorp{dot}com", ["jane{at}acmecorp{dot}com"]),
    ("Write to JANE AT ACMECORP DOT COM.", ["JANE AT ACMECORP DOT COM"]),
    ("jane(at)acmecorp.com", ["jane(at)acmecorp.com"]),
    ("jane @ acmecorp . com", ["jane @ acmecorp . com"]),
    ("jane@acmecorp dot co dot uk", ["jane@acmecorp dot co dot uk"]),
    ("the dot com bubble burst; mail jane at acmecorp dot com", ["jane at acmecorp dot com"]),
]
PUBLIC_ADDRESSES = [
    ("Server at 81.2.69.160 is down", ["81.2.69.160"]),
    ("89.160.20.128", ["89.160.20.128"]),
    ("ssh deploy@81.2.69.160", ["81.2.69.160"]),
    ("curl http://81.2.69.160:8080/health", ["81.2.69.160"]),
    ('{"ip": "81.2.69.160"}', ["81.2.69.160"]),
    ("hosts: 10.0.0.1, 81.2.69.160", ["81.2.69.160"]),
    ("Logs rotated. 81.2.69.160 then failed", ["81.2.69.160"]),
    ("Host 1: 81.2.69.160", ["81.2.69.160"]),
    ("81.2.69.160, 81.2.69.161", ["81.2.69.160", "81.2.69.161"]),
    ("81.2.69.160  81.2.69.161", ["81.2.69.160", "81.2.69.161"]),
    ("- 81.2.69.160\n- 81.2.69.161", ["81.2.69.160", "81.2.69.161"]),
    ("| web1 | 81.2.69.160 |\n| web2 | 81.2.69.161 |", ["81.2.69.160", "81.2.69.161"]),
    ("upgraded from 1.2.3 on 81.2.69.160", ["81.2.69.160"]),
    ("2a01:4f8:c17:3b2::1", ["2a01:4f8:c17:3b2::1"]),
    ("peer 2a02:c7f:5e3a:9b00:1c2d:3e4f:5a6b:7c8d is up", ["2a02:c7f:5e3a:9b00:1c2d:3e4f:5a6b:7c8d"]),
    ("[2606:4700:4700::1111]:443", ["2606:4700:4700::1111"]),
]
FOUND = [
    pytest.param(text, spans, id=f"{kind}-{i}")
    for kind, cases in (("email", EMAILS), ("obfuscated", OBFUSCATED_EMAILS), ("ip", PUBLIC_ADDRESSES))
    for i, (text, spans) in enumerate(cases)
]

RESERVED_EMAILS = [
    "jane@example.com", "ops@mail.example.org", "Jane.Doe@EXAMPLE.NET", "jane@corp.example", "ci@build.test",
    "x@foo.invalid", "root@db.localhost", "write to jane at example dot com", "jane (at) corp (dot) example",
    "jane[at]example[dot]org",
]
PROSE_WITH_AT_AND_DOT = [
    "meet at noon dot com bubble", "look at the dot product", "put a dot at the end", "find it at docs.python.org",
    "y = x @ layer.weight", "thanks @jane for the fix", "an @ sign alone", "user@localhost",
]
NON_PUBLIC_ADDRESSES = [
    "host 10.24.3.17 is down", "172.16.5.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "192.0.2.1",
    "198.51.100.7", "203.0.113.42", "0.0.0.0", "255.255.255.255", "224.0.0.251", "100.64.0.1", "::1",
    "2001:db8:85a3::8a2e:370:7334", "fe80::1ff:fe23:4567:890a", "fd12:3456:789a::1", "ff02::1:ff00:1",
]
VERSIONS = [
    "version 1.2.3.4", "v1.2.3.4", "ver. 10.0.0.1", "release 4.3.2.1", "build 1.0.0.12", "Firmware 4.3.2.1",
    "Chrome/120.0.6099.109", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.0.1 Safari/537.36", "==1.2.3.4",
    "pip install pkg==1.2.3.4", "requests>=4.3.2.1", '"version": "4.3.2.1"', "version: '4.3.2.1'",
    "Version (4.3.2.1)", "version 10.0.19045", "999.1.1.1", "1.2.3",
]
LEFT_ALONE = [
    pytest.param(text, id=f"{kind}-{i}")
    for kind, cases in (
        ("reserved", RESERVED_EMAILS),
        ("prose", PROSE_WITH_AT_AND_DOT),
        ("address", NON_PUBLIC_ADDRESSES),
        ("version", VERSIONS),
    )
    for i, text in enumerate(cases)
]


@pytest.fixture(scope="module")
def pii_pack(policy: Policy) -> PatternDetector:
    """The pattern rules of rules/packs/pii.yaml, as the default policy loads them."""
    return PatternDetector([r for r in policy.pattern_rules if r.path.name == "pii.yaml"])


@pytest.fixture(scope="module")
def scanner(policy: Policy) -> Scanner:
    """The default policy's pattern rules, every pack (NER and the rest left out: this is about rules)."""
    return Scanner(dataclasses.replace(policy, detectors=("patterns",)), key=KEY)


def _spans(detector: PatternDetector, text: str) -> list[str]:
    return [text[f.start : f.end] for f in sorted(detector.find(text), key=lambda f: (f.start, f.end))]


def test_the_cases_cover_every_class_both_ways() -> None:
    assert len(FOUND) + len(LEFT_ALONE) >= 40
    assert min(len(EMAILS), len(OBFUSCATED_EMAILS), len(PUBLIC_ADDRESSES)) >= 5
    assert min(len(RESERVED_EMAILS), len(PROSE_WITH_AT_AND_DOT), len(NON_PUBLIC_ADDRESSES), len(VERSIONS)) >= 5


@pytest.mark.parametrize(("text", "spans"), FOUND)
def test_personal_values_are_found_with_their_exact_span(
    pii_pack: PatternDetector, text: str, spans: list[str]
) -> None:
    """Each value is reported once, covering the value and nothing around it."""
    assert _spans(pii_pack, text) == spans


@pytest.mark.parametrize(("text", "spans"), FOUND)
def test_personal_values_are_redacted_by_the_policy(scanner: Scanner, text: str, spans: list[str]) -> None:
    emitted = scanner.scan(text).text

    for span in spans:
        assert span not in emitted


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_reserved_non_public_and_version_values_pass_unchanged(scanner: Scanner, text: str) -> None:
    """No rule of any pack flags them: the policy emits the text as it came."""
    verdict = scanner.scan(text)

    assert [(f.rule, text[f.start : f.end]) for f in verdict.findings] == []
    assert verdict.text == text


def test_a_document_mixing_all_cases_streams_to_the_one_shot_result(scanner: Scanner) -> None:
    """Keys reach back up to 40 characters before an address; streamed one character at a time or
    in uneven chunks, the findings and the text are those of one scan."""
    texts = [t for t, _ in EMAILS + OBFUSCATED_EMAILS + PUBLIC_ADDRESSES]
    texts += RESERVED_EMAILS + PROSE_WITH_AT_AND_DOT + NON_PUBLIC_ADDRESSES + VERSIONS
    document = "\n".join(texts) + "\n" + " ".join(texts)
    whole = scanner.scan(document)

    for size in (1, 7, 61):
        stream = scanner.incremental()
        out = "".join(stream.feed(document[i : i + size]) for i in range(0, len(document), size))
        out += stream.finish()
        assert out == whole.text, size
        assert stream.verdict().findings == whole.findings, size


@pytest.mark.parametrize(
    ("value", "key", "public"),
    [
        ("81.2.69.160", None, True),
        ("::ffff:81.2.69.160", None, True),
        ("::ffff:10.0.0.1", None, False),
        ("100.64.0.1", None, False),
        ("81.2.69.160", "Server at ", True),
        ("81.2.69.160", "rev/", True),
        ("81.2.69.160", ", ", True),
        ("81.2.69.160", "\n- ", True),
        ("81.2.69.160", "Host 1: ", True),
        ("81.2.69.160", "version ", False),
        ("81.2.69.160", "ver. ", False),
        ("81.2.69.160", "Chrome/", False),
        ("81.2.69.160", "pkg==", False),
        ("81.2.69.160", " ", False),
        ("81.2.69.160", ': "', False),
    ],
)
def test_ip_validator_weighs_the_address_and_the_text_before_it(value: str, key: str | None, public: bool) -> None:
    assert ip(value, key) is public
    assert VALIDATORS["ip"](value, key) is public
