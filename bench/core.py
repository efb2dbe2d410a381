"""Core benchmark: the patterns detector vs Presidio's pattern recognizers, and streaming overhead.

On the same texts (bench/texts.py: ~50 generated texts of 1-8 KB, plus every transcript in
samples/transcripts/), in one run:

1. `Scanner.scan(text)`: the default rules (`rules/`), one-shot.
2. Presidio `AnalyzerEngine.analyze(text, "en")` with only its predefined non-NER recognizers,
   on a blank spaCy pipeline (tokenizer only: nothing is downloaded).
3. `Scanner.incremental()` fed 1-character and 16-character chunks, then `finish()`.

Every figure is a median: per text, the median over `runs` passes of the whole set (each pass
times the texts in turn, the four methods interleaved); then the median over texts. Ratios are
medians of per-text ratios. Per-chunk overhead is (stream time - one-shot time) / chunks.
The figures also go, as one JSON line, to bench/results/core.jsonl ($OUTGUARD_BENCH_RESULTS).
"""

from __future__ import annotations

import dataclasses

import gc
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable

from bench.report import Report, save, seconds_per_call, shown
from bench.texts import ROOT, generated_texts, transcript_texts

KEY = b"k" * 32
ONE_SHOT_TARGET_S = 0.002
"""A one-shot scan is timed in a loop at least this long (it takes tens of microseconds)."""


def build_presidio() -> tuple[object, list[str]]:
    """An AnalyzerEngine with Presidio's predefined recognizers minus NER; offline, no model."""
    # tldextract (Presidio's email/URL validation) fetches the public suffix list unless told not
    # to; with no URLs it uses the snapshot bundled with it.
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    # SpacyNlpEngine.load() would spacy.load() (and download) a model by name; setting `nlp`
    # directly makes is_loaded() true, so AnalyzerEngine never calls load().
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    engine.nlp = {"en": spacy.blank("en")}
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(nlp_engine=engine, languages=["en"])
    registry.recognizers = [r for r in registry.recognizers if not isinstance(r, SpacyRecognizer)]
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    names = sorted(type(r).__name__ for r in analyzer.registry.recognizers)
    return analyzer, names


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def run(quick: bool = False) -> Report:
    from firewall import Scanner, load_policy

    runs = 1 if quick else 5
    generated = generated_texts(12 if quick else 50)
    texts = generated + transcript_texts()
    # The patterns detector alone: the comparison is with Presidio's pattern recognizers (bench pii
    # measures the whole pipeline, NER included).
    policy = load_policy(ROOT / "rules")
    scanner = Scanner(dataclasses.replace(policy, detectors=("patterns",)), key=KEY)
    analyzer, recognizers = build_presidio()

    def one_shot(text: str) -> Callable[[], object]:
        return lambda: scanner.scan(text)

    def presidio(text: str) -> Callable[[], object]:
        return lambda: analyzer.analyze(text=text, language="en")

    def streamed(chunks: list[str]) -> Callable[[], str]:
        def go() -> str:
            stream = scanner.incremental()
            out = [stream.feed(chunk) for chunk in chunks]
            out.append(stream.finish())
            return "".join(out)

        return go

    kbs = [len(text.encode("utf-8")) / 1024 for _, text in texts]
    chunks1 = [_chunks(text, 1) for _, text in texts]
    chunks16 = [_chunks(text, 16) for _, text in texts]

    # Warm-up pass: first calls compile regexes and fill caches; it also calibrates the one-shot
    # loop count and checks that each stream's output equals the one-shot output.
    print(f"core: {len(texts)} texts, {sum(kbs):.0f} KB, {runs} run(s); warming up", file=sys.stderr, flush=True)
    loops, mismatches, blocked, ours_hits, presidio_hits = [], [], 0, 0, 0
    for (name, text), c1, c16 in zip(texts, chunks1, chunks16, strict=True):
        verdict = scanner.scan(text)
        ours_hits += bool(verdict.findings)
        presidio_hits += bool(analyzer.analyze(text=text, language="en"))
        if verdict.action == "block":
            blocked += 1  # a blocked stream keeps what it released before the block
        elif streamed(c1)() != verdict.text or streamed(c16)() != verdict.text:
            mismatches.append(name)
        loops.append(max(1, min(1000, round(ONE_SHOT_TARGET_S / max(seconds_per_call(one_shot(text)), 1e-7)))))

    # samples[method][text] = seconds per call, one per run
    methods = ("ours", "presidio", "stream1", "stream16")
    samples: dict[str, list[list[float]]] = {m: [[] for _ in texts] for m in methods}
    started = time.perf_counter()
    for number in range(runs):
        print(f"core: run {number + 1}/{runs}", file=sys.stderr, flush=True)
        gc.collect()
        for i, (_, text) in enumerate(texts):
            samples["ours"][i].append(seconds_per_call(one_shot(text), loops[i]))
            samples["presidio"][i].append(seconds_per_call(presidio(text)))
            samples["stream1"][i].append(seconds_per_call(streamed(chunks1[i])))
            samples["stream16"][i].append(seconds_per_call(streamed(chunks16[i])))
    elapsed = time.perf_counter() - started

    per_text = {m: [statistics.median(s) for s in samples[m]] for m in methods}  # seconds
    per_kb_us = {m: statistics.median(t * 1e6 / kb for t, kb in zip(per_text[m], kbs, strict=True)) for m in methods}
    # Whole-set throughput: small texts weigh less here than in the per-text median.
    total_us_per_kb = {m: sum(per_text[m]) * 1e6 / sum(kbs) for m in methods}

    def ratio(method: str) -> float:
        return statistics.median(a / b for a, b in zip(per_text[method], per_text["ours"], strict=True))

    def chunk_overhead_us(method: str, chunks: list[list[str]]) -> float:
        return statistics.median(
            (s - o) * 1e6 / len(c) for s, o, c in zip(per_text[method], per_text["ours"], chunks, strict=True)
        )

    figures = {
        "bench": "core",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "runs": runs,
        "texts": len(texts),
        "generated_texts": len(generated),
        "transcript_texts": len(texts) - len(generated),
        "total_kb": round(sum(kbs), 1),
        "ours_us_per_kb": round(per_kb_us["ours"], 2),
        "presidio_us_per_kb": round(per_kb_us["presidio"], 2),
        "stream1_us_per_kb": round(per_kb_us["stream1"], 2),
        "stream16_us_per_kb": round(per_kb_us["stream16"], 2),
        "ours_us_per_kb_total": round(total_us_per_kb["ours"], 2),
        "presidio_us_per_kb_total": round(total_us_per_kb["presidio"], 2),
        "stream1_us_per_kb_total": round(total_us_per_kb["stream1"], 2),
        "stream16_us_per_kb_total": round(total_us_per_kb["stream16"], 2),
        "ratio_presidio_ours": round(ratio("presidio"), 2),
        "ratio_stream1_oneshot": round(ratio("stream1"), 2),
        "ratio_stream16_oneshot": round(ratio("stream16"), 2),
        "chunk_overhead_us_stream1": round(chunk_overhead_us("stream1", chunks1), 3),
        "chunk_overhead_us_stream16": round(chunk_overhead_us("stream16", chunks16), 3),
        "stream_mismatches": mismatches,
        "texts_with_findings_ours": ours_hits,
        "texts_with_findings_presidio": presidio_hits,
        "presidio_recognizers": recognizers,
        "timed_seconds": round(elapsed, 1),
    }
    results = save("core", figures)

    labels = {
        "ours": "patterns, one-shot (ours)",
        "presidio": "presidio, pattern recognizers",
        "stream1": "patterns, stream-1 (1-char chunks)",
        "stream16": "patterns, stream-16 (16-char chunks)",
    }
    ratios = {"ours": 1.0, "presidio": figures["ratio_presidio_ours"],
              "stream1": figures["ratio_stream1_oneshot"], "stream16": figures["ratio_stream16_oneshot"]}
    overheads = {"stream1": figures["chunk_overhead_us_stream1"], "stream16": figures["chunk_overhead_us_stream16"]}
    rows = [
        [labels[m], per_kb_us[m], per_kb_us[m] / 1000, total_us_per_kb[m], ratios[m], overheads.get(m)]
        for m in methods
    ]
    notes = [
        "",
        f"presidio / ours       {figures['ratio_presidio_ours']:>9.2f}x",
        f"stream-1 / one-shot   {figures['ratio_stream1_oneshot']:>9.2f}x"
        f"   (+{figures['chunk_overhead_us_stream1']:.2f} us per chunk)",
        f"stream-16 / one-shot  {figures['ratio_stream16_oneshot']:>9.2f}x"
        f"   (+{figures['chunk_overhead_us_stream16']:.2f} us per chunk)",
        "",
        f"texts: {len(generated)} generated (prose, code, logs, config; 1-8 KB, seeded) + "
        f"{len(texts) - len(generated)} transcripts = {len(texts)}, {sum(kbs):.1f} KB; "
        f"medians over {runs} run(s), then over texts; ratios are medians of per-text ratios; "
        "whole-set = sum of per-text medians / total KB (weighs small texts less).",
        "+us per chunk = (stream time - one-shot time) / chunks: each feed past the hold-back "
        f"({scanner.max_span - 1} chars) re-runs the detectors on a window of about that size.",
        f"texts with findings: ours {ours_hits}, presidio {presidio_hits}.",
        f"presidio: AnalyzerEngine on a blank spaCy 'en' pipeline (tokenizer only, included in its time), "
        f"NER removed; {len(recognizers)} recognizers: {', '.join(recognizers)} "
        f"(PhoneRecognizer matches with the phonenumbers library; the others are regex PatternRecognizers).",
        "stream == one-shot output: "
        + (f"MISMATCH for {', '.join(mismatches)}" if mismatches else "yes for every text")
        + f" ({blocked} blocked text(s) not compared: a blocked stream keeps what it had released).",
        f"timed section: {elapsed:.1f} s; figures appended to {shown(results)}",
    ]
    return Report(
        title="core: median scan time per KB (us/KB)",
        columns=["method", "median us/KB", "median ms/KB", "whole-set us/KB", "x ours one-shot", "+us per chunk"],
        rows=rows,
        notes=notes,
        figures=figures,
    )
