"""Compile the hand-marked PII answers (bench/pii_labelled_marked.txt) into bench/pii_labelled.jsonl.

The marked file holds one assistant answer per record. A record starts with a header line
`%%% ID KIND` and runs to the next header; gold spans are written inline as `[[LABEL:value]]`
(the value may span lines: a multi-line address is one LOCATION span). Compiling strips the marks
and computes the offsets, so no offset is ever typed by hand, then checks every record against the
labelling rules below and writes one JSON object per line: id, kind, text, spans [{start, end,
label}].

How the set was built. Every answer was written by hand for this benchmark, as an assistant would
answer a user, and marked by the same author (one annotator, not adjudicated); every name,
address, number and account is made up. The 60 `v1-*` answers (support, email, code, log, travel,
hr: 10 each) are the first set, relabelled to the rules below: lone places unmarked, reserved
e-mail domains replaced by made-up ones where the address was meant as personal data. The 127
others target what the first set lacked: `Key: value` records, vCards and Markdown tables (values
gold, field names and headers never), single- and multi-line street addresses in a dozen
countries, international and national phone formats (09171234567, 05321234567, 090-1234-5678,
13812345678, 030 12345678, (523)222-8888x623 ...), names with initials, titles and suffixes,
answers mixing personal data with traps, long answers of 4-6.5 KB, and 30 hard negatives without
personal data: sentence-initial verbs, tech and product names, degrees, German nouns, version
strings, documentation values (jane@example.com, 192.0.2.10, 10.0.0.5, 127.0.0.1), code, logs,
and cities or countries in plain prose. About a quarter of all answers have no gold span.

Labelling rules (enforced where a machine can tell; the rest is the annotator's job):
  - labels: PERSON, LOCATION, EMAIL, PHONE, CREDIT_CARD, IBAN, SSN, IP_ADDRESS;
  - PERSON covers the name with middle initials and suffixes ("Richard M. Nixon", "Jr."), never a
    title ("Dr.", "Mr."), and never a field label or column header;
  - LOCATION covers a whole street address as one span, or a place named in the same sentence (or
    record, or table row) as a person's name or contact; a lone place in prose is not personal
    data and is not gold ("our warehouse in Rotterdam");
  - documentation-reserved values are never gold: e-mail domains example.com/.net/.org (and their
    subdomains), *.example, *.test, *.invalid, *.localhost; IPs that are private, loopback,
    link-local, reserved or in the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
    203.0.113.0/24, 2001:db8::/32);
  - cards pass Luhn, IBANs their mod-97 check, SSNs the issuing ranges (all values are fictional:
    public test cards, made-up accounts with correct check digits);
  - a span has no leading or trailing whitespace, spans never overlap, and a new answer (an ID
    not starting with "v1-") is 0.2-8 KB of UTF-8.

Usage: `python -m bench.make_pii_set` rewrites the JSONL; `--check` only says whether it is
current (exit 1 if not), which the bench tests run.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKED = HERE / "pii_labelled_marked.txt"
LABELLED = HERE / "pii_labelled.jsonl"
LABELS = ("PERSON", "LOCATION", "EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "IP_ADDRESS")
_HEADER = re.compile(r"^%%% (\S+) (\S+)$", re.M)
_MARK = re.compile(r"\[\[([A-Z_]+):(.+?)\]\]", re.S)
_RESERVED_MAIL = re.compile(
    r"@(?:[\w-]+\.)*(?:example\.(?:com|net|org)|[\w-]+\.(?:example|test|invalid|localhost))$", re.I
)
_DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
MIN_BYTES, MAX_BYTES = 200, 8192


@dataclass(frozen=True)
class Record:
    id: str
    kind: str
    text: str
    spans: tuple[tuple[int, int, str], ...]

    def to_json(self) -> str:
        spans = [{"start": s, "end": e, "label": label} for s, e, label in self.spans]
        return json.dumps({"id": self.id, "kind": self.kind, "text": self.text, "spans": spans}, ensure_ascii=False)


def parse(source: str) -> list[Record]:
    """Records of a marked file, offsets computed from the marks."""
    headers = list(_HEADER.finditer(source))
    records = []
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        body = source[header.end() + 1 : following.start() if following else len(source)].strip("\n")
        text, spans, at = [], [], 0
        for mark in _MARK.finditer(body):
            text.append(body[at : mark.start()])
            start = sum(map(len, text))
            text.append(mark[2])
            spans.append((start, start + len(mark[2]), mark[1]))
            at = mark.end()
        text.append(body[at:])
        records.append(Record(header[1], header[2], "".join(text), tuple(spans)))
    return records


def problems(records: list[Record]) -> list[str]:
    """Every broken labelling rule, as "ID: message"."""
    found, seen = [], set()
    for record in records:
        say = lambda message, r=record: found.append(f"{r.id}: {message}")  # noqa: E731
        if record.id in seen:
            say("duplicate id")
        seen.add(record.id)
        if "[[" in record.text or "]]" in record.text:
            say("unbalanced or nested mark")
        size = len(record.text.encode("utf-8"))
        if size > MAX_BYTES or (size < MIN_BYTES and not record.id.startswith("v1-")):
            say(f"{size} bytes, outside {MIN_BYTES}-{MAX_BYTES}")
        ends = 0
        for start, end, label in sorted(record.spans):
            value = record.text[start:end]
            if label not in LABELS:
                say(f"unknown label {label}")
            if not value.strip() or value != value.strip():
                say(f"empty span or one with outer whitespace: {value!r}")
            if start < ends:
                say(f"overlapping span {value!r}")
            ends = max(ends, end)
            if label == "EMAIL" and _RESERVED_MAIL.search(value):
                say(f"reserved e-mail domain is not PII: {value}")
            if label == "IP_ADDRESS" and _reserved_ip(value):
                say(f"reserved IP is not PII: {value}")
            if label == "LOCATION" and not _personal_place(record, start, end):
                say(f"lone place, not PII: {value!r}")
            if (check := _VALID.get(label)) and not check(value):
                say(f"invalid {label}: {value}")
    return found


def _luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()][::-1]
    total = sum(d if i % 2 == 0 else (2 * d) // 10 + (2 * d) % 10 for i, d in enumerate(digits))
    return 13 <= len(digits) <= 19 and total % 10 == 0


def _iban(value: str) -> bool:
    compact = value.replace(" ", "")
    moved = compact[4:] + compact[:4]
    return compact[:2].isalpha() and int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ssn(value: str) -> bool:
    area, group, serial = re.fullmatch(r"(\d{3})-(\d{2})-(\d{4})", value).groups()
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_VALID = {"CREDIT_CARD": _luhn, "IBAN": _iban, "SSN": _ssn}
"""Values gold spans must be: real-looking, so a miss is the detector's, not the data's."""


def _reserved_ip(value: str) -> bool:
    ip = ipaddress.ip_address(value)
    return ip.is_private or ip.is_loopback or ip.is_reserved or ip.is_link_local or any(ip in n for n in _DOC_NETS)


def _personal_place(record: Record, start: int, end: int) -> bool:
    """An address (has a digit or a line break), or in a sentence, record line block or table row
    with another gold span."""
    value = record.text[start:end]
    if any(c.isdigit() for c in value) or "\n" in value:
        return True
    others = [(s, e) for s, e, label in record.spans if label != "LOCATION"]
    for begin, stop in (_sentence(record.text, start, end), _block(record.text, start, end)):
        if any(begin <= s and e <= stop for s, e in others):
            return True
    return False


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    begin = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    after = _SENTENCE_END.search(text, end)
    return begin, after.start() if after else len(text)


def _block(text: str, start: int, end: int) -> tuple[int, int]:
    """The paragraph around the span if its line is a `Key: value` (or `key = value`) line, the
    row if it is a table row; else nothing."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    if line.lstrip().startswith("|"):
        return line_start, line_start + len(line)
    if not re.match(r"\s*[-*]?\s*[\w ./()'-]{1,40}\s*[:=]\s", line):
        return 0, 0
    begin = text.rfind("\n\n", 0, start)
    stop = text.find("\n\n", end)
    return (begin + 2 if begin >= 0 else 0), (stop if stop >= 0 else len(text))


def compile_set(marked: Path = MARKED) -> tuple[list[Record], list[str]]:
    records = parse(marked.read_text(encoding="utf-8"))
    return records, problems(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.make_pii_set", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the JSONL is not the compiled marked file")
    args = parser.parse_args(argv)
    records, found = compile_set()
    if found:
        print("\n".join(found), file=sys.stderr)
        return 1
    lines = "".join(r.to_json() + "\n" for r in records)
    if args.check:
        current = LABELLED.exists() and LABELLED.read_text(encoding="utf-8") == lines
        print(f"{LABELLED.name}: {'current' if current else 'stale: run python -m bench.make_pii_set'}")
        return 0 if current else 1
    LABELLED.write_text(lines, encoding="utf-8")
    counts = {label: sum(s[2] == label for r in records for s in r.spans) for label in LABELS}
    free = sum(not r.spans for r in records)
    print(f"{len(records)} records ({free} without PII), spans: "
          + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
