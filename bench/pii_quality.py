"""Quality figures of bench/pii.py: the two labelled sets, and how predictions are scored.

Labelled set (bench/pii_labelled.jsonl, compiled from pii_labelled_marked.txt by make_pii_set):
precision, recall and F1 per label, over all labels, and label-agnostic. A predicted span is
correct if it overlaps a gold span of the same label (label-agnostic: of any label); a gold span is
found if a prediction of its label overlaps it. Coverage is the share of gold characters that
predictions of the same label cover (a street address found only in part scores low there).
Predictions outside LABELS are ignored, neither right nor wrong. Benign false positives: the
share of answers without gold spans where a method reports anything in LABELS.

Presidio's test strings (bench/pii_presidio_cases.jsonl, from make_presidio_cases): per entity
type, the share of expected spans a method finds (a prediction of the mapped label overlaps it;
"exact": same start and end), and for the must-not-match rows, the share where the method reports
no span of that type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LABELLED = HERE / "pii_labelled.jsonl"
PRESIDIO_CASES = HERE / "pii_presidio_cases.jsonl"
LABELS = ("PERSON", "LOCATION", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "IP_ADDRESS")
PRESIDIO_LABELS = {
    "PERSON": "PERSON", "LOCATION": "LOCATION", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN", "US_SSN": "SSN", "IP_ADDRESS": "IP_ADDRESS",
}
"""Presidio entity type -> our label; other types keep their Presidio name."""

Span = tuple[str, int, int]


def load_labelled(quick: bool) -> list[dict[str, Any]]:
    records = _jsonl(LABELLED)
    return records[::10] if quick else records  # quick: every 10th, so every kind appears


def load_presidio_cases(quick: bool) -> list[dict[str, Any]]:
    cases = _jsonl(PRESIDIO_CASES)
    return cases[::10] if quick else cases


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ours_label(presidio_type: str) -> str:
    return PRESIDIO_LABELS.get(presidio_type, presidio_type)


def score(predicted: list[list[Span]], gold: list[list[Span]]) -> dict[str, dict[str, float]]:
    """Per label, "all" (labels must agree) and "any label" (they need not): predicted, correct,
    gold, found, precision, recall, F1, coverage."""
    out = {}
    for label in (*LABELS, "all", "any label"):
        agnostic = label == "any label"
        n_pred = n_correct = n_gold = n_found = covered = gold_chars = 0
        for preds, golds in zip(predicted, gold, strict=True):
            preds = [p for p in preds if label in ("all", "any label", p[0])]
            golds = [g for g in golds if label in ("all", "any label", g[0])]
            n_pred += len(preds)
            n_gold += len(golds)
            n_correct += sum(any(overlaps(p, g, agnostic) for g in golds) for p in preds)
            n_found += sum(any(overlaps(p, g, agnostic) for p in preds) for g in golds)
            for g in golds:
                gold_chars += g[2] - g[1]
                covered += _covered(g, [p for p in preds if agnostic or p[0] == g[0]])
        precision = n_correct / n_pred if n_pred else 0.0
        recall = n_found / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {
            "predicted": n_pred, "correct": n_correct, "gold": n_gold, "found": n_found,
            "precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "coverage": round(covered / gold_chars, 3) if gold_chars else 0.0,
        }
    return out


def overlaps(a: Span, b: Span, agnostic: bool = False) -> bool:
    """Spans `a` and `b` share a character (and a label, unless `agnostic`)."""
    return (agnostic or a[0] == b[0]) and a[1] < b[2] and b[1] < a[2]


def _covered(gold: Span, preds: Iterable[Span]) -> int:
    marks = set()
    for _, start, end in preds:
        marks.update(range(max(start, gold[1]), min(end, gold[2])))
    return len(marks)


def benign(predicted: list[list[Span]], gold: list[list[Span]], anything: list[bool]) -> dict[str, Any]:
    """Among answers without gold spans: how many got a prediction in LABELS, and how many got any
    finding at all (`anything[i]`: the method reported something, whatever its label)."""
    free = [i for i, g in enumerate(gold) if not g]
    flagged = sum(bool(predicted[i]) for i in free)
    flagged_any = sum(anything[i] for i in free)
    return {
        "pii_free": len(free), "flagged": flagged, "flagged_any_label": flagged_any,
        "rate": round(flagged / len(free), 3) if free else 0.0,
        "rate_any_label": round(flagged_any / len(free), 3) if free else 0.0,
    }


def by_kind(records: list[dict[str, Any]], predicted: list[list[Span]], gold: list[list[Span]]) -> dict[str, Any]:
    """P/R/F1 over all labels, per kind of answer."""
    kinds: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        kinds.setdefault(record.get("kind", "?"), []).append(i)
    return {kind: score([predicted[i] for i in idx], [gold[i] for i in idx])["all"] | {"answers": len(idx)}
            for kind, idx in kinds.items()}


def agreement(cases: list[dict[str, Any]], predicted: list[list[Span]], presidio_names: bool) -> dict[str, Any]:
    """Per entity type of Presidio's test strings: spans expected / found / found exactly, and
    must-not-match rows / clean. `presidio_names`: predictions use Presidio's types (else ours)."""
    out: dict[str, dict[str, Any]] = {}
    for case, preds in zip(cases, predicted, strict=True):
        entity = case["entity"]
        label = entity if presidio_names else ours_label(entity)
        row = out.setdefault(entity, {"expected": 0, "found": 0, "exact": 0, "negatives": 0, "clean": 0})
        if not case["spans"]:
            row["negatives"] += 1
            row["clean"] += not any(p[0] == label for p in preds)
        for span in case["spans"]:
            want = span["label"] if presidio_names else ours_label(span["label"])
            row["expected"] += 1
            row["found"] += any(p[0] == want and p[1] < span["end"] and span["start"] < p[2] for p in preds)
            row["exact"] += any(p == (want, span["start"], span["end"]) for p in preds)
    for row in out.values():
        row["found_share"] = round(row["found"] / row["expected"], 3) if row["expected"] else None
        row["exact_share"] = round(row["exact"] / row["expected"], 3) if row["expected"] else None
        row["clean_share"] = round(row["clean"] / row["negatives"], 3) if row["negatives"] else None
    return dict(sorted(out.items()))


def errors(records: list[dict[str, Any]], preds: dict[str, list[list[Span]]], gold: list[list[Span]]) -> dict:
    """Per method, the gold spans it missed and the predictions that match no gold span of their label."""
    out: dict[str, dict[str, list[list[str]]]] = {}
    for method in ("ours", "presidio"):
        missed, spurious = [], []
        for record, predicted, golds in zip(records, preds[method], gold, strict=True):
            text = record["text"]
            missed += [[record["id"], g[0], text[g[1] : g[2]]] for g in golds
                       if not any(overlaps(p, g) for p in predicted)]
            spurious += [[record["id"], p[0], text[p[1] : p[2]]] for p in predicted
                         if not any(overlaps(p, g) for g in golds)]
        out[method] = {"missed": missed, "spurious": spurious}
    return out
