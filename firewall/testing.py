"""Helpers for tests, ours and users': capture the events a firewall emits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from firewall.events.event import Event
from firewall.firewall import Firewall


@contextmanager
def capture_events(fw: Firewall) -> Iterator[list[Event]]:
    """Collect every event `fw` emits inside the block (built synchronously, as stored)::

        with capture_events(fw) as events:
            fw.scan("mail jane@example.org")
        assert events[0].labels == ["EMAIL"]
    """
    events: list[Event] = []
    fw.add_listener(events.append)
    try:
        yield events
    finally:
        fw.remove_listener(events.append)
