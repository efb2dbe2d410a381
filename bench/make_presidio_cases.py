"""Extract Presidio's own recognizer test strings into bench/pii_presidio_cases.jsonl.

Presidio's unit tests (presidio-analyzer/tests/test_*_recognizer.py) list, per recognizer, texts
with the spans the recognizer must return and texts where it must return nothing. This script
reads those `@pytest.mark.parametrize` tables with `ast` (no Presidio import, nothing executed),
and writes one case per row: text, entity (the Presidio type the test is about), spans
[{start, end, label}] as the test asserts them (empty for a must-not-match row), source
("microsoft/presidio@COMMIT:PATH") and test (the test function).

How a row is read:
  - the text is the `text` (or `iban`) parameter; the spans are `expected_positions` (or
    `expected_res`), labelled with the row's `entities` when the table has them (phone), with
    `entities[entity_num]` of the file's `entities` fixture (spaCy), else with the fixture's one
    entity; a row that asserts `expected_len` 1 without positions gets the whole text;
  - rows of tables that vary a recognizer argument are kept only at the default value (phone
    `leniency` 1); textual-explanation and score checks are ignored, only positions count.
Two notes travel with the data: the first phone table runs a PhoneRecognizer with JP and CN
added to its regions (Presidio's default lacks them), and US_PASSPORT / US_DRIVER_LICENSE rows
assert weak matches (scores 0.01-0.4) that only a zero threshold keeps.

A few PERSON/LOCATION/CREDIT_CARD/PHONE_NUMBER cases come from test_analyzer_engine.py, where the
test asserts only the entity types; their offsets are located here by searching the asserted
value in the text (EXTRA below).

Usage: python -m bench.make_presidio_cases PRESIDIO_CHECKOUT [--commit SHA]
(a checkout of github.com/microsoft/presidio; the file in this repo was built from commit
0aa9f8e44275cb52c00fbbebe19168e934e1f076).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "pii_presidio_cases.jsonl"
FILES = {
    "test_phone_recognizer.py": "PHONE_NUMBER", "test_email_recognizer.py": "EMAIL_ADDRESS",
    "test_credit_card_recognizer.py": "CREDIT_CARD", "test_iban_recognizer.py": "IBAN_CODE",
    "test_us_ssn_recognizer.py": "US_SSN", "test_us_passport_recognizer.py": "US_PASSPORT",
    "test_us_driver_license_recognizer.py": "US_DRIVER_LICENSE", "test_us_itin_recognizer.py": "US_ITIN",
    "test_crypto_recognizer.py": "CRYPTO", "test_ip_recognizer.py": "IP_ADDRESS",
    "test_uk_nhs_recognizer.py": "UK_NHS", "test_mac_recognizer.py": "MAC_ADDRESS",
    "test_spacy_recognizer.py": "PERSON",
}
"""Test file -> the entity its must-not-match rows are about."""
DEFAULTS = {"leniency": 1}
"""Recognizer arguments a table may vary: only rows at Presidio's default are kept."""
NOTES = {
    "test_when_all_phones_then_succeed": "the test's PhoneRecognizer adds regions JP and CN to the default ones",
}
EXTRA = [
    # test_when_entities_is_none_all_recognizers_loaded_then_return_all_fields
    ("My name is Sharon and I live in Seattle.Domain: microsoft.com ",
     [("PERSON", "Sharon"), ("LOCATION", "Seattle")]),
    # test_when_analyze_then_apptracer_has_value
    ("My name is Bart Simpson, and Credit card: 4095-2609-9393-4932,  my phone is 425 8829090",
     [("PERSON", "Bart Simpson"), ("CREDIT_CARD", "4095-2609-9393-4932"), ("PHONE_NUMBER", "425 8829090")]),
]
EXTRA_SOURCE = "presidio-analyzer/tests/test_analyzer_engine.py"


def cases_of(path: Path, source: str, entity: str) -> list[dict[str, Any]]:
    """The parametrized rows of one test file, as cases."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    fixture = _fixture_entities(tree) or [entity]
    out = []
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        for decorator in function.decorator_list:
            if not (isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "pytest.mark.parametrize"):
                continue
            names = [n.strip() for n in _value(decorator.args[0]).split(",")]
            for row in decorator.args[1].elts:
                values = dict(zip(names, (_value(e) for e in row.elts), strict=True))
                if any(values.get(k, v) != v for k, v in DEFAULTS.items()):
                    continue
                out.append(_case(values, fixture, source, function.name))
                if note := NOTES.get(function.name):
                    out[-1]["note"] = note
    return out


def _case(values: dict[str, Any], fixture: list[str], source: str, test: str) -> dict[str, Any]:
    text = values.get("text", values.get("iban"))
    positions = list(values.get("expected_positions", values.get("expected_res", ())))
    count = values["expected_len"]
    if count == 1 and not positions:
        positions = [(0, len(text))]
    if "entities" in values:
        labels = list(values["entities"])
    elif "entity_num" in values:
        labels = [fixture[values["entity_num"]]] * len(positions)
    else:
        labels = fixture[:1] * len(positions)
    entity = labels[0] if labels else fixture[0]
    spans = [{"start": s, "end": e, "label": label} for (s, e), label in zip(positions, labels, strict=False)]
    return {"text": text, "entity": entity, "spans": spans, "source": source, "test": test}


def _fixture_entities(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "entities":
            returned = next(n for n in ast.walk(node) if isinstance(n, ast.Return))
            return list(_value(returned.value))
    return []


def _value(node: ast.AST) -> Any:
    """A literal, including f-strings without placeholders (the IP tests use a few)."""
    if isinstance(node, ast.JoinedStr):
        return "".join(_value(v) for v in node.values)
    return ast.literal_eval(node)


def extra_cases(commit: str) -> list[dict[str, Any]]:
    out = []
    for text, expected in EXTRA:
        spans = []
        for label, value in expected:
            start = text.index(value)
            spans.append({"start": start, "end": start + len(value), "label": label})
        for span in spans:
            same = [s for s in spans if s["label"] == span["label"]]
            source = f"microsoft/presidio@{commit}:{EXTRA_SOURCE}"
            out.append({"text": text, "entity": span["label"], "spans": same, "source": source,
                        "test": "analyzer_engine"})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.make_presidio_cases", description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a checkout of github.com/microsoft/presidio")
    parser.add_argument("--commit", default="0aa9f8e44275cb52c00fbbebe19168e934e1f076")
    args = parser.parse_args(argv)
    cases = []
    for name, entity in FILES.items():
        relative = f"presidio-analyzer/tests/{name}"
        cases += cases_of(args.checkout / relative, f"microsoft/presidio@{args.commit}:{relative}", entity)
    cases += extra_cases(args.commit)
    with OUT.open("w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps(case, ensure_ascii=False) + "\n")
    by_entity: dict[str, list[int]] = {}
    for case in cases:
        counts = by_entity.setdefault(case["entity"], [0, 0])
        counts[0 if case["spans"] else 1] += 1
    print(f"{len(cases)} cases: " + ", ".join(f"{e} {p}+{n}" for e, (p, n) in sorted(by_entity.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
