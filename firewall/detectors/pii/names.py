"""Person names as whole spans: initials and suffixes kept, titles left out, NER's pieces joined.

NER cuts names at initials ("Richard M." + "Nixon"), keeps titles ("Dr. Stone") or stops short
("Doe" for "Johnathan Edward Doe"). `whole_name` repairs a span from the text around it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from firewall.detectors.pii.ner import NOT_NAMES, OPENERS

TITLES = frozenset("""mr mrs ms miss mx dr prof sir dame lord lady rev fr herr frau mme mlle sra srta
sr señor señora don dona doña capt col gen lt sgt officer judge""".split())
_SUFFIX_WORD = r"(?:Jr\.?|Sr\.?|II|III|IV|PhD|Ph\.D\.|MD|M\.D\.|Esq\.?)"
_SUFFIX = rf"(?:,? {_SUFFIX_WORD})"
_NAME_WORD = r"(?:[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*)"
_CAP_WORD = rf"(?:(?=[A-ZÀ-ÖØ-Þ]){_NAME_WORD})"
_INITIAL = r"(?:[A-ZÀ-ÖØ-Þ]\.)"
_IS_INITIAL = re.compile(_INITIAL)
_IS_SUFFIX = re.compile(rf"{_SUFFIX_WORD},?")
_IS_NAME_WORD = re.compile(rf"{_NAME_WORD}\.?")
_WORDS_BEFORE = re.compile(rf"(?:(?:{_CAP_WORD}|{_INITIAL}) ){{0,4}}$")
_AFTER = re.compile(rf"^(?:(?: {_INITIAL})+ {_CAP_WORD}|{_SUFFIX}| (?P<word>{_CAP_WORD})(?![^\W\d_]))")
_TITLE_PREFIX = re.compile(r"^(?P<title>[^\W\d_]{1,8})\.? ")
_LEADING_NAME = re.compile(rf"^(?:{_INITIAL} |{_CAP_WORD} ){{0,4}}(?:{_CAP_WORD}|{_INITIAL}){_SUFFIX}?")


def _name_like(word: str) -> bool:
    if _IS_INITIAL.fullmatch(word):
        return True
    lower = word.lower()
    return (word[:1].isupper() and any(c.islower() for c in word) and lower not in OPENERS
            and lower not in NOT_NAMES and lower.rstrip(".") not in TITLES)


def _untitled(text: str, start: int, end: int) -> int:
    """`start` moved past any titles ("Dr.", "Mrs") that open text[start:end]."""
    while (m := _TITLE_PREFIX.match(text[start:end])) and m.group("title").lower() in TITLES and m.end() < end - start:
        start += m.end()
    return start


def whole_name(text: str, start: int, end: int) -> tuple[int, int]:
    """The full name around NER's span text[start:end] (without a title)."""
    while (m := _AFTER.match(text[end : end + 80])) is not None:
        if m.group("word") and (not _name_like(m.group("word")) or len(text[start:end].split()) >= 4):
            break
        end += m.end()
    start = _untitled(text, start, end)
    before = text[max(0, start - 80) : start]
    words = before[_WORDS_BEFORE.search(before).start() :].split()  # type: ignore[union-attr]
    for word in reversed(words[-3:]):
        if not _name_like(word):
            break
        start -= len(word) + 1
    return start, end


def leading_name(value: str) -> tuple[int, int]:
    """(start, end) of the name that opens a field value ("Dr. Amelia K. Stone (on call)" → the
    name without its title); (0, 0) if there is none."""
    start = _untitled(value, 0, len(value))
    m = _LEADING_NAME.match(value[start:])
    if m is None or not _name_like(m.group().split()[0]):
        return 0, 0
    return start, start + m.end()


_ARTICLES = frozenset("a an the der die das den dem des ein eine einen einem le la les el los las il lo gli de het".split())


def after_article(text: str, start: int) -> bool:
    """Whether text[start:] follows an article ("the Reisepass", "die Rechnung"): a common noun,
    not a person."""
    before = text[max(0, start - 8) : start].split()
    return bool(before) and text[start - 1 : start] == " " and before[-1].lower() in _ARTICLES


def plausible(span: str) -> bool:
    """NER on code and logs names identifiers as people (SLACK_BOT_TOKEN, git reset, eu-west-1).

    A person or place is one to six words, each a capitalised word with a lower-case letter or an
    initial (not all initials), with no digits, underscores or symbols."""
    words = span.replace("\n", " ").replace(", ", " ").split(" ")
    if not 1 <= len(words) <= 6 or any(not w for w in words):
        return False
    names = 0
    for word in words:
        if _IS_INITIAL.fullmatch(word) or _IS_SUFFIX.fullmatch(word):
            continue
        if not _IS_NAME_WORD.fullmatch(word) or not word[0].isupper() or not any(c.islower() for c in word):
            return False
        names += 1
    return names > 0


@cache
def first_names() -> frozenset[str]:
    """Common given names, lower case (first_names.txt: US census lists and a supplement)."""
    text = (Path(__file__).with_name("first_names.txt")).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


_CAPITALISED = re.compile(rf"(?<![\w.@/-]){_CAP_WORD}")
_SURNAMES = re.compile(rf"(?:(?: {_INITIAL})* {_CAP_WORD}(?![\w@])){{1,2}}{_SUFFIX}?")
_GREETING = re.compile(
    r"(?:\b(?:Hi|Hello|Hey|Dear|Thanks|Thank you|Cheers|Regards|Best|Sincerely|Welcome|Congratulations|Bye)"
    r"|^|\n)[,!]?[ \t]{0,3}\n?[ \t]{0,3}$"
)


def known_names(text: str) -> list[tuple[int, int]]:
    """People NER missed: a common given name followed by a surname ("Fernanda Costa", "Oliver
    J. Smith"), or a given name alone right after a greeting or sign-off ("Thanks, Sophie")."""
    found = []
    for m in _CAPITALISED.finditer(text):
        if m.group().lower() not in first_names() or (found and m.start() < found[-1][1]):
            continue
        surname = _SURNAMES.match(text, m.end())
        words = surname.group().replace(",", " ").split() if surname else []
        while words and not _name_like(words[-1]) and not _IS_SUFFIX.fullmatch(words[-1]):
            words.pop()  # "Maria Thanks": the run stops at the first word that is not a name
        if words and all(_name_like(w) or _IS_SUFFIX.fullmatch(w) for w in words):
            end = m.end()
            for word in words:
                end = text.index(word, end) + len(word)
            found.append((m.start(), end))
        elif _GREETING.search(text[max(0, m.start() - 24) : m.start()]) and not text[m.end() : m.end() + 1].isalnum():
            found.append((m.start(), m.end()))
    return found
