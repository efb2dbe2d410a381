"""A background writer: callers enqueue and move on; a full queue drops and counts, never blocks."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from firewall.events.event import Event
from firewall.events.sinks import Sink

log = logging.getLogger(__name__)

Job = Callable[[], Event | None]
"""Builds an event on the writer thread (so redaction of prompts costs the caller nothing)."""


class EventWriter:
    """Writes events to a sink from one daemon thread, in batches."""

    def __init__(self, sink: Sink, *, maxsize: int = 10_000, batch: int = 500) -> None:
        self.sink = sink
        self.dropped = 0
        """Events lost because the queue was full (or the sink failed)."""
        self.written = 0
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize)
        self._batch = batch
        self._thread = threading.Thread(target=self._run, name="outguard-events", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> bool:
        """Enqueue without blocking; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def flush(self) -> None:
        """Wait until everything enqueued so far is written."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued, stop the thread and close the sink."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.sink.close()

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            while len(jobs) < self._batch:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in jobs
            events = []
            for job in jobs:
                if job is None:
                    continue
                try:
                    event = job()
                except Exception as exc:  # a bad job must not kill the writer; its event is lost, counted
                    # The type only: a message or traceback could quote raw text.
                    log.error("building an event failed (%s)", type(exc).__name__)
                    self.dropped += 1
                    continue
                if event is not None:
                    events.append(event)
            try:
                if events:
                    self.sink.write(events)
                    self.written += len(events)
            except Exception as exc:
                log.error("event sink %s failed (%s); %d events lost", type(self.sink).__name__, type(exc).__name__, len(events))
                self.dropped += len(events)
            finally:
                for _ in jobs:
                    self._queue.task_done()
            if stop:
                return
