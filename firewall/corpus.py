"""Protected-corpus index: hashed word n-grams behind a Bloom filter, in one memory-mapped file.

Text is normalised (NFKC, case-folded) and split into words (`\\w+`); punctuation and whitespace are
folded away, words longer than 32 characters are cut into 32-character pieces, and a gap of more
than 16 characters between words breaks n-grams (so an n-gram never spans a page of blank space).
Every run of N = 6 consecutive words (stride 1) is hashed to 64 bits.

File layout (all little-endian, arrays 8-byte aligned):
    b"OGCORPUS" | uint64 header length | JSON header | Bloom bits | uint64 hashes (sorted) | uint32 positions

- The Bloom filter has 16 bits per n-gram and k = 11 hash functions: false-positive rate
  (1 - e^(-11/16))^11 ≈ 0.046% per n-gram. It is the only part a clean scan touches, so resident
  memory is about 2 bytes per n-gram.
- The sorted table of (hash, corpus position) is consulted only for n-grams the Bloom filter lets
  through: it confirms them (a 64-bit hash: collisions are negligible) and says where they come
  from. It stays on disk, memory-mapped, and costs 12 bytes per n-gram there.
- The JSON header holds the documents: id, path, first n-gram position, and paragraph starts.

Why N = 6 and stride 1: a reported span must be at least 50 characters (about 8 words), and one
changed word must not break it; a changed word spoils exactly N consecutive n-grams, and the
detector bridges gaps of up to N. Copilot's filter looks at about 150 characters; Data Portraits
(Marone & Van Durme 2023) samples 50-character n-grams at a stride into a Bloom filter, which is
about 3% of the corpus size but misses spans shorter than its stride. Stride 1 costs about a third
of the corpus size for the Bloom filter (2 bytes per n-gram, about 6 bytes of text per word) and
catches every span of 50 characters.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

N = 6
MAX_WORD = 32
MAX_GAP = 16
BITS_PER_NGRAM = 16
K = 11
MAGIC = b"OGCORPUS"
_WORD = re.compile(r"\w+")
_PARAGRAPH = re.compile(r"\n\s*\n")
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Words:
    """The words of a text: their hashes, character spans, and the break-separated segment of each."""

    hashes: np.ndarray  # uint64
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64
    segments: np.ndarray  # int64: n-grams never cross a segment boundary


def words(text: str) -> Words:
    """Normalised words of `text` with their offsets in `text`."""
    # ASCII text (most output) is lower-cased once, which changes no offset; other text is
    # normalised word by word (NFKC and case-folding may change a word's length).
    source = text.lower() if text.isascii() else text
    matches = list(_WORD.finditer(source))
    long_words = [i for i, m in enumerate(matches) if m.end() - m.start() > MAX_WORD]
    if long_words:
        skip = set(long_words)
        breaks = [i - k for k, i in enumerate(long_words)]  # index, among kept words, of the word after each
        matches = [m for i, m in enumerate(matches) if i not in skip]
    else:
        breaks = []
    tokens = [m.group() for m in matches]
    if source is text:
        tokens = [unicodedata.normalize("NFKC", t).casefold() for t in tokens]
    hashes = np.fromiter((zlib.crc32(t.encode("utf-8", "surrogatepass")) for t in tokens), dtype=np.uint64, count=len(tokens))
    starts_array = np.fromiter((m.start() for m in matches), dtype=np.int64, count=len(matches))
    ends_array = np.fromiter((m.end() for m in matches), dtype=np.int64, count=len(matches))
    gaps = starts_array[1:] - ends_array[:-1] > MAX_GAP
    for index in breaks:
        if 0 < index < len(matches):
            gaps[index - 1] = True
    segments = np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64) if len(matches) else np.zeros(0, np.int64)
    return Words(hashes, starts_array, ends_array, segments)


def ngram_hashes(w: Words) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every N-word window, and which windows are valid (inside one segment)."""
    count = len(w.hashes) - N + 1
    if count <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, bool)
    with np.errstate(over="ignore"):
        acc = np.zeros(count, dtype=np.uint64)
        for j in range(N):
            acc = acc * np.uint64(1_000_003) + w.hashes[j : j + count] + np.uint64(j + 1)
        acc ^= acc >> np.uint64(31)
        acc *= _MULTIPLIER
        acc ^= acc >> np.uint64(29)
    valid = w.segments[: count] == w.segments[N - 1 :]
    return acc, valid


def _bloom_positions(hashes: np.ndarray, m: int) -> Iterator[np.ndarray]:
    low = hashes & np.uint64(0xFFFFFFFF)
    high = (hashes >> np.uint64(32)) | np.uint64(1)
    with np.errstate(over="ignore"):
        for j in range(K):
            yield (low + np.uint64(j) * high) % np.uint64(m)


@dataclass(frozen=True)
class Document:
    id: str
    path: str
    first: int
    """Corpus position (n-gram index) of the document's first n-gram."""
    paragraphs: list[int]
    """Word index (within the document) where each paragraph starts."""


class CorpusIndex:
    """A loaded (memory-mapped) index: `lookup` confirms n-gram hashes and attributes them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self.path.open("rb") as handle:
            if handle.read(8) != MAGIC:
                raise ValueError(f"{self.path}: not an outguard corpus index")
            length = int(np.frombuffer(handle.read(8), dtype="<u8")[0])
            self.header: dict[str, Any] = json.loads(handle.read(length))
        h = self.header
        self.name: str = h["name"]
        self.count: int = h["count"]
        self.m: int = h["m"]
        self.documents = [Document(**d) for d in h["documents"]]
        self._firsts = np.array([d.first for d in self.documents], dtype=np.int64)
        self._paragraphs = [np.array(d.paragraphs, dtype=np.int64) for d in self.documents]
        self.bloom = np.memmap(self.path, dtype=np.uint8, mode="r", offset=h["bloom_offset"], shape=(self.m // 8,))
        self.hashes = np.memmap(self.path, dtype="<u8", mode="r", offset=h["hashes_offset"], shape=(self.count,)) if self.count else np.zeros(0, np.uint64)
        self.positions = np.memmap(self.path, dtype="<u4", mode="r", offset=h["positions_offset"], shape=(self.count,)) if self.count else np.zeros(0, np.uint32)

    def maybe(self, hashes: np.ndarray) -> np.ndarray:
        """Bloom filter test: False means certainly absent."""
        present = np.ones(len(hashes), dtype=bool)
        if not self.count:
            return present & False
        for position in _bloom_positions(hashes, self.m):
            present &= (self.bloom[(position >> np.uint64(3)).astype(np.int64)] >> (position & np.uint64(7)).astype(np.uint8)) & 1 == 1
        return present

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Corpus position of each hash (the first occurrence), or -1 when absent."""
        result = np.full(len(hashes), -1, dtype=np.int64)
        candidates = np.flatnonzero(self.maybe(hashes))
        if len(candidates):
            where = np.searchsorted(self.hashes, hashes[candidates])
            where = np.minimum(where, self.count - 1)
            found = self.hashes[where] == hashes[candidates]
            result[candidates[found]] = self.positions[where[found]]
        return result

    def places(self, hashes: np.ndarray, limit: int = 64) -> tuple[list[list[int]], list[set[int]]]:
        """For present n-gram hashes: their corpus positions (at most `limit` each, sorted) and the
        documents (indexes into `documents`) holding them. Most n-grams occur once: vectorised."""
        left = np.searchsorted(self.hashes, hashes, side="left")
        right = np.searchsorted(self.hashes, hashes, side="right")
        first = np.asarray(self.positions[left]).astype(np.int64)
        first_doc = np.searchsorted(self._firsts, first, side="right") - 1
        places: list[list[int]] = []
        documents: list[set[int]] = []
        for k in range(len(hashes)):
            if right[k] - left[k] == 1:
                places.append([int(first[k])])
                documents.append({int(first_doc[k])})
            else:
                many = sorted(int(p) for p in self.positions[left[k] : min(right[k], left[k] + limit)])
                places.append(many)
                documents.append({self.document_of(p) for p in many})
        return places, documents

    def document_of(self, position: int) -> int:
        """Index (in `documents`) of the document holding a corpus position."""
        return int(np.searchsorted(self._firsts, position, side="right")) - 1

    def locate(self, position: int) -> tuple[Document, int, int]:
        """(document, word offset in it, paragraph number from 1) of a corpus position."""
        index = int(np.searchsorted(self._firsts, position, side="right")) - 1
        document = self.documents[index]
        offset = position - document.first
        paragraph = int(np.searchsorted(self._paragraphs[index], offset, side="right"))
        return document, offset, max(paragraph, 1)


def iter_documents(paths: Iterable[str | Path], field: str | None = None) -> Iterator[tuple[str, str, str]]:
    """(id, path, text) for each file, each file in each folder, or each JSONL record (`field`)."""
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix == ".jsonl":
                for number, line in enumerate(file.read_text("utf-8").splitlines(), 1):
                    if line.strip():
                        record = json.loads(line)
                        text = record.get(field or "text")
                        if not isinstance(text, str):
                            raise ValueError(f"{file}:{number}: no string field {field or 'text'!r}")
                        yield str(record.get("id", f"{file.stem}-{number}")), f"{file}:{number}", text
            else:
                yield file.stem, str(file), file.read_text("utf-8", errors="replace")


def build_index(
    documents: Iterable[tuple[str, str, str]], out: str | Path, *, name: str | None = None, base: CorpusIndex | None = None, progress: Any = None
) -> Path:
    """Hash every document's n-grams and write the index file (adding to `base` if given)."""
    out = Path(out)
    all_hashes = [np.asarray(base.hashes)] if base else []
    all_positions = [np.asarray(base.positions).astype(np.int64)] if base else []
    docs: list[dict[str, Any]] = [d.__dict__ for d in base.documents] if base else []
    position = base.header["next_position"] if base else 0
    for doc_id, path, text in documents:
        w = words(text)
        hashes, valid = ngram_hashes(w)
        paragraph_chars = [0] + [m.end() for m in _PARAGRAPH.finditer(text)]
        paragraphs = sorted({int(np.searchsorted(w.starts, c)) for c in paragraph_chars})
        index = np.flatnonzero(valid)
        all_hashes.append(hashes[index])
        all_positions.append(index + position)
        docs.append({"id": doc_id, "path": path, "first": position, "paragraphs": paragraphs})
        position += max(len(hashes), 0) + N  # a gap of N keeps n-grams of two documents apart
        if progress is not None:
            progress.update(1)
    hashes = np.concatenate(all_hashes) if all_hashes else np.zeros(0, np.uint64)
    positions = np.concatenate(all_positions) if all_positions else np.zeros(0, np.int64)
    order = np.argsort(hashes, kind="stable")
    hashes, positions = hashes[order], positions[order].astype(np.uint32)
    count = len(hashes)
    m = max(64, -(-count * BITS_PER_NGRAM // 64) * 64)
    bits = np.zeros(m, dtype=bool)
    for bloom_position in _bloom_positions(hashes, m):
        bits[bloom_position.astype(np.int64)] = True
    bloom = np.packbits(bits, bitorder="little")
    header = {"version": 1, "name": name or out.stem, "n": N, "k": K, "m": m, "count": count, "next_position": position, "documents": docs}
    _write(out, header, bloom, hashes, positions)
    return out


def _write(out: Path, header: dict[str, Any], bloom: np.ndarray, hashes: np.ndarray, positions: np.ndarray) -> None:
    def aligned(offset: int) -> int:
        return -(-offset // 8) * 8

    probe = json.dumps(header | {"bloom_offset": 0, "hashes_offset": 0, "positions_offset": 0})
    start = aligned(16 + len(probe) + 64)  # room for the offsets' digits
    header["bloom_offset"] = start
    header["hashes_offset"] = aligned(start + len(bloom))
    header["positions_offset"] = aligned(header["hashes_offset"] + 8 * len(hashes))
    blob = json.dumps(header).encode()
    assert 16 + len(blob) <= start
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(MAGIC + np.array([len(blob)], dtype="<u8").tobytes() + blob)
        handle.write(b"\0" * (start - handle.tell()))
        handle.write(bloom.tobytes())
        handle.write(b"\0" * (header["hashes_offset"] - handle.tell()))
        handle.write(hashes.astype("<u8").tobytes())
        handle.write(b"\0" * (header["positions_offset"] - handle.tell()))
        handle.write(positions.astype("<u4").tobytes())
    tmp.replace(out)
