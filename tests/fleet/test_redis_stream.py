"""The Redis Streams sink and reader on the real Redis: URIs, ids, capped length, reading back."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
import redis

from firewall import ConfigError, Firewall, load_policy
from firewall.events import Event, EventWriter, sink_from_uri
from firewall.events.redis_stream import (
    EventSourceError,
    RedisStreamReader,
    RedisStreamSink,
    StreamAddress,
    event_id,
    redact,
    stream_id,
)
from firewall.events.store import open_reader
from firewall.policy.policy import ActionSpec
from firewall.testing import capture_events
from tests.conftest import KEY, RULES
from tests.fleet.conftest import REDIS

pytestmark = pytest.mark.redis


def events(count: int, start: int = 0) -> list[Event]:
    return [Event(kind="test", message=str(i)) for i in range(start, start + count)]


def test_uri_parameters_are_ours_and_the_rest_goes_to_redis() -> None:
    address = StreamAddress.parse("redis://:s3cret@host:6390/3?stream=fleet:ev&maxlen=500&exact=true&socket_timeout=2")

    assert (address.stream, address.maxlen, address.exact) == ("fleet:ev", 500, True)
    assert address.redis_url == "redis://:s3cret@host:6390/3?socket_timeout=2"
    assert StreamAddress.parse("redis://h/0") == StreamAddress("redis://h/0", "outguard:events", 100_000, False)


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("redis://h/0?maxlen=0", "maxlen must be at least 1"),
        ("redis://h/0?maxlen=lots", "maxlen must be a whole number"),
        ("redis://h/0?exact=perhaps", "exact must be true or false"),
        ("redis://h/0?stream=", "stream must be"),
        ("http://h/0", "not a Redis URI"),
    ],
)
def test_bad_uris_are_config_errors(uri: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        StreamAddress.parse(uri)


def test_passwords_never_appear_in_messages() -> None:
    assert redact("redis://user:s3cret@host:1/0?stream=x") == "redis://user:***@host:1/0?stream=x"
    with pytest.raises(ConfigError) as caught:
        StreamAddress.parse("redis://:s3cret@host/0?maxlen=-1")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("uri", ["kafka://user:s3cret@host/0", "sqlite://user:s3cret@host"])
def test_sink_uri_errors_never_show_the_password(uri: str) -> None:
    with pytest.raises(ConfigError) as caught:
        sink_from_uri(uri)
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)


def test_a_unix_socket_uri_makes_a_stream_sink() -> None:
    """As the URI docs say (`unix:///path.sock?db=0`); nothing connects until the first write."""
    sink = sink_from_uri("unix:///run/redis/redis.sock?db=12&stream=fleet:ev")

    assert isinstance(sink, RedisStreamSink) and sink.stream == "fleet:ev"
    assert sink.client.connection_pool.connection_kwargs["path"] == "/run/redis/redis.sock"
    sink.close()


@pytest.mark.parametrize("raw", ["0-0", "1-0", "1718000000000-0", "1718000000000-1", "1718000000000-1048575"])
def test_ids_map_back_exactly_and_keep_their_order(raw: str) -> None:
    assert stream_id(event_id(raw)) == raw
    assert event_id(raw.encode()) == event_id(raw)


def test_ids_increase_with_the_stream() -> None:
    raws = ["5-0", "5-1", "5-1048575", "6-0", "1718000000000-0", "1718000000000-7"]
    assert [event_id(r) for r in raws] == sorted(event_id(r) for r in raws)


def test_both_schemes_are_registered(stream_uri: str) -> None:
    sink, reader = sink_from_uri(stream_uri), open_reader(stream_uri)

    assert isinstance(sink, RedisStreamSink) and isinstance(reader, RedisStreamReader)
    sink.close()
    reader.close()


def test_written_events_read_back_in_order_with_ids_that_get_them(
    stream_uri: str, redis_db: redis.Redis, stream_key: str
) -> None:
    sink, reader = sink_from_uri(stream_uri), open_reader(stream_uri)
    sink.write(events(30))

    first = reader.tail(limit=10)
    rest = reader.tail(first[-1].id or 0)

    assert [e.message for e in first + rest] == [str(i) for i in range(30)]
    ids = [e.id or 0 for e in first + rest]
    assert ids == sorted(ids) and len(set(ids)) == 30
    assert reader.get(ids[17]).message == "17"  # type: ignore[union-attr]
    assert [e.message for e in reader.latest(3)] == ["27", "28", "29"]
    assert reader.tail(ids[-1]) == [] and reader.length() == 30
    raw_ids = [entry[0].decode() for entry in redis_db.xrange(stream_key)]
    assert [stream_id(i) for i in ids] == raw_ids
    sink.close()
    reader.close()


def test_wait_returns_new_events_and_empty_after_its_block(stream_uri: str) -> None:
    sink, reader = sink_from_uri(stream_uri), open_reader(stream_uri)
    sink.write(events(2))
    last = reader.tail()[-1].id or 0

    assert reader.wait(last, block_ms=50) == []
    sink.write(events(1, 2))
    assert [e.message for e in reader.wait(last, block_ms=500)] == ["2"]
    assert [e.message for e in reader.wait(0, limit=2)] == ["0", "1"]
    sink.close()
    reader.close()


def test_exact_cap_keeps_exactly_maxlen(redis_db: redis.Redis, stream_key: str) -> None:
    sink = sink_from_uri(f"{REDIS}?stream={stream_key}&maxlen=250&exact=true")
    for start in range(0, 2000, 400):
        sink.write(events(400, start))

    assert redis_db.xlen(stream_key) == 250
    reader = open_reader(f"{REDIS}?stream={stream_key}")
    assert [e.message for e in reader.tail(limit=1)] == ["1750"]  # the oldest kept
    sink.close()
    reader.close()


def test_approximate_cap_stays_within_one_macro_node(redis_db: redis.Redis, stream_key: str) -> None:
    """MAXLEN ~ N keeps at least N and at most one radix-tree node (stream-node-max-entries) more."""
    node = int(redis_db.config_get("stream-node-max-entries")["stream-node-max-entries"])
    sink = sink_from_uri(f"{REDIS}?stream={stream_key}&maxlen=1000")
    for start in range(0, 6000, 500):
        sink.write(events(500, start))

    assert 1000 <= redis_db.xlen(stream_key) <= 1000 + node
    sink.close()


def test_entries_the_reader_cannot_decode_come_back_as_unreadable(redis_db: redis.Redis, stream_key: str) -> None:
    """Foreign entries and newer fields: unknown fields are ignored; garbage shows as "unreadable"
    with its id, so a console tailing the stream keeps advancing."""
    finding = {"detector": "p", "rule": "r", "label": "L", "action": "redact", "start": 0, "end": 1,
               "score": 1.0, "preview": "*", "digest": "d", "extra": 1}
    newer = Event(kind="verdict", message="from a newer instance").to_dict()
    newer |= {"id": None, "flavour": "new", "findings": [finding]}
    redis_db.xadd(stream_key, {"v": "2", "event": json.dumps(newer)})
    redis_db.xadd(stream_key, {"something": "else"})
    redis_db.xadd(stream_key, {"event": "{not json"})
    reader = open_reader(f"{REDIS}?stream={stream_key}")

    read = reader.tail()

    assert [e.kind for e in read] == ["verdict", "unreadable", "unreadable"]
    assert read[0].message == "from a newer instance" and read[0].findings[0].rule == "r"
    assert all(e.id for e in read) and read[1].instance == ""
    reader.close()


def test_a_firewall_writes_verdicts_with_nothing_raw(stream_uri: str, redis_db: redis.Redis, stream_key: str) -> None:
    secret = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    with Firewall.from_rules(RULES, events=stream_uri, key=KEY) as fw, capture_events(fw) as captured:
        fw.scan(f"key {secret} and order #A-20931", principal="svc-a")
        fw.flush()

    reader = open_reader(stream_uri)
    [event] = reader.tail()
    assert event.principal == "svc-a" and event.labels == ["SECRET"]
    assert event.rules_version == fw.rules_version and event.instance == captured[0].instance
    assert [(f.rule, f.shadow) for f in event.findings] == [("stripe-key", False), ("order-numbers", True)]
    blob = b"".join(value for _, fields in redis_db.xrange(stream_key) for value in fields.values())
    assert secret.encode() not in blob and b"#A-20931" not in blob
    reader.close()


def test_flagged_values_never_reach_the_stream(stream_uri: str, redis_db: redis.Redis, stream_key: str) -> None:
    """`flag` passes a value unchanged; the stored output masks it all the same (the shipped
    ECHO: flag had stored echoed protected text as is)."""
    policy = load_policy(RULES)
    flagged = dataclasses.replace(policy, label_actions={**policy.label_actions, "EMAIL": ActionSpec("flag")})
    with Firewall(flagged, events=stream_uri, key=KEY) as fw:
        assert fw.scan("mail jane@corp.io", prompt="jane@corp.io?").text == "mail jane@corp.io"
        fw.flush()

    reader = open_reader(stream_uri)
    [event] = reader.tail()
    reader.close()
    assert (event.output, event.prompt) == ("mail ************", "************?")
    blob = b"".join(value for _, fields in redis_db.xrange(stream_key) for value in fields.values())
    assert b"jane@corp.io" not in blob


def test_unreachable_redis_is_an_event_source_error_for_the_reader() -> None:
    reader = open_reader("redis://127.0.0.1:1/0?stream=nothing")

    with pytest.raises(EventSourceError, match="reading the event stream 'nothing' failed"):
        reader.tail()
    reader.close()


def test_writer_with_unreachable_redis_counts_and_never_blocks() -> None:
    """Port 1: connection refused. Submits return at once; failed batches are counted."""
    writer = EventWriter(sink_from_uri("redis://127.0.0.1:1/0?stream=nothing"), maxsize=100)
    began = time.monotonic()
    accepted = [writer.submit(lambda: Event(kind="test")) for _ in range(500)]
    submitting = time.monotonic() - began
    assert writer.flush(timeout=30)
    writer.close(timeout=10)

    assert submitting < 5  # 500 put_nowait calls; waiting on Redis would be 500 refused connections
    assert accepted.count(False) > 0  # the queue (100) filled while the writer paused after failing
    assert writer.written == 0 and writer.dropped == 500


def test_the_entry_body_is_the_events_dict() -> None:
    """The shallow encoder writes exactly what Event.to_dict() holds (id left out: the stream's)."""
    from firewall.events.event import EventFinding
    from firewall.events.redis_stream import decode, encode

    finding = EventFinding("patterns", "email", "EMAIL", "redact", 3, 10, 1.0, "j*****e (7)", "abc", shadow=True)
    event = Event(kind="verdict", principal="p", findings=(finding,), timings_ms={"patterns": 0.1}, errors=("x",), id=7)

    assert json.loads(encode(event)) == json.loads(json.dumps(event.to_dict() | {"id": None}))
    assert decode("0-9", {b"event": encode(event)}) == dataclasses.replace(event, id=9)


class Unencodable:
    """A principal no JSON encoder knows (a caller passed an object where a name belongs)."""


def test_an_event_that_cannot_be_encoded_is_dropped_alone(stream_uri: str) -> None:
    """One bad event used to cost its whole batch (and pause the sink as if Redis were down)."""
    writer = EventWriter(sink_from_uri(stream_uri))
    good = events(3)
    for event in (good[0], Event(kind="test", principal=Unencodable()), *good[1:]):  # type: ignore[arg-type]
        writer.submit(lambda event=event: event)
    assert writer.flush(timeout=30)
    writer.submit(lambda: Event(kind="test", message="after"))
    assert writer.flush(timeout=30)
    writer.close()

    reader = open_reader(stream_uri)
    read = reader.tail()
    reader.close()
    assert [(e.kind, e.dropped or e.message) for e in read] == [
        ("test", "0"), ("test", "1"), ("test", "2"), ("test", "after"), ("events_dropped", 1)
    ]
    assert (writer.written, writer.dropped) == (4, 1)


def test_text_utf8_cannot_carry_is_written_escaped_and_reads_back(stream_uri: str) -> None:
    sink = sink_from_uri(stream_uri)
    assert not sink.write([Event(kind="test", message="half a pair: \ud83d")])
    sink.close()

    reader = open_reader(stream_uri)
    [event] = reader.tail()
    reader.close()
    assert event.message == "half a pair: \ud83d"
