"""Checks a pattern match must pass to count (checksums), referenced by name from rule files."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import re
import zlib

from firewall.placeholders import MARKERS as _MARKERS
from collections import Counter
from collections.abc import Callable


def luhn(value: str) -> bool:
    """Payment card numbers: 13-19 digits (separators ignored) with a valid Luhn check digit."""
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban(value: str) -> bool:
    """International bank account numbers: ISO 13616 mod-97 check (spaces ignored)."""
    compact = "".join(value.split()).upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def ip(value: str, key: str | None = None) -> bool:
    """A public IPv4 or IPv6 address (the standard library decides; IPv6 needs three groups or
    more) that is not a version number.

    Not personal data, so never a finding: private ranges (RFC 1918, IPv6 ULA fc00::/7), loopback,
    link-local, documentation ranges (RFC 5737 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24;
    RFC 3849 2001:db8::/32), shared (100.64.0.0/10), unspecified, broadcast, multicast and
    reserved addresses. `key`, the text the rule's `(?P<key>...)` group saw before the address,
    makes it a version when it ends in a version word (`version 1.2.3.4`, `ver. 10.0.0.1`,
    `build 1.0.0.12`), a pin (`==1.2.3.4`) or a product token (`Chrome/120.0.0.1`).

    A key of spaces and punctuation alone is what a search restarted inside a rejected
    `version 1.2.3.4` sees (` `), so it is no finding either, unless it separates list items
    (`, `, `;`, `|`, `&`, a line break, a tab, two spaces): `81.2.69.160, 81.2.69.161`."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    if address.version == 6 and value.count(":") < 3:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:81.2.69.160 is as public as 81.2.69.160
    if not address.is_global or address.is_multicast or address.is_reserved:
        return False  # is_global is False for private, loopback, link-local, documentation...
    return key is None or not _version_context(key)


_VERSION_WORDS = frozenset(
    "v ver vers version versions release releases rel build builds revision rev firmware patch semver".split()
)
_PRODUCT_TOKENS = frozenset("mozilla applewebkit chrome chromium crios edg edge opr firefox fxios safari".split())
_PIN = re.compile(r"(?:[=!<>~]=|[~^])\s*['\"]?$")
"""A version pin before the address: pkg==1.2.3.4, >=1.2.3.4, ~1.2.3.4, "^1.2.3.4"."""
_LAST_WORD = re.compile(r"([A-Za-z]+)([^A-Za-z0-9]*)$")
_LIST_SEPARATOR = re.compile(r"[,;|&\n\t]")


def _version_context(key: str) -> bool:
    """True when the text before an address says it is a version: its last word is a version
    word, a product token with a slash ends it, a pin operator ends it, or it is spaces and
    punctuation that separate no list items."""
    if not any(c.isalnum() for c in key):
        return _LIST_SEPARATOR.search(key) is None and sum(c.isspace() for c in key) < 2
    if _PIN.search(key):
        return True
    last = _LAST_WORD.search(key)
    if last is None:
        return False  # digits after the last word: "Host 1: 81.2.69.160"
    word, tail = last.group(1), last.group(2)
    if word.lower() in _VERSION_WORDS and "/" not in tail and "@" not in tail:
        return True  # "version 1.2.3.4", "ver. 10.0.0.1", but not "rev/81.2.69.160" or "build@81..."
    return tail == "/" and (word[0].isupper() or word.lower() in _PRODUCT_TOKENS)


def phone(value: str) -> bool:
    """Phone numbers: 10 to 15 digits (E.164 allows 15)."""
    return 10 <= sum(c.isdigit() for c in value) <= 15


def jwt(value: str) -> bool:
    """JSON Web Tokens (line breaks ignored): three base64url parts (the last may be empty, for
    alg "none"), the header a JSON object naming its `alg`, the payload a JSON object."""
    parts = "".join(value.split()).split(".")
    if len(parts) != 3:
        return False
    header, payload = (_b64url_json(p) for p in parts[:2])
    return isinstance(header, dict) and "alg" in header and isinstance(payload, dict)


def jwt_wrapped(value: str) -> bool:
    """A JWT broken over lines: a line break before its signature, and a valid joined token."""
    return "\n" in value[: value.rfind(".")] and jwt(value)


def _b64url_json(part: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


_STOPWORDS = frozenset(
    "password passwd pass pwd secret token apikey api_key key changeme letmein admin root guest user "
    "username mypassword yourpassword none null nil true false undefined string str bytes required "
    "optional hidden empty default sha1 sha256 sha512 md5 bcrypt argon2 argon2id scrypt pbkdf2 hs256 "
    "hs512 rs256 rs512 es256 utf8 utf-8 base64 aes256 aes-256-gcm enabled disabled strong weak "
    "changed expired protected encrypted masked hashed plaintext plain value secret redacted".split()
)
_REFERENCE = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+(?:\(\)?)?!?")
"""A dotted code reference: os.environ, process.env.API_KEY!, settings.SECRET_KEY."""
_NOT_A_SECRET = re.compile(r"^\[[a-z]+\(|^arn:|^alias/|^%env\(|^@Microsoft\.KeyVault\(|^!(?:GetAtt|Ref|ImportValue|Sub|vault)\b|^ENC\[|\d{4}-\d\d-\d\d|^v?\d{1,4}(?:\.\d{1,4}){1,3}(?:[-+][\w.]{1,20})?$|^\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?$")
"""References to secret stores (ARNs, KMS aliases, Symfony %env()%, Azure Key Vault references,
CloudFormation !Ref/!GetAtt, Ansible !vault, sops ENC[...]), dates and timestamps, version numbers,
IPv4 addresses: values of secret-named keys that are not secrets."""
_RANDOM_RUN = re.compile(r"\d[A-Za-z]{1,3}\d")
"""Digits and letters interleaved (Q2mLp7Rt): random text, not a name."""
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
"""An environment variable's name: DB_PASSWORD, OPENAI_API_KEY."""


def password(value: str) -> bool:
    """A value in a password position (URL user info, `curl -u`): not a stop word (password,
    guest, changeme...) and not a single repeated character."""
    return value.lower() not in _STOPWORDS and len(set(value)) > 1


def credential(value: str, key: str | None = None) -> bool:
    """A value assigned to a secret-named key that looks like a credential, not like code, a
    type, a word, a name or a setting.

    Never: under 6 characters, a stop word (None, string, sha256...), a dotted reference
    (os.environ, process.env.KEY), an environment variable's name, a path, a URL, a date, a
    version, an IP address, a bare prefix (sk_live_ of sk_live_...). Under a password-like key
    (password, passwd, pwd, pass, passphrase, psk) a person's choice counts: 8+ characters with a
    digit, a symbol or a capital, or 12+ letters (CorrectHorseBatteryStaple,
    purple-monkey-dishwasher). Under other keys (token, secret, api_key...) it must read as
    generated: two or more character classes with a digit (not a lower-case name such as
    svc-billing-01 or cl100k_base), both cases and a symbol, 16+ letters that change case like
    random text, or 8+ digits."""
    if len(value) < 6 or not password(value) or _ENV_NAME.fullmatch(value) or _NOT_A_SECRET.search(value):
        return False
    if _REFERENCE.fullmatch(value) and not _RANDOM_RUN.search(value):
        return False  # a code reference, unless it reads random (Vault's s.Q2mLp7RtXk9f...)
    if value.startswith(("/", "~/", "./", "../", "-")) or "://" in value or value.endswith(("_", "-")):
        return False  # a path, a URL, or what is left of sk_live_... once the sentence's dots end it
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    symbol = any(not c.isalnum() for c in value)
    if key is not None and _PASSWORD_KEY.search(key) and "pass" not in value.lower() and not _LOWER_CAMEL.fullmatch(value):
        return len(value) >= 8 and (digit or symbol or upper or len(value) >= 12)
    if value.isdigit():
        return len(value) >= 8
    if value.isalpha():
        # camelCase identifiers (passwordHash, HTTPPasswordMgrWithPriorAuth) change case at a
        # few word starts; random letters at about every other character
        changes = sum(a.isupper() != b.isupper() for a, b in zip(value, value[1:]))
        return len(value) >= 16 and changes >= 0.4 * (len(value) - 1)
    if not digit:
        # letters and symbols only: both cases and a symbol (P@ssword); not words, tags, names
        return lower and upper and symbol and not re.fullmatch(r"[A-Za-z]+(?:[_.-][A-Za-z]+)+", value)
    if not upper and _LOWER_NAME.fullmatch(value) and not _UUID.fullmatch(value):
        return False  # a lower-case name with a number: svc-billing-01, cl100k_base, db-creds-2024
    return lower + upper + digit + symbol >= 2


_PASSWORD_KEY = re.compile(
    r"(?i)(?:pass(?:w(?:or)?d)?|pwd|pw|psk|passphrase|mot de passe|kennwort|contrase(?:ñ|n)a|senha|wachtwoord"
    r"|lösenord|hasło|şifre|пароль|パスワード|密码|비밀번호)$"
)
"""A key that ends with a password word (DB_PASSWORD, passwd, Kennwort): its value may be a
person's choice rather than generated text."""
_LOWER_CAMEL = re.compile(r"[a-z]{1,4}(?:[A-Z][a-z]+){2,}")
"""An identifier such as kSecAttrAccount: a name even under a password key."""
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_LOWER_NAME = re.compile(r"[a-z0-9]{1,12}(?:[-_.:/][a-z0-9]{1,12})+")


_PEM_ARMOR = re.compile(r"-----(?:BEGIN|END)[^-]{1,80}-----|^[A-Za-z-]{1,20}:[^\n]*$|\\[nr]", re.MULTILINE)


def private_key(value: str) -> bool:
    """A private key's text carries key material: at least 40 base64 characters between its
    armour lines (so "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----" in a how-to
    is not one), and no stand-in text (<your key>, "...", REDACTED)."""
    body = "".join(_PEM_ARMOR.sub(" ", value).split())
    return len(body) >= 40 and re.fullmatch(r"[A-Za-z0-9+/=]+", body) is not None and not _MARKERS.search(body)


def basic_auth(value: str) -> bool:
    """Base64 of "user:password" (HTTP Basic credentials, a Docker config's "auth"): both parts
    present, printable, and the password not a stop word."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    user, colon, secret = decoded.partition(":")
    return bool(user and colon and secret) and decoded.isprintable() and password(secret)


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def crc32_base62(value: str) -> bool:
    """GitHub-style token checksum: the last 6 characters are the base62 CRC32 of the 30 random
    characters before them (GitHub `gh?_` tokens, npm `npm_` tokens)."""
    body = value.rsplit("_", 1)[-1]
    if len(body) != 36:
        return False
    number = zlib.crc32(body[:30].encode())
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(6, "0") == body[30:]


def shannon_entropy(value: str) -> float:
    """Shannon entropy of the characters of `value`, in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _value_only(check: Callable[[str], bool]) -> Callable[[str, str | None], bool]:
    return lambda value, key=None: check(value)


VALIDATORS: dict[str, Callable[[str, str | None], bool]] = {
    **{name: _value_only(check) for name, check in {
        "luhn": luhn, "iban": iban, "phone": phone, "jwt": jwt, "jwt_wrapped": jwt_wrapped,
        "password": password, "private_key": private_key, "basic_auth": basic_auth,
    }.items()},
    "credential": credential,
    "ip": ip,
}
"""Validators by the name a rule's `validate:` field uses; each gets the value and the text of the
rule's `(?P<key>...)` group (None without one), which `credential` and `ip` weigh."""

CHECKSUMS: dict[str, Callable[[str], bool]] = {"crc32-base62": crc32_base62}
"""Checksums by the name a rule's `checksum:` field uses: a value that verifies scores 1.0."""
