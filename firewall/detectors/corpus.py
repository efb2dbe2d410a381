"""Find spans of a protected corpus in output (verbatim or nearly), and say which document they are from.

Every n-gram of the output (firewall.corpus: 6 normalised words) is looked up in the indexes. A hit
is reported when the chain of hits around it, allowing gaps of up to N n-grams (one changed word
spoils exactly N), covers at least `min_chars` characters. The chain is followed only `reach`
characters either side of the hit (min_chars plus one n-gram), so each decision is local and a
stream scan agrees with a one-shot scan. Hits on n-grams the caller's own prompt contains are echoes, not leaks: they
are reported with label ECHO (the default policy only flags them), so redaction cannot be used to
test whether a guessed sentence is in the corpus.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from firewall.corpus import MAX_GAP, MAX_WORD, CorpusIndex, N, ngram_hashes, words
from firewall.model import Finding

NGRAM_CHARS = N * MAX_WORD + (N - 1) * MAX_GAP
"""Longest text one n-gram can cover."""


class CorpusDetector:
    """Spans of the registered corpora, with document and paragraph as the finding's source."""

    name = "corpus"

    def __init__(self, indexes: Sequence[CorpusIndex], *, min_chars: int = 50) -> None:
        self.indexes = tuple(indexes)
        self.min_chars = min_chars
        self.reach = min_chars + NGRAM_CHARS
        """How far either side of a hit its chain is followed: enough to bridge a changed word."""
        self.max_span = NGRAM_CHARS + self.reach + MAX_GAP + 2
        """A hit's own n-gram, the neighbours within `reach` after it, and one character to end a word."""
        self.lookbehind = self.reach + MAX_WORD + 2
        """Text before a window that the decision may depend on (neighbouring hits, whole words)."""
        self._echo: frozenset[int] = frozenset()

    def with_prompt(self, prompt: str | None) -> CorpusDetector:
        """This detector for one request: n-grams the caller supplied are echoes, not leaks."""
        if not prompt:
            return self
        scoped = copy.copy(self)
        hashes, valid = ngram_hashes(words(prompt))
        scoped._echo = frozenset(int(h) for h in hashes[valid])
        return scoped

    def find(self, text: str, start: int = 0) -> list[Finding]:
        w = words(text)
        hashes, valid = ngram_hashes(w)
        if not len(hashes):
            return []
        findings = []
        for index in self.indexes:
            positions = index.lookup(hashes)
            hits = np.flatnonzero((positions >= 0) & valid).tolist()
            if not hits:
                continue
            spans = [(int(w.starts[i]), int(w.ends[i + N - 1])) for i in hits]
            places, documents = index.places(hashes[hits])
            for k, i in enumerate(hits):
                begin, end = spans[k]
                if begin < start or not self._long_enough(hits, spans, k):
                    continue
                document, _, paragraph = index.locate(self._attribute(index, places, documents, spans, k))
                echo = int(hashes[i]) in self._echo
                findings.append(
                    Finding(self.name, f"corpus:{index.name}", "ECHO" if echo else "PROTECTED", begin, end, 1.0, f"{document.id} §{paragraph}")
                )
        return findings

    def _attribute(
        self, index: CorpusIndex, places: list[list[int]], documents: list[set[int]], spans: list[tuple[int, int]], k: int
    ) -> int:
        """Of the corpus positions of hit k's n-gram, one in the document its neighbours (within
        `reach`) occur in most: text shared by two documents is credited to the one being recited."""
        if len(places[k]) == 1:
            return places[k][0]
        begin, end = spans[k]
        votes: dict[int, int] = {}
        for j, (b, e) in enumerate(spans):
            if b >= begin - self.reach and e <= end + self.reach:
                for document in documents[j]:
                    votes[document] = votes.get(document, 0) + 1
        return max(places[k], key=lambda position: (votes.get(index.document_of(position), 0), -position))

    def _long_enough(self, hits: list[int], spans: list[tuple[int, int]], k: int) -> bool:
        """Does the chain through hit k, seen within `reach` either side, cover min_chars?"""
        begin, end = spans[k]
        low, high = begin - self.reach, end + self.reach
        first = last = k
        while first > 0 and hits[first] - hits[first - 1] <= N + 1 and spans[first - 1][0] >= low:
            first -= 1
        while last + 1 < len(hits) and hits[last + 1] - hits[last] <= N + 1 and spans[last + 1][1] <= high:
            last += 1
        return spans[last][1] - spans[first][0] >= self.min_chars
