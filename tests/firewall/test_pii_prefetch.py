"""Replay warms the PII detector in batches (spaCy nlp.pipe); the findings are the same."""

from __future__ import annotations

from firewall import Scanner
from firewall.detectors.pii import PiiDetector, PiiSettings
from firewall.policy import Policy
from tests.conftest import KEY

TEXTS = [
    "I spoke with Maria Gonzalez yesterday. She flies to Lisbon on Monday.\nRegards, Tom",
    "Jonas Weber from Berlin confirmed the order. Nothing else changed.",
]


def test_prefetched_units_are_not_analysed_again(monkeypatch) -> None:
    cold = PiiDetector(PiiSettings())
    expected = [cold.find(t) for t in TEXTS]
    warm = PiiDetector(PiiSettings())
    warm.prefetch(TEXTS)
    calls = []
    for model in warm._ner:
        monkeypatch.setattr(model, "entities", lambda texts: calls.append(texts) or [[] for _ in texts])

    found = [warm.find(t) for t in TEXTS]

    assert found == expected and any(expected)
    assert calls == []


def test_scanner_prefetch_reaches_the_pii_detector(policy: Policy) -> None:
    scanner = Scanner(policy, key=KEY)
    pii = next(d for d in scanner.detectors if d.name == "pii")

    scanner.prefetch(["Dana Whitfield lives in Northam. Call her later."])

    calls = []
    for model in pii._ner:
        model.entities = lambda texts: calls.append(texts) or [[] for _ in texts]

    found = scanner.scan("Dana Whitfield lives in Northam. Call her later.").findings

    assert calls == [] and [f.label for f in found] == ["PERSON", "LOCATION"]
