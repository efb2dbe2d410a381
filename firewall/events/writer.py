"""A background writer: callers enqueue and move on; a full queue drops and counts, never blocks.

Backpressure. `submit` never waits: when the queue is full the event is dropped and counted. The
writer thread reports drops as an `events_dropped` event (with `dropped` = how many since the last
report) in the next batch it writes, so the console sees them wherever the events go. When the sink
fails (Redis down, disk full), that batch is dropped and counted, and the writer pauses before the
next attempt (0.25 s, doubling up to 5 s): meanwhile the queue buffers what comes, up to its size,
so a short outage loses only the failed batch and what overflows. An event the sink cannot encode
(a field JSON cannot hold) is skipped on its own and counted; the rest of its batch is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable

from firewall.events.event import Event
from firewall.events.sinks import Sink

log = logging.getLogger(__name__)

Job = Callable[[], Event | None]
"""Builds an event on the writer thread (so redaction of prompts costs the caller nothing)."""

RETRY_FIRST, RETRY_MAX = 0.25, 5.0
"""Seconds the writer waits after a failed write before the next attempt (doubling)."""


class EventWriter:
    """Writes events to a sink from one daemon thread, in batches.

    Args:
        sink: where events go.
        maxsize: how many events may wait; beyond that they are dropped and counted.
        batch: most events per `sink.write`.
        rules_version: called on the writer thread for the `rules_version` of drop reports.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        maxsize: int = 10_000,
        batch: int = 500,
        rules_version: Callable[[], str | None] | None = None,
    ) -> None:
        self.sink = sink
        self.dropped = 0
        """Events lost since start: the queue was full, the sink failed, or building one raised."""
        self.written = 0
        """Events written since start (drop reports not included)."""
        self.reported = 0
        """Drops already written out as `events_dropped` events."""
        self._maxsize = maxsize
        self._batch = batch
        self._rules_version = rules_version
        self._unreported = 0
        self._retry = 0.0
        self._paused_until = 0.0
        self._start()
        # Threads do not survive fork: a worker forked from a process that made this writer (a
        # pre-forking server) gets a fresh queue and thread instead of a dead copy.
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _restart(this))

    def _start(self) -> None:
        self._lock = threading.Lock()  # guards the drop counters; held for an increment, never for I/O
        self._closing = threading.Event()
        self._queue: queue.Queue[Job | None] = queue.Queue(self._maxsize)
        self._thread = threading.Thread(target=self._run, name="outguard-events", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> bool:
        """Enqueue without blocking; False (and counted) when the queue is full or closed."""
        if self._closing.is_set():
            self._count_drop(1)
            return False
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._count_drop(1)
            return False
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything enqueued so far is written (or dropped); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (dropping it, counted, while the sink is failing), stop the thread
        and close the sink. Waits at most about `timeout` seconds for a hanging sink."""
        self._closing.set()
        if self._thread.is_alive():
            # When full, the writer is busy anyway and sees `_closing` once the queue drains.
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
            self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("event sink %s did not finish within %.0f s; closing anyway", type(self.sink).__name__, timeout)
        self.sink.close()

    def _count_drop(self, count: int) -> None:
        with self._lock:
            self.dropped += count
            self._unreported += count

    def _run(self) -> None:
        while True:
            try:
                jobs = [self._queue.get(timeout=0.1 if self._closing.is_set() else None)]
            except queue.Empty:
                return  # closing, and nothing left
            while len(jobs) < self._batch:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write([job for job in jobs if job is not None])
            finally:
                for _ in jobs:
                    self._queue.task_done()
            if self._closing.is_set() and self._queue.empty():
                return

    def _write(self, jobs: list[Job]) -> None:
        events = []
        for job in jobs:
            try:
                event = job()
            except Exception as exc:  # a bad job must not kill the writer; its event is lost, counted
                # The type only: a message or traceback could quote raw text.
                log.error("building an event failed (%s)", type(exc).__name__)
                self._count_drop(1)
                continue
            if event is not None:
                events.append(event)
        wait = self._paused_until - time.monotonic()
        if wait > 0 and self._closing.wait(wait):
            self._count_drop(len(events))  # closing while the sink is failing: no more waiting
            return
        with self._lock:
            report, self._unreported = self._unreported, 0
        batch = [*events, self._report(report)] if report else events
        if not batch:
            return
        try:
            skipped = self.sink.write(batch) or 0
        except Exception as exc:
            self._retry = min(RETRY_MAX, self._retry * 2 or RETRY_FIRST)
            self._paused_until = time.monotonic() + self._retry
            log.error(
                "event sink %s failed (%s); %d events lost, next attempt in %.2f s",
                type(self.sink).__name__, type(exc).__name__, len(events), self._retry,
            )
            with self._lock:
                self.dropped += len(events)
                self._unreported += report + len(events)
            return
        self._retry = 0.0
        # Events the sink could not encode were skipped, each on its own (the drop report, ours,
        # always encodes): counted as dropped, reported with the next batch.
        if skipped:
            self._count_drop(skipped)
        self.written += len(events) - skipped
        self.reported += report

    def _report(self, count: int) -> Event:
        version = None
        if self._rules_version is not None:
            try:
                version = self._rules_version()
            except Exception:  # the report matters more than its version
                version = None
        return Event(
            kind="events_dropped",
            dropped=count,
            rules_version=version,
            message=f"{count} events dropped (queue full, sink unavailable, or an event it could not store)",
        )


def _restart(ref: weakref.ref[EventWriter]) -> None:
    """In a forked child: a writer of its own, starting from zero (the parent's counts and drops
    are the parent's to report), over a sink reopened if it holds what must not cross fork (an
    SQLite connection, a lock another thread may have held at the fork)."""
    writer = ref()
    if writer is None or writer._closing.is_set():
        return
    writer.dropped = writer.written = writer.reported = writer._unreported = 0
    writer._retry, writer._paused_until = 0.0, 0.0
    after_fork = getattr(writer.sink, "after_fork", None)
    if callable(after_fork):
        after_fork()
    writer._start()
