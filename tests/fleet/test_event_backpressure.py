"""Backpressure on the Redis event stream: a slow or dead Redis never blocks the request path,
every event is either in the stream or counted as dropped, and the drops are reported in the
stream (an `events_dropped` event) once Redis answers again."""

from __future__ import annotations

import inspect
import multiprocessing
import os
import time
import warnings
from collections.abc import Iterator

import pytest

from firewall import Firewall
from firewall.events.event import Event
from firewall.events.store import open_reader
from firewall.policy import Policy
from tests.conftest import KEY, RULES
from tests.fleet.conftest import REDIS, Proxy, wait_until
from tests.fleet.workers import lean_policy

pytestmark = pytest.mark.redis

TEXT = "mail jane@corp.io, key sk_live_4eC39HqLyjWDarjtT1zdp7dc"


@pytest.fixture(scope="module")
def lean() -> Policy:
    return lean_policy(str(RULES))


def stream_events(stream_key: str) -> list[Event]:
    reader = open_reader(f"{REDIS}?stream={stream_key}")
    try:
        return reader.tail(limit=100_000)
    finally:
        reader.close()


def accounted(stream_key: str) -> tuple[int, int]:
    """(verdict events in the stream, drops reported in the stream)."""
    events = stream_events(stream_key)
    return (
        sum(e.kind == "verdict" for e in events),
        sum(e.dropped or 0 for e in events if e.kind == "events_dropped"),
    )


@pytest.fixture
def through_proxy(lean: Policy, proxy: Proxy, stream_key: str, redis_db: object) -> Iterator[Firewall]:
    """A firewall whose events reach Redis through the proxy (8 s socket timeout)."""
    fw = Firewall(lean, events=f"{proxy.url()}?stream={stream_key}&socket_timeout=8", key=KEY)
    yield fw
    fw.close()


def test_a_hung_redis_never_blocks_scans_and_every_event_is_accounted(
    through_proxy: Firewall, proxy: Proxy, stream_key: str
) -> None:
    """While Redis swallows requests (each would wait 8 s), 300 scans finish at scanning speed; once
    it answers again, verdicts written plus drops reported equal all 301 events."""
    fw = through_proxy
    fw.scan(TEXT)
    assert fw._writer is not None and fw._writer.flush(timeout=30)
    proxy.set("stall")

    began = time.monotonic()
    for _ in range(300):
        fw.scan(TEXT, principal="p")
    scanning = time.monotonic() - began

    assert scanning < 6, f"300 scans took {scanning:.1f} s: something waited on Redis"
    proxy.set("pass")
    assert wait_until(lambda: accounted(stream_key)[1] > 0)  # the drop report arrives after recovery
    assert fw._writer.flush(timeout=60)
    written, reported = accounted(stream_key)
    assert written + reported == 301
    assert reported == fw.events_dropped >= 1  # at least the batch that was in flight


def test_redis_down_then_back_reports_the_drops(through_proxy: Firewall, proxy: Proxy, stream_key: str) -> None:
    fw = through_proxy
    proxy.set("refuse")
    for _ in range(50):
        fw.scan(TEXT, principal="p")
    assert wait_until(lambda: fw.events_dropped > 0)

    proxy.set("pass")
    fw.scan(TEXT, principal="p")
    assert wait_until(lambda: accounted(stream_key)[1] == fw.events_dropped)
    assert fw._writer is not None and fw._writer.flush(timeout=60)

    written, reported = accounted(stream_key)
    assert written + reported == 51 and reported == fw.events_dropped
    [report] = [e for e in stream_events(stream_key) if e.kind == "events_dropped"]
    assert report.rules_version == fw.rules_version and report.instance.endswith(f":{os.getpid()}")


def test_close_gives_up_on_a_hung_redis_in_bounded_time(lean: Policy, proxy: Proxy, stream_key: str) -> None:
    """Firewall.close(timeout=...) (10 s by default, as the README says) bounds the wait for a sink
    that hangs: here one whose every write would wait 60 s."""
    fw = Firewall(lean, events=f"{proxy.url()}?stream={stream_key}&socket_timeout=60", key=KEY)
    fw.scan(TEXT)
    assert fw._writer is not None and fw._writer.flush(timeout=30)
    proxy.set("stall")
    fw.scan(TEXT)

    began = time.monotonic()
    fw.close(timeout=1)

    assert time.monotonic() - began < 5
    assert inspect.signature(Firewall.close).parameters["timeout"].default == 10


def _scan_in_child(fw: Firewall, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    fw.scan(TEXT, principal="child")
    fw.flush()
    queue.put(os.getpid())


def test_a_worker_forked_after_the_firewall_was_made_still_writes_its_events(
    lean: Policy, stream_uri: str, stream_key: str
) -> None:
    """Pre-forking servers: the writer thread does not survive fork; the child gets a new one, and
    its events carry its own pid."""
    fw = Firewall(lean, events=stream_uri, key=KEY)
    fw.scan(TEXT, principal="parent")
    fork = multiprocessing.get_context("fork")
    results = fork.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork with threads running
        child = fork.Process(target=_scan_in_child, args=(fw, results))
        child.start()
    child_pid = results.get(timeout=60)
    child.join(60)
    fw.flush()
    fw.close()

    instances = {e.principal: e.instance for e in stream_events(stream_key)}
    assert instances["child"].endswith(f":{child_pid}")
    assert instances["parent"].endswith(f":{os.getpid()}")
