"""Split an SDK's event stream into its text streams, one scan each, and put the stream back together.

Sans-I/O: `Demux` never reads the upstream itself. A driver (`firewall.wrappers.openai`) pulls
an item, `push()`es it, and runs `Firewall.stream` over `take()` for one text stream at a time
(a key: a choice's content, a Responses output part). Items without text (roles, tool calls,
finish reasons, usage, "done" events) wait in one FIFO queue; an item that carries or ends a
text stream (a finish reason, a `*.done` event, a final snapshot) waits until those streams are
scanned, and is then rewritten by the protocol with the scanned text. Order is kept except that
text now arrives in the firewall's chunks, and several choices (n > 1) are released one after
another: each is scanned on its own, the first live, the others as soon as the ones before
them end.

A text that never came as deltas (a Responses part whose text arrives only in its `*.done`
event, then again in its item's and the response's) is scanned once, on its first appearance, and
the same verdict rewrites every later item that repeats it: one event, one quota debit.

Raw text is kept only while its stream is open (to decide whether log-probabilities may be
released), and is dropped when it is scanned.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from firewall.wrappers._scores import memorisation_scores

if TYPE_CHECKING:
    from firewall.model import Verdict

Key = Hashable
Harden = Callable[[list[Any]], "list[dict[str, Any]] | None"]
ScanWhole = Callable[[Key, str], "Done"]
"""Scan a text that never came as deltas (`key`, raw text) and return what the caller may see."""


@dataclass
class Split:
    """What one upstream item holds: text deltas, their log-probs, and the rest of the item."""

    texts: list[tuple[Key, str]] = field(default_factory=list)
    logprobs: list[tuple[Key, list[Any]]] = field(default_factory=list)
    rest: Any | None = None
    """The item without its text deltas, or None when nothing else is left in it."""
    ends: tuple[Hashable, ...] = ()
    """Markers meaning "no more text for some keys" (see `StreamProtocol.ended`)."""


@dataclass(frozen=True)
class Done:
    """A scanned text stream: what the caller may see of it."""

    text: str
    """The scanned text (the refusal when blocked)."""
    blocked: bool
    logprobs: list[dict[str, Any]] | None
    """Hardened per-token log-probs to release, or None: stripped by the policy, or withheld
    because the firewall changed the text (their tokens would spell out what it removed)."""

    @classmethod
    def of(cls, raw: str, verdict: Verdict, entries: Sequence[Any], harden: Harden) -> Done:
        withheld = verdict.text != raw or not entries
        return cls(verdict.text, verdict.action == "block", None if withheld else harden(list(entries)))


def scores_of(raw: str, entries: Sequence[Any]) -> dict[str, float]:
    """Memorisation scores of `raw` from its tokens' SDK log-prob entries, if any."""
    return memorisation_scores([float(e.logprob) for e in entries if getattr(e, "logprob", None) is not None], raw)


class StreamProtocol(Protocol):
    """How one SDK stream carries text; see `firewall.wrappers.openai` for the implementations."""

    def split(self, item: Any) -> Split: ...

    def ended(self, key: Key, markers: set[Hashable]) -> bool:
        """Whether the markers seen so far mean no more text will come for `key`."""
        ...

    def needs(self, rest: Any, keys: Sequence[Key]) -> set[Key]:
        """The keys (among those seen) whose scanned text `rest` must wait for."""
        ...

    def text_item(self, template: Any, key: Key, text: str) -> Any:
        """An item carrying `text` for `key`, shaped like `template` (the key's first item)."""
        ...

    def finalize(self, item: Any, done: Mapping[Key, Done], scan: ScanWhole) -> Any:
        """`item` with every text it holds replaced by its scanned version; `scan` is for
        (non-empty) texts of streams that never came as deltas."""
        ...

    def settled(self, done: Mapping[Key, Done]) -> bool:
        """True when nothing more will be released (every answer blocked): stop reading."""
        ...

    def closing(self, templates: Mapping[Key, Any], done: Mapping[Key, Done], markers: set[Hashable]) -> list[Any]:
        """Items to end a stream cut short by `settled` (e.g. finish reasons)."""
        ...

    def number(self, item: Any, position: int) -> Any:
        """`item` renumbered for its position in the output (events carrying sequence numbers)."""
        ...


class Demux:
    """The state of one guarded stream; see the module docstring."""

    def __init__(self, protocol: StreamProtocol, harden: Harden, scan: Callable[[str], Verdict]) -> None:
        self._protocol = protocol
        self._harden = harden
        self._scan = scan
        self._wholes: dict[Key, tuple[bytes, Done]] = {}
        """Texts that never came as deltas: key → (digest of the raw text, what it was scanned to)."""
        self._texts: dict[Key, deque[str]] = {}
        self._raw: dict[Key, list[str]] = {}
        self._logprobs: dict[Key, list[Any]] = {}
        self._templates: dict[Key, Any] = {}
        self._order: list[Key] = []
        self._markers: set[Hashable] = set()
        self._done: dict[Key, Done] = {}
        self._pending: deque[tuple[Any, frozenset[Key]]] = deque()
        self._emitted = 0
        self.upstream_done = False

    # -- fed by the driver --------------------------------------------------------------------

    def push(self, item: Any) -> None:
        split = self._protocol.split(item)
        for key, text in split.texts:
            if key in self._done:
                continue  # a stream already scanned (blocked): what follows is dropped unseen
            if key not in self._texts:
                self._order.append(key)
                self._texts[key], self._raw[key], self._logprobs[key] = deque(), [], []
                self._templates[key] = item
            self._texts[key].append(text)
            self._raw[key].append(text)
        for key, entries in split.logprobs:
            if key in self._logprobs and key not in self._done:
                self._logprobs[key].extend(entries)
        self._markers.update(split.ends)
        if split.rest is not None:
            self._pending.append((split.rest, frozenset(self._protocol.needs(split.rest, self._order))))

    def end(self) -> None:
        """The upstream is exhausted."""
        self.upstream_done = True

    # -- read by the driver ---------------------------------------------------------------------

    def next_key(self) -> Key | None:
        """The next text stream to scan, or None if none is known yet."""
        return next((k for k in self._order if k not in self._done), None)

    def take(self, key: Key) -> str | None:
        """The next text delta of `key`, or None if none is waiting."""
        queue = self._texts[key]
        return queue.popleft() if queue else None

    def drained(self, key: Key) -> bool:
        """Whether `key` will get no more text."""
        return not self._texts[key] and (self.upstream_done or self._protocol.ended(key, self._markers))

    def scores(self, key: Key) -> dict[str, float]:
        """Model-side scores of `key`'s raw text (call once it is drained)."""
        return scores_of("".join(self._raw[key]), self._logprobs[key])

    def finish(self, key: Key, verdict: Verdict) -> None:
        """Record the verdict of `key`'s stream and forget its raw text."""
        raw = "".join(self._raw.pop(key, ()))
        self._done[key] = Done.of(raw, verdict, self._logprobs.pop(key, []), self._harden)
        self._texts[key].clear()

    def text_item(self, key: Key, text: str) -> Any:
        return self._number(self._protocol.text_item(self._templates[key], key, text))

    def ready(self) -> Iterator[Any]:
        """Queued items whose streams are all scanned, rewritten, in arrival order."""
        while self._pending and self._pending[0][1] <= self._done.keys():
            item, _ = self._pending.popleft()
            yield self._number(self._protocol.finalize(item, self._done, self._scan_whole))

    def _scan_whole(self, key: Key, raw: str) -> Done:
        """Scan a text that never came as deltas, once per key and text however many items repeat it."""
        digest = hashlib.sha256(raw.encode()).digest()  # the raw text itself is not kept
        seen = self._wholes.get(key)
        if seen is None or seen[0] != digest:  # a text that differs from the one scanned is scanned too
            seen = self._wholes[key] = (digest, Done.of(raw, self._scan(raw), (), self._harden))
        return seen[1]

    def settled(self) -> bool:
        return self._protocol.settled(self._done)

    def closing(self) -> Iterator[Any]:
        """What is left once the driver stops: every ready item, then (if cut short) the
        protocol's closing items. Items still waiting on unscanned streams are dropped."""
        yield from self.ready()
        if not self.upstream_done:
            for item in self._protocol.closing(self._templates, self._done, self._markers):
                yield self._number(item)
        self._pending.clear()

    def _number(self, item: Any) -> Any:
        item = self._protocol.number(item, self._emitted)
        self._emitted += 1
        return item
