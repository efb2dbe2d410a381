"""Quotas on a Redis that hangs or goes away: a check fails (FirewallError) in seconds instead of
holding the request, on both faces, and works again once Redis answers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from firewall.errors import FirewallError
from firewall.quota import REDIS_TIMEOUT, Quota
from tests.fleet.conftest import Proxy

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
