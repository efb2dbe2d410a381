"""Street addresses are found whole, one span each, in every layout we know, and nowhere else.

Alone, inside a sentence, as multi-line blocks, next to other addresses; hard negatives that look
like addresses (counts, years, prices, times, headings, code); linear time on hostile input.
All values are fictional.
"""

from __future__ import annotations

import itertools
import time

import pytest

from firewall.detectors.pii.address import find_addresses

ADDRESSES = [
    # United States and Canada
    pytest.param("123 Main St., Apt 4B, Springfield, IL 62704", id="us-apt"),
    pytest.param("500 W 2nd Ave Suite 300 Austin TX 78701", id="us-no-commas"),
    pytest.param("742 Evergreen Terrace, Springfield, OR 97477", id="us-terrace"),
    pytest.param("350 Fifth Avenue, New York, NY 10118", id="us-ordinal-word"),
    pytest.param("1630 Pennsylvania Avenue NW, Washington, DC 20500", id="us-directional"),
    pytest.param("88 Birchwood Drive, Lexington, KY 40502-1234", id="us-zip-plus-4"),
    pytest.param("12 Elm Street, Apt 3, Dayton, OH 45402, USA", id="us-country"),
    pytest.param("1585 Broadway, New York, NY 10036", id="us-broadway"),
    pytest.param("77 Harbor Blvd #12, Tampa, FL 33602", id="us-hash-unit"),
    pytest.param("P.O. Box 4521, Springfield, IL 62705", id="us-po-box"),
    pytest.param("PO Box 77, Juneau, AK 99801", id="us-po-box-plain"),
    pytest.param("220 Yonge Street, Suite 1400, Toronto, ON M5B 2H1", id="ca-suite"),
    pytest.param("25 Queen Street West, Toronto, ON M5H 2N2", id="ca-direction-word"),
    # United Kingdom and Ireland
    pytest.param("10 Downing Street, London SW1A 2AA", id="uk"),
    pytest.param("Flat 2B, 15 Acacia Avenue, Leeds LS6 2AB", id="uk-flat"),
    pytest.param("4 Royal Terrace, Edinburgh EH7 5AB", id="uk-terrace"),
    pytest.param("3 Mill Lane, Harrogate HG1 2AB", id="uk-lane"),
    pytest.param("Apartment 4, 19 Ranelagh Road, Dublin 6, D06 X2Y3", id="ie-eircode"),
    # German, Austrian, Swiss, Dutch, Nordic, Russian
    pytest.param("Hauptstraße 5, 10115 Berlin", id="de"),
    pytest.param("Hauptstr. 5, 10115 Berlin", id="de-abbreviated"),
    pytest.param("Berliner Straße 12, 10117 Berlin", id="de-two-words"),
    pytest.param("Karl-Marx-Allee 90, 10243 Berlin", id="de-hyphenated"),
    pytest.param("Kurfürstendamm 21, 10719 Berlin", id="de-damm"),
    pytest.param("Kaiserring 5, 50672 Köln", id="de-ring"),
    pytest.param("Getreidegasse 9, 5020 Salzburg, Österreich", id="at-gasse"),
    pytest.param("Musterweg 12a, 8001 Zürich", id="ch-weg"),
    pytest.param("Postfach 1234, 8021 Zürich", id="ch-postfach"),
    pytest.param("Keizersgracht 123, 1015 CJ Amsterdam", id="nl"),
    pytest.param("Drottninggatan 5, 111 51 Stockholm", id="se"),
    pytest.param("Nevsky Prospekt 28, St Petersburg 191186", id="ru"),
    # French, Belgian, Swiss French
    pytest.param("12 rue de la Paix, 75002 Paris", id="fr"),
    pytest.param("15 avenue des Champs-Élysées, 75008 Paris", id="fr-avenue"),
    pytest.param("3 boulevard Haussmann, 75009 Paris", id="fr-boulevard"),
    pytest.param("2 place de la Concorde, 75008 Paris", id="fr-place"),
    pytest.param("7 chemin des Vignes, 1260 Nyon", id="ch-chemin"),
    pytest.param("8 Rue de Rivoli, 75004 Paris", id="fr-capitalised"),
    pytest.param("Rue du Faubourg 41, 1205 Genève", id="ch-number-after"),
    pytest.param("Avenue Louise 54, 1050 Bruxelles", id="be"),
    # Spanish, Italian, Portuguese, Latin American, Polish
    pytest.param("Calle Mayor 10, 28013 Madrid", id="es"),
    pytest.param("Calle de Alcalá, 45, 28014 Madrid, España", id="es-comma-number"),
    pytest.param("Via Roma 15, 00184 Roma", id="it"),
    pytest.param("Piazza di Spagna 31, 00187 Roma RM", id="it-province"),
    pytest.param("Rua Augusta 100, 1100-053 Lisboa", id="pt"),
    pytest.param("Avenida da Liberdade 245, 1250-143 Lisboa, Portugal", id="pt-avenida"),
    pytest.param("Apartamento 701, Rua das Flores 550, Ipanema, Rio de Janeiro - RJ, 22410-002, Brasil", id="br"),
    pytest.param("Av. Santa Fe 1860, C1123 CABA, Buenos Aires", id="ar"),
    pytest.param("Carrera 43A #1-50, El Poblado, Medellín", id="co"),
    pytest.param("ul. Marszałkowska 84/92 m. 17, 00-514 Warszawa", id="pl"),
    # Australia, New Zealand, Africa
    pytest.param("42 Wallaby Way, Sydney NSW 2000", id="au"),
    pytest.param("Level 12, 60 Margaret Street, Sydney NSW 2000", id="au-level"),
    pytest.param("Unit 5/12 Smith Street, Fitzroy VIC 3065", id="au-unit-slash"),
    pytest.param("9 Tui Grove, Khandallah, Wellington 6035", id="nz"),
    pytest.param("15 Awolowo Road, Ikoyi, Lagos 106104", id="ng"),
    pytest.param("31 Long Street, Cape Town 8001", id="za"),
    # Asia
    pytest.param("1-2-3 Shibuya, Shibuya-ku, Tokyo 150-0002", id="jp"),
    pytest.param("45 Teheran-ro, Gangnam-gu, Seoul 06142", id="kr"),
    pytest.param("12 Itaewon-ro 27-gil, Yongsan-gu, Seoul 04349", id="kr-gil"),
    pytest.param("12 MG Road, Bengaluru, Karnataka 560001", id="in"),
    pytest.param("B-42, Sector 15, Noida, Uttar Pradesh 201301, India", id="in-sector"),
]


def spans(text: str) -> list[str]:
    return [text[start:end] for start, end in find_addresses(text)]


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_is_one_span(address: str) -> None:
    assert spans(address) == [address]


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_in_a_sentence_is_found_without_the_sentence(address: str) -> None:
    assert spans(f"The address is: {address}. See you there!") == [address]


def test_an_address_in_prose_stops_before_the_prose() -> None:
    text = "Please ship it to 742 Evergreen Terrace, Springfield, OR 97477 by Friday."

    assert spans(text) == ["742 Evergreen Terrace, Springfield, OR 97477"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("221B Baker Street\nLondon NW1 6XE\nUnited Kingdom", ["221B Baker Street\nLondon NW1 6XE\nUnited Kingdom"]),
        (
            "Jane Roe\n1600 Amphitheatre Parkway\nMountain View, CA 94043",
            ["1600 Amphitheatre Parkway\nMountain View, CA 94043"],
        ),
        (
            "Dear Sir,\n\n221B Baker Street\nLondon NW1 6XE\nUnited Kingdom\nPlease use recorded delivery.",
            ["221B Baker Street\nLondon NW1 6XE\nUnited Kingdom"],
        ),
        (
            "Plot 12, Kofo Abayomi Street\nVictoria Island\nLagos 101241\nNigeria",
            ["Plot 12, Kofo Abayomi Street\nVictoria Island\nLagos 101241\nNigeria"],
        ),
        ("Lindenstraße 34\nHinterhaus, 2. OG\n10969 Berlin", ["Lindenstraße 34\nHinterhaus, 2. OG\n10969 Berlin"]),
        (
            "No. 17, 2nd Cross, 5th Main\nIndiranagar\nBengaluru, Karnataka 560038",
            ["No. 17, 2nd Cross, 5th Main\nIndiranagar\nBengaluru, Karnataka 560038"],
        ),
        (
            "The Old Rectory\nChurch Lane\nLittle Milton\nOxfordshire OX44 7QD",
            ["Church Lane\nLittle Milton\nOxfordshire OX44 7QD"],
        ),
        ("Rose Cottage, Mill Lane, Little Snoring, Norfolk NR21 0AA", ["Mill Lane, Little Snoring, Norfolk NR21 0AA"]),
        ("42 Main St\nThanks", ["42 Main St"]),
        ("42 Main St\nSpringfield\n\nSee you soon", ["42 Main St"]),
        (
            "Ship to:\r\n9 Tui Grove\r\nWellington 6035\r\nNew Zealand",
            ["9 Tui Grove\r\nWellington 6035\r\nNew Zealand"],
        ),
        ("| Ana | 45 Teheran-ro, Gangnam-gu, Seoul 06142 |", ["45 Teheran-ro, Gangnam-gu, Seoul 06142"]),
    ],
    ids=[
        "uk-block",
        "name-line-left-out",
        "prose-after-left-out",
        "place-lines-before-postcode",
        "de-hinterhaus",
        "in-cross-main",
        "house-name-left-out",
        "street-without-number",
        "greeting-after",
        "lone-place-line-dropped",
        "crlf",
        "table-cell",
    ],
)
def test_multi_line_blocks_are_one_span_from_the_street_line(text: str, expected: list[str]) -> None:
    assert spans(text) == expected


NOT_ADDRESSES = [
    "3 Main points",
    "I walked 5 miles down the road",
    "step 2 Drive the car",
    "version 2 Street Fighter",
    "at 10 Downing we met",
    "Section 4 Court rules",
    "100 Way to go",
    "in 2024 Park Avenue opened",
    "## 3 Abbey Road Studios",
    "# 221B Baker Street",
    "for i in range(10): street = Street(name)",
    "PORT 8080 Road",
    "Doors open 10:30 Main Street side",
    "It costs $20 Park Lane tickets",
    "The meeting is at 3 PM Main Street entrance",
    "Top 10 Things To Do on Park Avenue",
    "Chapter 7 Lonely Road",
    'as in ("Chapter 7 Lonely Road") above',
    'the quote ("in 2024 Park Avenue") again',
    "Level 5 Boss Drive",
    "Catch-22 Broadway show",
    "see 3 Broadway shows tonight",
    "it measured 1.5 Main Street blocks",
    "I have 2 Ford road trips planned",
    "Spring 2024 was warm",
    "Offspring 2 arrived",
    "Keyring 3 is lost",
    "We need 2 Main Courses",
    "Apollo 11 Launch Pad",
    "Windows 10 Home Edition",
    "Python 3 Way of doing things",
    "Go to Abbey Road and look around",
    "Version 1-2-3 Shibuya release",
    "Call 911 now",
    "Via Satellite 3 times",
]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_text_that_only_looks_like_an_address_is_left_alone(text: str) -> None:
    assert spans(text) == []


def test_a_year_after_in_is_a_year_but_elsewhere_a_house_number() -> None:
    """Decided: "in 2024 Park Avenue" is a year; "at 2024 Park Avenue" a house number."""
    assert spans("in 2024 Park Avenue opened") == []
    assert spans("Meet me at 2024 Park Avenue tonight.") == ["2024 Park Avenue"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Via Roma 15", []),
        ("Via Roma 15, 00184 Roma", ["Via Roma 15, 00184 Roma"]),
        ("Via dei Fori Imperiali 1", ["Via dei Fori Imperiali 1"]),
        ("Deliver to: Abbey Road", []),
        ("Deliver to: Abbey Road, London NW8 9AY", ["Abbey Road, London NW8 9AY"]),
    ],
)
def test_a_street_on_an_english_word_or_without_a_number_needs_a_postcode(text: str, expected: list[str]) -> None:
    assert spans(text) == expected


def test_a_place_that_does_not_end_the_address_is_left_out() -> None:
    assert spans("Send it to 10 Downing Street, London is lovely in spring.") == ["10 Downing Street"]


def test_addresses_come_in_order_and_never_overlap() -> None:
    text = (
        "Please update the address from 16 Karaka Street, Ponsonby, Auckland 1011 to 9 Tui Grove, Khandallah, "
        "Wellington 6035 with effect from 1 September; copies go to Hauptstraße 5, 10115 Berlin."
    )

    assert spans(text) == [
        "16 Karaka Street, Ponsonby, Auckland 1011",
        "9 Tui Grove, Khandallah, Wellington 6035",
        "Hauptstraße 5, 10115 Berlin",
    ]


def test_every_address_of_a_long_list_is_found_once_in_order() -> None:
    addresses = [p.values[0] for p in ADDRESSES]
    text = "\n\n".join(addresses)

    found = find_addresses(text)

    assert [text[s:e] for s, e in found] == addresses
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(found))


HOSTILE = [
    pytest.param("7" * 200_000, id="digits"),
    pytest.param("1 " * 100_000, id="spaced-digits"),
    pytest.param("1 Main " * 30_000, id="number-name"),
    pytest.param("1 Main St " * 20_000, id="many-streets"),
    pytest.param("1 Main St, London, " * 10_000, id="many-tails"),
    pytest.param("Main 1 " * 30_000, id="word-number"),
    pytest.param("Hauptstraße 1 " * 15_000, id="german-streets"),
    pytest.param("Flat 1, " * 25_000, id="unit-prefixes"),
    pytest.param("Abcdefghij " * 20_000, id="capitalised-words"),
    pytest.param("A" + "b" * 200_000, id="one-long-word"),
    pytest.param("1-" * 100_000, id="dashes"),
    pytest.param("Calle Mayor Mayor Mayor " * 8_000, id="type-first-no-number"),
    pytest.param("221B Baker Street\nLondon NW1 6XE\nUnited Kingdom\n" * 4_500, id="blocks"),
    pytest.param(" " * 200_000, id="spaces"),
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_scanned_in_linear_time(text: str) -> None:
    """A regression guard against backtracking or quadratic passes, not a benchmark."""
    started = time.perf_counter()
    find_addresses(text)

    assert time.perf_counter() - started < 2.0
