"""Smoke test: `python -m bench pii --quick` runs offline and prints latency and quality figures."""

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
def test_pii_bench_quick_prints_latency_ratios_and_quality(tmp_path: Path) -> None:
    env = {**os.environ, "OUTGUARD_BENCH_RESULTS": str(tmp_path), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "pii", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    number = r"\s+[0-9][0-9.,]*"
    rows = ("(a) ours, cheap detectors", "(b) ours, full pipeline with NER",
            "(c) presidio default AnalyzerEngine")
    for row in rows:
        assert re.search(rf"^{re.escape(row)}.*?{number * 3}\s*$", out, re.M), (row, out)
    assert re.search(r"^\(b\) / \(c\).*\s[0-9.]+x$", out, re.M), out
    assert re.search(r"^\(a\) / \(c\).*\s[0-9.]+x$", out, re.M), out
    assert re.search(r"^peak RSS: [0-9]+ MB", out, re.M), out
    for label in ("PERSON", "LOCATION", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "all"):
        assert re.search(rf"^{label}\s+[0-9]+(?:\s+[01]\.[0-9]+){{7}}\s*$", out, re.M), (label, out)
    assert "labelled set: 10 assistant answers hand-written" in out, out
    assert "labels outside the seven are ignored" in out, out

    figures = json.loads((tmp_path / "pii.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert figures["quick"] is True and figures["texts"] == 10 and figures["runs"] == 1
    keys = ("cheap_ms_per_kb", "ours_ms_per_kb", "presidio_ms_per_kb",
            "ratio_ours_presidio", "ratio_cheap_presidio")
    for key in keys:
        assert figures[key] > 0, (key, figures)
    assert figures["peak_rss_mb"]["end"] > 0
    for method in ("ours", "presidio"):
        overall = figures["quality"][method]["all"]
        assert overall["gold"] > 0 and 0 < overall["f1"] <= 1, (method, overall)
    assert figures["ours_statuses"] == ["scanned"]  # no text failed, and so went unscored
