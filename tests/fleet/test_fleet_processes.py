"""Several processes at once on the real Redis: four workers share one principal's quota (the total
admitted is the limit, never more), and four write one event stream that reads back complete,
instance by instance, with no raw value in it."""

from __future__ import annotations

import multiprocessing
import socket
from collections import Counter
from typing import Any

import pytest
import redis

from firewall.events.store import open_reader
from tests.conftest import RULES
from tests.fleet import workers
from tests.fleet.conftest import REDIS

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SPAWN = multiprocessing.get_context("spawn")  # fresh interpreters, as separate app servers are


def run_workers(target: Any, argsets: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Start one process per argument tuple (each also gets a shared barrier and a results queue),
    and collect what each puts on the queue."""
    ready, results = SPAWN.Barrier(len(argsets)), SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(*args, ready, results)) for args in argsets]
    for process in processes:
        process.start()
    try:
        collected = [results.get(timeout=240) for _ in processes]
    finally:
        for process in processes:
            process.join(60)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return collected


@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window", "sliding-window-counter"])
def test_four_processes_share_one_principals_limit(redis_db: redis.Redis, name: str, strategy: str) -> None:
    """4 processes (2 on the sync face, 2 on the async one) ask 40 times each, together, under a
    limit of 50 per hour for one principal: exactly 50 are admitted in all."""
    principal = f"shared-{name}"
    quotas = {"storage": REDIS, "strategy": strategy, "requests": "50/hour"}
    argsets = [(str(RULES), quotas, principal, 40, face) for face in ("sync", "async", "sync", "async")]

    try:
        results = run_workers(workers.admit, argsets)
    finally:
        for key in redis_db.scan_iter(f"*{principal}*"):
            redis_db.delete(key)

    admitted = [count for _, count in results]
    assert sum(admitted) == 50, admitted
    assert len({pid for pid, _ in results}) == 4


LEAKS = [
    "Reach jane.doe@acme-corp.io or call +1 415 555 0134 about order #A-20931.",
    "Card 4111 1111 1111 1111, key sk_live_4eC39HqLyjWDarjtT1zdp7dc, token ghp_aK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0kS2aEq.",
    "The internal reference is wzzt-cmwu-xx3m-e93f-ybf4 (see Project Nightingale).",
    "AWS AKIAQ4TZJ7LXW2MRP5VN from 81.2.69.17, IBAN GB82 WEST 1234 5698 7654 32, order #51877.",
]
RAW = [
    "jane.doe@acme-corp.io", "415 555 0134", "#A-20931", "4111 1111 1111 1111", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "ghp_aK9mQ2vL7pR4tY8wZ1nB5cD3fG6hJ0kS2aEq", "wzzt-cmwu-xx3m-e93f-ybf4", "Project Nightingale",
    "AKIAQ4TZJ7LXW2MRP5VN", "81.2.69.17", "GB82 WEST 1234 5698 7654 32", "#51877",
]


def test_four_processes_write_one_stream_that_reads_back_complete(redis_db: redis.Redis, stream_key: str) -> None:
    """Every event of every process is in the stream once, ids increase, each process is its own
    instance, shadow hits are marked, and none of the raw values is anywhere in the stream."""
    uri = f"{REDIS}?stream={stream_key}&maxlen=100000"
    texts = LEAKS * 5

    results = run_workers(workers.scan_into_stream, [(str(RULES), uri, texts)] * 4)

    reader = open_reader(uri)
    events = reader.tail(limit=100_000)
    reader.close()
    assert [dropped for _, _, dropped in results] == [0] * 4
    verdicts = [e for e in events if e.kind == "verdict"]
    host = socket.gethostname()
    assert Counter(e.instance for e in verdicts) == {f"{host}:{pid}": sent for pid, sent, _ in results}
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) == 4 * 2 * len(texts)
    assert all(e.principal == f"p-{e.instance.rsplit(':', 1)[1]}" for e in verdicts)
    shadow = [f for e in verdicts for f in e.findings if f.shadow]
    assert {f.rule for f in shadow} == {"order-numbers"} and len(shadow) == 4 * 2 * 5 * 2
    blob = b"".join(value for _, fields in redis_db.xrange(stream_key) for value in fields.values())
    assert blob.count(b'"kind": "verdict"') == len(verdicts)
    assert [raw for raw in RAW if raw.encode() in blob] == []
