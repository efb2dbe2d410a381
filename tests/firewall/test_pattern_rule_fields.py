"""The pattern-rule fields that make secret rules precise: a value group as the span, the shared
placeholder test, allow patterns (per rule and policy-wide), ignore_keys, checksums, validators,
and the loader's checks on them."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from firewall import check_rules, load_policy
from firewall.detectors.patterns import PatternDetector
from firewall.placeholders import is_placeholder
from firewall.validators import credential, crc32_base62, jwt, private_key

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def pack(rules_dir: Path, body: str) -> Path:
    path = rules_dir / "packs" / "extra.yaml"
    path.write_text("rules:\n" + body, encoding="utf-8")
    return path


def detector(rules_dir: Path, rule_id: str) -> PatternDetector:
    policy = load_policy(rules_dir)
    return PatternDetector([r for r in policy.pattern_rules if r.id == rule_id])


TOKEN_RULE = """\
  - id: acme-token
    label: SECRET
    regex: 'acme_token ?= ?"(?P<value>[A-Za-z0-9]{20})"'
    keywords: [acme_token]
    examples:
      match: ['acme_token = "Q7vLp2XzR9mW4kT8nB3c"']
"""


def test_the_value_group_is_the_span(rules_dir: Path) -> None:
    pack(rules_dir, TOKEN_RULE)
    text = 'x acme_token = "Q7vLp2XzR9mW4kT8nB3c" y'
    [finding] = detector(rules_dir, "acme-token").find(text)
    assert text[finding.start : finding.end] == "Q7vLp2XzR9mW4kT8nB3c"


def test_secret_rules_drop_placeholders_unless_told_not_to(rules_dir: Path) -> None:
    pack(rules_dir, TOKEN_RULE)
    found = detector(rules_dir, "acme-token")
    assert found.find('acme_token = "AAAAAAAAAAAAAAAAAAAA"') == []
    assert found.find('acme_token = "Q7vLp2XzEXAMPLE4kT8n"') == []
    pack(rules_dir, TOKEN_RULE + "    placeholders: false\n")
    assert detector(rules_dir, "acme-token").find('acme_token = "Q7vLp2XzEXAMPLE4kT8n"')


def test_allow_patterns_per_rule_and_policy_wide(rules_dir: Path) -> None:
    pack(rules_dir, TOKEN_RULE + "    allow: ['^R7vLp2']\n")
    assert detector(rules_dir, "acme-token").find('acme_token = "R7vLp2XzR9mW4kT8nB3c"') == []
    assert detector(rules_dir, "acme-token").find('acme_token = "Q7vLp2XzR9mW4kT8nB3c"')

    pack(rules_dir, TOKEN_RULE)
    policy_file = rules_dir / "policy.yaml"
    policy_file.write_text(
        policy_file.read_text().replace("patterns: {enabled: true}", "patterns: {enabled: true, allow: ['R9mW4kT8nB3d']}")
    )
    policy = load_policy(rules_dir)
    every = PatternDetector(policy.pattern_rules)
    assert not [f for f in every.find('acme_token = "Q7vLp2XzR9mW4kT8nB3d"') if f.rule == "acme-token"]
    assert [f for f in every.find('acme_token = "Q7vLp2XzR9mW4kT8nB3c"') if f.rule == "acme-token"]
    assert all(r.allow for r in policy.pattern_rules)


def test_a_bad_allow_pattern_is_a_problem_at_its_line(rules_dir: Path) -> None:
    path = pack(rules_dir, TOKEN_RULE + "    allow: ['(unclosed']\n")
    problems = [p for p in check_rules(rules_dir) if p.path == path]
    assert len(problems) == 1 and "RE2 rejects" in problems[0].message and problems[0].line == 8


def test_ignore_keys_needs_a_key_group(rules_dir: Path) -> None:
    path = pack(rules_dir, TOKEN_RULE + "    ignore_keys: 'x.*'\n")
    [problem] = [p for p in check_rules(rules_dir) if p.path == path]
    assert "(?P<key>...)" in problem.message


def test_ignore_keys_drops_a_harmless_key(rules_dir: Path) -> None:
    pack(rules_dir, """\
  - id: any-token
    label: SECRET
    regex: '(?P<key>[a-z_]{0,20}token[a-z_]{0,20}) ?= ?(?P<value>[A-Za-z0-9]{12,40})'
    keywords: [token]
    ignore_keys: '.*_type'
    examples:
      match: ['api_token = Q7vLp2XzR9mW4kT8']
      no_match: ['token_type = Q7vLp2XzR9mW4kT8']
""")
    assert load_policy(rules_dir)


def test_a_rule_wider_than_768_characters_needs_keywords(rules_dir: Path) -> None:
    path = pack(rules_dir, """\
  - id: wide
    label: SECRET
    regex: 'wide:[A-Za-z]{1000}[A-Za-z]{100}'
    examples:
      match: ['wide:""" + "Q" * 1100 + """']
""")
    [problem] = [p for p in check_rules(rules_dir) if p.path == path]
    assert "needs keywords" in problem.message


def _github(random30: str) -> str:
    number, digits = zlib.crc32(random30.encode()), ""
    while number:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    return "ghp_" + random30 + digits.rjust(6, "0")


def test_a_verified_checksum_raises_the_score(rules_dir: Path) -> None:
    pack(rules_dir, """\
  - id: gh-checked
    label: SECRET
    regex: 'ghp_[A-Za-z0-9]{36}'
    keywords: [ghp_]
    checksum: crc32-base62
    score: 0.7
    examples:
      match: ['ghp_aK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0kS2aEq']
""")
    found = detector(rules_dir, "gh-checked")
    good = _github("aK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0")
    assert crc32_base62(good) and not crc32_base62("ghp_aK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0kS2aEq")
    assert [f.score for f in found.find(good)] == [1.0]
    assert [f.score for f in found.find("ghp_aK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0kS2aEq")] == [0.7]


@pytest.mark.parametrize(
    "value",
    ["AKIAIOSFODNN7EXAMPLE", "xxxxxxxxxxxxxxxx", "XXXXXXXXXXXXXXXXXXXX", "sk-000000000000000000", "********",
     "${API_KEY}", "{{ api_key }}", "<your token>", "your-api-key-here", "YOUR_TOKEN", "REDACTED", "[REDACTED]",
     "abcdefghijklmnop", "1234567890", "zyxwvu12", "%(password)s", "$OPENAI_API_KEY", "changeme", "aaaa"],
)
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize(
    "value",
    ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYq81kPlZT3w", "Q7vLp2XzR9mW4kT8nB3c", "S3cr3tP@ssw0rd!", "f0b0947c5eba0217"],
)
def test_real_looking_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("hunter2hunter2", True), ("Tr0ub4dor&3x", True), ("84937261", True), ("XkQmLpRtYwZaBcDeFg", True),
     ("string", False), ("None", False), ("os.environ", False), ("process.env.API_KEY!", False),
     ("DB_PASSWORD", False), ("passwordHash", False), ("get_password", False), ("sha256", False),
     ("4096", False), ("/home/alice/x1", False), ("true", False), ("!vault", False), ("P@ssword", True),
     ("2024-01-15T10:00:00Z", False), ("v1.2.3", False), ("10.0.0.1", False)],
)
def test_credential_check(value: str, expected: bool) -> None:
    assert credential(value) is expected


@pytest.mark.parametrize(
    ("value", "key", "expected"),
    [("CorrectHorseBatteryStaple", "password", True), ("purple-monkey-dishwasher", "DB_PASSWORD", True),
     ("CorrectHorseBatteryStaple", "api_token", False), ("svc-billing-01", "api_key_owner", False),
     ("enabled", "passwordless", False), ("wrong-password", "password", False),
     ("sk_1ssyudvskr8tkqfx1f50pehk03mmcdw0sve6gcsm", "secret", True), ("550e8400-e29b-41d4-a716-446655440000", "API_KEY", True)],
)
def test_credential_check_weighs_the_key(value: str, key: str, expected: bool) -> None:
    assert credential(value, key) is expected


def test_jwt_and_private_key_validators() -> None:
    header = "eyJhbGciOiJIUzI1NiJ9"  # {"alg":"HS256"}
    payload = "eyJzdWIiOiJ4In0"  # {"sub":"x"}
    assert jwt(f"{header}.{payload}.c2lnbmF0dXJl")
    assert not jwt(f"eyJ0eXAiOiJKV1QifQ.{payload}.c2ln")  # header without alg
    assert not jwt(f"{header}.bm90IGpzb24.c2ln")  # payload not JSON
    assert jwt(f"{header}.\n{payload}.c2ln")  # line breaks ignored
    body = "MIIEpAIBAAKCAQEAq7Z" + "Qx9" * 20
    assert private_key(f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----")
    assert not private_key("-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----")
