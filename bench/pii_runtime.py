"""Runtime figures of bench/pii.py: event-loop stalls, and load time, first scan and RSS in fresh processes."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BEAT_S = 0.001
"""The heartbeat's sleep; a stall is how much later than this it wakes."""
ONE_LINE = "Hi Jane Roe, please call me back on +44 20 7946 0958 about the parcel to 22 Grosvenor Street, London.\n"

_LOAD = """
import json, resource, sys, time
began = time.perf_counter()
from firewall import Firewall
imported = time.perf_counter()
fw = Firewall.from_rules(sys.argv[1], events=False)
loaded = time.perf_counter()
fw.scan(sys.argv[2])
scanned = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
print(json.dumps({"import_s": imported - began, "from_rules_s": loaded - imported,
                  "first_scan_s": scanned - loaded, "peak_rss_mb": peak}))
"""
"""Run in a fresh interpreter: import, load the default rules, scan one line."""

_CHILD = """
import json, resource, subprocess, sys, time
began = time.perf_counter()
done = subprocess.run(sys.argv[1:], input=sys.stdin.read(), capture_output=True, text=True)
wall = time.perf_counter() - began
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall_s": wall, "rc": done.returncode, "stderr": done.stderr[-500:],
                  "peak_rss_mb": peak / (2**20 if sys.platform == "darwin" else 2**10)}))
"""
"""Times one command and reads its peak RSS (this wrapper has only that child)."""


async def stall_of(work: Callable[[], Awaitable[object]]) -> float:
    """Longest time (s) the event loop was blocked while `work()` ran, seen by a 1 ms heartbeat."""
    gaps: list[float] = []
    running = True

    async def heartbeat() -> None:
        while running:
            began = time.perf_counter()
            await asyncio.sleep(BEAT_S)
            gaps.append(time.perf_counter() - began - BEAT_S)

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)  # let the heartbeat start before the work does
    try:
        await work()
    finally:
        running = False
        await beat
    return max(gaps, default=0.0)


def loop_stalls(firewall: Any, texts: list[str], chunk: int = 20) -> dict[str, list[float]]:
    """Per text, the longest stall (s) of `ascan(text)` and of `astream` over `chunk`-character pieces."""

    async def pieces(text: str) -> AsyncIterator[str]:
        for at in range(0, len(text), chunk):
            yield text[at : at + chunk]
            await asyncio.sleep(0)  # the model's next token arrives later

    async def stream(text: str) -> None:
        async for _ in firewall.astream(pieces(text)):
            pass

    async def measure() -> dict[str, list[float]]:
        out: dict[str, list[float]] = {"ascan": [], "astream": []}
        for text in texts:
            out["ascan"].append(await stall_of(lambda t=text: firewall.ascan(t)))
            out["astream"].append(await stall_of(lambda t=text: stream(t)))
        return out

    return asyncio.run(measure())


def fresh_processes(times: int) -> dict[str, Any]:
    """Medians over `times` fresh processes: import + `Firewall.from_rules` + first scan, and
    `outguard scan -` of one line (wall time, peak RSS)."""
    env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "", "PYTHONPATH": str(ROOT)}
    loads, scans = [], []
    for _ in range(times):
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _LOAD, str(ROOT / "rules"), ONE_LINE.strip()],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        loads.append({**json.loads(done.stdout.splitlines()[-1]), "process_wall_s": time.perf_counter() - began})
        done = subprocess.run([sys.executable, "-c", _CHILD, *_outguard(), "scan", "--rules", str(ROOT / "rules"),
                               "--events", "none", "-"],
                              cwd=ROOT, env=env, input=ONE_LINE, capture_output=True, text=True, check=True)
        scans.append(json.loads(done.stdout.splitlines()[-1]))
        if scans[-1]["rc"] not in (0, 1):  # 1: the line has findings (redacted output)
            raise RuntimeError(f"outguard scan failed: {scans[-1]['stderr']}")
    load = {k: statistics.median(run[k] for run in loads) for k in loads[0]}
    scan = {k: statistics.median(run[k] for run in scans) for k in ("wall_s", "peak_rss_mb")}
    return {"load": load, "outguard_scan": scan, "processes": times}


def _outguard() -> list[str]:
    script = Path(sys.executable).parent / "outguard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "firewall"]
