"""Smoke test: `python -m bench quota --quick` measures quota checks on memory and Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quota_bench_quick_prints_memory_redis_and_check_prompt(tmp_path: Path) -> None:
    env = {**os.environ, "OUTGUARD_BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "quota", "--quick"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )

    assert done.returncode == 0, done.stdout + done.stderr
    for row in ("quota check (memory)", "quota check (redis)", "check_prompt, all signals"):
        assert row in done.stdout
    figures = json.loads((tmp_path / "quota.jsonl").read_text().splitlines()[-1])
    assert figures["check_memory_us"] > 0 and figures["check_redis_us"] > figures["check_memory_us"]
