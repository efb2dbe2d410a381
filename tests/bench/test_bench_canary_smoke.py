"""Smoke test: `python -m bench canary --quick` finds every leak and prints the MB/s figures."""

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
def test_canary_bench_quick_finds_every_leak_and_prints_mb_s(tmp_path: Path) -> None:
    env = {**os.environ, "OUTGUARD_BENCH_RESULTS": str(tmp_path), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "canary", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "detector MB/s" in done.stdout and "naive MB/s" in done.stdout, done.stdout
    for size in ("10", "1,000"):
        # registry, build ms, detector MB/s, naive MB/s, x naive, leaks found
        number = r"\s+[0-9.,e+-]+"
        row = rf"^{re.escape(size)} canaries{number * 4}\s+20/20\s"
        assert re.search(row, done.stdout, re.M), (size, done.stdout)
    flatness = r"^flatness \(1,000 / 10 canaries, detector MB/s\)\s+[0-9.]+x"
    assert re.search(flatness, done.stdout, re.M), done.stdout
    assert "leaks found: all 20 at every size" in done.stdout, done.stdout
    figures = json.loads((tmp_path / "canary.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert figures["all_leaks_found"] is True, figures
    for size in ("10", "1000"):
        assert figures["sizes"][size]["leaks_found"] == 20, figures
        assert figures["sizes"][size]["detector_mb_s"] > 0, figures
        assert figures["sizes"][size]["naive_mb_s"] > 0, figures
