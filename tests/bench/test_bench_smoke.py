"""Smoke test: `python -m bench core --quick` runs offline and prints the core figures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_core_bench_quick_prints_the_three_figures(tmp_path: Path) -> None:
    env = {**os.environ, "OUTGUARD_BENCH_RESULTS": str(tmp_path), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "core", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("presidio / ours", "stream-1 / one-shot", "stream-16 / one-shot"):
        assert re.search(rf"^{re.escape(name)}\s+[0-9.]+x", done.stdout, re.M), (name, done.stdout)
    assert "us per chunk" in done.stdout
    figures = json.loads((tmp_path / "core.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    for key in ("ratio_presidio_ours", "ratio_stream1_oneshot", "ratio_stream16_oneshot"):
        assert figures[key] > 0, figures
    assert figures["stream_mismatches"] == []
