"""Events on a Redis Stream: a sink that XADDs them (capped length) and the reader a fleet console tails.

URI: ``redis://[:password@]host:port/db?stream=outguard:events&maxlen=100000`` (``rediss://`` for
TLS, ``unix:///path.sock?db=0`` for a socket). Query parameters of ours, removed before the rest
goes to redis-py (which understands e.g. ``socket_timeout``, ``client_name``):

- ``stream``: the stream key (default ``outguard:events``); every instance of a fleet writes to the
  same one, and each event names its instance (host:pid) and rules version.
- ``maxlen``: the cap on the stream's length (default 100000): each XADD trims with
  ``MAXLEN ~ maxlen``, so Redis keeps at least that many and at most a macro node more (100
  entries with the default ``stream-node-max-entries``).
- ``exact``: ``true`` trims with ``MAXLEN = maxlen`` (exact, slower for Redis); default ``false``.

Each entry has two fields: ``v`` (the body format, "1") and ``event`` (the Event as JSON, built
from a verdict: labels, offsets, masked previews, keyed hashes; never a raw value).

Reader ids. A stream id is ``<ms>-<seq>``; the reader gives each event the integer
``ms << 20 | seq``, which increases with the stream and maps back exactly (`stream_id`), so
``get(id)`` is one ``XRANGE id id``. A sequence number needs 2**20 entries in one millisecond to
overflow; an entry that does (only an explicit id could) is read with the largest id of its
millisecond. An entry the reader cannot decode (another producer, a newer format) comes back as an
event of kind "unreadable" rather than being skipped, so ids keep advancing and the problem shows.

Failures translate at this seam: a bad URI raises ConfigError; Redis being unreachable raises
EventSourceError (a FirewallError) from the reader, and from the sink's write, where the
EventWriter counts the batch as dropped and tries again later.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from firewall.errors import ConfigError, FirewallError
from firewall.events.event import Event
from firewall.uris import redact

log = logging.getLogger(__name__)

STREAM = "outguard:events"
MAXLEN = 100_000
FORMAT = "1"
SEQ_BITS = 20
_SEQ_MAX = (1 << SEQ_BITS) - 1
_OURS = {"stream", "maxlen", "exact"}


class EventSourceError(FirewallError):
    """The event stream's Redis cannot be reached or answered with an error."""


@dataclasses.dataclass(frozen=True)
class StreamAddress:
    """A parsed stream URI: the Redis URL (our parameters removed), the key and the cap."""

    redis_url: str
    stream: str = STREAM
    maxlen: int = MAXLEN
    exact: bool = False

    @classmethod
    def parse(cls, uri: str) -> StreamAddress:
        """Split a `redis://...?stream=&maxlen=&exact=` URI; ConfigError names what is wrong."""
        parts = urlsplit(uri)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"not a Redis URI: {redact(uri)!r} (redis://, rediss:// or unix://)")
        ours: dict[str, str] = {}
        rest: list[tuple[str, str]] = []
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in _OURS:
                ours[name] = value
            else:
                rest.append((name, value))
        stream = ours.get("stream", STREAM)
        if not stream or len(stream) > 256:
            raise ConfigError(f"{redact(uri)}: stream must be 1 to 256 characters")
        try:
            maxlen = int(ours.get("maxlen", MAXLEN))
        except ValueError:
            raise ConfigError(f"{redact(uri)}: maxlen must be a whole number") from None
        if maxlen < 1:
            raise ConfigError(f"{redact(uri)}: maxlen must be at least 1")
        exact = ours.get("exact", "false").lower()
        if exact not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{redact(uri)}: exact must be true or false")
        # Not urlunsplit: it writes unix:///path.sock (no host) as unix:/path.sock, which redis-py refuses.
        query = urlencode(rest)
        url = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")
        return cls(url, stream, maxlen, exact in ("true", "1", "yes"))

    def client(self) -> Any:
        """A redis-py client that fails fast (1 s timeouts unless the URI says otherwise, no
        retries): the writer and the console must not hang on a dead server."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options: dict[str, Any] = {"retry": Retry(NoBackoff(), 0)}
        query = dict(parse_qsl(urlsplit(self.redis_url).query))
        for name in ("socket_timeout", "socket_connect_timeout"):
            if name not in query:
                options[name] = 1.0
        try:
            return redis.Redis.from_url(self.redis_url, **options)
        except ValueError as exc:
            raise ConfigError(f"{redact(self.redis_url)}: {exc}") from None


class RedisStreamSink:
    """Events XADDed to one Redis Stream, capped at `maxlen`; one pipeline round trip per batch."""

    def __init__(self, client: Any, stream: str = STREAM, maxlen: int = MAXLEN, *, exact: bool = False) -> None:
        self.client = client
        self.stream = stream
        self.maxlen = maxlen
        self.exact = exact

    @classmethod
    def from_uri(cls, uri: str) -> RedisStreamSink:
        address = StreamAddress.parse(uri)
        return cls(address.client(), address.stream, address.maxlen, exact=address.exact)

    def write(self, events: Sequence[Event]) -> int:
        """XADD the events in one pipeline; returns how many could not be encoded (skipped, each
        on its own: one bad event must not cost the batch)."""
        import redis

        pipe = self.client.pipeline(transaction=False)
        skipped = 0
        for event in events:
            body = storable_json(event)
            if body is None:
                skipped += 1
                continue
            pipe.xadd(self.stream, {"v": FORMAT, "event": body}, maxlen=self.maxlen, approximate=not self.exact)
        if skipped == len(events):
            return skipped
        try:
            pipe.execute()
        except redis.RedisError as exc:
            raise EventSourceError(f"writing to the event stream {self.stream!r} failed: {type(exc).__name__}") from exc
        return skipped

    def close(self) -> None:
        self.client.close()


class RedisStreamReader:
    """Read a fleet's events from the stream: `tail`, `latest`, `wait` and `get` by integer id."""

    def __init__(self, client: Any, stream: str = STREAM) -> None:
        self.client = client
        self.stream = stream

    @classmethod
    def from_uri(cls, uri: str) -> RedisStreamReader:
        address = StreamAddress.parse(uri)
        return cls(address.client(), address.stream)

    def tail(self, after_id: int = 0, limit: int = 1000) -> list[Event]:
        """Events with an id above `after_id`, oldest first (XRANGE, never blocks)."""
        low = "-" if after_id <= 0 else f"({stream_id(after_id)}"
        return self._events(self._call("xrange", self.stream, min=low, max="+", count=limit))

    def latest(self, limit: int = 1000) -> list[Event]:
        """The newest `limit` events, oldest first: where a console starts on a long stream."""
        return self._events(reversed(self._call("xrevrange", self.stream, max="+", min="-", count=limit)))

    def wait(self, after_id: int = 0, limit: int = 1000, block_ms: int = 100) -> list[Event]:
        """Like `tail`, but waits up to `block_ms` (1 to 500) for the first new event (XREAD BLOCK)."""
        start = stream_id(after_id) if after_id > 0 else "0-0"
        # Capped below the client's 1 s socket timeout, which would otherwise cut the wait short.
        answer = self._call("xread", {self.stream: start}, count=limit, block=min(max(1, block_ms), 500))
        return self._events(answer[0][1] if answer else [])

    def get(self, event_id: int) -> Event | None:
        """The event with this id (one XRANGE of a single id), or None once trimmed."""
        entry = stream_id(event_id)
        found = self._events(self._call("xrange", self.stream, min=entry, max=entry, count=1))
        return found[0] if found else None

    def length(self) -> int:
        """How many events the stream holds now (XLEN)."""
        return int(self._call("xlen", self.stream))

    def close(self) -> None:
        self.client.close()

    def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return getattr(self.client, command)(*args, **kwargs)
        except redis.RedisError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise EventSourceError(f"reading the event stream {self.stream!r} failed: {reason}") from exc

    def _events(self, entries: Any) -> list[Event]:
        return [decode(raw_id, fields) for raw_id, fields in entries]


def event_id(raw: bytes | str) -> int:
    """The integer id of a stream id "<ms>-<seq>" (`ms << 20 | seq`)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms) << SEQ_BITS | min(int(seq or 0), _SEQ_MAX)


def stream_id(value: int) -> str:
    """The stream id "<ms>-<seq>" of an integer id: the inverse of `event_id`."""
    return f"{value >> SEQ_BITS}-{value & _SEQ_MAX}"


def encode(event: Event, *, ascii_only: bool = False) -> str:
    """The entry's JSON body: `Event.to_dict()` without the id, built shallowly (dataclasses.asdict
    deep-copies, and was two thirds of the cost of writing a batch).

    Raises:
        TypeError, ValueError: a field JSON cannot hold.
    """
    body = dict(vars(event))
    body["findings"] = [dict(vars(f)) for f in event.findings]
    body["error"] = event.error.to_dict() if event.error is not None else None
    body["id"] = None
    return json.dumps(body, ensure_ascii=ascii_only)


def storable_json(event: Event) -> str | None:
    """`encode(event)`, made safe to store as UTF-8, or None (logged by type) when the event cannot
    be encoded: a field of a type JSON does not know (a principal passed as an object). Text UTF-8
    cannot carry (a lone surrogate) is written as JSON escapes, which read back to the same text."""
    try:
        body = encode(event)
        if not body.isascii():
            try:
                body.encode("utf-8")
            except UnicodeEncodeError:
                body = encode(event, ascii_only=True)
    except (TypeError, ValueError) as exc:
        # The type only: the message of a failed encoding may quote the value.
        log.error("an event of kind %r could not be encoded (%s); dropped", event.kind, type(exc).__name__)
        return None
    return body


def decode(raw_id: bytes | str, fields: dict[Any, Any]) -> Event:
    """One stream entry as an Event with its integer id; fields this version does not know are
    ignored (a fleet upgrades one instance at a time), and an entry that is not an event at all
    becomes kind "unreadable"."""
    return Event.decode(fields.get(b"event", fields.get("event")), event_id(raw_id))
