"""Canary benchmark: CanaryDetector scan throughput as the registry grows, vs a naive find loop.

On the same text, in one run: the first 1 MB (200 KB with --quick) of the Python stdlib's
top-level *.py files, sorted by name (English docstrings and comments + code), with 20 disguised
canary leaks inserted at seeded random line starts (plain, upper-case, spaced, base64, hex,
URL-encoded, reversed, rot13, zero-width-separated, fullwidth: two of each). The leaked canaries
are the first 10 minted, which every registry size includes (10, 1,000, 10,000 token canaries;
10 and 1,000 with --quick).

Per size: detector build time, then per run, interleaved, `CanaryDetector.find(text)` and the
naive `for value in values: text.find(value)` loop (every occurrence; it finds plain leaks only).
MB/s is the text's UTF-8 size over the median time of `runs` passes (5; 1 with --quick).
Flatness = MB/s at the largest size / MB/s at 10 canaries (1.0: cost does not grow with the
registry). A leak counts as found when a finding names its canary and overlaps its span.
The figures also go, as one JSON line, to bench/results/canary.jsonl ($OUTGUARD_BENCH_RESULTS).
"""

from __future__ import annotations

import base64
import codecs
import gc
import random
import resource
import statistics
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import Report, save

SEED = 20260101
LEAKED = 10
"""The leaked canaries are the first LEAKED of the registry: the smallest size holds them all."""
LEAKS = 20

_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}
DISGUISES: dict[str, Callable[[str], str]] = {
    "plain": lambda v: v,
    "upper": str.upper,
    "spaced": lambda v: " ".join(v),
    "base64": lambda v: base64.b64encode(v.encode()).decode(),
    "hex": lambda v: v.encode().hex(),
    "url": lambda v: "".join(f"%{b:02X}" for b in v.encode()),
    "reversed": lambda v: v[::-1],
    "rot13": lambda v: codecs.encode(v, "rot13"),
    "zero-width": lambda v: "\u200b".join(v),
    "fullwidth": lambda v: v.translate(_FULLWIDTH),
}


def stdlib_text(size: int) -> str:
    """The first `size` bytes of the stdlib's top-level *.py files, sorted by name, as text."""
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    data, total = [], 0
    for path in files:
        chunk = path.read_bytes()
        data.append(chunk)
        total += len(chunk)
        if total >= size:
            break
    return b"".join(data)[:size].decode("utf-8", "ignore")


Leak = tuple[int, str, int, int]
"""(index of the leaked canary, disguise, start, end in the text)."""


def insert_leaks(text: str, values: list[str], rng: random.Random) -> tuple[str, list[Leak]]:
    """`text` with LEAKS disguised leaks, each on its own line at a random line start."""
    names = list(DISGUISES)
    planned = []
    for i in range(LEAKS):
        index, disguise = i % len(values), names[(i + i // len(names)) % len(names)]
        # the line start after a random offset; 0 (the start) when there is no later newline
        at = text.find("\n", rng.randrange(len(text))) + 1
        planned.append((at, i, index, disguise))
    planned.sort()
    pieces, leaks, previous, shift = [], [], 0, 0
    for at, _, index, disguise in planned:
        pieces.append(text[previous:at])
        leak = DISGUISES[disguise](values[index])
        leaks.append((index, disguise, at + shift, at + shift + len(leak)))
        pieces.append(leak + "\n")
        shift += len(leak) + 1
        previous = at
    pieces.append(text[previous:])
    return "".join(pieces), leaks


def naive(values: list[str], text: str) -> int:
    """Every occurrence of every value, one str.find loop per value."""
    hits = 0
    for value in values:
        at = text.find(value)
        while at != -1:
            hits += 1
            at = text.find(value, at + 1)
    return hits


def _time(fn: Callable[[], object]) -> float:
    gc.disable()
    try:
        began = time.perf_counter()
        fn()
        return time.perf_counter() - began
    finally:
        gc.enable()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in bytes on macOS, KiB elsewhere
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def run(quick: bool = False) -> Report:
    from firewall.canaries import Canary, mint, new_id
    from firewall.detectors.canary import CanaryDetector

    runs = 1 if quick else 5
    sizes = (10, 1_000) if quick else (10, 1_000, 10_000)
    text_bytes = 200_000 if quick else 1_000_000

    canaries = []
    for _ in range(max(sizes)):
        value, bits = mint("token")
        canaries.append(
            Canary(id=new_id(), value=value, placement="training", created="2026-01-01",
                   format="token", bits=bits)
        )
    values = [c.value for c in canaries]
    text, leaks = insert_leaks(stdlib_text(text_bytes), values[:LEAKED], random.Random(SEED))
    mb = len(text.encode("utf-8")) / 1e6
    # Warm-up: first calls fill caches (look-alike tables, compiled run patterns); not timed.
    CanaryDetector(canaries[:1]).find(text[:20_000])
    print(f"canary: {mb:.2f} MB, {LEAKS} leaks, sizes {sizes}, {runs} run(s)",
          file=sys.stderr, flush=True)

    per_size: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    for size in sizes:
        print(f"canary: {size} canaries", file=sys.stderr, flush=True)
        registered = canaries[:size]
        gc.collect()
        began = time.perf_counter()
        detector = CanaryDetector(registered)
        build_s = time.perf_counter() - began
        findings = detector.find(text)  # also a warm-up pass for this detector
        found = [
            any(f.rule == canaries[index].id and f.start < end and f.end > start for f in findings)
            for index, _, start, end in leaks
        ]
        leak_ids = {canaries[index].id for index, _, _, _ in leaks}
        others = sum(
            1
            for f in findings
            if f.rule not in leak_ids
            or not any(f.start < end and f.end > start for _, _, start, end in leaks)
        )
        naive_hits = naive(values[:size], text)
        det_times, naive_times = [], []
        for _ in range(runs):
            det_times.append(_time(lambda: detector.find(text)))
            naive_times.append(_time(lambda: naive(values[:size], text)))
        det_mb_s = mb / statistics.median(det_times)
        naive_mb_s = mb / statistics.median(naive_times)
        per_size[size] = {
            "build_ms": round(build_s * 1000, 1),
            "detector_mb_s": round(det_mb_s, 3),
            "naive_mb_s": round(naive_mb_s, 3),
            "ratio_detector_naive": round(det_mb_s / naive_mb_s, 4),
            "leaks_found": sum(found),
            "missed": [
                f"{canaries[index].id}:{disguise}"
                for (index, disguise, _, _), ok in zip(leaks, found, strict=True)
                if not ok
            ],
            "other_findings": others,
            "naive_hits": naive_hits,
            "peak_rss_mb": round(_peak_rss_mb(), 1),
        }
        del detector, findings
    elapsed = time.perf_counter() - started

    largest = max(sizes)
    flatness = per_size[largest]["detector_mb_s"] / per_size[10]["detector_mb_s"]
    all_found = all(s["leaks_found"] == LEAKS for s in per_size.values())
    figures = {
        "bench": "canary",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "runs": runs,
        "text_mb": round(mb, 3),
        "leaks": LEAKS,
        "disguises": list(DISGUISES),
        "sizes": {str(k): v for k, v in per_size.items()},
        "flatness": round(flatness, 3),
        "flatness_sizes": [largest, 10],
        "all_leaks_found": all_found,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "timed_seconds": round(elapsed, 1),
    }
    results = save("canary", figures)

    rows = [
        [
            f"{size:,} canaries",
            s["build_ms"],
            s["detector_mb_s"],
            s["naive_mb_s"],
            f"{s['ratio_detector_naive']:.3g}",
            f"{s['leaks_found']}/{LEAKS}",
            s["other_findings"],
            s["naive_hits"],
            s["peak_rss_mb"],
        ]
        for size, s in per_size.items()
    ]
    missed = "; ".join(
        f"{size:,}: {', '.join(s['missed'])}" for size, s in per_size.items() if s["missed"]
    )
    notes = [
        "",
        f"flatness ({largest:,} / 10 canaries, detector MB/s)  {flatness:.2f}x",
        f"leaks found: all {LEAKS} at every size" if all_found else f"leaks found: MISSED {missed}",
        f"peak RSS: {figures['peak_rss_mb']:.1f} MB",
        "",
        f"text: first {text_bytes:,} bytes of the stdlib's top-level *.py (sorted) + {LEAKS} leaks "
        f"({', '.join(DISGUISES)}; two each, of the first {LEAKED} canaries, seed {SEED}) "
        f"= {mb:.3f} MB; medians over {runs} run(s). x naive = detector MB/s / naive MB/s; "
        "naive = `text.find` loop over the values, every occurrence (finds plain leaks only). "
        "other = findings that are not an inserted leak. peak RSS is the process peak after "
        "each size (monotonic).",
        f"timed section: {elapsed:.1f} s; figures appended to {results}",
    ]
    return Report(
        title="canary: CanaryDetector scan throughput vs registry size (MB/s)",
        columns=["registry", "build ms", "detector MB/s", "naive MB/s", "x naive", "leaks found",
                 "other", "naive hits", "peak RSS MB"],
        rows=rows,
        notes=notes,
        figures=figures,
    )
