"""samples/guarded_tiny_model.py runs offline, shows the unguarded leak and the guarded output, and
leaves its events in the default store of the folder it runs in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from firewall.events.store import EventStore
from tests.conftest import RULES, SAMPLES

pytestmark = pytest.mark.slow

CANARY = next(
    c["value"] for c in yaml.safe_load((RULES / "canaries.yaml").read_text())["canaries"] if c["format"] == "sentence"
)
PASSAGE_END = "are controlled by, or are under common control with that entity."


def test_the_sample_leaks_unguarded_and_not_guarded(tmp_path: Path) -> None:
    script = SAMPLES / "guarded_tiny_model.py"
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)

    assert run.returncode == 0, run.stderr
    unguarded, guarded = run.stdout.split("== Guarded: the same calls")
    assert CANARY in unguarded and PASSAGE_END in unguarded  # the model really memorised both
    assert CANARY not in guarded and PASSAGE_END not in guarded
    assert "[CANARY]" in guarded and "[protected: apache-2.0 §6]" in guarded and "[event] verdict redact" in guarded
    assert "streamed: [CANARY]" in guarded

    store = tmp_path / ".outguard" / "events.db"  # the policy's default sink, relative to the working folder
    events = EventStore(store).tail()
    assert {"CANARY", "PROTECTED"} <= {label for e in events for label in e.labels}
    assert all(e.principal == "demo-user" for e in events)
    assert any(set(e.scores) == {"min_k", "zlib_ratio"} for e in events)
    stored = b"".join(p.read_bytes() for p in store.parent.iterdir())
    assert CANARY.encode() not in stored and PASSAGE_END.encode() not in stored
