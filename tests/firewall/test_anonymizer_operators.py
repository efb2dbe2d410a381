"""The encrypt action (Presidio's AES operator, key from the environment) and deanonymize()."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from firewall import Scanner, check_rules, deanonymize
from firewall.policy import ActionSpec, Policy
from tests.conftest import KEY

AES_KEY = "0123456789abcdef0123456789abcdef"


def encrypting(policy: Policy) -> Policy:
    return dataclasses.replace(policy, label_actions={**policy.label_actions, "EMAIL": ActionSpec("encrypt", key_env="TEST_AES")})


def test_encrypted_values_come_back_only_with_the_key(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_AES", AES_KEY)
    text = "write to jane@corp.io or ops+alerts@mail.io.org today"

    verdict = Scanner(encrypting(policy), key=KEY).scan(text)

    assert "jane" not in verdict.text and verdict.text.count("[EMAIL:enc:") == 2
    assert deanonymize(verdict.text, AES_KEY) == text
    with pytest.raises(ValueError):
        deanonymize(verdict.text, "another-key-0123")


def test_encrypt_without_a_key_is_refused_at_load_time(rules_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OUTGUARD_ENCRYPT_KEY", raising=False)
    policy_file = rules_dir / "policy.yaml"
    policy_file.write_text(policy_file.read_text().replace("  EMAIL: redact", "  EMAIL: encrypt"))

    problems = check_rules(rules_dir)

    assert any("OUTGUARD_ENCRYPT_KEY" in p.message and p.path == policy_file for p in problems)
