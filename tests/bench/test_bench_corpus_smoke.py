"""Smoke test: `python -m bench corpus --quick` builds the indexes and prints every figure."""

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
def test_corpus_bench_quick_prints_build_lookup_and_fp_figures(tmp_path: Path) -> None:
    env = {**os.environ, "OUTGUARD_BENCH_RESULTS": str(tmp_path), "PYTHONIOENCODING": "utf-8"}
    env.pop("OUTGUARD_BENCH_CORPUS_MB", None)
    done = subprocess.run(
        [sys.executable, "-m", "bench", "corpus", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    number = r"\s+[0-9][0-9.,]*"
    for corpus in ("1 MB corpus", "5 MB corpus"):
        # corpus, docs, n-grams, build s, build MB/s, file MB, disk and Bloom B/n-gram, ms/KB
        assert re.search(rf"^{re.escape(corpus)}{number * 8}\s*$", out, re.M), (corpus, out)
    for figure in (
        r"lookup ms/KB, 5 MB index",
        r"lookup flatness 5 MB / 1 MB",
        r"build 5 MB",
        r"build 1 GB \(linear extrapolation\)",
        r"resident bytes/n-gram \(Bloom\)",
        r"disk bytes/n-gram",
        r"FP rate, outputs \(all benign\)",
        r"FP rate, characters",
        r"peak RSS",
    ):
        assert re.search(rf"^{figure}\s+[0-9][0-9.,]*", out, re.M), (figure, out)
    for target in ("<= 0.3 ms/KB", "<= 300 s", "<= 2", "<= 0.1%"):
        assert target in out, (target, out)
    assert re.search(r"^all\s+[0-9.]+\s+\d+\s+\d+\s+[0-9.]+%", out, re.M), out
    assert "python -m bench.corpus --size-mb 1000" in out, out
    figures = json.loads((tmp_path / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert figures["size_mb"] == 5 and figures["quick"] is True, figures
    assert figures["big"]["ngrams"] > figures["small"]["ngrams"] > 0, figures
    assert figures["big"]["build_s"] > 0 and figures["lookup_ms_per_kb_big"] > 0, figures
    assert figures["big"]["bloom_bytes_per_ngram"] == pytest.approx(2.0, abs=0.01), figures
    # every output with a span copied from the corpus is caught, by both indexes
    assert figures["copied_outputs_detected"] == {"small": 50, "big": 50}, figures
    assert 0 <= figures["fp"]["all"]["output_rate"] <= 1, figures
    assert figures["peak_rss_mb"] > 0, figures
