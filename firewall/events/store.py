"""Read an SQLite event store: tail new events and query them (the console uses this)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from firewall.errors import ConfigError
from firewall.events.event import Event
from firewall.events.redis_stream import RedisStreamReader
from firewall.events.sinks import _path, connect
from firewall.uris import redact

DEFAULT_STORE = "sqlite:///.outguard/events.db"
"""The embedded store: where the default policy writes and the console reads."""


class EventStore:
    """Read-side of an SQLite event store."""

    def __init__(self, path: str | Path) -> None:
        """Open an existing store read-only (a typo'd path is an error, not a new empty store)."""
        self.path = Path(path)
        self._db = connect(self.path, readonly=True)
        self._db.row_factory = sqlite3.Row

    @classmethod
    def from_uri(cls, uri: str) -> EventStore:
        return cls(_path(uri) if "://" in uri else Path(uri))

    def tail(self, after_id: int = 0, limit: int = 1000) -> list[Event]:
        """Events with an id above `after_id`, oldest first."""
        rows = self._db.execute(
            "SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        ).fetchall()
        return [_event(row) for row in rows]

    def query(
        self,
        *,
        action: str | None = None,
        label: str | None = None,
        principal: str | None = None,
        kind: str | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        """The newest events matching every given field, newest first."""
        clauses, params = [], []
        for column, value in (("action", action), ("principal", principal), ("kind", kind)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if label is not None:
            clauses.append("instr(labels, ?) > 0")
            params.append(f",{label},")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(
            f"SELECT id, body FROM events {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        ).fetchall()
        return [_event(row) for row in rows]

    def latest(self, limit: int = 1000) -> list[Event]:
        """The newest `limit` events, oldest first (where a console starts on a long history)."""
        rows = self._db.execute("SELECT id, body FROM events ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_event(row) for row in reversed(rows)]

    def get(self, event_id: int) -> Event | None:
        row = self._db.execute("SELECT id, body FROM events WHERE id = ?", (event_id,)).fetchone()
        return _event(row) if row else None

    def close(self) -> None:
        self._db.close()


class Reader(Protocol):
    """What the console reads from; ids increase in the order events were written."""

    def tail(self, after_id: int = 0, limit: int = 1000) -> list[Event]: ...

    def latest(self, limit: int = 1000) -> list[Event]: ...

    def get(self, event_id: int) -> Event | None: ...

    def close(self) -> None: ...


READERS: dict[str, Callable[[str], Reader]] = {
    "sqlite": EventStore.from_uri,
    "redis": RedisStreamReader.from_uri,  # a fleet's events: see firewall/events/redis_stream.py
    "rediss": RedisStreamReader.from_uri,
    "unix": RedisStreamReader.from_uri,  # Redis on a local socket: unix:///path.sock?db=0&stream=...
}


def open_reader(uri: str) -> Reader:
    """The event reader for a sink URI (sqlite:///… or a bare .db path)."""
    scheme = urlsplit(uri).scheme
    if not scheme or len(scheme) == 1:
        scheme = "sqlite"
    if scheme not in READERS:
        raise ConfigError(f"cannot read events from {redact(uri)!r}; readable schemes: {', '.join(sorted(READERS))}")
    return READERS[scheme](uri)


def _event(row: sqlite3.Row) -> Event:
    return Event.decode(row["body"], row["id"])
