"""Each class of PII error the detector had, both ways: found whole, and not over-flagged.

Names with initials, titles and suffixes; records and tables read with their field names; lone
places in prose; common nouns in other languages; Presidio entities by name; context words; units.
"""

from __future__ import annotations

import pytest

from firewall.detectors.pii import PiiDetector, PiiSettings, settled, units
from firewall.detectors.pii.catalog import KNOWN, PRESIDIO_RECOGNIZERS

ENTITIES = ["PERSON", "LOCATION", "US_SSN", "US_ITIN", "CRYPTO", "UK_NHS", "MAC_ADDRESS", "US_DRIVER_LICENSE"]


@pytest.fixture(scope="module")
def detector() -> PiiDetector:
    return PiiDetector(PiiSettings(entities=ENTITIES))


def found(detector: PiiDetector, text: str) -> list[tuple[str, str]]:
    return [(f.label, text[f.start : f.end]) for f in detector.find(text)]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Please forward the file to Richard M. Nixon before noon.", "Richard M. Nixon"),
        ("The report was reviewed by Dr. Amelia K. Stone yesterday.", "Amelia K. Stone"),
        ("Johnathan Edward Doe: approved the transfer.", "Johnathan Edward Doe"),
        ("I spoke to Mrs Jane Roe about the lease.", "Jane Roe"),
        ("The cheque is payable to Martin Luther Jr. as agreed.", "Martin Luther Jr."),
    ],
)
def test_names_with_initials_titles_and_suffixes_are_one_span_without_the_title(
    detector: PiiDetector, text: str, name: str
) -> None:
    assert ("PERSON", name) in found(detector, text)


def test_an_initial_does_not_end_a_unit() -> None:
    text = "Ask Richard M. Nixon. Then call."
    assert [text[b:e] for b, e in units(text)] == ["Ask Richard M. Nixon.", "Then call."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Name: Jane Roe\nEmail: jane@roe-family.net\nCity: Springfield\nCompany: Northwind Traders",
            [("PERSON", "Jane Roe"), ("LOCATION", "Springfield")],
        ),
        ("**Customer:** Priya Raman\n**Role:** Engineer\n**Company:** Contoso", [("PERSON", "Priya Raman")]),
        ("- Contact: Ana López, Jr.\n- Plan: Premium", [("PERSON", "Ana López, Jr.")]),
        (
            "| Name | Email | City |\n|------|-------|------|\n| Dr. Amelia K. Stone | a@b.net | Leeds |\n"
            "| Jonas Weber | j@w.net | Bremen |",
            [("PERSON", "Amelia K. Stone"), ("LOCATION", "Leeds"), ("PERSON", "Jonas Weber"), ("LOCATION", "Bremen")],
        ),
    ],
    ids=["key-value", "bold-keys", "list-keys", "markdown-table"],
)
def test_records_are_read_with_their_field_names(detector: PiiDetector, text: str, expected: list) -> None:
    got = [item for item in found(detector, text) if item[0] in ("PERSON", "LOCATION")]
    assert got == expected


@pytest.mark.parametrize(
    "text",
    [
        "Name: Jane Roe",
        "| Name | Address | Email |\n|---|---|---|\n| Jane Roe | 1 Elm St | j@r.net |",
        "Email: jane@roe-family.net",
    ],
)
def test_field_names_and_headers_are_never_findings(detector: PiiDetector, text: str) -> None:
    for label, value in found(detector, text):
        assert value not in ("Name", "Address", "Email", "Name:"), (label, value)


def test_fields_without_personal_data_drop_ner_guesses(detector: PiiDetector) -> None:
    text = "Company: Morgan Stanley\nDepartment: Jackson Hole Operations\nStatus: Open"
    assert found(detector, text) == []


@pytest.mark.parametrize(
    "text",
    [
        "The conference in Lisbon was great, and the next one is in Berlin.",
        "Deploy the service to Frankfurt and check the dashboards.",
        "Our warehouse in Rotterdam ships on Tuesdays.",
    ],
)
def test_a_lone_place_in_prose_is_not_personal_data(detector: PiiDetector, text: str) -> None:
    assert [item for item in found(detector, text) if item[0] == "LOCATION"] == []


def test_a_place_beside_personal_data_is_and_places_always_flags_them_all(detector: PiiDetector) -> None:
    assert ("LOCATION", "Lisbon") in found(detector, "Jonas Weber moved to Lisbon last year.")
    always = PiiDetector(PiiSettings(entities=ENTITIES, places="always"))
    assert ("LOCATION", "Lisbon") in found(always, "The conference in Lisbon was great.")


@pytest.mark.parametrize(
    "text",
    [
        "Summarise the Rechnung and the Reisepass details for the B.Sc. cohort.",
        "Die Rechnung und der Reisepass liegen bei.",
        "Summarize the attached notes before Friday.",
        "Deploy it and watch the Grafana board.",
    ],
)
def test_ordinary_words_are_not_people(detector: PiiDetector, text: str) -> None:
    assert [item for item in found(detector, text) if item[0] == "PERSON"] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Her ITIN is 912-70-1234 on the form.", ("US_ITIN", "912-70-1234")),
        (
            "Send it to wallet 16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ today.",
            ("CRYPTO", "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ"),
        ),
        ("NHS number 943 476 5919 for the patient.", ("UK_NHS", "943 476 5919")),
        ("The device MAC is 00:1B:44:11:3A:B7.", ("MAC_ADDRESS", "00:1B:44:11:3A:B7")),
        ("Driver license: D1234567.", ("US_DRIVER_LICENSE", "D1234567")),
    ],
)
def test_presidio_entities_by_name(detector: PiiDetector, text: str, expected: tuple[str, str]) -> None:
    assert expected in found(detector, text)


def test_presidio_context_words_raise_weak_findings_over_the_threshold(detector: PiiDetector) -> None:
    assert found(detector, "Reference D1234567 is attached.") == []  # 0.3 alone
    assert ("US_DRIVER_LICENSE", "D1234567") in found(detector, "Her driver license is D1234567.")


def test_the_catalog_is_every_presidio_pattern_recognizer() -> None:
    import inspect

    from presidio_analyzer import PatternRecognizer, predefined_recognizers

    installed = {}
    for name in predefined_recognizers.__all__:
        cls = getattr(predefined_recognizers, name)
        if inspect.isclass(cls) and issubclass(cls, PatternRecognizer):
            installed[inspect.signature(cls.__init__).parameters["supported_entity"].default] = name
    assert installed == PRESIDIO_RECOGNIZERS
    for entity in PRESIDIO_RECOGNIZERS:  # each builds and runs
        PiiDetector(PiiSettings(entities=[entity])).find("text 123 456 7890")


def test_unknown_entity_names_are_refused_with_file_and_line(tmp_path) -> None:
    import shutil

    from firewall.errors import RuleError
    from firewall.policy.loader import load_policy
    from tests.conftest import ROOT

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    policy = rules / "policy.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text.replace("entities: [PERSON, LOCATION,", "entities: [PERSON, LOCATON,"), encoding="utf-8")
    line = next(i for i, row in enumerate(policy.read_text().splitlines(), 1) if "LOCATON" in row)

    with pytest.raises(RuleError) as failure:
        load_policy(rules)

    assert f"policy.yaml:{line}" in str(failure.value) and "LOCATON" in str(failure.value)
    assert "LOCATION" in KNOWN


def test_a_long_unit_is_cut_at_a_line_break_or_space_and_settles() -> None:
    text = ("word " * 400).strip()
    spans = units(text, 500)
    assert all(e - b <= 500 for b, e in spans) and len(spans) >= 4
    assert settled(text, 500) >= len(text) - 500
    assert "".join(text[b:e] + " " for b, e in spans).strip() == text


def test_short_lines_run_on_and_long_lines_end_a_unit() -> None:
    record = "Jane Roe\n1600 Elm Street\nSpringfield"
    assert units(record) == [(0, len(record))]
    prose = "x" * 90 + "\nNext line"
    assert len(units(prose)) == 2


def test_a_megabyte_answer_is_scanned_not_withheld_and_streams_equal() -> None:
    """1 MB of prose and code under the default policy's own budget (not the test fixture's)."""
    from firewall import Scanner
    from firewall.policy.loader import load_policy
    from tests.conftest import KEY, ROOT

    scanner = Scanner(load_policy(ROOT / "rules"), key=KEY)
    block = (
        "Paragraph {n}: the deployment finished and the cache was warmed before traffic moved over. "
        "Ask Jonas Weber if the numbers look wrong.\n\n"
        "```python\ndef handler_{n}(event):\n    return process(event, retries=3)\n```\n\n"
    )
    text = "".join(block.format(n=n) for n in range(1_000_000 // len(block) + 1))
    assert len(text) >= 1_000_000

    whole = scanner.scan(text)

    assert whole.status == "scanned" and whole.error is None
    assert "Jonas" not in whole.text and whole.text.count("[PERSON]") == text.count("Jonas Weber")
    stream = scanner.incremental()
    out = "".join(stream.feed(text[i : i + 65_536]) for i in range(0, len(text), 65_536)) + stream.finish()
    assert out == whole.text
