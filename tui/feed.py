"""Tail an event store from a thread into a bounded buffer that the UI drains ten times a second.

The UI never receives one message per event (see ../shared/TUI.md): the thread polls the reader,
turns events into slim rows, and parks them; `drain()` hands the UI everything parked since the last
tick. When the UI falls behind by more than `capacity` rows, the oldest are dropped and counted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from firewall.events.store import Reader, open_reader
from tui.rows import RING_SIZE, Row

POLL_SECONDS = 0.1
BATCH = 5000


class Feed:
    """A daemon thread that follows `uri` and buffers rows for the UI."""

    def __init__(
        self,
        uri: str,
        *,
        capacity: int = 100_000,
        history: int = RING_SIZE,
        open_: Callable[[str], Reader] = open_reader,
    ) -> None:
        self.uri = uri
        self.capacity = capacity
        self.history = history
        """How many of the newest stored events to show at start."""
        self.dropped = 0
        self.error: str | None = None
        """The last error reading the store (shown as 'disconnected'); None when reading works."""
        self._open = open_
        self._after = 0
        self._parked: deque[Row] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outguard-tui-feed", daemon=True)

    def start(self) -> Feed:
        self._thread.start()
        return self

    def drain(self) -> list[Row]:
        """Everything parked since the last call, oldest first."""
        with self._lock:
            rows = list(self._parked)
            self._parked.clear()
        return rows

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        reader: Reader | None = None
        while not self._stop.is_set():
            try:
                reader = reader or self._open(self.uri)
                # The first read starts at the end of a long history, not at its beginning.
                events = reader.tail(self._after, BATCH) if self._after else reader.latest(self.history)
                self.error = None
            except Exception as exc:  # a missing file, a locked or unreachable store: retry
                self.error = f"{type(exc).__name__}: {exc}"
                if reader is not None:
                    reader.close()
                    reader = None
                self._stop.wait(1.0)
                continue
            if events:
                self._after = events[-1].id or self._after
                self._park([Row.from_event(e) for e in events])
            if len(events) < BATCH:
                self._stop.wait(POLL_SECONDS)
        if reader is not None:
            reader.close()

    def _park(self, rows: list[Row]) -> None:
        with self._lock:
            self._parked.extend(rows)
            excess = len(self._parked) - self.capacity
            for _ in range(max(0, excess)):
                self._parked.popleft()
            self.dropped += max(0, excess)
