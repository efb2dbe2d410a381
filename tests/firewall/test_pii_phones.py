"""PhoneFinder: international and national numbers found whole; figures that only look like
numbers (dates, versions, cards, IBANs, identifiers) left alone; regions; linear time.

Numbers are fictional where a range exists (US 555-01xx, Ofcom's drama ranges, ACMA's and
ARCEP's), else sample numbers; each is valid for `phonenumbers`.
"""

from __future__ import annotations

import time
from itertools import pairwise

import phonenumbers
import pytest

from firewall.detectors.pii.phones import DEFAULT_REGIONS, PhoneFinder


@pytest.fixture(scope="module")
def finder() -> PhoneFinder:
    return PhoneFinder()


def spans(finder: PhoneFinder, text: str) -> list[str]:
    return [text[start:end] for start, end, _ in finder.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # international, any country
        ("Call +1 415 555 0134 today.", ["+1 415 555 0134"]),
        ("UK office: +44 20 7946 0958", ["+44 20 7946 0958"]),
        ("UK office: +44 (0)20 7946 0958", ["+44 (0)20 7946 0958"]),
        ("Berlin: +49 30 12345678", ["+49 30 12345678"]),
        ("Paris: +33 1 99 00 12 34", ["+33 1 99 00 12 34"]),
        ("Tokyo: +81 3-1234-5678", ["+81 3-1234-5678"]),
        ("Mumbai: +91-98765-43210", ["+91-98765-43210"]),
        ("São Paulo: +55 11 3456-7890", ["+55 11 3456-7890"]),
        ("Sydney: +61 491 570 156", ["+61 491 570 156"]),
        ("Beijing: +86 138 1234 5678", ["+86 138 1234 5678"]),
        ("tel:+14155550134", ["+14155550134"]),
        ("+1 (415) 555-0177", ["+1 (415) 555-0177"]),
        # national formats of the default regions
        ("Text me on 09171234567 tonight", ["09171234567"]),
        ("Cep: 05321234567", ["05321234567"]),
        ("携帯 090-1234-5678 まで", ["090-1234-5678"]),
        ("手机 13812345678", ["13812345678"]),
        ("Zentrale 030 12345678", ["030 12345678"]),
        ("Zentrale 030 123 456 78", ["030 123 456 78"]),
        ("Zentrale 030/12345678", ["030/12345678"]),
        ("Zentrale 0 30 12345678", ["0 30 12345678"]),
        ("London 020 7946 0958", ["020 7946 0958"]),
        ("Leeds 0113 496 0123", ["0113 496 0123"]),
        ("Manchester 0161 496 0123.", ["0161 496 0123"]),
        ("Paris 01 99 00 12 34", ["01 99 00 12 34"]),
        ("Paris 01.99.00.12.34", ["01.99.00.12.34"]),
        ("Sydney (02) 5550 1234", ["(02) 5550 1234"]),
        ("Mobile 0491 570 156", ["0491 570 156"]),
        ("Seoul 010-1234-5678", ["010-1234-5678"]),
        ("Mumbai 98765 43210", ["98765 43210"]),
        ("São Paulo (11) 3456-7890", ["(11) 3456-7890"]),
        ("CDMX 55 1234 5678", ["55 1234 5678"]),
        ("Madrid 912 34 56 78", ["912 34 56 78"]),
        ("Roma 06 1234 5678", ["06 1234 5678"]),
        ("Milano 02.12345678", ["02.12345678"]),
        ("Amsterdam 020-123 4567", ["020-123 4567"]),
        ("Toronto (416) 555-0123", ["(416) 555-0123"]),
        ("spaced 415 555 0132 here", ["415 555 0132"]),
        ("(415) 555-0198", ["(415) 555-0198"]),
        ("dashed 415-555-0172.", ["415-555-0172"]),
        ("dotted 415.555.0172,", ["415.555.0172"]),
        ("toll free 1-800-555-0199", ["1-800-555-0199"]),
        ("from Germany: 0044 20 7946 0958", ["0044 20 7946 0958"]),
        # bare digits after a phone word
        ("phone 4155550172", ["4155550172"]),
        ("Phones: 4155550173", ["4155550173"]),
        ("You can reach me at 4155550174", ["4155550174"]),
        # several numbers, and a number beside a short figure
        ("phone: 415 555 0173, fax: 415 555 0174", ["415 555 0173", "415 555 0174"]),
        ("Call +1-415-555-0175 or 020 7946 0959.", ["+1-415-555-0175", "020 7946 0959"]),
        ("415 555 0132 415 555 0198", ["415 555 0132", "415 555 0198"]),
        ("020 7946 0958 / 020 7946 0959", ["020 7946 0958", "020 7946 0959"]),
        ("Room 12 020 7946 0958", ["020 7946 0958"]),
        ("CA 94105 (415) 555-0132", ["(415) 555-0132"]),
        ("on 2024-01-15 415 555 0132 called", ["415 555 0132"]),
    ],
)
def test_numbers_are_found_whole(finder: PhoneFinder, text: str, expected: list[str]) -> None:
    assert spans(finder, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "released 2024-01-15",
        "am 15.01.2024",
        "due 01/15/2024",
        "at 2024-01-15 10:30:45",
        "build 10.0.19045",
        "version 1.2.3.4 and 10.0.19045.3803",
        "host 192.168.100.200 and 8.8.8.8",
        "id 123e4567-e89b-12d3-a456-426614174000",
        "card 4111 1111 1111 1111",
        "card 4111-1111-1111-1111",
        "card 6011 0009 9013 9424",
        "amex 3782 822463 10005",
        "IBAN DE89 3704 0044 0532 0130 00",
        "IBAN GB82 WEST 1234 5698 7654 32",
        "IBAN NL91 ABNA 0417 1643 00",
        "order #4839201734",
        "order number 4155550172",
        "order 0123456789",
        "invoice 2024-000123",
        "ticket 1234567",
        "case 1234567 ref 7654321",
        "total 1,234,567.89",
        "total 1.234.567,89",
        "total 1 234 567,89 €",
        "ZIP 94105 and 90210-1234",
        "ISBN 978-3-16-148410-0",
        "ISBN 0-306-40615-2",
        "ISBN 978 0 306 40615 7",
        "sha 3f2a9c71d0e4b5a6 and abc4155550172def",
        "4155550172def",
        "ports 8080, 8443, 9090 and 3000/3001",
        "ports 8000-8010",
        "SSN 123-45-6789",
        "SSN 078-05-1120",
        "a bare 4155550172 with no phone word",
        "unix time 1700000000",
        "population 67 390 000",
        "12:30:45.123456",
        "r = 0.31622776601 and pi = 3.14159265358",
        "call 555-0199",
        "10 20 30 40 50 60 70 80 90 10 20 30 40",
        "1-2-3-4-5-6-7-8",
        "tracking 9400 1000 0000 0000 0000 00",
    ],
)
def test_figures_that_are_not_phone_numbers_are_left_alone(finder: PhoneFinder, text: str) -> None:
    assert spans(finder, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(523)222-8888x623", "(523)222-8888x623"),
        ("Call 415-555-0172 ext. 12 today", "415-555-0172 ext. 12"),
        ("Call 415-555-0172, ext. 12", "415-555-0172, ext. 12"),
        ("+1 415 555 0134 extension 7", "+1 415 555 0134 extension 7"),
        ("+1 (415) 555-0177 x 42", "+1 (415) 555-0177 x 42"),
        ("phone 4155550172 x12", "4155550172 x12"),
    ],
)
def test_extensions_stay_in_the_span(finder: PhoneFinder, text: str, expected: str) -> None:
    assert spans(finder, text) == [expected]


def test_the_span_leaves_out_the_words_around(finder: PhoneFinder) -> None:
    text = "tel: +1 415 555 0134 (mobile)"

    assert spans(finder, text) == ["+1 415 555 0134"]


def test_bare_digits_need_a_trunk_prefix_a_chinese_mobile_or_a_phone_word(finder: PhoneFinder) -> None:
    assert spans(finder, "4155550172") == []
    assert spans(finder, "call 4155550172") == ["4155550172"]
    assert spans(finder, "09171234567") == ["09171234567"]
    assert spans(finder, "13812345678") == ["13812345678"]
    assert spans(finder, "contact number, order 4155550172") == []  # an identifier word wins


def test_a_phone_word_is_looked_for_40_characters_back(finder: PhoneFinder) -> None:
    near = "phone" + " " * 30 + "4155550172"
    far = "phone" + " " * 40 + "4155550172"

    assert spans(finder, near) == ["4155550172"]
    assert spans(finder, far) == []


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("+1 415 555 0134", 0.9),
        ("phone: 415 555 0134", 0.9),
        ("call 4155550134", 0.9),
        ("415 555 0134", 0.7),
        ("09171234567", 0.7),
    ],
)
def test_score_is_high_for_plus_or_a_phone_word(finder: PhoneFinder, text: str, score: float) -> None:
    assert [s for _, _, s in finder.find(text)] == [score]


def test_findings_are_in_order_and_do_not_overlap(finder: PhoneFinder) -> None:
    text = (
        "Sales (415) 555-0198, support +44 20 7946 0958 ext. 4, Berlin 030 12345678; "
        "fax 415.555.0172 / 415.555.0173 and mobile 09171234567."
    )

    found = finder.find(text)

    assert [text[s:e] for s, e, _ in found] == [
        "(415) 555-0198",
        "+44 20 7946 0958 ext. 4",
        "030 12345678",
        "415.555.0172",
        "415.555.0173",
        "09171234567",
    ]
    assert all(end <= start for (_, end, _), (start, _, _) in pairwise(found))


def test_a_region_outside_the_configuration_is_read_only_with_plus() -> None:
    gb = PhoneFinder(["GB"])

    assert spans(gb, "(415) 555-0198") == []
    assert spans(gb, "+1 415 555 0198") == ["+1 415 555 0198"]
    assert spans(gb, "020 7946 0958") == ["020 7946 0958"]
    assert spans(PhoneFinder(["US"]), "020 7946 0958") == []


def test_chinese_mobiles_are_bare_only_when_china_is_configured() -> None:
    assert spans(PhoneFinder(["US", "GB"]), "13812345678") == []


def test_an_unknown_region_is_named() -> None:
    with pytest.raises(ValueError, match="XX"):
        PhoneFinder(["US", "XX"])


def test_default_regions_are_known_to_phonenumbers() -> None:
    assert {"US", "GB", "DE", "FR", "IN", "JP", "CN", "TR", "PH", "BR"} <= set(DEFAULT_REGIONS)
    assert set(DEFAULT_REGIONS) <= phonenumbers.SUPPORTED_REGIONS


@pytest.mark.parametrize("region", DEFAULT_REGIONS)
def test_example_numbers_of_every_default_region_are_found(finder: PhoneFinder, region: str) -> None:
    """Fixed-line and mobile examples, written as phonenumbers writes them, nationally and with +."""
    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
        number = phonenumbers.example_number_for_type(region, kind)
        assert number is not None
        for style in (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL):
            written = phonenumbers.format_number(number, style)
            assert spans(finder, f"Reach us at {written} today.") == [written]


ADVERSARIAL = {
    "digits": "7" * 200_000,
    "spaced digits": "1 " * 100_000,
    "dashed digits": "1-" * 100_000,
    "dotted digits": "1." * 100_000,
    "parentheses": "(1) " * 50_000,
    "open parentheses": "(1 " * 66_000,
    "plus and parenthesis": "+1 (" * 50_000,
    "pairs": "12 34 56 78 90 " * 13_000,
    "table rows": "1 2 3 4 5 6 7 8 9 0 1 2 a " * 8_000,
    "extensions": "1x1 ext 1 " * 20_000,
    "almost a number": "415 555 013" * 18_000,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_time_is_linear_on_runs_of_digits_and_separators(finder: PhoneFinder, text: str) -> None:
    started = time.perf_counter()
    finder.find(text)

    assert time.perf_counter() - started < 2.0


def test_the_digits_of_an_iban_are_not_a_phone_number() -> None:
    assert PhoneFinder().find("IBAN: GB82 WEST 1234 5698 7654 32 for the refund") == []
    assert PhoneFinder().find("Desk WEST, call 020 7946 0958") != []
