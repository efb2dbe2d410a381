"""What the live table holds: slim rows in a bounded ring, and the filter language over them.

A row keeps what the table shows and the filter reads (no output text beyond an 80-character
preview of the already-redacted output); the detail pane loads the whole event by id.
"""

from __future__ import annotations

import time
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from sys import intern
from urllib.parse import quote, unquote

from firewall.events.event import Event

PREVIEW_CHARS = 80
MESSAGE_CHARS = 400
"""Rules and quota events keep more of their message (file:line problems, fleet answers)."""
DIFFERENT_FILES = "but the files here are"
"""How an instance answers a fleet notice announcing a version its rules folder does not hold."""
RING_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    ts: float
    kind: str
    action: str
    """What the table shows in the action column: pass/redact/block/flag, fail-open, fail-closed,
    quota, rules ✓ / rules ✗."""
    principal: str
    model: str
    status: str
    labels: tuple[str, ...]
    rules: tuple[str, ...]
    detectors: tuple[str, ...]
    shadow: tuple[str, ...]
    """Rules in shadow mode that matched ("would have ...")."""
    latency_ms: float | None
    rules_version: str
    instance: str
    source: str
    preview: str
    dropped: int = 0

    @classmethod
    def from_event(cls, event: Event) -> Row:
        # Interned: each decoded event brings fresh copies of a few hundred distinct values, and
        # 50,000 rows of copies cost twice the memory of rows that share them.
        enforced = [f for f in event.findings if not f.shadow]
        return cls(
            id=event.id or 0,
            ts=event.ts,
            kind=intern(event.kind),
            action=intern(display_action(event)),
            principal=intern(event.principal or ""),
            model=intern(event.model or ""),
            status=intern(event.status or ""),
            labels=_names(f.label for f in enforced),
            rules=_names(f.rule for f in event.findings),
            detectors=_names(f.detector for f in event.findings),
            shadow=_names(f.rule for f in event.findings if f.shadow),
            latency_ms=event.latency_ms,
            rules_version=intern(event.rules_version or ""),
            instance=intern(event.instance),
            source=intern(event.source),
            preview=_preview(event),
            dropped=event.dropped or 0,
        )


_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _names(values: Iterable[str]) -> tuple[str, ...]:
    """A sorted tuple of distinct names, shared between rows that carry the same ones."""
    key = tuple(sorted({intern(v) for v in values}))
    return _NAMES.setdefault(key, key) if len(_NAMES) < 10_000 else key


def display_action(event: Event) -> str:
    if event.kind == "verdict":
        if event.status in ("fail_open", "fail_closed", "aborted"):
            return event.status.replace("_", "-")
        return event.action or "pass"
    return {
        "rules_reloaded": "rules ✓",
        "rules_rejected": "rules ✗",
        "quota": "quota",
        "quota_error": "quota error",
        "refused": "refused",
        "events_dropped": "dropped",
    }.get(event.kind, event.kind)


def printable(text: str, keep: str = "") -> str:
    """`text` with control and format characters (ESC, bidi overrides, zero-width) made visible as
    U+FFFD, one for one, so offsets still hold. Characters in `keep` (e.g. "\n") are left alone."""
    return "".join(
        "\ufffd" if (unicodedata.category(ch) in ("Cc", "Cf") and ch not in keep) else ch for ch in text
    )


def _preview(event: Event) -> str:
    text = event.output if event.kind == "verdict" else (event.message or "")
    text = printable(" ".join((text or "").split()))
    cap = PREVIEW_CHARS if event.kind == "verdict" else MESSAGE_CHARS
    return text if len(text) <= cap else text[: cap - 1] + "…"


# -- filter ------------------------------------------------------------------------------------

FIELDS: dict[str, Callable[[Row], Iterable[str]]] = {
    "action": lambda r: (r.action,),
    "label": lambda r: r.labels,
    "rule": lambda r: r.rules,
    "detector": lambda r: r.detectors,
    "principal": lambda r: (r.principal,),
    "model": lambda r: (r.model,),
    "status": lambda r: (r.status,),
    "v": lambda r: (r.rules_version,),
    "src": lambda r: (r.source,),
    "instance": lambda r: (r.instance,),
    "kind": lambda r: (r.kind,),
    "shadow": lambda r: r.shadow,
}


class FilterError(ValueError):
    pass


def exact_token(field: str, value: str) -> str:
    """The filter token that matches exactly `value` (percent-encoded, so spaces fit in one token)."""
    return f"{field}={quote(value, safe='-_.:@/+~')}"


def parse_filter(text: str) -> Callable[[Row], bool]:
    """`field:value` and `field=value` tokens and free words, ANDed; a leading `!` negates a token.

    `field:value` matches case-insensitively as a prefix (`action:fail` finds fail-open and
    fail-closed); `field=value` matches exactly (percent-encoded; the pickers write these); free
    words are searched in the preview and the principal.
    """
    tests: list[Callable[[Row], bool]] = []
    for token in text.split():
        negate = token.startswith("!")
        token = token[1:] if negate else token
        if not token:
            continue
        colon, equals = token.find(":"), token.find("=")
        exact = equals > 0 and (colon < 0 or equals < colon)
        field, sep, value = token.partition("=" if exact else ":")
        if sep and field.lower() in FIELDS:
            getter = FIELDS[field.lower()]
            if exact:
                wanted = unquote(value)

                def test(row: Row, getter=getter, wanted=wanted) -> bool:  # type: ignore[no-untyped-def]
                    return wanted in getter(row)
            else:
                wanted = value.lower()

                def test(row: Row, getter=getter, wanted=wanted) -> bool:  # type: ignore[no-untyped-def]
                    return any(v.lower().startswith(wanted) for v in getter(row))
        elif sep and field.isalpha() and field.lower() not in ("http", "https"):
            raise FilterError(f"unknown field {field!r}; fields: {', '.join(FIELDS)}")
        else:
            word = token.lower()

            def test(row: Row, word=word) -> bool:  # type: ignore[no-untyped-def]
                return word in row.preview.lower() or word in row.principal.lower()
        tests.append((lambda row, t=test: not t(row)) if negate else test)
    return lambda row: all(t(row) for t in tests)


# -- the ring and its filtered view ------------------------------------------------------------


class Traffic:
    """The last `size` rows, the filtered view over them, and counters that see every row."""

    def __init__(self, size: int = RING_SIZE) -> None:
        self.ring: deque[Row] = deque(maxlen=size)
        self.view: list[Row] = []
        self.query = ""
        self._match: Callable[[Row], bool] = lambda row: True
        self.actions: Counter[str] = Counter()
        self.total = 0
        self.dropped = 0
        """Events the firewall reported as dropped (kind events_dropped); the feed counts its own."""
        self.instances: dict[str, tuple[str, float]] = {}
        self._announced: set[str] = set()
        """instance → (the rules version it last reported, when)."""
        self.rejected: dict[str, str] = {}
        """instance → the message of its last refused rules change (cleared by a later reload)."""
        self.rejected_at: dict[str, float] = {}
        """instance → when it refused (kept until it reloads successfully)."""
        self.differing: dict[str, str] = {}
        """instance → its answer to a fleet notice whose version its own files do not have."""
        self._rate: deque[tuple[float, int]] = deque(maxlen=600)

    def set_filter(self, query: str) -> None:
        """Apply a new filter (raises FilterError and keeps the old one on a bad query)."""
        match = parse_filter(query)
        self.query, self._match = query, match
        self.view = [row for row in self.ring if match(row)]

    def add(self, rows: list[Row]) -> int:
        """Append rows (oldest first); return how many rows left the front of the view."""
        for row in rows:
            self.total += 1
            self.actions[row.action] += 1
            self.dropped += row.dropped
            if row.rules_version and row.instance:
                self._note_version(row)
            if row.kind == "rules_rejected":
                self.rejected[row.instance] = row.preview
                self.rejected_at[row.instance] = row.ts
            elif row.kind == "rules_reloaded":
                self.rejected.pop(row.instance, None)
                self.rejected_at.pop(row.instance, None)
                if DIFFERENT_FILES in row.preview:
                    self.differing[row.instance] = row.preview
                else:
                    self.differing.pop(row.instance, None)
        self._rate.append((time.monotonic(), len(rows)))
        self.ring.extend(rows)
        self.view.extend(row for row in rows if self._match(row))
        oldest = self.ring[0].id if self.ring else 0
        evicted = 0
        while evicted < len(self.view) and self.view[evicted].id < oldest:
            evicted += 1
        if evicted:
            del self.view[:evicted]
        return evicted

    def _note_version(self, row: Row) -> None:
        """An instance's rules version: its rules events say it for sure; a verdict says which rules
        its scan *started* with (a stream begun before a reload ends after it with the old version),
        so verdicts only tell the version of instances whose rules events this console has not seen."""
        if row.kind in ("rules_reloaded", "rules_rejected"):
            self._announced.add(row.instance)
            self.instances[row.instance] = (row.rules_version, row.ts)
        elif row.instance in self._announced:
            version, _ = self.instances[row.instance]
            self.instances[row.instance] = (version, row.ts)
        else:
            self.instances[row.instance] = (row.rules_version, row.ts)

    def versions(self, active_within: float = 300.0) -> dict[str, str]:
        """instance → rules version, for instances that reported in the last `active_within` seconds
        (the store keeps history: a firewall that stopped long ago is not part of the fleet now)."""
        now = time.time()
        return {i: v for i, (v, ts) in self.instances.items() if now - ts <= active_within}

    def rate(self, window: float = 5.0) -> float:
        """Events per second over the last `window` seconds."""
        now = time.monotonic()
        return sum(n for t, n in self._rate if now - t <= window) / window

    def counts(self, getter: Callable[[Row], Iterable[str]]) -> Counter[str]:
        """How many rows of the ring carry each value (for the principal and label pickers)."""
        counts: Counter[str] = Counter()
        for row in self.ring:
            counts.update(v for v in getter(row) if v)
        return counts
