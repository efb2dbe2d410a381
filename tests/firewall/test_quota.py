"""Quotas: one test body over every backend (memory, Redis) and both faces (sync, async twins)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from limits import WindowStats

from firewall.errors import ConfigError, FirewallError, QuotaExceeded
from firewall.quota import Quota, QuotaDecision, QuotaPolicy, decide, plan

BACKENDS = [
    pytest.param("memory://", id="memory"),
    pytest.param("redis://127.0.0.1:6379/15", id="redis", marks=pytest.mark.redis),
]
PENALTIES = [
    {"weight": 3, "action": "throttle", "factor": 0.1, "for": "10 minutes"},
    {"weight": 6, "action": "block", "for": "1 hour"},
]
EXAMPLE = {  # the shape of the `quotas:` section of rules/policy.yaml
    "storage": "memory://",
    "strategy": "moving-window",
    "per_model": True,
    "requests": "1000/hour;60/minute",
    "tokens": "20000/hour",
    "violations": "3/10 minutes",
    "penalties": PENALTIES,
}


@pytest.fixture
def clean_redis(storage_uri: str) -> None:
    """Empty Redis db 15 before a Redis case; fail (never skip) when the server is down."""
    if not storage_uri.startswith("redis"):
        return
    client = redis.Redis(host="127.0.0.1", port=6379, db=15)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(
            f"Redis on 127.0.0.1:6379 is unreachable ({exc}); start redis-server. "
            "Redis quota tests fail rather than skip.",
            pytrace=False,
        )
    finally:
        client.close()


class AsyncFace:
    """The async twins behind the sync names (check_request -> acheck_request), one loop a test."""

    def __init__(self, quota: Quota) -> None:
        self.quota, self.runner = quota, asyncio.Runner()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        twin = getattr(self.quota, f"a{name}")
        return lambda *args, **kwargs: self.runner.run(twin(*args, **kwargs))

    def close(self) -> None:
        self.runner.run(self.quota.aclose())
        self.runner.close()


@pytest.fixture(params=["sync", "async"])
def make_quota(
    request: pytest.FixtureRequest, storage_uri: str, clean_redis: None
) -> Iterator[Callable[..., Any]]:
    made: list[Any] = []

    def make(**settings: Any) -> Any:
        quota = Quota({"storage": storage_uri, **settings})
        made.append(quota if request.param == "sync" else AsyncFace(quota))
        return made[-1]

    yield make
    for face in made:
        face.close()


def admitted(quota: Any, principal: str, attempts: int, model: str | None = None) -> int:
    count = 0
    for _ in range(attempts):
        with contextlib.suppress(QuotaExceeded):
            count += quota.check_request(principal, model).allowed
    return count


@pytest.mark.parametrize("storage_uri", BACKENDS)
class TestQuota:
    def test_requests_past_the_limit_are_refused_with_name_and_retry_after(self, make_quota):
        quota = make_quota(requests="60/minute;3/hour")

        assert admitted(quota, "alice", 3) == 3
        with pytest.raises(QuotaExceeded) as refused:
            quota.check_request("alice")

        assert refused.value.limit == "requests 3/hour"
        assert 3590 < refused.value.retry_after <= 3600
        assert quota.check_request("bob").allowed

    def test_tokens_are_debited_at_cost_and_a_spent_budget_refuses_requests(self, make_quota):
        quota = make_quota(requests="100/hour", tokens="1000/hour")

        assert quota.debit_tokens("alice", 600).allowed
        with pytest.raises(QuotaExceeded, match=r"tokens 1000/hour"):
            quota.debit_tokens("alice", 500)
        assert quota.debit_tokens("alice", 400).allowed  # the refused debit took nothing
        with pytest.raises(QuotaExceeded) as refused:
            quota.check_request("alice")

        assert refused.value.limit == "tokens 1000/hour"
        assert refused.value.retry_after > 0
        assert quota.check_request("bob").allowed

    def test_violations_throttle_then_block_one_principal_only(self, make_quota):
        quota = make_quota(requests="20/hour", violations="3/hour", penalties=PENALTIES)

        assert quota.record_violations("mallory", 2) is None
        assert quota.penalty("mallory") is None
        assert quota.record_violations("mallory", 1).action == "throttle"
        assert quota.penalty("mallory").action == "throttle"
        assert admitted(quota, "mallory", 25) == 2  # 20/hour x 0.1
        assert admitted(quota, "alice", 25) == 20

        assert quota.record_violations("mallory", 3).action == "block"
        assert quota.penalty("mallory").action == "block"
        with pytest.raises(QuotaExceeded) as refused:
            quota.check_request("mallory")
        assert refused.value.limit == "penalty block (1 hour)"
        assert 3590 < refused.value.retry_after <= 3600
        assert admitted(quota, "mallory", 3) == 0
        assert quota.penalty("bob") is None
        assert admitted(quota, "bob", 3) == 3

    def test_a_full_violation_counter_still_reaches_the_heaviest_penalty(self, make_quota):
        quota = make_quota(requests="20/hour", violations="3/hour", penalties=PENALTIES)

        assert quota.record_violations("mallory", 5).action == "throttle"
        assert quota.record_violations("mallory", 4).action == "block"  # 9 > the counter's 6

    def test_per_model_counts_each_model_apart(self, make_quota):
        apart = make_quota(requests="2/hour", per_model=True)
        shared = make_quota(requests="2/hour")

        assert admitted(apart, "alice", 5, model="model-a") == 2
        assert admitted(apart, "alice", 5, model="model-b") == 2
        assert (
            admitted(shared, "alice", 5, model="model-a")
            + admitted(shared, "alice", 5, model="model-b")
            == 2
        )

    @pytest.mark.parametrize(
        "strategy", ["moving-window", "sliding-window-counter", "fixed-window"]
    )
    def test_each_strategy_is_selectable(self, make_quota, strategy):
        quota = make_quota(strategy=strategy, requests="4/hour")

        assert admitted(quota, "alice", 4) == 4
        with pytest.raises(QuotaExceeded) as refused:
            quota.check_request("alice")
        assert refused.value.limit == "requests 4/hour"
        assert 0 < refused.value.retry_after <= 3600


@pytest.mark.parametrize("storage_uri", BACKENDS)
def test_threads_hammering_one_principal_admit_exactly_the_limit(storage_uri, clean_redis):
    quota = Quota({"storage": storage_uri, "requests": "50/minute"})
    start = threading.Barrier(8)

    def hammer(_: int) -> int:
        start.wait()
        return admitted(quota, "hammer", 20)

    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(hammer, range(8)))
    quota.close()

    assert sum(counts) == 50


@pytest.mark.parametrize("storage_uri", BACKENDS)
async def test_tasks_hammering_one_principal_admit_exactly_the_limit(storage_uri, clean_redis):
    quota = Quota({"storage": storage_uri, "requests": "50/minute"})

    async def attempt() -> int:
        try:
            return (await quota.acheck_request("hammer")).allowed
        except QuotaExceeded:
            return 0

    results = await asyncio.gather(*(attempt() for _ in range(200)))
    await quota.aclose()

    assert sum(results) == 50


def test_plan_tries_probes_then_the_strictest_limit_under_scoped_keys():
    policy = QuotaPolicy.from_settings(EXAMPLE)
    hits = plan(policy, "svc/a", "gpt", "requests", 1)

    assert [(h.name, h.op) for h in hits] == [
        ("tokens 20000/hour", "test"),
        ("requests 60/minute", "hit"),
        ("requests 1000/hour", "hit"),
    ]
    assert all(h.keys[0] == "outguard" and h.keys[-2:] == ("svc%2Fa", "gpt") for h in hits)
    [debit] = plan(policy, "svc/a", "gpt", "tokens", 750)
    assert (debit.name, debit.cost, debit.op) == ("tokens 20000/hour", 750, "hit")
    [counter] = plan(policy, "svc/a", "gpt", "violations", 2)
    assert (counter.name, counter.cost, counter.item.amount) == ("violations 3/10 minutes", 2, 6)


def test_plan_under_a_penalty():
    policy = QuotaPolicy.from_settings(EXAMPLE)
    throttle, block = policy.penalties

    names = [h.name for h in plan(policy, "p", "m", "requests", 1, penalty=throttle)]
    assert names[1:3] == ["requests 6/minute (throttled)", "requests 100/hour (throttled)"]
    [probe] = plan(policy, "p", "m", "requests", 1, penalty=block)
    assert (probe.op, probe.strategy, probe.item.get_expiry()) == ("test", "fixed-window", 3600)


def test_decide_names_the_first_refusal_and_its_wait():
    hits = plan(QuotaPolicy.from_settings(EXAMPLE), "p", None, "requests", 1)

    assert decide(hits, [True, True, False], WindowStats(110.0, 0), now=100.0) == QuotaDecision(
        False, "requests 1000/hour", 10.0
    )
    assert decide(hits, [True, True, True], None) == QuotaDecision(True)
    # stats that give no wait (limits' sliding counter on Redis, right after a hit): one window
    assert decide(hits, [True, False], WindowStats(100.0, 0), now=100.0).retry_after == 60.0


def test_from_settings_reads_the_policy_section():
    policy = QuotaPolicy.from_settings(EXAMPLE)

    assert [(p.weight, p.action, p.factor, p.seconds) for p in policy.penalties] == [
        (3, "throttle", 0.1, 600),
        (6, "block", None, 3600),
    ]
    assert policy.violations.get_expiry() == 600
    default = QuotaPolicy.from_settings({"violations": "3/10 minutes"})
    assert [(p.weight, p.action, p.seconds) for p in default.penalties] == [(3, "block", 600)]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"requests": "60 per fortnight"},
            r"quotas\.requests: '60 per fortnight' is not a limit list",
        ),
        ({"tokens": "lots"}, r"quotas\.tokens"),
        ({"requests": "0/minute"}, r"at least 1"),
        ({"request": "60/minute"}, r"unknown key\(s\) request"),
        ({"strategy": "token-bucket"}, r"quotas\.strategy: 'token-bucket'; known: fixed-window"),
        (
            {"storage": "postgres://db"},
            r"quotas\.storage: 'postgres://db' has no known limits scheme",
        ),
        ({"per_model": "yes"}, r"quotas\.per_model"),
        ({"violations": "3/hour;5/day"}, r"one limit expected"),
        ({"penalties": PENALTIES}, r"needs quotas\.violations"),
        (
            {
                "violations": "3/hour",
                "penalties": [{"weight": 3, "action": "jail", "for": "1 hour"}],
            },
            r"\.action",
        ),
        (
            {
                "violations": "3/hour",
                "penalties": [{"weight": 3, "action": "throttle", "for": "1 hour"}],
            },
            r"factor",
        ),
        (
            {
                "violations": "3/hour",
                "penalties": [{"weight": 3, "action": "block", "for": "a while"}],
            },
            r"\[0\]\.for",
        ),
        (
            {
                "violations": "3/hour",
                "penalties": [{"weight": 0, "action": "block", "for": "1 hour"}],
            },
            r"\.weight",
        ),
        (
            {"violations": "3/hour", "penalties": [PENALTIES[1], PENALTIES[1]]},
            r"weights must differ",
        ),
    ],
)
def test_from_settings_rejects_with_the_field_named(settings, message):
    with pytest.raises(ConfigError, match=message):
        QuotaPolicy.from_settings(settings)


def test_a_storage_failure_is_a_firewall_error_naming_the_storage():
    quota = Quota({"storage": "redis://127.0.0.1:1/0", "requests": "5/minute"})

    with pytest.raises(FirewallError, match=r"quota storage 'redis://127\.0\.0\.1:1/0' failed"):
        quota.check_request("alice")
    quota.close()


def test_a_storage_failure_never_shows_the_storage_password() -> None:
    from firewall.errors import ConfigError, FirewallError
    from firewall.quota import Quota

    quota = Quota({"storage": "redis://:hunter2-pw@127.0.0.1:1/0", "requests": "5/minute"})  # nothing listens
    with pytest.raises(FirewallError) as failed:
        quota.check_request("svc-a")
    assert "hunter2-pw" not in str(failed.value) and ":***@127.0.0.1:1" in str(failed.value)
    with pytest.raises(ConfigError) as bad:
        Quota({"storage": "nosuch://:hunter2-pw@host/0"})
    assert "hunter2-pw" not in str(bad.value)
