"""Street addresses in free text, one span each: from the house number (or the street word where
the number follows it) through the unit, place, postcode and country parts that directly follow.

One street pattern per family of layouts finds where an address starts; one tail parser extends
each match over the parts after it. Every repetition is bounded and every look around has a fixed
window, so a scan is linear in the text, whatever its shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_Trie = dict[str, "_Trie"]


def _any(words: list[str]) -> str:
    """A group matching any of `words`, shaped as a trie: a failed match costs one branch per letter."""
    tree: _Trie = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def walk(node: _Trie) -> str:
        branches = [re.escape(char) + walk(child) for char, child in node.items() if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return f"(?:{walk(tree)})"


def _cased(words: str) -> list[str]:
    """Each word as written, capitalised and in capitals."""
    return [form for word in words.split() for form in (word, word[:1].upper() + word[1:], word.upper())]


# -- words --------------------------------------------------------------------------------------------

_UPPER = "".join(c for c in map(chr, range(0x250)) if c.isupper())
_LETTER = r"[^\W\d_]"
_WORD = rf"(?<!\w)[{_UPPER}]{_LETTER}{{0,24}}(?:['’-]{_LETTER}{{1,20}}){{0,3}}(?!\w)"
"""A capitalised word ("Main", "O'Connell", "Shibuya-ku", "MG")."""
_NOT_NAMES = """the a an and or of in on at to for with by from is are was were be it its i we you he she they my
your our their his her this that these those there here if when then so but not no yes ok also please thanks thank
regards cheers best sincerely yours dear hi hello note attn tel phone email fax mobile am pm usd eur gbp jpy points
steps tips ways things reasons days times years hours minutes miles"""
_STOP = rf"{_any(_cased(_NOT_NAMES))}(?!\w)"
_NAME = rf"(?:(?:St|Ste|Mt|Ft|[NSEW])\.|(?=[{_UPPER}])(?!{_STOP}){_WORD}|\d{{1,3}}(?:st|nd|rd|th)(?!\w))"
"""A word of a street's name: capitalised and not a function word ("Main", "2nd", "St.")."""

_TYPES = """Street Avenue Road Boulevard Lane Drive Court Way Place Terrace Circle Parkway Highway Square Crescent
Close Grove Row Walk Alley Trail Loop Path Pike Plaza Mews Gardens Hill Rise Ridge Esplanade Parade Quay Wharf
Expressway Freeway Turnpike Causeway Embankment Crossing""".split()
_ABBREVIATIONS = "St Ave Av Rd Blvd Ln Dr Ct Pl Ter Terr Cir Pkwy Hwy Sq Cres Cl Gr Aly Trl Plz Pde Expy Fwy".split()
_TYPE = (
    rf"(?:{_any([*_TYPES, *map(str.upper, _TYPES)])}(?!\w)"
    rf"|{_any([*_ABBREVIATIONS, *map(str.upper, _ABBREVIATIONS)])}(?!\w)\.?)"
)
_AFTER_TYPE = r"(?:[ ](?:NE|NW|SE|SW|[NSEW])(?![\w.-])|[ ](?:North|South|East|West)(?=[ \t]*(?:[,;\n]|\Z)))?"

_NUMBER = r"\d{1,5}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?(?![\w-])"
_HOUSE = r"(?<![\w.,:;$€£¥#/+=*^%&@-])"
"""Not the tail of a time, price, decimal, range or identifier."""
_UNIT_WORDS = """apt apartment apartamento apto appartement suite ste unit flat floor fl level room rm bldg building
plot shop office lot villa"""
_UNIT_VALUE = r"\.?[ ]?#?(?=[A-Za-z]{0,2}\d)[A-Za-z0-9]{1,5}(?:-[A-Za-z0-9]{1,4})?(?![\w-])"
_UNIT_FIRST = rf"(?<!\w)(?:{_any(_cased(_UNIT_WORDS))}|No(?=\.)){_UNIT_VALUE}[ ]?"
"""A flat or plot before the street: "Flat 2B, ", "Level 12, ", "No. 17, "."""

# -- street parts: where an address starts ------------------------------------------------------------

_KOREAN = rf"[{_UPPER}]{_LETTER}{{1,24}}-(?:ro|gil|daero)(?!\w)(?:[ ]\d{{1,3}}-gil(?!\w))?"
_BENGALURU = r"\d{1,2}(?:st|nd|rd|th)[ ](?:Cross|Main)(?:[ ](?:Road|Street))?(?!\w)"
_EN = (
    rf"(?:{_UNIT_FIRST}[,/][ ]?(?:{_NUMBER}[ ])?|{_HOUSE}{_NUMBER}[ ])(?:{_NAME}[ ]){{0,4}}"
    rf"(?:{_NAME}[ ]{_TYPE}{_AFTER_TYPE}|{_KOREAN}|{_BENGALURU}|Broadway(?=[ \t]*(?:[,;\n]|\Z)))"
)
_FR_TYPES = """rue avenue av. boulevard bd place chemin allée impasse quai route cours square passage Rue Avenue
Boulevard Chemin Allée Impasse Quai RUE AVENUE BOULEVARD""".split()
_FR_TYPE = rf"(?:{_any(_FR_TYPES)}|(?:Place|Route)(?=[ ](?:de|du|des)[ ]|[ ][dl]['’]))(?!\w)"
"""Capitalised "Place" and "Route" are English words too: they need a particle after them."""
_FR_PART = r"(?:(?:de|du|des|la|le|les|et|sur|aux|au|à)[ ]|[dlDL]['’])"
_FR = (
    rf"{_HOUSE}{_NUMBER}(?:,|[ ](?:bis|ter))?[ ]{_FR_TYPE}[ ]"
    rf"{_FR_PART}{{0,3}}{_NAME}(?:[ -]{_FR_PART}{{0,3}}{_NAME}){{0,3}}"
)
_JP = (
    rf"{_HOUSE}\d{{1,4}}(?:-\d{{1,4}}){{1,2}},?[ ](?:{_WORD},?[ ]){{0,2}}"
    rf"[{_UPPER}]{_LETTER}{{1,24}}-(?:ku|shi|cho|machi|gun)(?!\w)"
)
_NUMBER_FIRST = re.compile(f"{_EN}|{_FR}|{_JP}")
"""English, French, Korean, Japanese and Indian layouts: the house number opens the address."""

_TF_TYPES = """Calle Carrer Passeig Placeta Plaça Avenida Avda. Av. Paseo Camino Carretera Ronda Rambla Travesía Viale
Corso Piazza Piazzale Vicolo Strada Rua Travessa Praça Estrada Alameda Rue Chemin Allée Quai ul. Ul. ulica Ulitsa Jalan
Jl. C/""".split()
_ENGLISH_TOO = "Via Avenue Boulevard Largo Place Plaza Route".split()
"""Street words that are English words too: "Via Roma 15" but "Via Satellite 3"."""
_TF_PART = r"(?:(?:de|del|la|las|los|el|di|della|delle|dei|degli|dello|do|da|dos|das|du|des|le|les)[ ]|[dl]['’])"


def _type_first(types: str) -> str:
    """The street word, its name, then the number: "Calle Mayor 10", "Via dei Fori Imperiali 1"."""
    name = rf"{_TF_PART}{{0,3}}{_NAME}(?:[ ]{_TF_PART}{{0,2}}{_NAME}){{0,3}}"
    return rf"(?:{_UNIT_FIRST},[ ])?(?<!\w)(?:{types})[ ]{name},?[ ]{_NUMBER}"


_COLOMBIAN = (
    r"(?<!\w)(?:Carrera|Calle|Cra\.|Cl\.|Avenida|Diagonal|Transversal)[ ]\d{1,3}[A-Z]?(?:[ ]?[Bb]is)?"
    r"[ ]?(?:#|No\.?|N[°º])[ ]?\d{1,3}[A-Z]?[ ]?-[ ]?\d{1,3}(?![\w-])"
)
_SECTOR = r"(?<!\w)(?:[A-Z]-?)?\d{1,4},[ ](?:Sector|Block|Phase)[ ]\d{1,3}[A-Z]?(?![\w-])"
_PO_BOX = (
    r"(?<!\w)(?:(?i:p\.?[ ]?o\.?[ ]?box|post[ ]office[ ]box|gpo[ ]box|postfach)|Apartado(?:[ ]de[ ]Correos)?"
    r"|Caixa[ ]Postal|Casella[ ]Postale)[ ]?#?\d{1,7}(?![\w-])"
)
_WORD_FIRST = re.compile(
    rf"{_type_first(rf'{_any([*_TF_TYPES, *map(str.upper, _TF_TYPES)])}|{_any(_ENGLISH_TOO)}(?=[ ]{_TF_PART})')}"
    rf"|{_COLOMBIAN}|{_SECTOR}|{_PO_BOX}"
)
"""Spanish, Italian, Portuguese, Belgian, Polish, Colombian and Indian layouts, and post boxes."""

_SUFFIXES = """straße strasse weg gasse platz allee damm ufer chaussee steig pfad graben straat laan gracht plein singel
dijk steeg gatan vägen gata vej veien""".split()
_FORMS = [*_SUFFIXES, *map(str.upper, _SUFFIXES)]
_SUFFIXED = "|".join(
    # one look-behind per suffix length (a look-behind has a fixed width); after a hyphen: "Karl-Marx-Allee"
    [rf"(?<={_LETTER}{{3}}{_any([f for f in _FORMS if len(f) == n])})" for n in sorted(set(map(len, _FORMS)))]
    + [rf"(?<=-{_any([s.capitalize() for s in _SUFFIXES if len(s) == n])})" for n in sorted(set(map(len, _SUFFIXES)))]
    # "Spring", "Offspring", "Keyring" end in -ring too; a German stem ends in a consonant other than p
    + [rf"(?<={_LETTER}{{2}}[b-df-hj-nq-tv-xzß]ring)", rf"(?<={_LETTER}{{3}}(?:str|STR))\."]
)
_STANDALONE = "Straße Strasse Str. Weg Gasse Platz Allee Ring Damm Prospekt Straat Laan Gracht Plein".split()
_NUMBER_AFTER = re.compile(
    rf"(?:(?:{_any(_cased('am im zum zur alte alter neue neuer'))}[ ])?{_WORD}(?=\.?,?[ ]\d)(?:{_SUFFIXED})"
    rf"|{_WORD}[ ]{_any([*_STANDALONE, *map(str.upper, _STANDALONE)])}(?!\w)),?[ ]{_NUMBER}"
)
"""German, Austrian, Swiss, Dutch, Nordic and Russian layouts: "Hauptstraße 5", "Nevsky Prospekt 28"."""

_ENGLISH_FIRST = re.compile(_type_first(_any(_ENGLISH_TOO)))
"""Type-first layouts on an English word ("Avenue Louise 54"); kept only when a postcode follows."""

_NO_NUMBER = re.compile(rf"(?:\A|(?<=\n)|(?<=,[ ])|(?<=:[ ]))(?:{_NAME}[ ]){{0,2}}{_NAME}[ ]{_TYPE}")
"""A street without a number ("Mill Lane"); kept only when a postcode follows."""

# -- tail parts: where an address ends ----------------------------------------------------------------

_REGIONS = """AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND
OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY AB BC MB NB NL NS NT NU ON PE QC SK YT NSW VIC QLD SA TAS ACT"""
_REGION = rf"{_any(_REGIONS.split())}(?!\w)"
_POSTCODE = (
    r"(?:[A-Z]{1,2}-)?(?:[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}|[A-Z]\d[A-Z][ ]?\d[A-Z]\d|[A-Z]\d{2}[ ]?[A-Z\d]{4}"
    r"|[A-Z]\d{4}(?:[A-Z]{3})?|\d{4}[ ]?[A-Z]{2}|\d{5}-\d{3,4}|\d{4}-\d{3}|\d{3}-\d{4}|\d{2}-\d{3}"
    r"|\d{3}[ ]\d{2,3}|\d{4,6})(?![\w-])"
)
"""UK, Canadian, Irish, Argentine, Dutch, ZIP+4, Brazilian, Portuguese, Japanese, Polish, Nordic, Indian, numeric."""
_CODE_ALONE = (
    r"(?:[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2}|[A-Z]\d[A-Z][ ]\d[A-Z]\d|[A-Z]\d{2}[ ][A-Z\d]{4}|\d{4,5}-\d{3,4}"
    r"|\d{2}-\d{3})(?![\w-])"
)
"""Postcodes distinct enough to stand without a place: "D06 X2Y3", "22410-002"."""
_PARTICLE = r"(?:de|da|do|dos|das|di|del|della|la|le|les|du|des|am|der|den|upon|sur|van|von|het|aan|op|al|el|bei|ob)"
_PLACE = rf"(?=[{_UPPER}])(?!{_STOP})(?:(?:St|Ste|Mt|Ft)\.?[ ])?{_WORD}(?:[ ](?:{_PARTICLE}[ ]){{0,2}}{_WORD}){{0,3}}"
_COUNTRIES = """United States of America|United States|USA|U.S.A.|US|United Kingdom|UK|U.K.|England|Scotland|Wales|
Northern Ireland|Ireland|Canada|Australia|New Zealand|Germany|Deutschland|Austria|Österreich|Switzerland|Schweiz|Suisse|
France|Spain|España|Italy|Italia|Portugal|The Netherlands|Netherlands|Nederland|Belgium|Belgique|België|Luxembourg|
Denmark|Sweden|Norway|Finland|Poland|Polska|Czechia|Greece|Japan|South Korea|Korea|China|India|Singapore|Malaysia|
Indonesia|Philippines|Nigeria|Kenya|South Africa|Egypt|Israel|Türkiye|Turkey|United Arab Emirates|UAE|Brazil|Brasil|
Mexico|México|Argentina|Colombia|Chile|Peru""".replace("\n", "").split("|")
_UNIT = (
    rf"(?:{_any(_cased(_UNIT_WORDS + ' dept kv stiege piso puerta tür'))}|(?:m|lok)(?=\.)){_UNIT_VALUE}"
    r"|#[ ]?\d{1,5}[A-Za-z]?(?![\w-])|\d{1,2}[º°ª](?:[ ]?[A-Z](?!\w))?|\d{1,2}\.[ ]?(?:OG|Stock|Etage)(?!\w)"
    r"|(?:\d{1,3}(?:st|nd|rd|th)|Ground|First|Second|Third|Top|ground|top)[ ](?:[Ff]loor|FLOOR)(?!\w)"
    r"|Hinterhaus|Vorderhaus|Seitenflügel|Gartenhaus"
    r"|\d{1,2}(?:st|nd|rd|th)[ ](?:Cross|Main|Block|Stage|Phase)(?!\w)|(?:Sector|Block|Phase)[ ]\d{1,3}(?!\w)"
)
"""Flat, floor and building parts: "Apt 4B", "#12", "2nd floor", "3º B", "2. OG", "5th Main", "kv. 8"."""
_ENDS = r"(?=[ \t]{0,4}(?:[,;)|\r\n]|\.(?!\w)|\Z))"
"""A place without a postcode must end where an address can: not "London is lovely"."""
_PART = re.compile(
    r"(?P<sep>[ \t]{0,4}(?:,[ \t]{0,4}(?:\r?\n[ \t]{0,8})?|\r?\n[ \t]{0,8})|[ \t]{1,4})(?:"
    rf"(?P<postcode>(?:{_PLACE},?[ ])?{_REGION}[ ]{_POSTCODE}|{_PLACE},?[ ]{_POSTCODE}|{_POSTCODE}[ ]{_PLACE}"
    rf"|{_CODE_ALONE})"
    rf"|(?P<country>{_any(_COUNTRIES)}(?!\w)){_ENDS}"
    rf"|(?P<unit>{_UNIT})"
    rf"|(?P<place>{_PLACE}(?:,?[ ]{_REGION}|[ ]\d{{1,2}}|[ ]-[ ][A-Z]{{2}})?){_ENDS})"
)
_KINDS = ("postcode", "country", "unit", "place")
_MAX_PARTS = 8

# -- what a house number is not -----------------------------------------------------------------------

_COUNTERS = """step chapter section version page part figure fig table item rule level no number top episode
season vol volume port line row column col exercise question lesson round phase stage verse article clause paragraph
slide grade class week day"""
_NOT_BEFORE = frozenset(_COUNTERS.split())
"""Words that make the number after them a count or an index ("step 2 Drive the car")."""
_PUNCTUATION = "\"'([{*_“‘«¿¡"
_YEAR_BEFORE = frozenset("in since until till during circa by before after around".split())
_YEAR = re.compile(r"(?:1[89]|20)\d\d(?!\w)")
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]")
_LINE_WINDOW = 200


def find_addresses(text: str) -> list[tuple[int, int]]:
    """(start, end) of each street address in `text`, in order, non-overlapping."""
    found = []
    for pattern, accept, needs_postcode in _LAYOUTS:
        pos = 0
        while (m := pattern.search(text, pos)) is not None:
            if not accept(text, m):
                pos = m.start() + 1
                continue
            end, postcode = _tail(text, m.end())
            if postcode or not needs_postcode:
                found.append((m.start(), end))
            pos = m.end()
    return _non_overlapping(found)


def _tail(text: str, pos: int) -> tuple[int, bool]:
    """End of the address whose street part ends at `pos`, and whether a postcode was read.

    A place alone on a new line ("Victoria Island") counts only once a postcode or a country
    follows it; after a postcode only a country may take a new line.
    """
    end, pending, postcode = pos, False, False
    for _ in range(_MAX_PARTS):
        m = _PART.match(text, pos)
        if m is None:
            break
        kind = next(k for k in _KINDS if m[k] is not None)
        newline, comma = "\n" in m["sep"], "," in m["sep"]
        if (kind in ("place", "country") and not (newline or comma)) or (newline and postcode and kind != "country"):
            break
        if kind == "place" and (newline or pending):
            pending = True
        else:
            end, pending = m.end(), False
        postcode = postcode or kind == "postcode"
        pos = m.end()
    return end, postcode


def _house_number(text: str, m: re.Match[str]) -> bool:
    """Not a count ("Chapter 7 Lonely Road"), a year ("in 2024 Park Avenue") or in a heading."""
    before = text[max(0, m.start() - 32) : m.start()]
    line = before.rstrip(" \t")
    if line != before and line[-1:].strip():
        word = line.split()[-1].strip(_PUNCTUATION).lower()
        if word in _NOT_BEFORE or (word in _YEAR_BEFORE and _YEAR.match(text, m.start())):
            return False
    return _not_heading(text, m)


def _not_heading(text: str, m: re.Match[str]) -> bool:
    newline = text.rfind("\n", max(0, m.start() - _LINE_WINDOW), m.start())
    if newline < 0 and m.start() > _LINE_WINDOW:
        return True
    return _HEADING.match(text, newline + 1, newline + 12) is None


def _non_overlapping(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where spans overlap, the longer one wins."""
    kept: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if kept and start < kept[-1][1]:
            if end - start > kept[-1][1] - kept[-1][0]:
                kept[-1] = (start, end)  # it starts after kept[-2] ends, so it overlaps nothing else kept
            continue
        kept.append((start, end))
    return kept


_LAYOUTS: tuple[tuple[re.Pattern[str], Callable[[str, re.Match[str]], bool], bool], ...] = (
    (_NUMBER_FIRST, _house_number, False),
    (_WORD_FIRST, _not_heading, False),
    (_NUMBER_AFTER, _not_heading, False),
    (_ENGLISH_FIRST, _not_heading, True),
    (_NO_NUMBER, _not_heading, True),
)
"""(street pattern, check on a match, whether a postcode must follow)."""
