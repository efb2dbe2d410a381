"""The PII benchmark's data: the labelled answers and Presidio's test strings are well-formed."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench import make_pii_set
from bench.pii_fresh import freshen
from bench.pii_quality import LABELS, PRESIDIO_LABELS, score

BENCH = Path(__file__).resolve().parents[2] / "bench"
PRESIDIO_TYPES = {*PRESIDIO_LABELS, "US_PASSPORT", "US_DRIVER_LICENSE", "US_ITIN", "CRYPTO", "UK_NHS",
                  "MAC_ADDRESS", "DATE_TIME"}


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (BENCH / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", ["pii_labelled.jsonl", "pii_presidio_cases.jsonl"])
def test_every_span_is_inside_its_text_non_empty_and_known(name: str) -> None:
    known = set(LABELS) if name == "pii_labelled.jsonl" else PRESIDIO_TYPES
    bad = [
        (record.get("id", record["text"][:40]), span)
        for record in _jsonl(name)
        for span in record["spans"]
        if not (0 <= span["start"] < span["end"] <= len(record["text"]))
        or not record["text"][span["start"] : span["end"]].strip()
        or span["label"] not in known
    ]

    assert bad == []


def test_labelled_set_is_the_compiled_marked_file_and_follows_the_rules() -> None:
    records, problems = make_pii_set.compile_set()

    assert problems == []
    assert [r.to_json() for r in records] == (BENCH / "pii_labelled.jsonl").read_text(encoding="utf-8").splitlines()


def test_labelled_set_has_what_the_issue_asks_for() -> None:
    records = _jsonl("pii_labelled.jsonl")
    new = [r for r in records if not r["id"].startswith("v1-")]
    sizes = [len(r["text"].encode("utf-8")) for r in new]
    free = sum(not r["spans"] for r in records) / len(records)

    assert len(new) >= 120 and min(sizes) >= 200 and max(sizes) <= 8192
    assert sum(size >= 4096 for size in sizes) >= 4
    assert 0.15 <= free <= 0.3
    assert {"records", "table", "address", "phone", "names", "negative", "mixed", "long"} <= {r["kind"] for r in new}


def test_presidio_cases_name_their_source_file() -> None:
    cases = _jsonl("pii_presidio_cases.jsonl")

    assert all(c["source"].startswith("microsoft/presidio@") and "/tests/test_" in c["source"] for c in cases)
    assert all(c["entity"] in PRESIDIO_TYPES for c in cases)
    wanted = {"PHONE_NUMBER", "EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "PERSON"}
    assert wanted <= {c["entity"] for c in cases}


def test_freshen_replaces_every_span_and_keeps_the_rest() -> None:
    text = "Call Ann Lee (ann.lee@fjordpost.no, +44 20 7946 0958), card 4111 1111 1111 1111, bye."
    values = {"PERSON": "Ann Lee", "EMAIL": "ann.lee@fjordpost.no", "PHONE": "+44 20 7946 0958",
              "CREDIT_CARD": "4111 1111 1111 1111"}
    spans = [{"start": text.index(v), "end": text.index(v) + len(v), "label": k} for k, v in values.items()]
    record = {"text": text, "spans": spans}

    fresh = freshen(record, random.Random(1))

    assert fresh.startswith("Call ") and fresh.endswith(", bye.") and "Ann Lee" not in fresh
    assert "ann.lee@" not in fresh and "7946 0958" not in fresh and "4111 1111 1111 1111" not in fresh
    card = fresh.split("card ")[1].split(",")[0]
    assert make_pii_set._luhn(card), card


def test_score_counts_overlaps_per_label_and_label_agnostic() -> None:
    gold = [[("PERSON", 0, 8), ("LOCATION", 20, 40)]]
    predicted = [[("PERSON", 0, 3), ("PERSON", 20, 30), ("EMAIL", 50, 60)]]

    scores = score(predicted, gold)

    assert (scores["PERSON"]["precision"], scores["PERSON"]["recall"]) == (0.5, 1.0)
    assert scores["LOCATION"]["recall"] == 0.0
    assert scores["any label"]["recall"] == 1.0 and scores["any label"]["precision"] == round(2 / 3, 3)
    assert scores["PERSON"]["coverage"] == round(3 / 8, 3)
