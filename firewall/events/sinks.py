"""Where events are written, chosen by URI: SQLite (the embedded default) and JSONL files.

`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `jsonl:///path.jsonl`; a bare path
ending in .db or .jsonl works too. SQL is always parameterised: event text is data, never SQL.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from firewall.errors import ConfigError
from firewall.events.event import Event
from firewall.events.redis_stream import RedisStreamSink, redact, storable_json

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
"""The table's layout. The JSON body grows without a new version: readers ignore fields they do not
know and default the ones missing (`error` read from an older event is None)."""


class Sink(Protocol):
    """Stores batches of events; called from one writer thread.

    A sink may also define `after_fork()`, which the writer calls in a child process right after
    `fork`: it must open afresh whatever the parent's copy holds (connections, files, locks)
    without closing or using the inherited objects, which belong to the parent.
    """

    def write(self, events: Sequence[Event]) -> int | None:
        """Store `events`; return how many of them could not be encoded and were skipped (None or
        0: all stored). Raise when the store itself fails: the writer drops the batch and pauses."""
        ...

    def close(self) -> None: ...


_INHERITED: list[object] = []
"""Connections and files a forked child inherited: kept referenced so that they are never closed
(or flushed) from the child, which would act on the parent's database or file."""


def _path(uri: str) -> Path:
    parts = urlsplit(uri)
    # sqlite:///rel.db has path "/rel.db" (relative); sqlite:////abs.db has "//abs.db" (absolute).
    path = parts.path[1:] if parts.scheme else uri
    if not path:
        raise ConfigError(f"no file path in {redact(uri)!r}")
    return Path(path)


class SQLiteSink:
    """Events in one SQLite file (WAL mode, so readers such as the console never block writers)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(self.path)
        self._lock = threading.Lock()

    def after_fork(self) -> None:
        """A connection of the child's own: SQLite connections must not cross fork."""
        _INHERITED.append(self._db)
        self._db = connect(self.path)
        self._lock = threading.Lock()  # another thread may have held the parent's at the fork

    @classmethod
    def from_uri(cls, uri: str) -> SQLiteSink:
        return cls(_path(uri))

    def write(self, events: Sequence[Event]) -> int:
        """Insert the events in one transaction; returns how many could not be encoded (skipped)."""
        rows = [row for row in map(_row, events) if row is not None]
        if rows:
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT INTO events (ts, kind, principal, model, source, instance, action, status,"
                    " rules_version, latency_ms, labels, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
        return len(events) - len(rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(event: Event) -> tuple[object, ...] | None:
    """The event's row, or None when it cannot be stored (logged by type): a field JSON cannot hold,
    or a column of a type SQLite cannot bind. The body keeps the event exactly; a column only helps
    queries, so a lone surrogate there (which SQLite cannot take) becomes U+FFFD."""
    body = storable_json(event)
    if body is None:
        return None
    e = event
    columns = (e.ts, e.kind, e.principal, e.model, e.source, e.instance, e.action, e.status, e.rules_version,
               e.latency_ms, "," + ",".join(e.labels) + ",")
    if not all(value is None or isinstance(value, (str, int, float)) for value in columns):
        log.error("an event of kind %r has a field SQLite cannot store; dropped", e.kind)
        return None
    return (*(_SURROGATE.sub("\ufffd", v) if isinstance(v, str) and not v.isascii() else v for v in columns), body)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and create if needed) an event store."""
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 2000")
        return db
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA busy_timeout = 5000")
    with db:
        db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                ts REAL NOT NULL, kind TEXT NOT NULL, principal TEXT, model TEXT, source TEXT,
                instance TEXT, action TEXT, status TEXT, rules_version TEXT, latency_ms REAL,
                labels TEXT NOT NULL DEFAULT ',', body TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS events_action ON events (action);
            CREATE INDEX IF NOT EXISTS events_principal ON events (principal);
            """
        )
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    return db


class JsonlSink:
    """Events appended to a file, one JSON object per line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def after_fork(self) -> None:
        """A file object of the child's own: the inherited one's buffer is the parent's to flush."""
        _INHERITED.append(self._file)
        self._file = self.path.open("a", encoding="utf-8")

    @classmethod
    def from_uri(cls, uri: str) -> JsonlSink:
        return cls(_path(uri))

    def write(self, events: Sequence[Event]) -> int:
        """Append one line per event; returns how many could not be encoded (skipped)."""
        lines = [body + "\n" for body in map(storable_json, events) if body is not None]
        self._file.writelines(lines)
        self._file.flush()
        return len(events) - len(lines)

    def close(self) -> None:
        self._file.close()


SINKS: dict[str, Callable[[str], Sink]] = {
    "sqlite": SQLiteSink.from_uri,
    "jsonl": JsonlSink.from_uri,
    "redis": RedisStreamSink.from_uri,  # Redis Streams, for a fleet: see firewall/events/redis_stream.py
    "rediss": RedisStreamSink.from_uri,
    "unix": RedisStreamSink.from_uri,  # Redis on a local socket: unix:///path.sock?db=0&stream=...
}


def sink_from_uri(uri: str) -> Sink:
    """Build a sink from a URI (or a bare .db / .jsonl path)."""
    scheme = urlsplit(uri).scheme
    if not scheme or len(scheme) == 1:  # a bare path (or a Windows drive letter)
        suffix = Path(uri).suffix
        scheme = {".db": "sqlite", ".sqlite": "sqlite", ".jsonl": "jsonl"}.get(suffix, "")
        uri = f"{scheme}:///{uri}" if scheme else uri
    if scheme not in SINKS:
        raise ConfigError(f"unknown event sink {redact(uri)!r}; known schemes: {', '.join(sorted(SINKS))}")
    return SINKS[scheme](uri)
