"""Fresh variants of the labelled answers: the same prose with new personal data in every span.

The latency and loop-stall figures of bench/pii.py must come from texts the detector has never
seen. `freshen(record, rng)` keeps an answer's wording and replaces each gold span with a new value
of its label and shape: names from the pools below (initials, titles and suffixes kept), e-mails
rebuilt from a new name, digits of phones, addresses, cards, IBANs, SSNs and IPs redrawn (cards and
IBANs keep valid check digits). A run of N passes over M answers thus scans N x M distinct texts.
"""

from __future__ import annotations

import random
import re
from typing import Any

FIRST = (
    "Abena Adrian Agnes Ahmed Aiden Akira Alba Aleksander Alice Amir Anaya Andrei Anika Arjun Astrid "
    "Beatriz Bilal Bruno Callum Carmen Chiara Chidi Clara Dalia Dario Deepa Dmitri Elif Elena Emeka "
    "Esme Ewa Farid Felix Freya Gaspard Greta Hamza Hana Hugo Ilse Imani Isak Ivana Jamal Jana Jasper "
    "Joaquín Kaia Kamal Karin Keanu Lars Leila Lena Linnea Lorenzo Lucia Mads Malik Mara Mateus Maya "
    "Mehmet Mila Nadia Nikolai Nina Noor Oskar Paloma Pavel Quentin Rania Rashid Rosa Rui Saanvi Selin "
    "Silas Sofia Tariq Thea Tomasz Uma Valentina Viktor Wanjiru Xavier Yara Yusuf Zainab Zofia"
).split()
LAST = (
    "Abbott Achterberg Adeleke Alvarez Andersen Antonelli Arslan Bakker Banerjee Barros Bauer Bergström "
    "Bianchi Brennan Castillo Chaudhry Chen Costa Dahl Delacroix Demir Dimitrov Dubois Eriksen Esposito "
    "Farouk Fitzgerald Fontaine Gallo Gomes Gruber Haddad Hartmann Horvat Ibrahim Iyer Jensen Kaminski "
    "Kapoor Kim Kowalski Kruger Lambert Larsen Lindqvist Lopez Mahlaba Marino Mendes Moreau Mwangi "
    "Nakamura Nguyen Novak Nowicki Oduya Okafor Olsen Ortega Park Pereira Petrov Popescu Quinn Rahman "
    "Ramos Reyes Rossi Sato Schneider Silva Sokolov Suzuki Takahashi Tan Torres Varga Visser Vogel "
    "Wagner Walsh Weber Wiśniewski Yamamoto Yilmaz Zhang Zielinski"
).split()
PLACES = (
    "Aarhus;Accra;Adelaide;Alicante;Antwerp;Arequipa;Asunción;Bergen;Bologna;Bordeaux;Brno;Cluj-Napoca;"
    "Cork;Curitiba;Da Nang;Dortmund;Durban;Eindhoven;Gdańsk;Ghent;Graz;Guadalajara;Hobart;Izmir;Kraków;"
    "Kumasi;Leipzig;León;Lille;Linz;Ljubljana;Malmö;Mombasa;Nantes;Oaxaca;Plovdiv;Porto Alegre;Rosario;"
    "Salvador;Sapporo;Tampere;Tartu;Toulouse;Trondheim;Valparaíso;Vilnius;Winnipeg;Zaragoza"
).split(";")
DOMAINS = ("postbox-mail.com", "lagoonmail.net", "fjordpost.no", "correiolivre.pt", "sakura-net.jp",
           "nordpost.se", "thistlepost.co.uk", "andesmail.co", "meridian-mail.de", "kuzeymail.com.tr")
_KEEP_WORDS = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "van", "der", "de", "da", "del", "la", "le", "von"}


def freshen(record: dict[str, Any], rng: random.Random) -> str:
    """The record's text with every gold span replaced by a new value of the same label."""
    text, out, at = record["text"], [], 0
    for span in sorted(record["spans"], key=lambda s: s["start"]):
        out.append(text[at : span["start"]])
        out.append(_NEW[span["label"]](text[span["start"] : span["end"]], rng))
        at = span["end"]
    out.append(text[at:])
    return "".join(out)


def _person(value: str, rng: random.Random) -> str:
    words = re.split(r"(\W+)", value)
    named = [i for i, w in enumerate(words) if len(w) > 1 and w.isalpha() and w.lower() not in _KEEP_WORDS]
    for n, i in enumerate(named):
        pool = FIRST if n == 0 and len(named) > 1 else LAST
        words[i] = rng.choice(pool).upper() if words[i].isupper() else rng.choice(pool)
    return "".join(words)


def _email(value: str, rng: random.Random) -> str:
    local = f"{rng.choice(FIRST)}.{rng.choice(LAST)}".lower().replace(" ", "")
    return f"{local}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}"


def _digits(value: str, rng: random.Random, keep: int = 0) -> str:
    """Redraw every digit after the first `keep` digits (a country code, a card's issuer)."""
    seen, out = 0, []
    for c in value:
        if c.isdigit():
            seen += 1
            c = c if seen <= keep else str(rng.randint(0, 9))
        out.append(c)
    return "".join(out)


def _location(value: str, rng: random.Random) -> str:
    if any(c.isdigit() for c in value):
        return _digits(value, rng)
    return rng.choice(PLACES)


def _phone(value: str, rng: random.Random) -> str:
    return _digits(value, rng, keep=3)


def _card(value: str, rng: random.Random) -> str:
    drawn = _digits(value, rng, keep=6)
    digits = [int(c) for c in drawn if c.isdigit()]
    body = digits[:-1][::-1]
    total = sum(d if i % 2 else (2 * d) // 10 + (2 * d) % 10 for i, d in enumerate(body))
    check = str((10 - total % 10) % 10)
    last = max(i for i, c in enumerate(drawn) if c.isdigit())
    return drawn[:last] + check + drawn[last + 1 :]


def _iban(value: str, rng: random.Random) -> str:
    account = value[:4] + _digits(value[4:], rng)
    compact = account.replace(" ", "")
    moved = compact[4:] + compact[:2] + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return f"{account[:2]}{check:02d}{account[4:]}"


def _ssn(value: str, rng: random.Random) -> str:
    return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _ip(value: str, rng: random.Random) -> str:
    first = rng.choice((31, 46, 62, 81, 85, 91, 109, 151, 185, 213))  # public unicast blocks
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


_NEW = {
    "PERSON": _person, "LOCATION": _location, "EMAIL": _email, "PHONE": _phone,
    "CREDIT_CARD": _card, "IBAN": _iban, "SSN": _ssn, "IP_ADDRESS": _ip,
}
