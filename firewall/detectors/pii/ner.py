"""spaCy named-entity recognition, loaded fast and run only where a name or place can be.

Loading. Importing spaCy and Presidio pulls in torch and transformers when they are installed
(thinc and Presidio's transformers engine try them at import: ~8 s here) although a spaCy CNN
model needs neither. `quiet_imports()` hides them from the importing thread for that moment,
unless the process already imported them. Nothing is cached as missing: the application's own
`import transformers` later works as usual (only thinc's PyTorch wrappers, which we never use,
stay off in this process). The pipeline keeps only its `ner` component (the small and large
English models give NER its own embedding layer), about half the cost of the whole pipeline.

Where NER runs. A name or place in English starts with a capital letter, so NER reads only
windows of a few words around capitalised words that are not merely sentence openers (`Sure`,
`Summarise`); the rest of the text never reaches the model. Windows never cross a line break.
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

log = logging.getLogger("firewall.detectors.pii")
# Presidio's email recognizer uses tldextract, which fetches the public-suffix list on first use
# unless told not to; set before anything imports presidio_analyzer (spaCy's plugin hooks do).
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

_HIDDEN = ("torch", "transformers")
_PIPES_NOT_NEEDED = (
    "tok2vec",
    "tagger",
    "morphologizer",
    "parser",
    "senter",
    "attribute_ruler",
    "lemmatizer",
    "trainable_lemmatizer",
    "entity_linker",
    "entity_ruler",
    "textcat",
    "textcat_multilabel",
)
_import_lock = threading.Lock()

SPACY_LABELS = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "NORP": "NRP",
    "ORG": "ORGANIZATION",
}
"""spaCy entity label → Presidio entity name (others are ignored)."""


class _Hide(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in _HIDDEN and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"{name} is hidden while outguard imports spaCy", name=name)


@contextmanager
def quiet_imports() -> Iterator[None]:
    """Import spaCy/Presidio here without dragging in torch and transformers (see the module doc)."""
    with _import_lock:
        if any(name in sys.modules for name in _HIDDEN):
            yield  # already paid for by the application: hiding would change nothing
            return
        finder = _Hide()
        sys.meta_path.insert(0, finder)
        try:
            yield
        finally:
            sys.meta_path.remove(finder)


@cache
def load_model(model: str) -> Any:
    """The spaCy pipeline `model` with only its NER, or None (with one warning) if not installed."""
    with quiet_imports():
        # Presidio first: it imports spaCy, and spaCy's load imports it back through its plugin
        # hooks; taking them in one order means an application importing either on another
        # thread meanwhile waits instead of deadlocking into a half-imported module.
        import presidio_analyzer  # noqa: F401
        import spacy

        try:
            nlp = spacy.load(model, exclude=list(_PIPES_NOT_NEEDED))
        except OSError:
            log.warning(
                "spaCy model %r is not installed: PII detection runs without NER (no PERSON or "
                "LOCATION from the model; install it, or name an installed one in rules/policy.yaml)",
                model,
            )
            return None
    if "ner" not in nlp.pipe_names:
        log.warning("spaCy model %r has no NER component: PII detection runs without NER", model)
        return None
    return nlp


class NerModel:
    """One loaded pipeline; calls are serialised (spaCy does not promise thread safety)."""

    def __init__(self, nlp: Any) -> None:
        self._nlp = nlp
        self._lock = threading.Lock()

    def entities(self, texts: Sequence[str]) -> list[list[tuple[str, int, int]]]:
        """(entity, start, end) per text, Presidio entity names."""
        with self._lock:
            docs = list(self._nlp.pipe(texts, batch_size=64))
        return [
            [(SPACY_LABELS[e.label_], e.start_char, e.end_char) for e in doc.ents if e.label_ in SPACY_LABELS]
            for doc in docs
        ]


# -- where NER runs --------------------------------------------------------------------------------

_WORD = re.compile(r"[^\s]+")
_CORE = re.compile(r"^[\W_]*(.*?)[\W_]*$", re.S)
_MARKER = re.compile(r"[-*+•|#>]{1,6}|\d{1,3}[.)]|\(?[a-z]\)|\*\*\w*:?\*\*")
"""A list bullet, a table bar or a heading mark: the word after it opens a sentence."""
CONTEXT_WORDS = 2
"""Words of context NER sees on each side of a capitalised word."""

OPENERS = frozenset(
    """
a about above actually add after again all also although always an and another any anyway are as ask at
be because before below best better both but by call can cannot check choose click close configure
congratulations book closed consider contact copy create currently dear deploy do does done each either email enable
enter ensure escalate even every everything failed
example except feel finally find first fix follow following for from generally get go good great
he happy hello here hey hi how however i if ideally important in inform install instead invite is it its
just keep
kind last let like make many may maybe meet message more most much my need never next no none not note
notify now of
ok okay on once one only open or other otherwise our overall ping please possibly quick quickly reach
regards
remember remove replace reply rows run say second see select send set she should similarly since so
some
sorry start step still such summarise summarize summary sure tell text thank thanks that the their then
there these they third this those though thus to today together take try two unfortunately unless update
use usually we welcome well what when where whether which while who why will with yes yet you your
""".split()
)
"""Words that open a sentence with a capital letter without being a name."""

NOT_NAMES = frozenset(
    """
monday tuesday wednesday thursday friday saturday sunday january february march april may june july
august september october november december mon tue tues wed thu thur thurs fri sat sun jan feb mar apr
jun jul aug sep sept oct nov dec i ok api url id faq email e-mail phone mobile tel fax address name
names city country postcode zip street contact contacts notes note total subtotal amount status
day ticket tickets account version tools product appendix security emergency engineering payroll
python java javascript typescript golang rust docker kubernetes terraform ansible helm redis postgres
postgresql mysql mongodb kafka grafana prometheus github gitlab jira slack linux ubuntu debian windows
macos android nginx apache django flask react node npm git bash json yaml html sql http https
b.sc. m.sc. b.a. m.a. ph.d. phd mba md b.eng. m.eng. llb llm
""".split()
)
"""Capitalised words that are never a person or a place on their own."""


def _candidate(word: str, first: bool) -> bool:
    core = re.split(r"['’]", _CORE.match(word).group(1))[0]  # type: ignore[union-attr]  # Here's → Here, I've → I
    if not core or not core[0].isupper() or not any(c.islower() for c in core):
        return False
    lower = core.lower()
    if lower in NOT_NAMES:
        return False
    return not (first and lower in OPENERS)


def opens_sentence(text: str, start: int) -> bool:
    """Whether the word at text[start] is the first of its line or sentence (after any bullet)."""
    before = text[max(0, start - 12) : start]
    line = before.rsplit("\n", 1)[-1].split()
    return (
        not line
        or (len(line) == 1 and _MARKER.fullmatch(line[0]) is not None)
        or before.rstrip().endswith((".", "!", "?", ":"))
    )


def windows(text: str, known: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """(start, end) of the stretches of `text` NER must read: CONTEXT_WORDS words around each
    capitalised word that is not a sentence opener nor inside a `known` span (already decided),
    merged, each within one line."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(line)]
        hits = [
            i
            for i, (a, b, w) in enumerate(words)
            if _candidate(w, i == 0 or _MARKER.fullmatch(words[i - 1][2]) is not None)
            and not any(s <= offset + a and offset + b <= e for s, e in known)
        ]
        begin = end = -1
        for i in hits:
            lo, hi = max(0, i - CONTEXT_WORDS), min(len(words) - 1, i + CONTEXT_WORDS)
            if begin >= 0 and lo <= end + 1:
                end = hi
                continue
            if begin >= 0:
                spans.append((offset + words[begin][0], offset + words[end][1]))
            begin, end = lo, hi
        if begin >= 0:
            spans.append((offset + words[begin][0], offset + words[end][1]))
        offset += len(line) + 1
    return spans
