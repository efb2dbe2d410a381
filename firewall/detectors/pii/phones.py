"""Phone numbers in text: international (+) anywhere, national formats of the configured regions.

A linear regex finds runs of digit groups joined by one separator (space . - / or parentheses),
with an optional extension ("x623", "ext. 12", "extension 7"), not glued to a word. A reading of
a run (the whole run, or its groups between two spaces) is a phone number when:

- it has 7 to 17 digits; it is no date, decimal, IPv4 address, SSN (123-45-6789) or ZIP+4; a slash
  appears at most once, after a leading 0 area code ("030/12345678");
- with +: `phonenumbers` finds it a valid number of any country;
- without +: it has at most 6 groups, a lone digit only in the first two ("0 30 …"), and
  `phonenumbers` finds it valid for a configured region, its national prefix written where that
  region writes one and its groups not splitting the groups of a format the region uses
  (`Leniency.STRICT_GROUPING`), or valid dialled from a configured region ("00 44 20 …");
- bare (digits only): also at most 13 digits, no identifier word (order, invoice, ticket, id,
  ...) in the 40 characters before it, and either a phone word there (phone, tel, call, mobile,
  cell, fax, whatsapp, contact, number, reach, ring, sms, text) or a leading 0 (a trunk prefix) or
  an 11-digit Chinese mobile.

A run may hold two numbers, or a number beside a short figure ("Room 12 020 7946 0958"): the
longest reading from each space wins, longest first. A run yields nothing if the single groups
left over hold more than 5 digits, if it is written in blocks of four (a card, an IBAN), or if it
has more than 12 groups (a table of figures).

Score: 0.9 for a number written with + or after a phone word, 0.7 otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import accumulate

from phonenumbers import (
    SUPPORTED_REGIONS,
    Leniency,
    PhoneMetadata,
    PhoneNumberMatcher,
    region_code_for_country_code,
)
from phonenumbers.data import _ALT_NUMBER_FORMATS  # the alternate groupings the matcher accepts

from firewall.detectors.pii.catalog import DEFAULT_REGIONS

MIN_DIGITS, MAX_DIGITS, MAX_BARE = 7, 17, 13
"""Digits in one reading: fewer are too ambiguous; E.164 allows 15, plus a trunk prefix."""
MAX_GROUPS = 12
CONTEXT_CHARS = 40
PHONE_WORDS = frozenset(
    "phone telephone tel call called calling mobile cell fax whatsapp contact number reach ring sms text".split()
)
ID_WORDS = frozenset(
    "order invoice ticket tracking account acct ref reference id serial case sku po booking "
    "confirmation receipt transaction".split()
)
"""Words that make a bare digit run after them an identifier, whatever else is near."""

_CODE_GROUP = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: [A-Z0-9]{4}){1,7} \Z")
_RUN = re.compile(
    r"(?:[0-9]|[+(](?=[0-9]))"  # a first character the regex engine can scan for
    r"(?<![\w+][+(0-9])(?<!\w[.\-/][+(0-9])"  # not inside a token ("abc4155550172", "v10.0.19045")
    r"[0-9]*+(?:(?:[ .\-/]?\(|\)[ .\-/]?|[ .\-/])[0-9]++)*+"  # possessive: linear on any input
    r"(?P<ext>,? ?(?:extension|ext\.?|x) ?[0-9]{1,6}+)?",
    re.IGNORECASE,
)
_GROUP = re.compile(r"[0-9]+")
_WORD_CHAR = re.compile(r"\w")
_WORDS = re.compile(r"[^\W\d_]+")
_CN_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_NOT_PHONE = re.compile(
    r"[0-9]{3}-[0-9]{2}-[0-9]{4}"  # US SSN
    r"|[0-9]{5}-[0-9]{4}"  # US ZIP+4
    r"|[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}"  # dates
    r"|[0-9]{1,3}(?:\.[0-9]{1,3}){3}"  # IPv4, dotted versions
    r"|(?:0|[1-9][0-9]*)\.[0-9]+"  # decimals (but "06.12345678" stays)
    r"|(?!0[0-9]*/[^/]*$).*/.*"  # a slash only once, after a trunk prefix and area code ("030/12345678")
)
_BLOCKS = re.compile(r"[0-9]{4}(?:[ -][0-9]{4})+[ -][0-9]{1,4}|[0-9]{4}[ -][0-9]{6}[ -][0-9]{5}")
"""Cards, IBANs and account numbers written in blocks of four (or Amex's 4-6-5)."""
_TYPES = "fixed_line mobile toll_free premium_rate shared_cost personal_number voip pager uan voicemail".split()


@dataclass(frozen=True)
class _Format:
    """One way a region groups the digits of its numbers."""

    pattern: re.Pattern[str]
    lead: re.Pattern[str] | None
    needs_prefix: bool
    """Numbers in this format are written with the national prefix (0 30 …, not 30 …)."""

    def ends(self, nsn: str) -> set[int] | None:
        """Where the groups of `nsn` end in this format, if it applies."""
        if self.lead is not None and not self.lead.match(nsn):
            return None
        m = self.pattern.fullmatch(nsn)
        return set(accumulate(len(g) for g in m.groups())) if m else None


@dataclass(frozen=True)
class _Region:
    """A region's metadata as cheap necessary conditions, so that `phonenumbers` (0.2 to 0.5 ms a
    call) judges few readings."""

    digits: re.Pattern[str]
    """The digits of a valid number: its own, after a national prefix, or after an international
    call prefix (00, 011)."""
    prefix: re.Pattern[str] | None
    number: re.Pattern[str]
    formats: tuple[_Format, ...]
    """Main formats (the first that applies says whether a national prefix is needed), then
    international and alternate ones."""
    main: int
    idd: re.Pattern[str] | None

    @staticmethod
    @cache
    def of(code: str) -> _Region:
        meta = PhoneMetadata.metadata_for_region(code)
        assert meta is not None and meta.country_code is not None  # codes come from SUPPORTED_REGIONS
        number = "|".join(p for t in _TYPES if (d := getattr(meta, t)) and (p := d.national_number_pattern))
        prefix, idd = meta.national_prefix_for_parsing, meta.international_prefix
        digits = f"(?:{prefix})?(?:{number})" if prefix else f"(?:{number})"
        # phonenumbers groups every number of a calling code as its main region does (CA as US)
        main = PhoneMetadata.metadata_for_region(region_code_for_country_code(meta.country_code)) or meta
        formats = [*main.number_format, *main.intl_number_format, *_ALT_NUMBER_FORMATS.get(meta.country_code, [])]
        return _Region(
            digits=re.compile(f"{digits}|(?:{idd})[0-9]{{6,}}" if idd else digits),
            prefix=re.compile(prefix) if prefix else None,
            number=re.compile(number),
            formats=tuple(
                _Format(
                    re.compile(f.pattern or ""),
                    re.compile(f.leading_digits_pattern[-1]) if f.leading_digits_pattern else None,
                    bool(f.national_prefix_formatting_rule)
                    and not f.national_prefix_optional_when_formatting
                    and not re.fullmatch(r"\(?\\1\)?", f.national_prefix_formatting_rule or ""),
                )
                for f in formats
            ),
            main=len(main.number_format),
            idd=re.compile(idd) if idd else None,
        )

    def may_write(self, blocks: list[str]) -> bool:
        """Whether these digit groups may be a valid number of the region: the national prefix
        written where the region writes one, groups of one of its formats joined, never split."""
        digits = "".join(blocks)
        cuts = set(accumulate(len(b) for b in blocks[:-1]))
        m = self.prefix.match(digits) if self.prefix else None
        for nsn in {digits, digits[m.end() :] if m else digits}:
            if not self.number.fullmatch(nsn):
                continue
            shift = len(digits) - len(nsn)
            chosen = next((f for f in self.formats[: self.main] if f.ends(nsn) is not None), None)
            if shift == 0 and chosen is not None and chosen.needs_prefix:
                continue
            inner = {c - shift for c in cuts if c > shift}
            if any((ends := f.ends(nsn)) is not None and inner <= ends for f in self.formats):
                return True
        return False


@cache
def _any_digits(regions: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for the digits of any of `regions`: one call rejects most figures."""
    return re.compile("|".join(f"(?:{_Region.of(r).digits.pattern})" for r in regions))


@lru_cache(maxsize=8192)
def _national(reading: str, regions: tuple[str, ...]) -> bool:
    """Whether `reading` (no +) is a number of one of `regions`, written as that region writes it."""
    blocks = _GROUP.findall(reading)
    digits = "".join(blocks)
    if not _any_digits(regions).fullmatch(digits):
        return False
    if any(
        (region := _Region.of(r)).digits.fullmatch(digits) and region.may_write(blocks) and _valid(reading, r)
        for r in regions
    ):
        return True
    abroad = next((r for r in regions if (idd := _Region.of(r).idd) and idd.match(digits)), None)
    return abroad is not None and _valid(reading, abroad)  # "00 44 20 …": one region dialling out is enough


@lru_cache(maxsize=8192)
def _valid(reading: str, region: str) -> bool:
    """phonenumbers' verdict on the whole of `reading` (region "ZZ" for a number with +)."""
    leniency = Leniency.VALID if reading.startswith("+") else Leniency.STRICT_GROUPING
    return any(m.start == 0 and m.end == len(reading) for m in PhoneNumberMatcher(reading, region, leniency, 1))


class PhoneFinder:
    """Phone numbers, by the rules of the module doc.

    Args:
        regions: ISO 3166 codes whose national formats (without +) are recognised.

    Raises:
        ValueError: a region `phonenumbers` does not know.
    """

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS) -> None:
        unknown = [r for r in regions if r not in SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone region {', '.join(unknown)} (ISO 3166 codes such as US, GB, DE)")
        self.regions = tuple(dict.fromkeys(regions))
        _any_digits(self.regions)  # compiled now, not in the first scan

    def find(self, text: str) -> list[tuple[int, int, float]]:
        """(start, end, score) of each phone number, in order, non-overlapping."""
        found: list[tuple[int, int, float]] = []
        for run in _RUN.finditer(text):
            if run.end() - run.start() >= MIN_DIGITS and not _WORD_CHAR.match(text, run.end()):  # not "…0172def"
                if _CODE_GROUP.search(text[max(0, run.start() - 45) : run.start()]):
                    continue  # the digits of an IBAN or account code ("GB82 WEST 1234 5698 7654 32")
                found += self._read(text, run)
        return found

    def _read(self, text: str, run: re.Match[str]) -> list[tuple[int, int, float]]:
        """The longest reading from each space of the run (the whole run first), longest first."""
        stop = run.start("ext") if run.group("ext") else run.end()
        groups = [g.span() for g in _GROUP.finditer(text, run.start(), stop)]
        if len(groups) > MAX_GROUPS or _BLOCKS.fullmatch(text, run.start(), stop):
            return []
        size = list(accumulate((b - a for a, b in groups), initial=0))
        lone = list(accumulate((b - a == 1 for a, b in groups), initial=0))
        cuts = [0, *(k for k in range(1, len(groups)) if " " in text[groups[k - 1][1] : groups[k][0]]), len(groups)]
        readings = []
        for i in range(len(cuts) - 1):
            for j in range(len(cuts) - 1, i, -1):
                a, b = cuts[i], cuts[j]
                national = a > 0 or text[run.start()] != "+"
                if not MIN_DIGITS <= size[b] - size[a] <= MAX_DIGITS or (
                    national and (b - a > 6 or lone[b] > lone[min(a + 2, b)])
                ):
                    continue  # cheap shape checks first: most runs of figures end here
                if hit := self._reading(text, run, groups[a:b], b == len(groups)):
                    readings.append((size[b] - size[a], i, j, hit))
                    break
            if readings and readings[-1][2] == len(cuts) - 1:
                break  # a later start could only yield a reading inside this one
        taken = [False] * (len(cuts) - 1)
        found = []
        for _, i, j, hit in sorted(readings, key=lambda r: -r[0]):
            if not any(taken[i:j]):
                taken[i:j] = [True] * (j - i)
                found.append(hit)
        left = [groups[cuts[k]] for k in range(len(cuts) - 1) if not taken[k] and cuts[k + 1] - cuts[k] == 1]
        return sorted(found) if sum(b - a for a, b in left) <= 5 else []

    def _reading(
        self, text: str, run: re.Match[str], groups: list[tuple[int, int]], last: bool
    ) -> tuple[int, int, float] | None:
        """(start, end, score) if these groups of `run` are a phone number; `last`: they end the run."""
        start, end = groups[0][0], groups[-1][1]
        if start > run.start() and text[start - 1] in "+(":
            start -= 1
        reading = text[start:end]
        if reading.count("(") > reading.count(")") and text[end : end + 1] == ")":
            end += 1
            reading += ")"
        if _NOT_PHONE.fullmatch(reading):
            return None
        context = _context(text, start)
        if reading.isdigit() and (
            len(reading) > MAX_BARE or context == "id" or (context is None and not self._bare_ok(reading))
        ):
            return None
        if not (_valid(reading, "ZZ") if reading[0] == "+" else _national(reading, self.regions)):
            return None
        if last and run.group("ext"):
            end = run.end()
        return start, end, 0.9 if reading[0] == "+" or context == "phone" else 0.7

    def _bare_ok(self, digits: str) -> bool:
        """A bare digit run without a phone word: a trunk prefix, or a Chinese mobile."""
        chinese = "CN" in self.regions and _CN_MOBILE.fullmatch(digits) is not None and _valid(digits, "CN")
        return digits[0] == "0" or chinese


def _context(text: str, start: int) -> str | None:
    """The kind of the words (plurals too) in the 40 characters before `start`: "id", "phone" or None."""
    words = {w.lower() for w in _WORDS.findall(text, max(0, start - CONTEXT_CHARS), start)}
    words |= {w.removesuffix("s") for w in words}
    return "id" if words & ID_WORDS else "phone" if words & PHONE_WORDS else None


__all__ = ["DEFAULT_REGIONS", "PhoneFinder"]
