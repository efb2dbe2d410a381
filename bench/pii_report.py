"""The printed report of bench/pii.py: the latency table, then stalls, load, targets and quality."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.pii_quality import LABELS
from bench.report import Report, shown, table

METHODS = {
    "cheap": "(a) ours, cheap detectors (canary+patterns+corpus)",
    "ours": "(b) ours, full pipeline with NER",
    "presidio": "(c) presidio default AnalyzerEngine",
}


def render(figures: dict[str, Any], results: Path, errors: Path) -> Report:
    """The report of one run: `figures` as saved, where they were saved, where the errors went."""
    latency = figures["latency_ms_per_kb"]
    rows = [[name, latency[m]["p50"], latency[m]["p95"], latency[m]["max"], latency[m]["whole_set"],
             f"{latency['presidio']['p50'] / latency[m]['p50']:.2f}x"] for m, name in METHODS.items()]
    bands = table(["size band", "calls", "(b) p50 ms/KB", "(c) p50 ms/KB", "(c)/(b)"],
                  [[b["band"], b["calls"], b["ours_p50"], b["presidio_p50"], f"{b['speedup']:.2f}x"]
                   for b in figures["latency_bands"]])
    stall, proc = figures["loop_stall"], figures["processes"]
    targets = figures["targets"].items()
    runtime = table(["figure", "value", "target", "met"],
                    [[k, v["value"], v["target"], "yes" if v["met"] else "MISSED"] for k, v in targets])
    scores = figures["quality"]
    quality_rows = []
    for label in (*LABELS, "all", "any label"):
        o, p, c = scores["ours"][label], scores["presidio"][label], scores["cheap"][label]
        quality_rows.append([label, o["gold"], o["precision"], o["recall"], o["f1"], o["coverage"],
                             p["precision"], p["recall"], p["f1"], p["coverage"], c["f1"]])
    benign = figures["benign"]
    kinds = figures["quality_by_kind"]
    kind_rows = [[k, v["answers"], v["gold"], v["precision"], v["recall"], kinds["presidio"][k]["precision"],
                  kinds["presidio"][k]["recall"]] for k, v in kinds["ours"].items()]
    agree = figures["presidio_agreement"]
    agree_rows = [[e, a["expected"], a["found_share"], a["exact_share"], agree["presidio"][e]["found_share"],
                   agree["presidio"][e]["exact_share"], a["negatives"], a["clean_share"],
                   agree["presidio"][e]["clean_share"]] for e, a in agree["ours"].items()]
    rss = figures["peak_rss_mb"]
    notes = [
        "",
        f"(c) / (b)  presidio p50 / full pipeline p50   {figures['speedup_ours_vs_presidio']:>8.2f}x",
        bands,
        "",
        f"loop stall per call (heartbeat 1 ms): ascan max {stall['ascan']['max_ms']:.1f} ms, "
        f"p95 {stall['ascan']['p95_ms']:.1f} ms; astream (20-char chunks) max {stall['astream']['max_ms']:.1f} ms, "
        f"p95 {stall['astream']['p95_ms']:.1f} ms ({stall['ascan']['calls']} texts each; longest: ascan on "
        f"{stall['ascan']['worst']}, astream on {stall['astream']['worst']})",
        f"fresh process (median of {proc['processes']}): import {proc['load']['import_s']:.2f} s + from_rules "
        f"{proc['load']['from_rules_s']:.2f} s, first scan {proc['load']['first_scan_s']:.3f} s, peak RSS "
        f"{proc['load']['peak_rss_mb']:.0f} MB; `outguard scan -` one line "
        f"{proc['outguard_scan']['wall_s']:.2f} s wall, peak RSS {proc['outguard_scan']['peak_rss_mb']:.0f} MB",
        f"this process: peak RSS {rss['end']:.0f} MB (after our scanner {rss['ours']:.0f} MB, + presidio "
        f"{rss['presidio']:.0f} MB); in-process load until the first scan: ours "
        f"{figures['load_s_ours_in_process']:.1f} s, "
        f"presidio {figures['load_s_presidio_in_process']:.1f} s",
        "",
        "targets from the PII issue (reported, not enforced):",
        runtime,
        "",
        f"quality on the labelled set ({figures['labelled_answers']} answers, {figures['gold_spans']} gold spans): "
        "a prediction is right if it overlaps a gold span of its label (\"any label\": of any label); "
        "cov = share of gold characters covered; labels outside the eight are ignored",
        table(["label", "gold", "ours P", "ours R", "ours F1", "ours cov",
               "presidio P", "presidio R", "presidio F1", "presidio cov", "(a) F1"], quality_rows),
        f"benign false positives ({benign['ours']['pii_free']} answers without PII): a finding in the eight labels "
        f"ours {benign['ours']['flagged']} ({benign['ours']['rate']:.0%}), presidio {benign['presidio']['flagged']} "
        f"({benign['presidio']['rate']:.0%}), (a) {benign['cheap']['flagged']}; any finding at all: ours "
        f"{benign['ours']['flagged_any_label']}, presidio {benign['presidio']['flagged_any_label']}",
        "",
        "by kind of answer (all labels):",
        table(["kind", "answers", "gold", "ours P", "ours R", "presidio P", "presidio R"], kind_rows),
        "",
        f"agreement on Presidio's own recognizer test strings ({figures['presidio_cases']} cases from "
        "presidio-analyzer/tests/test_*_recognizer.py; found = an expected span overlapped by a prediction of the "
        "mapped label, exact = same offsets, clean = must-not-match rows with no prediction of that type)",
        table(["entity", "spans", "ours found", "ours exact", "presidio found", "presidio exact",
               "negatives", "ours clean", "presidio clean"], agree_rows),
        "",
        "labelled set: hand-written assistant answers (support, e-mail, code, logs, travel, HR, records, tables, "
        "addresses, international phones, names with initials, hard negatives, long answers), marked inline and "
        "compiled by bench/make_pii_set.py; every value fictional; one annotator, not adjudicated.",
        f"latency: {figures['timed_calls']} timed calls on {figures['texts']} answers of 0.2-8 KB x {figures['runs']} "
        f"run(s), each on a fresh variant (new values in every gold span); {figures['fresh']}; "
        "detector budget raised to 60 s so nothing fails on time.",
        f"(c) runs every predefined recognizer and entity, threshold 0, spaCy pipes "
        f"{figures['spacy_pipes_presidio']}; model {figures['model']}. "
        f"ours: verdict statuses {', '.join(figures['ours_statuses'])}.",
        f"timed section: {figures['timed_seconds']:.1f} s; figures appended to {shown(results)}; "
        f"missed and spurious spans per method in {shown(errors)}",
    ]
    return Report(
        title="pii: fresh-text latency per KB (ms/KB), loop stalls, load, and quality vs presidio default",
        columns=["method", "p50 ms/KB", "p95 ms/KB", "max ms/KB", "whole-set ms/KB", "(c) p50 / p50"],
        rows=rows,
        notes=notes,
        figures=figures,
    )


