"""The feed: a thread tailing the store into a bounded buffer that the UI drains."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.tui.conftest import verdict
from tui.feed import Feed


def drain_until(feed: Feed, count: int, timeout: float = 20.0) -> list[int]:
    ids: list[int] = []
    deadline = time.monotonic() + timeout
    while len(ids) < count and time.monotonic() < deadline:
        ids += [row.id for row in feed.drain()]
        time.sleep(0.05)
    return ids


def test_starts_at_the_newest_history_then_follows_new_events(store: tuple[str, Callable]) -> None:  # type: ignore[type-arg]
    uri, write = store
    write([verdict(i) for i in range(120)])
    feed = Feed(uri, history=50).start()
    try:
        assert drain_until(feed, 50) == list(range(71, 121))
        write([verdict(i) for i in range(120, 130)])
        assert drain_until(feed, 10) == list(range(121, 131))
        assert feed.error is None and feed.dropped == 0
    finally:
        feed.stop()


def test_a_ui_that_falls_behind_loses_the_oldest_rows_and_counts_them(store: tuple[str, Callable]) -> None:  # type: ignore[type-arg]
    uri, write = store
    feed = Feed(uri, capacity=100).start()
    try:
        write([verdict(i) for i in range(300)])
        deadline = time.monotonic() + 20
        while feed.dropped < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        rows = feed.drain()
        assert feed.dropped == 200 and [r.id for r in rows] == list(range(201, 301))
    finally:
        feed.stop()


def test_an_unreachable_store_is_reported_and_retried() -> None:
    feed = Feed("redis://127.0.0.1:1/0?stream=nowhere").start()
    try:
        deadline = time.monotonic() + 20
        while feed.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert feed.error and feed.drain() == []  # the status line shows it as "✗ disconnected"
    finally:
        feed.stop()
