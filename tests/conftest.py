"""Shared fixtures: the default rules, a firewall on them, a throwaway rules folder."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from firewall import Firewall, load_policy
from firewall.policy import Policy

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
SAMPLES = ROOT / "samples"
KEY = b"test-key-0123456789abcdef0123456789"

# Never touch the user's home: the install key and state go to a per-run folder.
os.environ.setdefault("OUTGUARD_KEY", KEY.decode())


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The default policy, with a detector budget no busy test machine can exceed: tests that
    compare scans must not see one of them fail on time (test_failure_policy sets its own)."""
    return dataclasses.replace(load_policy(RULES), detector_budget_ms=60_000)


@pytest.fixture
def fw(policy: Policy) -> Iterator[Firewall]:
    firewall = Firewall(policy, events=False, key=KEY)
    yield firewall
    firewall.close()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A private copy of the default rules folder, free to edit."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    policy_file = target / "policy.yaml"
    # A budget no busy test machine can exceed (tests of the budget set their own).
    policy_file.write_text(policy_file.read_text().replace("detector_budget_ms: 1000", "detector_budget_ms: 60000"))
    return target
