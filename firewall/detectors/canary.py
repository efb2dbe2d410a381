"""Find registered canaries in output, through case, spacing, Unicode, encoding and partial disguises.

How. The output is folded to a skeleton (firewall.normalize: letters and digits, look-alikes folded,
separators dropped) with a map back to the input. Runs that look like base64, base32, hex or
URL-encoding are decoded (at every alignment, so a run cut by a stream window still decodes, and
then decoded again once, for double encodings) into further skeletons. Each skeleton is scanned
forwards, reversed, rot13 and reversed-rot13 by ONE Aho-Corasick automaton holding every canary's
fragments: all substrings of the fragment length k (60% of the canary and ≥ 40 bits, by default)
or the whole canary when it is shorter. Hits of one canary at one alignment merge into a span;
covering the whole canary scores 1.0, a fragment scores less. Cost does not grow with the number of
canaries (one automaton pass per view).

Bounds. Between two canary characters at most `max_gap` characters may be dropped (spaces, dashes,
zero-width characters...), and a finding may cover at most 12 output characters per character of the
canary's value plus 64: that covers any two disguises together (URL-encoded fullwidth or zero-width-separated
canaries are the widest, at 9 and 12 characters per canary character). These bounds make
`max_span` honest, so streams are scanned exactly; the price is a longer stream hold-back for
long canaries (sentence canaries).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import ahocorasick

from firewall.canaries import Canary
from firewall.model import Finding
from firewall.normalize import View, canonical_view, merge_table

EXPANSION = 12
SLACK = 64
_RAW_ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM"
)


@dataclass(frozen=True)
class _Decoded:
    """Text decoded from a run of the input, with each character's input span."""

    text: str
    starts: list[int]
    ends: list[int]


class CanaryDetector:
    """Find every registered canary, disguised or not, and say which one leaked and from where."""

    name = "canary"

    def __init__(self, canaries: Sequence[Canary], *, min_share: float = 0.6, min_bits: float = 40.0, max_gap: int = 8):
        self.canaries = tuple(canaries)
        self.max_gap = max_gap
        self._skeletons = [c.skeleton for c in self.canaries]
        self._fragment = [self._fragment_length(c, s, min_share, min_bits) for c, s in zip(self.canaries, self._skeletons, strict=True)]
        self._min_fragment = min(self._fragment, default=0)
        """Fewest skeleton characters that can make a finding: encoded runs shorter than that are skipped."""
        longest = max((len(c.value) for c in self.canaries), default=0)
        self.max_cover = EXPANSION * longest + SLACK
        """Longest input span a finding may cover."""
        self.max_span = self.max_cover + 16  # + a base32 group and a base64 group of look-ahead
        self._automaton = self._build()

    @staticmethod
    def _fragment_length(canary: Canary, skeleton: str, share: float, bits: float) -> int:
        per_char = (canary.bits or 0) / len(skeleton) if skeleton else 0
        needed_for_bits = math.ceil(bits / per_char) if per_char else len(skeleton)
        return min(len(skeleton), max(math.ceil(share * len(skeleton)), needed_for_bits))

    def _build(self) -> ahocorasick.Automaton | None:
        entries: dict[str, list[tuple[int, int]]] = {}
        for index, (skeleton, k) in enumerate(zip(self._skeletons, self._fragment, strict=True)):
            for offset in range(len(skeleton) - k + 1):
                entries.setdefault(skeleton[offset : offset + k], []).append((index, offset))
        if not entries:
            return None
        automaton = ahocorasick.Automaton()
        for key, payload in entries.items():
            automaton.add_word(key, tuple(payload))
        automaton.make_automaton()
        return automaton

    def find(self, text: str, start: int = 0) -> list[Finding]:
        if self._automaton is None or not text:
            return []
        found: dict[tuple[str, int, int], Finding] = {}
        for view, local in self._views(text):
            for finding in self._scan_view(view, local):
                if finding.start >= start:
                    key = (finding.rule, finding.start, finding.end)
                    if key not in found or found[key].score < finding.score:
                        found[key] = finding
        return list(found.values())

    # -- views ------------------------------------------------------------------------------------

    def _views(self, text: str) -> Iterator[tuple[View, View]]:
        """(view in input offsets, the same view in its own text's offsets for gap checks)."""
        plain = canonical_view(text)
        yield plain, plain
        if not text.isascii():
            # rot13 of the ASCII letters before folding: rot13 of a homoglyph disguise leaves the
            # look-alikes as they were (the other order is the rot13 variant of `plain`).
            rotated = canonical_view(text.translate(_RAW_ROT13))
            yield rotated, rotated
        for decoded in _decode_runs(text, self._min_fragment):
            inner = canonical_view(decoded.text)
            yield _compose(inner, decoded), inner
            for twice in _decode_runs(decoded.text, self._min_fragment):  # one more level: base64 of hex, and such
                view = canonical_view(twice.text)
                composed = _compose(view, _Decoded(twice.text, [decoded.starts[s] for s in twice.starts], [decoded.ends[e - 1] for e in twice.ends]))
                yield composed, view

    def _scan_view(self, view: View, local: View) -> Iterator[Finding]:
        n = len(view.text)
        merge, rot_merge = _tables()
        forward, rotated = view.text.translate(merge), view.text.translate(rot_merge)
        for haystack, reverse in ((forward, False), (rotated, False), (forward[::-1], True), (rotated[::-1], True)):
            groups: dict[tuple[int, int], list[int]] = {}
            for last, payload in self._automaton.iter(haystack):
                for index, offset in payload:
                    begin = last - self._fragment[index] + 1
                    span = groups.setdefault((index, begin - offset), [begin, last + 1])
                    span[0], span[1] = min(span[0], begin), max(span[1], last + 1)
            for (index, _), (begin, end) in groups.items():
                if reverse:
                    begin, end = n - end, n - begin
                yield from self._findings(index, view, local, begin, end)

    def _findings(self, index: int, view: View, local: View, begin: int, end: int) -> Iterator[Finding]:
        """Split a skeleton span where too much was dropped; keep pieces long enough to count."""
        canary, length, k = self.canaries[index], len(self._skeletons[index]), self._fragment[index]
        piece_start = begin
        for i in range(begin, end + 1):
            if i == end or (i > begin and local.starts[i] - local.ends[i - 1] > self.max_gap):
                covered = i - piece_start
                first, last = view.starts[piece_start], view.ends[i - 1]
                if covered >= k and last - first <= self.max_cover:
                    score = 1.0 if covered == length else round(0.9 * covered / length, 3)
                    yield Finding(self.name, canary.id, "CANARY", first, last, score, canary.placement)
                piece_start = i


@cache
def _tables() -> tuple[dict[int, str], dict[int, str]]:
    """Look-alike class merging, alone and after rot13 (rot13 must see the letters unmerged)."""
    merge = merge_table()
    rot_merge = {ord(c): merge.get(ord(r), r) for c, r in zip(string.ascii_lowercase, string.ascii_lowercase[13:] + string.ascii_lowercase[:13], strict=True)}
    return merge, rot_merge


def _compose(view: View, decoded: _Decoded) -> View:
    return View(view.text, [decoded.starts[s] for s in view.starts], [decoded.ends[e - 1] for e in view.ends])


def _decode_runs(text: str, min_bytes: int) -> Iterator[_Decoded]:
    """Decoded views of every run that looks encoded, read forwards and backwards.

    Whitespace inside a run is skipped (base64 wrapped over lines, or spaced out), so a run is a
    list of (offset, character) pairs rather than a slice."""
    min_bytes = max(min_bytes, 6)
    for pattern, shortest, decoder, percent in _run_patterns(min_bytes):
        for match in pattern.finditer(text):
            run = match.group()
            if len(run) < shortest or (percent and "%" not in run):
                continue
            chars = [(match.start() + i, c) for i, c in enumerate(run) if not c.isspace()]
            if len(chars) < shortest:
                continue
            yield from decoder(chars, match.end(), min_bytes)
            yield from decoder(chars[::-1], None, min_bytes)


def _base64(chars: list[tuple[int, str]], pad_end: int | None, min_len: int) -> Iterator[_Decoded]:
    body = [(p, {"-": "+", "_": "/"}.get(c, c)) for p, c in chars if c != "="]
    if pad_end is not None and chars and chars[-1][1] != "=":
        pad_end = None  # no padding: the last group ends at its own last character
    yield from _grouped(body, pad_end, 4, 3, 6, _b64, min_len)


def _base32(chars: list[tuple[int, str]], pad_end: int | None, min_len: int) -> Iterator[_Decoded]:
    body = [(p, c.upper()) for p, c in chars if c != "="]
    if pad_end is not None and chars and chars[-1][1] != "=":
        pad_end = None
    yield from _grouped(body, pad_end, 8, 5, 5, _b32, min_len)


def _hex(chars: list[tuple[int, str]], pad_end: int | None, min_len: int) -> Iterator[_Decoded]:
    digits = [(p, c) for p, c in chars if c != ":"]
    yield from _grouped(digits, None, 2, 1, 4, bytes.fromhex, min_len)


def _url(chars: list[tuple[int, str]], pad_end: int | None, min_len: int) -> Iterator[_Decoded]:
    data, starts, ends, i = bytearray(), [], [], 0
    while i < len(chars):
        position, char = chars[i]
        triple = "".join(c for _, c in chars[i + 1 : i + 3])
        if char == "%" and len(triple) == 2 and all(c in string.hexdigits for c in triple):
            data.append(int(triple, 16))
            starts.append(min(position, chars[i + 2][0]))
            ends.append(max(position, chars[i + 2][0]) + 1)
            i += 3
            continue
        data.append(ord(" ") if char == "+" else ord(char) if ord(char) < 128 else ord("?"))
        starts.append(position)
        ends.append(position + 1)
        i += 1
    yield from _text_of(bytes(data), starts, ends, min_len)


@cache
def _run_patterns(min_bytes: int) -> tuple[tuple[re.Pattern[str], int, Callable[..., Iterator[_Decoded]], bool], ...]:
    """(pattern, fewest characters, decoder, needs a %) for runs that may carry `min_bytes` bytes.

    Each pattern matches maximal runs (of the alphabet, with single line breaks, as MIME wraps
    base64; or spaced out one character at a time), so a run depends only on the text around it:
    a stream window that cuts a run sees a suffix of it, and every alignment is decoded."""
    runs = []
    for alphabet, chars_per_byte, decoder, percent in (
        (r"[A-Za-z0-9+/_-]", 4 / 3, _base64, False),
        (r"[A-Za-z2-7]", 8 / 5, _base32, False),
        (r"[0-9A-Fa-f:]", 2, _hex, False),
        (r"[%A-Za-z0-9._~+-]", 1, _url, True),
    ):
        shortest = math.ceil(chars_per_byte * min_bytes)
        padding = "={0,6}" if decoder is not _url and decoder is not _hex else ""
        # Minimum lengths inside the patterns: ordinary words never become Python-level matches.
        # The look-behind starts a match only where a run starts: re would otherwise retry from
        # every character of every shorter run (quadratic in word length).
        runs.append((re.compile(rf"(?<!{alphabet})(?:{alphabet}|\r?\n(?={alphabet})){{{shortest},}}{padding}"), shortest, decoder, percent))
        runs.append((re.compile(rf"(?<!{alphabet}){alphabet}(?:[ \t\r\n]{{1,3}}{alphabet}){{{shortest - 1},}}"), shortest, decoder, percent))
    return tuple(runs)


def _b64(chunk: str) -> bytes:
    return base64.b64decode(chunk + "=" * (-len(chunk) % 4))


def _b32(chunk: str) -> bytes:
    return base64.b32decode(chunk + "=" * (-len(chunk) % 8))


def _grouped(chars: list[tuple[int, str]], pad_end: int | None, size: int, width: int, bits: int, decode, min_len: int) -> Iterator[_Decoded]:  # type: ignore[no-untyped-def]
    """Decode at every alignment; each byte maps to exactly the characters that carry its bits.

    A group of `size` characters of `bits` bits each holds `width` bytes. `pad_end`, for a padded
    run read forwards, is where the padding ends: the last byte's span covers it."""
    for align in range(size):
        body = chars[align:]
        data = b""
        for usable in (len(body), len(body) - len(body) % size):  # with a partial last group if it decodes
            try:
                data = decode("".join(c for _, c in body[:usable]))
                break
            except (binascii.Error, ValueError):
                continue
        if not _texty(min_len).search(data.decode("utf-8", "surrogateescape")):
            continue  # the common case: ordinary words decode to noise at most alignments
        starts, ends = [], []
        for i in range(len(data)):
            first = (i // width) * size
            low, high = first + (8 * (i % width)) // bits, first + (8 * (i % width) + 7) // bits
            starts.append(body[low][0])
            ends.append(body[min(high, len(body) - 1)][0] + 1)
        if pad_end is not None and ends:
            ends[-1] = pad_end
        yield from _text_of(data, starts, ends, min_len)


@cache
def _texty(min_len: int) -> re.Pattern[str]:
    """Stretches of decoded text with no undecodable byte or control character, long enough to matter.

    Judged per stretch, never per run: whether a canary decodes must not depend on how much noise
    surrounds it (a stream window sees less of a run than the whole text does)."""
    return re.compile(rf"[^\udc80-\udcff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]{{{min_len},}}")


def _text_of(data: bytes, starts: list[int], ends: list[int], min_len: int) -> Iterator[_Decoded]:
    """The text-like stretches of decoded bytes; each character maps to its bytes' input span."""
    text = data.decode("utf-8", "surrogateescape")
    stretches = list(_texty(min_len).finditer(text))
    if not stretches:
        return
    byte_at = [0]
    for char in text:
        byte_at.append(byte_at[-1] + len(char.encode("utf-8", "surrogateescape")))
    for stretch in stretches:
        first, last = stretch.start(), stretch.end()
        yield _Decoded(
            stretch.group(),
            [starts[byte_at[i]] for i in range(first, last)],
            [ends[byte_at[i + 1] - 1] for i in range(first, last)],
        )
