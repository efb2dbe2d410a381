"""Structured records: `Key: value` lines and markdown tables, read with their field names.

A value under "Name" is a person and one under "Address" a place, whatever NER makes of two
words alone; the field names themselves ("Email:", a table header) are never personal data; and
NER's guesses inside fields that hold no personal data ("Company", "Status") are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

FieldKind = Literal["person", "address", "place", "other"]

_PERSON = """name full_name first_name last_name surname given_name family_name middle_name customer
customer_name client client_name contact contact_name contact_person patient patient_name employee
employee_name account_holder holder cardholder card_holder recipient sender attendee guest manager
owner applicant beneficiary emergency_contact next_of_kin signed_by approved_by requested_by
reported_by assigned_to assignee author passenger tenant student member spouse parent guardian
doctor physician nurse candidate interviewer reviewer from to cc attn attention user_name
legal_name display_name traveler traveller driver insured policyholder""".split()
_ADDRESS = """address street street_address home_address mailing_address billing_address
shipping_address postal_address delivery_address residence residential_address address_line_1
address_line_2 address_1 address_2 permanent_address current_address""".split()
_PLACE = """city town state province country zip zip_code postcode post_code postal_code hometown
birthplace place_of_birth county region_of_residence""".split()
_OTHER = """company organization organisation employer department dept team product plan status role
title job_title position subject priority category type model version region environment env
service project tier language currency account_type method channel source severity component
host hostname server database db branch package tool framework os platform browser device
brand vendor provider bank""".split()
KINDS: dict[str, FieldKind] = {
    **{k: "person" for k in _PERSON},
    **{k: "address" for k in _ADDRESS},
    **{k: "place" for k in _PLACE},
    **{k: "other" for k in _OTHER},
}
"""Field name (lower case, spaces as underscores) → what its value holds."""

_FIELD = re.compile(
    r"^[ \t]{0,8}(?:[-*+•][ \t]{1,4}|\d{1,3}[.)][ \t]{1,4})?(?:\*\*|__)?"
    r"(?P<key>[A-Za-z][A-Za-z0-9 ./'_-]{0,30}?)(?:\*\*|__)?[ \t]{0,4}:(?:\*\*|__)?[ \t]{1,8}(?P<value>\S[^\n]{0,300})$",
    re.M,
)
_EMPHASIS = "*_`\"'"


@dataclass(frozen=True)
class Field:
    """One field of a record: its name's span and its value's span, in unit offsets."""

    kind: FieldKind | None
    key_start: int
    key_end: int
    value_start: int
    value_end: int


def _kind(key: str) -> FieldKind | None:
    return KINDS.get("_".join(key.strip().lower().replace("-", " ").replace("/", " ").split()))


def _value_span(line: str, start: int, end: int, base: int) -> tuple[int, int]:
    """Trim whitespace and markdown emphasis from a value."""
    while start < end and (line[start].isspace() or line[start] in _EMPHASIS):
        start += 1
    while end > start and (line[end - 1].isspace() or line[end - 1] in _EMPHASIS):
        end -= 1
    return base + start, base + end


def fields(unit: str) -> list[Field]:
    """Every `Key: value` line and every table cell (keyed by its column header) in `unit`."""
    found = [
        Field(
            _kind(m.group("key")), m.start("key"), m.end("key"), *_value_span(unit, m.start("value"), m.end("value"), 0)
        )
        for m in _FIELD.finditer(unit)
    ]
    return found + _table_cells(unit)


def _cells(line: str) -> list[tuple[int, int]]:
    """(start, end) of the cells of a markdown table row, in line offsets."""
    bars = [i for i, c in enumerate(line) if c == "|"]
    if len(bars) < 2 and not (len(bars) == 1 and 0 < bars[0] < len(line) - 1):
        return []
    edges = bars if line.lstrip().startswith("|") else [-1, *bars]
    if not line.rstrip().endswith("|"):
        edges = [*edges, len(line)]
    return [(a + 1, b) for a, b in pairwise(edges)]


_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-{1,64}:?[ \t]*(?:\|[ \t]*:?-{1,64}:?[ \t]*){0,64}\|?[ \t]*$")


def _table_cells(unit: str) -> list[Field]:
    lines, offset = [], 0
    for line in unit.split("\n"):
        lines.append((offset, line))
        offset += len(line) + 1
    found: list[Field] = []
    header: list[tuple[FieldKind | None, int, int]] = []
    for i, (base, line) in enumerate(lines):
        if "|" not in line:
            header = []
            continue
        if _SEPARATOR.match(line):
            continue
        cells = _cells(line)
        following = lines[i + 1][1] if i + 1 < len(lines) else ""
        if _SEPARATOR.match(following):
            header = [(_kind(line[a:b].strip(" *_`")), base + a, base + b) for a, b in cells]
            found += [Field(None, s, e, e, e) for _, s, e in header]  # a header is a name, not a value
            continue
        for column, (a, b) in enumerate(cells):
            kind, key_start, _ = header[column] if column < len(header) else (None, 0, 0)
            found.append(Field(kind, key_start, key_start, *_value_span(line, a, b, base)))
    return found
