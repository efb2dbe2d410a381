"""Smoke test: `python -m bench tui --quick` runs the console headless under load and saves sane figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tui_bench_quick_measures_ingest_keys_lag_flush_burst_and_startup(tmp_path: Path) -> None:
    env = {**os.environ, "OUTGUARD_BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "tui", "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    for row in (
        "sustained 1,000 ev/s × 3 s: shown / written",
        "caught up after the producer stopped",
        "key → action p50 (ms)",
        "event-loop lag p95, 20 ms heartbeat",
        "flush per 100 ms tick p50",
        "burst 10,000 events: measured ingest rate (ev/s)",
        "start-up to on_ready, empty store",
        "50,000-row ring (MB, tracemalloc)",
        "line-API EventTable / DataTable",
    ):
        assert row in done.stdout, done.stdout
    figures = json.loads((tmp_path / "tui.jsonl").read_text().splitlines()[-1])
    # every written event was shown, the console caught up, nothing dropped
    assert figures["sustained_written"] == figures["sustained_shown"] == 3000
    assert figures["sustained_catchup_s"] is not None and 0 <= figures["sustained_catchup_s"] < 10
    assert figures["dropped"] == 0
    # keys answered under load, through the bound action and a repaint
    assert figures["key_count"] > 0 and figures["key_unanswered"] == 0
    assert 0 < figures["key_p50_ms"] <= figures["key_max_ms"] < 10_000
    assert figures["key_paint_p50_ms"] > 0
    assert figures["lag_p95_ms"] >= 0 and figures["flush_p50_ms"] > 0
    # the burst was taken in whole and keys still answer afterwards
    assert figures["burst_shown"] == figures["burst_events"] == 10_000
    assert figures["burst_ingest_eps"] > 0
    assert figures["after_keys_answered"] == 5 and figures["after_help_opens"] is True
    # the DataTable comparison ran over the same load
    assert figures["dt_shown"] == figures["dt_written"] == 3000
    assert figures["dt_key_p50_ms"] > 0 and figures["lineapi_over_datatable_key_p50"] > 0
    assert 0 < figures["startup_s"] < 30
    assert figures["ring_mb"] > 0
