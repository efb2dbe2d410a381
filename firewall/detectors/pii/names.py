"""Person names as whole spans: initials and suffixes kept, titles left out, NER's pieces joined.

NER cuts names at initials ("Richard M." + "Nixon"), keeps titles ("Dr. Stone") or stops short
("Doe" for "Johnathan Edward Doe"). `whole_name` repairs a span from the text around it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from firewall.detectors.pii.ner import NOT_NAMES, OPENERS

TITLES = frozenset(
    """mr mrs ms miss mx dr prof sir dame lord lady rev fr herr frau mme mlle sra srta
sr señor señora don dona doña capt col gen lt sgt officer judge""".split()
)
_SUFFIX_WORD = r"(?:Jr\.?|Sr\.?|II|III|IV|PhD|Ph\.D\.|MD|M\.D\.|Esq\.?)"
_SUFFIX = rf"(?:,? {_SUFFIX_WORD})"
_NAME_WORD = r"(?:[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*)"
_CAP_WORD = rf"(?:(?=[A-ZÀ-ÖØ-Þ]){_NAME_WORD})"
_INITIAL = r"(?:[A-ZÀ-ÖØ-Þ]\.)"
_IS_INITIAL = re.compile(_INITIAL)
_CAMEL = re.compile(r"^(?!Mc|Mac|De|Di|Le|La|Van|Von|O['’])\w*[a-z][A-Z]")
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
    return (
        word[:1].isupper()
        and any(c.islower() for c in word)
        and lower not in OPENERS
        and lower not in NOT_NAMES
        and lower.rstrip(".") not in TITLES
    )


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


_ARTICLES = frozenset(
    "a an the der die das den dem des ein eine einen einem le la les el los las il lo gli de het".split()
)


def after_article(text: str, start: int) -> bool:
    """Whether text[start:] follows an article ("the Reisepass", "die Rechnung"): a common noun,
    not a person."""
    before = text[max(0, start - 8) : start].split()
    return bool(before) and text[start - 1 : start] == " " and before[-1].lower() in _ARTICLES


_GERMAN = frozenset(
    "der die das und ist nicht mit für sie ihre ihr bitte wir den dem ein eine auf bei von im zur zum wird"
    " werden sind haben".split()
)
_ENGLISH = frozenset("the and is are not with for you your please we to of in on at be this that".split())
_FACILITIES = frozenset(
    """room park residence hostel hostal hotel user test station street bahnhof hauptbahnhof
compose bank group team cafe café restaurant museum church bridge tower house hall center centre
library livraria school university college hospital clinic airport terminal gate garden gardens
market square palace castle cathedral beach island valley mountain river lake bay port inc ltd llc
gmbh corp company services solutions systems labs studio studios""".split()
)


_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“", "`": "`", "*": "*"}


def quoted(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] stands in quotes or emphasis of its own ("Rechnung", *Reisepass*)."""
    before, after = text[start - 1 : start], text[end : end + 1]
    return bool(before) and _QUOTES.get(before) == after


def capitalises_nouns(text: str) -> bool:
    """Whether `text` reads as German, where every noun is capitalised ("die Rechnung")."""
    words = [w.lower() for w in re.findall(r"[^\W\d_]+", text)]
    german = sum(w in _GERMAN for w in words)
    return german >= 2 and german > sum(w in _ENGLISH for w in words)


def facility(span: str) -> bool:
    """Whether a multi-word span names a thing or a place rather than a person ("Room Aurora",
    "Hostal Las Letras", "Test User")."""
    return any(w.lower() in _FACILITIES for w in span.split())


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
        if _CAMEL.search(word):
            return False  # ConnectionError, GitHub: identifiers, not names (McKenzie, DeAngelo are)
        names += 1
    return names > 0


@cache
def _word_list(name: str) -> frozenset[str]:
    text = Path(__file__).with_name(name).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def first_names() -> frozenset[str]:
    """Common given names, lower case (first_names.txt: US census lists and a supplement)."""
    return _word_list("first_names.txt")


def places() -> frozenset[str]:
    """Countries and large cities, one word each, lower case (places.txt)."""
    return _word_list("places.txt")


def lone_word_verdict(text: str, start: int, end: int, opens_sentence: bool) -> str | None:
    """What NER's one-word PERSON text[start:end] really is: "PERSON", "LOCATION" (a known place),
    or None (a common noun: "Remote", "Landlord" opening a line, a German noun)."""
    word = text[start:end].lower()
    if word in places():
        return "LOCATION"
    if word in first_names() or _TITLED.search(text[max(0, start - 12) : start]):
        return "PERSON"
    if word in OPENERS or word in NOT_NAMES or opens_sentence:
        return None
    return "PERSON"


_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Sra|Sr)\.? $")


_CAPITALISED = re.compile(rf"(?<![\w.@/-]){_CAP_WORD}")
_SURNAMES = re.compile(rf"(?:(?: {_INITIAL})* {_CAP_WORD}(?![\w@])){{1,2}}{_SUFFIX}?")
_GREETING = re.compile(
    r"(?:\b(?:Hi|Hello|Hey|Dear|Thanks|Thank you|Cheers|Regards|Best|Sincerely|Welcome|Congratulations|Bye)"
    r"|^|\n)[,!]?[ \t]{0,3}\n?[ \t]{0,3}$"
)


_INITIALED = re.compile(
    rf"(?<![\w.])(?:{_INITIAL} ){{1,2}}(?P<surname>{_CAP_WORD})(?![\w@])"  # S. Patel, A. C. Okonjo
    rf"|(?<![\w.])(?:(?:van|von|de|der|den|da|di|du|le|la|el) ){{0,2}}"  # van der Berg, H.
    rf"(?P<reversed>{_CAP_WORD}), (?:{_INITIAL} ?){{1,3}}(?!\w)"
)


def known_names(text: str) -> list[tuple[int, int]]:
    """People NER missed: a common given name followed by a surname ("Fernanda Costa", "Oliver
    J. Smith"), a given name alone right after a greeting or sign-off ("Thanks, Sophie"), and
    initials with a surname ("S. Patel", "Okonjo, A. C.")."""
    found = [
        (m.start(), m.end() - (m.group().endswith(" ")))
        for m in _INITIALED.finditer(text)
        if _name_like(m.group("surname") or m.group("reversed"))
        and (m.group("surname") or m.group("reversed")).lower() not in places()
    ]
    found += _given_names(text, found)
    return sorted(found)


def _given_names(text: str, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for m in _CAPITALISED.finditer(text):
        if m.group().lower() not in first_names() or (found and m.start() < found[-1][1]):
            continue
        if any(a <= m.start() < b for a, b in taken):
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


def known_places(text: str) -> list[tuple[int, int]]:
    """Countries and large cities from the list, as single capitalised words ("Lisbon")."""
    return [(m.start(), m.end()) for m in _CAPITALISED.finditer(text) if m.group().lower() in places()]
