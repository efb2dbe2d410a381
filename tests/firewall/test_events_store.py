"""Event stores: nothing raw is ever written, writing never blocks callers, stores read back."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from firewall import ConfigError, Firewall, Verdict, load_policy
from firewall.events import Event, EventWriter, JsonlSink, SQLiteSink, sink_from_uri
from firewall.events.store import EventStore
from firewall.policy import Policy
from firewall.policy.policy import ActionSpec
from firewall.replay import load_transcripts, replay
from firewall.testing import capture_events
from tests.conftest import KEY, RULES, SAMPLES

TRANSCRIPTS = load_transcripts([SAMPLES / "transcripts"])
SENSITIVE = sorted({value for t in TRANSCRIPTS for value in t.sensitive})
INJECTION = "x'); DROP TABLE events;--"


def raw_forms(value: str) -> list[bytes]:
    """The bytes a raw value would leave in a file: as written, and JSON-escaped."""
    return [value.encode(), json.dumps(value)[1:-1].encode()]


def leaked(blob: bytes) -> list[str]:
    return [value for value in SENSITIVE if any(form in blob for form in raw_forms(value))]


def run_in_thread(fn: Callable[[], object], timeout: float = 5.0) -> bool:
    """Run `fn` on a helper thread; True when it finished within `timeout` seconds."""
    worker = threading.Thread(target=fn, daemon=True)
    worker.start()
    worker.join(timeout)
    return not worker.is_alive()


@pytest.fixture
def sqlite_fw(tmp_path: Path) -> Iterator[Firewall]:
    fw = Firewall.from_rules(RULES, events=f"sqlite:///{tmp_path}/ev.db", key=KEY)
    yield fw
    fw.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    reader = EventStore(tmp_path / "ev.db")
    yield reader
    reader.close()


@pytest.mark.parametrize("scheme", ["sqlite", "jsonl"])
def test_replayed_samples_leave_no_raw_value_in_the_store(tmp_path: Path, scheme: str) -> None:
    """After replaying every sample, no sensitive value is in the store's bytes (WAL included)."""
    assert len(SENSITIVE) >= 20  # the samples really carry secrets to look for
    path = tmp_path / f"ev.{'db' if scheme == 'sqlite' else 'jsonl'}"
    fw = Firewall.from_rules(RULES, events=f"{scheme}:///{path}", key=KEY)

    results = list(replay(fw, TRANSCRIPTS))
    fw.flush()
    while_open = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    fw.close()
    after_close = b"".join(p.read_bytes() for p in tmp_path.iterdir())

    assert all(r.ok for r in results)
    assert fw.events_dropped == 0
    assert leaked(while_open) == []
    assert leaked(after_close) == []
    if scheme == "jsonl":
        assert len(path.read_text().splitlines()) == len(TRANSCRIPTS)
    else:
        reader = EventStore(path)
        try:
            assert len(reader.tail()) == len(TRANSCRIPTS)
        finally:
            reader.close()


def test_the_leak_check_would_see_a_raw_value(tmp_path: Path) -> None:
    """The byte search above finds a raw value that does reach the SQLite file."""
    sink = SQLiteSink(tmp_path / "ev.db")
    sink.write([Event(kind="verdict", output=f"oops {SENSITIVE[0]}")])
    sink.close()

    assert leaked((tmp_path / "ev.db").read_bytes()) == [SENSITIVE[0]]


def test_tail_returns_only_newer_events_in_order(sqlite_fw: Firewall, store: EventStore) -> None:
    """tail(after_id) gives the events written after that id, oldest first."""
    for word in ("one", "two", "three"):
        sqlite_fw.scan(word, principal=word)
    sqlite_fw.flush()

    everything = store.tail()
    later = store.tail(after_id=everything[0].id or 0)

    assert [e.principal for e in everything] == ["one", "two", "three"]
    assert [e.principal for e in later] == ["two", "three"]
    assert store.tail(after_id=everything[-1].id or 0) == []


def test_query_filters_by_action_label_and_principal(
    sqlite_fw: Firewall, store: EventStore
) -> None:
    """query() returns exactly the events matching the action, label or principal, newest first."""
    sqlite_fw.scan("nothing here", principal="a")
    sqlite_fw.scan("mail jane@corp.io from 81.2.69.17", principal="b")
    sqlite_fw.scan("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7Zx2mLp7RtXk9fQ2Wm5Nv9Xc3Bt7Hy1Kp4Jd6Fg0SaQeUo8Ti2MlLq", principal="b")
    sqlite_fw.flush()

    assert [e.principal for e in store.query(action="block")] == ["b"]
    assert [e.labels for e in store.query(label="EMAIL")] == [["EMAIL", "IP_ADDRESS"]]
    assert [e.action for e in store.query(label="IP_ADDRESS")] == ["redact"]
    assert [e.action for e in store.query(principal="b")] == ["block", "redact"]
    assert [e.action for e in store.query(principal="a")] == ["allow"]
    assert store.query(label="EMAI") == []


def test_get_returns_the_event_with_that_id(sqlite_fw: Firewall, store: EventStore) -> None:
    """get(id) returns that event; an unknown id gives None."""
    sqlite_fw.scan("mail jane@corp.io", principal="p")
    sqlite_fw.flush()
    [event] = store.tail()

    found = store.get(event.id or 0)

    assert found == event
    assert found is not None and found.labels == ["EMAIL"]
    assert store.get(10_000) is None


def test_hostile_principal_is_stored_and_queried_intact(
    sqlite_fw: Firewall, store: EventStore
) -> None:
    """A principal written like SQL is data: it comes back unchanged and the table survives."""
    sqlite_fw.scan("hello", principal=INJECTION)
    sqlite_fw.scan("hello again", principal="other")
    sqlite_fw.flush()

    assert [e.principal for e in store.query(principal=INJECTION)] == [INJECTION]
    assert len(store.tail()) == 2


def test_prompt_is_stored_redacted(sqlite_fw: Firewall, store: EventStore, tmp_path: Path) -> None:
    """A prompt holding an address is stored with the address replaced."""
    sqlite_fw.scan("fine", prompt="my mail is jane@corp.io")
    sqlite_fw.close()

    [event] = store.tail()

    assert event.prompt == "my mail is [EMAIL]"
    assert b"jane@corp.io" not in b"".join(p.read_bytes() for p in tmp_path.iterdir())


def test_findings_carry_preview_and_digest_never_the_value(fw: Firewall) -> None:
    """An event finding has a masked preview and a hex digest; the raw value appears nowhere."""
    with capture_events(fw) as events:
        fw.scan("mail jane@corp.io now")

    [finding] = events[0].findings
    assert finding.preview and finding.preview != "jane@corp.io"
    assert "jane@corp.io" not in finding.preview
    assert len(finding.digest) >= 16
    assert "jane@corp.io" not in repr(events)


def digest_of(text: str, key: bytes) -> str:
    fw = Firewall.from_rules(RULES, events=False, key=key)
    with capture_events(fw) as events:
        fw.scan(text)
    fw.close()
    return events[0].findings[0].digest


def test_digest_is_stable_per_key_and_differs_across_keys() -> None:
    """One value under one key always hashes alike; another key or value hashes differently."""
    first = digest_of("jane@corp.io", KEY)

    assert digest_of("see jane@corp.io", KEY) == first
    assert digest_of("jane@corp.io", b"another-key-0123456789") != first
    assert digest_of("john@corp.io", KEY) != first


class ListSink:
    """Keeps what it gets; `hold` makes write() wait for `release`; `fail_first` raises once."""

    def __init__(self, *, hold: bool = False, fail_first: bool = False) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.fail_first = fail_first
        self.events: list[Event] = []

    def write(self, events: Sequence[Event]) -> None:
        self.entered.set()
        assert self.release.wait(10)
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("disk full")
        self.events.extend(events)

    def close(self) -> None:
        pass


def test_full_queue_drops_and_counts_without_blocking() -> None:
    """With the sink stuck and room for 2, ten submits return at once: 2 queued, 8 dropped."""
    sink = ListSink(hold=True)
    writer = EventWriter(sink, maxsize=2)
    writer.submit(lambda: Event(kind="test", message="first"))
    assert sink.entered.wait(5)  # the writer thread now holds "first" inside write()
    accepted: list[bool] = []

    def submit_ten() -> None:
        accepted.extend(writer.submit(lambda: Event(kind="test")) for _ in range(10))

    finished = run_in_thread(submit_ten)

    assert finished and not sink.release.is_set()
    assert accepted.count(True) == 2
    assert writer.dropped == accepted.count(False) == 8
    sink.release.set()
    assert run_in_thread(writer.flush)
    # Once there is room again the drops are reported, as an event, with the next batch.
    assert [e.kind for e in sink.events] == ["test"] * 3 + ["events_dropped"]
    assert sink.events[-1].dropped == 8 and writer.reported == 8
    assert writer.written == 3
    writer.close()


def test_failing_sink_drops_its_batch_and_the_writer_goes_on() -> None:
    """Events lost to a raising sink are counted, and later events are still written."""
    sink = ListSink(fail_first=True)
    writer = EventWriter(sink)

    writer.submit(lambda: Event(kind="test", message="lost"))
    writer.flush()
    writer.submit(lambda: Event(kind="test", message="kept"))
    writer.flush()
    writer.close()

    assert writer.dropped == 1
    assert [(e.kind, e.message) for e in sink.events][0] == ("test", "kept")
    assert [(e.kind, e.dropped) for e in sink.events][1:] == [("events_dropped", 1)]


def test_failing_job_is_dropped_and_the_writer_goes_on() -> None:
    """A job that raises while building its event is counted; the next job is written."""
    sink = ListSink()

    def broken() -> Event:
        raise ValueError("boom")

    writer = EventWriter(sink)
    writer.submit(broken)
    writer.flush()
    writer.submit(lambda: Event(kind="test", message="kept"))
    writer.close()

    assert writer.dropped == 1
    assert [(e.kind, e.message) for e in sink.events if e.kind == "test"] == [("test", "kept")]
    assert sum(e.dropped or 0 for e in sink.events if e.kind == "events_dropped") == 1


@pytest.mark.parametrize("uri", ["ftp://host/x.db", "events.txt", "kafka://localhost/0"])
def test_unknown_sink_is_a_config_error(uri: str) -> None:
    """A URI with an unknown scheme, or a bare path of unknown type, raises ConfigError."""
    with pytest.raises(ConfigError, match="unknown event sink"):
        sink_from_uri(uri)


@pytest.mark.parametrize(("name", "kind"), [("x.db", SQLiteSink), ("x.jsonl", JsonlSink)])
def test_bare_path_picks_sink_by_suffix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, kind: type
) -> None:
    """A bare x.db is an SQLite sink and a bare x.jsonl a JSONL sink, at that relative path."""
    monkeypatch.chdir(tmp_path)

    sink = sink_from_uri(name)
    sink.close()

    assert isinstance(sink, kind)
    assert (tmp_path / name).is_file()


def test_an_unreadable_or_newer_event_does_not_stop_a_reader(tmp_path: Path) -> None:
    """A body with fields this version does not know is read (a newer firewall wrote it); a body
    that is not an event at all comes back as kind "unreadable", and reading goes on past it."""
    import sqlite3

    from firewall.events.event import Event
    from firewall.events.sinks import SQLiteSink
    from firewall.events.store import EventStore

    path = tmp_path / "events.db"
    sink = SQLiteSink(path)
    sink.write([Event(kind="verdict", action="allow", output="one")])
    with sqlite3.connect(path) as db:
        newer = json.dumps(Event(kind="verdict", action="allow", output="two").to_dict() | {"tenant": "t-9"})
        for body in (newer, "not json", "[1, 2]"):
            db.execute("INSERT INTO events (ts, kind, body) VALUES (0, 'verdict', ?)", (body,))
    sink.write([Event(kind="verdict", action="allow", output="five")])
    events = EventStore(path).tail()
    assert [e.kind for e in events] == ["verdict", "verdict", "unreadable", "unreadable", "verdict"]
    assert [e.id for e in events] == [1, 2, 3, 4, 5] and events[1].output == "two"
    assert "not json" not in (events[2].message or "")


def flagging(policy_label: str = "EMAIL") -> Policy:
    """The default rules with `EMAIL: flag`: reported, passed unchanged (as the shipped ECHO is)."""
    policy = load_policy(RULES)
    return dataclasses.replace(policy, label_actions={**policy.label_actions, policy_label: ActionSpec("flag")})


@pytest.mark.parametrize("scheme", ["sqlite", "jsonl"])
def test_flagged_values_pass_but_are_never_stored(tmp_path: Path, scheme: str) -> None:
    """A flagged finding changes nothing in the output, yet the stored output and prompt mask it
    (same length: its offsets, set for the console to highlight, still hold), scanned or streamed."""
    email, text = "jane@corp.io", "mail jane@corp.io or 81.2.69.17 now"
    path = tmp_path / f"ev.{'db' if scheme == 'sqlite' else 'jsonl'}"
    fw = Firewall(flagging(), events=f"{scheme}:///{path}", key=KEY)
    verdicts: list[Verdict] = []
    with capture_events(fw) as events:
        scanned = fw.scan(text, prompt=f"is {email} right?")
        streamed = "".join(fw.stream(list(text), prompt=f"is {email} right?", on_verdict=verdicts.append))
    fw.close()

    assert scanned.text == streamed == "mail jane@corp.io or [IP_ADDRESS] now"
    assert verdicts[0].outcomes == scanned.outcomes
    for event in events:
        assert event.output == "mail ************ or [IP_ADDRESS] now"
        assert event.prompt == "is ************ right?"
        [flag] = [f for f in event.findings if f.action == "flag"]
        assert (flag.label, flag.start, flag.end) == ("EMAIL", 5, 17)
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert email.encode() not in stored and b"************" in stored


def _scan_in_child(fw: Firewall, count: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    for _ in range(count):
        fw.scan("mail jane@corp.io", principal="child")
    fw.flush()
    writer = fw._writer
    assert writer is not None
    results.put((os.getpid(), writer.written, writer.dropped))
    fw.close()


def test_a_forked_child_writes_to_sqlite_through_a_connection_of_its_own(tmp_path: Path, policy: Policy) -> None:
    """Pre-forking servers: the child must not use the parent's SQLite connection, nor wait on a
    lock another thread held at the fork, nor report the parent's drops again."""
    lean = dataclasses.replace(policy, detectors=tuple(d for d in policy.detectors if d != "pii"))
    fw = Firewall(lean, events=f"sqlite:///{tmp_path}/ev.db", key=KEY)
    writer = fw._writer
    assert writer is not None
    for _ in range(5):
        fw.scan("mail jane@corp.io", principal="parent")
    assert writer.flush(timeout=30)
    writer._count_drop(3)  # drops not yet reported when the worker forks: the parent's to report
    fork = multiprocessing.get_context("fork")
    results = fork.Queue()
    with writer.sink._lock, warnings.catch_warnings():  # type: ignore[attr-defined]
        # Held at the fork, as the writer thread holds it during a write.
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork with threads running
        child = fork.Process(target=_scan_in_child, args=(fw, 5, results))
        child.start()
    for _ in range(5):
        fw.scan("mail jane@corp.io", principal="parent")
    child_pid, child_written, child_dropped = results.get(timeout=30)  # it hung on the inherited lock
    child.join(30)
    fw.close()

    store = EventStore(tmp_path / "ev.db")
    events = store.tail()
    store.close()
    verdicts = Counter((e.principal, e.instance.rpartition(":")[2]) for e in events if e.kind == "verdict")
    assert verdicts == {("parent", str(os.getpid())): 10, ("child", str(child_pid)): 5}
    reports = [(e.instance.rpartition(":")[2], e.dropped) for e in events if e.kind == "events_dropped"]
    assert reports == [(str(os.getpid()), 3)]
    assert (child_written, child_dropped) == (5, 0) and child.exitcode == 0


class Unencodable:
    """A principal no JSON encoder knows (a caller passed an object where a name belongs)."""


@pytest.mark.parametrize("scheme", ["sqlite", "jsonl"])
def test_an_event_a_store_cannot_hold_is_dropped_alone(tmp_path: Path, scheme: str) -> None:
    """One bad event used to cost its whole batch (and pause the writer as if the sink had failed)."""
    path = tmp_path / f"ev.{'db' if scheme == 'sqlite' else 'jsonl'}"
    writer = EventWriter(sink_from_uri(f"{scheme}:///{path}"))
    odd = "half a pair: \ud83d"  # text UTF-8 cannot carry: stored escaped, read back the same
    batch = [Event(kind="test", message="one"), Event(kind="test", principal=Unencodable()),  # type: ignore[arg-type]
             Event(kind="test", message="two", principal=odd)]
    for event in batch:
        writer.submit(lambda event=event: event)
    assert writer.flush(timeout=10)
    writer.submit(lambda: Event(kind="test", message="three"))
    writer.close()

    if scheme == "jsonl":
        stored = [Event.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
    else:
        store = EventStore(path)
        stored = store.tail()
        store.close()
    assert [e.dropped or e.message for e in stored] == ["one", "two", "three", 1]
    assert stored[1].principal == odd
    assert (writer.written, writer.dropped) == (3, 1)
