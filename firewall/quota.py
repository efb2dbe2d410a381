"""Quotas per principal: requests, tokens and leak violations, over `limits` (memory or Redis).

The logic is written once, as pure generator *flows* that yield `Hit`s (one storage operation each)
and receive their results (STYLE rule 2, httpx's `auth_flow`). `plan` chooses the hits and
`decide` reads the answers; `Quota` drives a flow over `limits.strategies` and its `a*` twins drive
the same flow over `limits.aio.strategies`.

Penalties: every violation adds its weight to a counter over the `violations` window. When the
accumulated weight reaches a penalty's weight, a marker (a fixed-window `1 per <for>` item, hit once
so it is exhausted) is set in the same storage, so every process sharing a Redis sees it:

- "throttle": while it lasts, requests also count against the request limits times `factor`,
  under keys of their own;
- "block": while it lasts, every request is refused until the marker's window ends.

With `memory://` the sync and async faces use two separate stores (`limits` has one class per
face), so a process should use one face; Redis shares everything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

from limits import RateLimitItem, WindowStats, parse_many
from limits.errors import ConfigurationError, StorageError
from limits.storage import SCHEMES, storage_from_string
from limits.strategies import STRATEGIES as SYNC_STRATEGIES

from firewall.errors import ConfigError, FirewallError, QuotaExceeded
from firewall.uris import redact

__all__ = ["Hit", "Penalty", "Quota", "QuotaDecision", "QuotaPolicy", "decide", "plan"]

NAMESPACE = "outguard"
Kind = Literal["requests", "tokens", "violations"]
T = TypeVar("T")
Flow = Generator["Hit", Any, T]
"""A pure flow: yields the storage operations it needs, receives their results, returns T."""

_KEYS = {"storage", "strategy", "per_model", "requests", "tokens", "violations", "penalties"}
_PENALTY_KEYS = {"weight", "action", "factor", "for"}


@dataclass(frozen=True)
class Penalty:
    """What a principal gets once its violation weight reaches `weight`."""

    weight: int
    action: Literal["throttle", "block"]
    duration: str
    """How long it lasts, as written ("10 minutes")."""
    marker: RateLimitItem
    """`1 per duration`: exhausted while the penalty lasts."""
    factor: float | None = None
    """For "throttle": the share of the request limits left (0.1 leaves 6 of 60)."""

    @property
    def seconds(self) -> int:
        return self.marker.get_expiry()


@dataclass(frozen=True)
class QuotaPolicy:
    """The validated `quotas:` section of the policy; build it with `from_settings`."""

    storage: str = "memory://"
    """A `limits` storage URI; the async faces use "async+" and the same URI."""
    strategy: str = "moving-window"
    per_model: bool = False
    """Count each (principal, model) pair apart."""
    requests: tuple[RateLimitItem, ...] = ()
    tokens: tuple[RateLimitItem, ...] = ()
    violations: RateLimitItem | None = None
    penalties: tuple[Penalty, ...] = ()
    """Sorted by weight, lightest first."""
    namespace: str = NAMESPACE

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> QuotaPolicy:
        """Validate a `quotas:` mapping; raise ConfigError naming the first bad field."""
        settings = {} if settings is None else settings
        if not isinstance(settings, Mapping):
            raise ConfigError(f"quotas: expected a mapping, got {type(settings).__name__}")
        if unknown := sorted(set(settings) - _KEYS):
            raise ConfigError(
                f"quotas: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}"
            )
        storage = settings.get("storage", "memory://")
        scheme = urlsplit(storage).scheme if isinstance(storage, str) else None
        if scheme not in SCHEMES or f"async+{scheme}" not in SCHEMES:
            known = ", ".join(sorted(s for s in SCHEMES if not s.startswith("async+")))
            raise ConfigError(
                f"quotas.storage: {redact(str(storage))!r} has no known limits scheme; known: {known}"
            )
        strategy = settings.get("strategy", "moving-window")
        if strategy not in SYNC_STRATEGIES:
            raise ConfigError(
                f"quotas.strategy: {strategy!r}; known: {', '.join(sorted(SYNC_STRATEGIES))}"
            )
        per_model = settings.get("per_model", False)
        if not isinstance(per_model, bool):
            raise ConfigError(f"quotas.per_model: expected true or false, got {per_model!r}")
        violations = _limits("violations", settings.get("violations"))
        if len(violations) > 1:
            raise ConfigError(
                f"quotas.violations: one limit expected, got {settings['violations']!r}"
            )
        window = violations[0] if violations else None
        penalties = _penalties(settings.get("penalties"), window)
        return cls(
            storage=storage,
            strategy=strategy,
            per_model=per_model,
            requests=tuple(
                sorted(_limits("requests", settings.get("requests")), key=RateLimitItem.get_expiry)
            ),
            tokens=_limits("tokens", settings.get("tokens")),
            violations=window,
            penalties=penalties,
        )


@dataclass(frozen=True)
class Hit:
    """One storage operation: `op` on `item` under `keys` (namespace first, then the principal)."""

    item: RateLimitItem
    keys: tuple[str, ...]
    cost: int
    name: str
    """The limit as reported in QuotaExceeded: "requests 60/minute"."""
    op: Literal["hit", "test", "stats"] = "hit"
    strategy: str = "moving-window"

    def call(self, limiter: Any) -> Any:
        """Run on a sync limiter (returns the result) or an async one (returns an awaitable)."""
        if self.op == "stats":
            return limiter.get_window_stats(self.item, *self.keys)
        return getattr(limiter, self.op)(self.item, *self.keys, cost=self.cost)


@dataclass(frozen=True)
class QuotaDecision:
    allowed: bool
    limit: str | None = None
    """The name of the limit that refused, if any."""
    retry_after: float = 0.0
    """Seconds until that limit's window frees room (0 when allowed)."""


# -- the pure core ------------------------------------------------------------------------------


def plan(
    policy: QuotaPolicy,
    principal: str,
    model: str | None,
    kind: Kind,
    cost: int,
    *,
    penalty: Penalty | None = None,
) -> list[Hit]:
    """The hits one request, token debit or violation makes, in the order to try them.

    Probes (which consume nothing) come first, then the strictest limits, so a refusal early in the
    list leaves the later limits untouched.
    """
    scope = (_part(principal), *((_part(model or "-"),) if policy.per_model else ()))
    ns, strategy = policy.namespace, policy.strategy
    if kind == "violations":
        if policy.violations is None:
            return []
        counter = type(policy.violations)(_capacity(policy), policy.violations.multiples)
        name = f"violations {_rate(policy.violations)}"
        return [Hit(counter, (ns, kind, *scope), cost, name, strategy=strategy)]
    if kind == "tokens":
        return [
            Hit(i, (ns, kind, *scope), cost, f"tokens {_rate(i)}", strategy=strategy)
            for i in policy.tokens
        ]
    if penalty is not None and penalty.action == "block":
        return [_marker(policy, penalty, principal, "test")]
    hits = [
        Hit(i, (ns, "tokens", *scope), 1, f"tokens {_rate(i)}", "test", strategy)
        for i in policy.tokens
    ]
    if penalty is not None:
        for item in policy.requests:
            slower = type(item)(
                max(1, math.floor(round(item.amount * (penalty.factor or 1), 9))), item.multiples
            )
            hits.append(
                Hit(
                    slower,
                    (ns, "throttle", *scope),
                    cost,
                    f"requests {_rate(slower)} (throttled)",
                    strategy=strategy,
                )
            )
    hits += [
        Hit(i, (ns, kind, *scope), cost, f"requests {_rate(i)}", strategy=strategy)
        for i in policy.requests
    ]
    return hits


def decide(
    hits: list[Hit], allowed: list[bool], stats: WindowStats | None, now: float | None = None
) -> QuotaDecision:
    """Read the answers to `hits` (a prefix, up to the first refusal) and the refuser's stats."""
    for hit, ok in zip(hits, allowed, strict=False):
        if not ok:
            now = time.time() if now is None else now
            wait = (stats.reset_time if stats is not None else now) - now
            # A refusal with no wait means the stats could not tell: limits' sliding window
            # counter reports `ttl % window`, which is 0 on Redis right after the first hit
            # (ttl = 2 windows). One window is then the honest answer.
            return QuotaDecision(
                False, hit.name, wait if wait > 0 else float(hit.item.get_expiry())
            )
    return QuotaDecision(True)


def penalty_for(policy: QuotaPolicy, weight: int) -> Penalty | None:
    """The heaviest penalty whose weight `weight` reaches."""
    reached = [p for p in policy.penalties if weight >= p.weight]
    return reached[-1] if reached else None


def _limit_flow(
    policy: QuotaPolicy, principal: str, model: str | None, kind: Kind, cost: int
) -> Flow[QuotaDecision]:
    penalty = (yield from _penalty_flow(policy, principal)) if kind == "requests" else None
    hits = plan(policy, principal, model, kind, cost, penalty=penalty)
    allowed: list[bool] = []
    stats = None
    for hit in hits:
        allowed.append((yield hit))
        if not allowed[-1]:
            stats = yield replace(hit, op="stats")
            break
    return decide(hits, allowed, stats)


def _violation_flow(
    policy: QuotaPolicy, principal: str, model: str | None, weight: int
) -> Flow[Penalty | None]:
    if weight < 1:
        raise ValueError(f"violation weight must be at least 1, got {weight}")
    for hit in plan(policy, principal, model, "violations", weight):
        counted = yield hit
        stats = yield replace(hit, op="stats")
        # A refused hit means the counter is full: at least the heaviest penalty's weight.
        reached = penalty_for(
            policy, hit.item.amount - stats.remaining if counted else hit.item.amount
        )
        if reached is not None:
            yield _marker(policy, reached, principal, "hit")
        return reached
    return None


@dataclass(frozen=True)
class Usage:
    """One limit as a principal stands against it."""

    name: str
    used: int
    limit: int
    reset_in: float
    """Seconds until the window frees room."""


def _usage_flow(policy: QuotaPolicy, principal: str, model: str | None) -> Flow[list[Usage]]:
    found = []
    for kind in ("requests", "tokens", "violations"):
        for hit in plan(policy, principal, model, kind, 1):  # type: ignore[arg-type]
            if hit.op != "hit":
                continue
            stats = yield replace(hit, op="stats")
            limit = policy.violations.amount if kind == "violations" and policy.violations else hit.item.amount
            used = min(limit, hit.item.amount - stats.remaining)
            found.append(Usage(hit.name, used, limit, max(0.0, stats.reset_time - time.time()) if used else 0.0))
    return found


def _penalty_flow(policy: QuotaPolicy, principal: str) -> Flow[Penalty | None]:
    for penalty in reversed(policy.penalties):
        if not (yield _marker(policy, penalty, principal, "test")):
            return penalty
    return None


# -- the drivers --------------------------------------------------------------------------------


class Quota:
    """Enforce a QuotaPolicy; refusals raise QuotaExceeded(limit, retry_after).

    >>> quota = Quota({"requests": "60/minute", "tokens": "20000/hour"})
    >>> quota.check_request("svc-a").allowed
    True
    """

    def __init__(self, policy: QuotaPolicy | Mapping[str, Any]) -> None:
        self.policy = (
            policy if isinstance(policy, QuotaPolicy) else QuotaPolicy.from_settings(policy)
        )
        self._storage = self._open(self.policy.storage, SYNC_STRATEGIES, **_redis_options(self.policy.storage))

    def check_request(self, principal: str, model: str | None = None) -> QuotaDecision:
        """Count one request; raise QuotaExceeded on a limit, throttle, block or spent tokens."""
        return _enforce(self._drive(_limit_flow(self.policy, principal, model, "requests", 1)))

    def debit_tokens(self, principal: str, tokens: int, model: str | None = None) -> QuotaDecision:
        """Debit `tokens` (cost = tokens); raise QuotaExceeded when the budget cannot take them."""
        return _enforce(self._drive(_limit_flow(self.policy, principal, model, "tokens", tokens)))

    def record_violations(
        self, principal: str, weight: int = 1, model: str | None = None
    ) -> Penalty | None:
        """Add `weight` to the principal's violations; return the penalty it reaches, if any."""
        return self._drive(_violation_flow(self.policy, principal, model, weight))

    def penalty(self, principal: str) -> Penalty | None:
        """The heaviest penalty now in force for the principal."""
        return self._drive(_penalty_flow(self.policy, principal))

    async def acheck_request(self, principal: str, model: str | None = None) -> QuotaDecision:
        return _enforce(
            await self._adrive(_limit_flow(self.policy, principal, model, "requests", 1))
        )

    async def adebit_tokens(
        self, principal: str, tokens: int, model: str | None = None
    ) -> QuotaDecision:
        return _enforce(
            await self._adrive(_limit_flow(self.policy, principal, model, "tokens", tokens))
        )

    async def arecord_violations(
        self, principal: str, weight: int = 1, model: str | None = None
    ) -> Penalty | None:
        return await self._adrive(_violation_flow(self.policy, principal, model, weight))

    async def apenalty(self, principal: str) -> Penalty | None:
        return await self._adrive(_penalty_flow(self.policy, principal))

    def usage(self, principal: str, model: str | None = None) -> list[Usage]:
        """How much of each limit the principal has used now (reads only; the console's view)."""
        return self._drive(_usage_flow(self.policy, principal, model))

    def close(self) -> None:
        """Close the sync storage's connections (Redis)."""
        client = getattr(self._storage[0], "storage", None)
        if callable(getattr(client, "close", None)):
            client.close()

    async def aclose(self) -> None:
        """Close the async storage's Redis connections; call it on the loop that used them."""
        if self._apool is not None:
            await self._apool.aclose()

    _apool: Any = None

    @cached_property
    def _astorage(self) -> tuple[Any, dict[str, Any]]:
        from limits.aio.strategies import STRATEGIES as ASYNC_STRATEGIES

        options: dict[str, Any] = {}
        scheme = urlsplit(self.policy.storage).scheme
        if scheme.startswith("redis"):
            options["implementation"] = (
                "redispy"  # limits' async Redis defaults to coredis; we ship redis-py
            )
        if scheme in ("redis", "rediss"):
            import redis.asyncio

            # redis-py's default async pool raises MaxConnectionsError past 100 concurrent commands;
            # a blocking pool makes the 101st wait for a connection instead.
            self._apool = redis.asyncio.BlockingConnectionPool.from_url(
                self.policy.storage, max_connections=100, **_redis_options(self.policy.storage, face="async")
            )
            options["connection_pool"] = self._apool
        return self._open(f"async+{self.policy.storage}", ASYNC_STRATEGIES, **options)

    def _open(
        self, uri: str, strategies: Mapping[str, type], **options: Any
    ) -> tuple[Any, dict[str, Any]]:
        try:
            storage = storage_from_string(uri, wrap_exceptions=True, **options)
            names = {self.policy.strategy, "fixed-window"}
            return storage, {name: strategies[name](storage) for name in names}
        except (ConfigurationError, NotImplementedError) as exc:
            raise ConfigError(
                f"quotas.storage: {redact(uri)!r} cannot serve {self.policy.strategy!r}: {exc}"
            ) from exc

    def _drive(self, flow: Flow[T]) -> T:
        limiters, result = self._storage[1], None
        try:
            while True:
                hit = flow.send(result)
                result = hit.call(limiters[hit.strategy])
        except StopIteration as done:
            return done.value
        except StorageError as exc:
            raise FirewallError(
                f"quota storage {redact(self.policy.storage)!r} failed: {exc.storage_error!r}"
            ) from exc

    async def _adrive(self, flow: Flow[T]) -> T:
        limiters, result = self._astorage[1], None
        try:
            while True:
                hit = flow.send(result)
                result = await hit.call(limiters[hit.strategy])
        except StopIteration as done:
            return done.value
        except StorageError as exc:
            raise FirewallError(
                f"quota storage {redact(self.policy.storage)!r} failed: {exc.storage_error!r}"
            ) from exc


# -- helpers ------------------------------------------------------------------------------------

REDIS_TIMEOUT = 1.0
"""Seconds a quota check waits on Redis (connect, and each reply) unless the storage URI says
otherwise (`?socket_timeout=0.5&socket_connect_timeout=0.5`). A check is on the request path: a
hung Redis must fail it (FirewallError) within seconds, not hold the request forever, which is what
redis-py does without a timeout."""


def _redis_options(uri: str, face: Literal["sync", "async"] = "sync") -> dict[str, Any]:
    """Timeouts and one quick retry (redis-py's default is 10) for Redis storages."""
    if urlsplit(uri).scheme not in ("redis", "rediss", "redis+unix"):
        return {}
    if face == "async":
        from redis.asyncio.retry import Retry
    else:
        from redis.retry import Retry  # type: ignore[assignment]
    from redis.backoff import ExponentialWithJitterBackoff

    return {
        "socket_timeout": REDIS_TIMEOUT,
        "socket_connect_timeout": REDIS_TIMEOUT,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), 1),
    }


def _enforce(decision: QuotaDecision) -> QuotaDecision:
    if not decision.allowed:
        raise QuotaExceeded(decision.limit or "quota", decision.retry_after)
    return decision


def _marker(
    policy: QuotaPolicy, penalty: Penalty, principal: str, op: Literal["hit", "test"]
) -> Hit:
    keys = (policy.namespace, "penalty", str(penalty.weight), _part(principal))
    return Hit(
        penalty.marker,
        keys,
        1,
        f"penalty {penalty.action} ({penalty.duration})",
        op,
        "fixed-window",
    )


def _capacity(policy: QuotaPolicy) -> int:
    """The violations counter holds up to the heaviest penalty's weight, even past the amount."""
    assert policy.violations is not None
    return max([policy.violations.amount, *(p.weight for p in policy.penalties)])


def _part(value: str) -> str:
    # limits joins key parts with "/": escape it so ("a/b", "c") and ("a", "b/c") stay apart.
    return quote(value, safe="")


def _rate(item: RateLimitItem) -> str:
    name = item.GRANULARITY.name
    return (
        f"{item.amount}/{name}"
        if item.multiples == 1
        else f"{item.amount}/{item.multiples} {name}s"
    )


def _limits(field: str, value: Any) -> tuple[RateLimitItem, ...]:
    if value is None:
        return ()
    try:
        items = parse_many(value)
    except ValueError as exc:
        raise ConfigError(
            f"quotas.{field}: {value!r} is not a limit list like '60/minute;1000/hour' ({exc})"
        ) from exc
    if any(i.amount < 1 for i in items):
        raise ConfigError(f"quotas.{field}: {value!r}: every amount must be at least 1")
    return tuple(items)


def _penalties(value: Any, window: RateLimitItem | None) -> tuple[Penalty, ...]:
    if value is None:
        if window is None:
            return ()
        # Without penalties listed, reaching the violations limit blocks for its window.
        duration = _rate(window).split("/", 1)[1]
        return (Penalty(window.amount, "block", duration, type(window)(1, window.multiples)),)
    if window is None:
        raise ConfigError(
            "quotas.penalties: needs quotas.violations (the window weights accumulate over)"
        )
    if not isinstance(value, list):
        raise ConfigError(f"quotas.penalties: expected a list, got {type(value).__name__}")
    penalties = [_penalty(i, entry) for i, entry in enumerate(value)]
    weights = [p.weight for p in penalties]
    if len(set(weights)) != len(weights):
        raise ConfigError(f"quotas.penalties: weights must differ, got {weights}")
    return tuple(sorted(penalties, key=lambda p: p.weight))


def _penalty(index: int, entry: Any) -> Penalty:
    where = f"quotas.penalties[{index}]"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
    if unknown := sorted(set(entry) - _PENALTY_KEYS):
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_PENALTY_KEYS))}"
        )
    weight, action, factor, duration = (entry.get(k) for k in ("weight", "action", "factor", "for"))
    if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
        raise ConfigError(f"{where}.weight: expected a whole number of at least 1, got {weight!r}")
    if action not in ("throttle", "block"):
        raise ConfigError(f"{where}.action: expected 'throttle' or 'block', got {action!r}")
    if action == "throttle" and not (isinstance(factor, int | float) and 0 < factor < 1):
        raise ConfigError(
            f"{where}.factor: a throttle needs a factor between 0 and 1, got {factor!r}"
        )
    if action == "block" and factor is not None:
        raise ConfigError(f"{where}.factor: only a throttle takes a factor")
    try:
        markers = parse_many(f"1/{duration}") if isinstance(duration, str) else []
    except ValueError:
        markers = []
    if len(markers) != 1:
        raise ConfigError(
            f"{where}.for: expected a duration like '10 minutes' or '1 hour', got {duration!r}"
        )
    return Penalty(
        weight, action, duration.strip(), markers[0], float(factor) if factor is not None else None
    )
