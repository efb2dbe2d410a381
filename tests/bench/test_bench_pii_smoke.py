"""Smoke test: `python -m bench pii --quick` runs offline and prints latency, stall, load and quality figures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"\s+[0-9][0-9.,]*"
LABELS = ("PERSON", "LOCATION", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "IP_ADDRESS", "all", "any label")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    results = tmp_path_factory.mktemp("results")
    env = {**os.environ, "OUTGUARD_BENCH_RESULTS": str(results), "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "pii", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads((results / "pii.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    return done.stdout, figures


@pytest.mark.slow
def test_pii_bench_quick_prints_fresh_latency_per_kb_side_by_side(bench_run: tuple[str, dict]) -> None:
    out, figures = bench_run
    rows = ("(a) ours, cheap detectors", "(b) ours, full pipeline with NER", "(c) presidio default AnalyzerEngine")
    for row in rows:
        assert re.search(rf"^{re.escape(row)}.*?{NUMBER * 4}\s+[0-9.]+x\s*$", out, re.M), (row, out)
    assert re.search(r"^\(c\) / \(b\).*\s[0-9.]+x$", out, re.M), out
    assert figures["quick"] is True and figures["runs"] == 1
    assert figures["timed_calls"] == figures["texts"] > 0
    for method in ("cheap", "ours", "presidio"):
        latency = figures["latency_ms_per_kb"][method]
        assert 0 < latency["p50"] <= latency["p95"] <= latency["max"], (method, latency)
    assert figures["speedup_ours_vs_presidio"] > 0
    assert {b["band"] for b in figures["latency_bands"]} == {"0.2-1 KB", "1-4 KB", "4-8 KB"}
    assert "new scanners before each call" in figures["fresh"] or "cache cleared" in figures["fresh"]


@pytest.mark.slow
def test_pii_bench_quick_reports_stalls_load_and_targets(bench_run: tuple[str, dict]) -> None:
    out, figures = bench_run
    assert re.search(r"^loop stall per call .*ascan max [0-9.]+ ms.*astream .*max [0-9.]+ ms", out, re.M), out
    assert re.search(r"^fresh process .*from_rules [0-9.]+ s.*`outguard scan -` one line [0-9.]+ s wall", out, re.M)
    for face in ("ascan", "astream"):
        assert figures["loop_stall"][face]["calls"] > 0 and figures["loop_stall"][face]["max_ms"] >= 0
    processes = figures["processes"]
    assert processes["load"]["from_rules_s"] > 0 and processes["load"]["peak_rss_mb"] > 0
    assert processes["outguard_scan"]["wall_s"] > 0
    assert len(figures["targets"]) == 7 and all(isinstance(t["met"], bool) for t in figures["targets"].values())
    assert re.search(r"^ours p50 ms/KB\s+[0-9.]+\s+<= 15.0\s+(yes|MISSED)$", out, re.M), out


@pytest.mark.slow
def test_pii_bench_quick_scores_both_sets(bench_run: tuple[str, dict]) -> None:
    out, figures = bench_run
    for label in LABELS:
        assert re.search(rf"^{label}\s+[0-9]+(?:\s+[01]\.[0-9]+){{9}}\s*$", out, re.M), (label, out)
    assert re.search(r"^benign false positives \([0-9]+ answers without PII\)", out, re.M), out
    for method in ("ours", "presidio"):
        overall = figures["quality"][method]["all"]
        assert overall["gold"] > 0 and 0 < overall["f1"] <= 1, (method, overall)
        assert figures["benign"][method]["pii_free"] > 0
    assert figures["ours_statuses"] == ["scanned"]  # no text failed, and so went unscored
    assert figures["presidio_cases"] > 0
    agreement = figures["presidio_agreement"]
    assert set(agreement["ours"]) == set(agreement["presidio"]) and "IBAN_CODE" in agreement["ours"]
    assert re.search(r"^IBAN_CODE\s+[0-9]+", out, re.M), out
