"""Quotas on a Redis that hangs or goes away: a check fails (FirewallError) in seconds instead of
holding the request, on both faces, and works again once Redis answers. After an output, failing
bookkeeping never fails the output: its verdict is recorded, then a `quota_error` event."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from firewall import Firewall
from firewall.errors import FirewallError
from firewall.events.event import Event
from firewall.quota import REDIS_TIMEOUT, Quota
from firewall.testing import capture_events
from tests.conftest import KEY, RULES
from tests.fleet.conftest import Proxy
from tests.fleet.workers import lean_policy

pytestmark = pytest.mark.redis


def outcome_within(call: Any, seconds: float = 60) -> Any:
    """Run `call` on a thread; its result or exception, or pytest.fail if it is still waiting."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(call())
        except Exception as exc:
            box.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"the quota check was still waiting on Redis after {seconds} s")
    return box[0]


def test_timeouts_default_to_a_second_and_the_uri_wins() -> None:
    default = Quota({"storage": "redis://127.0.0.1:6379/12", "requests": "5/minute"})
    chosen = Quota({"storage": "redis://127.0.0.1:6379/12?socket_timeout=5", "requests": "5/minute"})

    pool = default._storage[0].storage.connection_pool.connection_kwargs
    assert (pool["socket_timeout"], pool["socket_connect_timeout"]) == (REDIS_TIMEOUT, REDIS_TIMEOUT)
    assert chosen._storage[0].storage.connection_pool.connection_kwargs["socket_timeout"] == 5
    default.close()
    chosen.close()


@pytest.mark.parametrize("mode", ["stall", "refuse"])
@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_hung_or_dead_redis_fails_the_check_and_recovers(proxy: Proxy, name: str, mode: str, face: str) -> None:
    quota = Quota({"storage": proxy.url(), "requests": "100/minute"})
    runner = asyncio.Runner()

    def check() -> Any:
        if face == "sync":
            return quota.check_request(f"p-{name}")
        return runner.run(quota.acheck_request(f"p-{name}"))

    assert outcome_within(check).allowed
    proxy.set(mode)
    failed = outcome_within(check)
    proxy.set("pass")
    recovered = outcome_within(check)

    assert isinstance(failed, FirewallError) and "quota storage" in str(failed)
    assert not isinstance(recovered, Exception) and recovered.allowed
    quota.close()
    runner.run(quota.aclose())
    runner.close()


# -- after the output: the bookkeeping fails, the output stands ---------------------------------

DEAD = "redis://:hunter2@127.0.0.1:1/0"  # connection refused at once; a password never to print
LEAK = "mail jane@corp.io, key sk_live_4eC39HqLyjWDarjtT1zdp7dc"
SAFE = "mail [EMAIL], key [SECRET:stripe]"


def quota_firewall(storage: str) -> Firewall:
    quotas = {"storage": storage, "tokens": "1000/hour", "violations": "50/10 minutes"}
    return Firewall(lean_policy(str(RULES), quotas=quotas), events=False, key=KEY)


def assert_recorded_then_reported(events: list[Event]) -> None:
    """The verdict event first (the audit record never waits on quotas), then the failure."""
    assert [(e.kind, e.principal) for e in events] == [("verdict", "p"), ("quota_error", "p")]
    assert events[0].output == SAFE
    message = events[1].message or ""
    assert "not counted" in message and "hunter2" not in message and "jane" not in message


def test_scan_on_a_dead_quota_storage_returns_its_verdict_and_says_accounting_failed() -> None:
    fw = quota_firewall(DEAD)
    with capture_events(fw) as events:
        verdict = fw.scan(LEAK, principal="p")
    fw.close()

    assert verdict.text == SAFE
    assert_recorded_then_reported(events)


def test_a_stream_on_a_dead_quota_storage_ends_cleanly() -> None:
    """The stream had yielded all its text when accounting ran: raising then was too late."""
    fw = quota_firewall(DEAD)
    with capture_events(fw) as events:
        out = "".join(fw.stream([LEAK[i : i + 5] for i in range(0, len(LEAK), 5)], principal="p"))
    fw.close()

    assert out == SAFE
    assert_recorded_then_reported(events)


@pytest.mark.parametrize("face", ["ascan", "astream"])
async def test_async_faces_on_a_dead_quota_storage_return_and_report(face: str) -> None:
    fw = quota_firewall(DEAD)
    with capture_events(fw) as events:
        if face == "ascan":
            out = (await fw.ascan(LEAK, principal="p")).text
        else:
            out = "".join([safe async for safe in fw.astream(achunks(LEAK), principal="p")])
    await fw.aclose()

    assert out == SAFE
    assert_recorded_then_reported(events)


async def achunks(text: str) -> AsyncIterator[str]:
    for i in range(0, len(text), 5):
        yield text[i : i + 5]


async def test_ascan_on_a_hung_quota_storage_never_holds_the_event_loop(proxy: Proxy) -> None:
    """Accounting goes through the quota's async face: while Redis swallows requests, the loop
    keeps turning (the sync face had frozen it for the 2 s of timeouts)."""
    fw = quota_firewall(proxy.url())
    await fw.ascan("warm up", principal="p")  # connections made while Redis answers
    proxy.set("stall")
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    with capture_events(fw) as events:
        verdict = await fw.ascan(LEAK, principal="p")
    ticker.cancel()
    proxy.set("pass")
    await fw.aclose()

    assert verdict.text == SAFE and [e.kind for e in events] == ["verdict", "quota_error"]
    assert max(gaps) < 0.5, f"the event loop stood still for {max(gaps):.1f} s"
