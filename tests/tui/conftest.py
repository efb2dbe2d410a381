"""Console fixtures: a real SQLite event store in a temp folder, events shaped like the firewall's."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firewall.events.event import Event, EventFinding
from firewall.events.sinks import SQLiteSink

T0 = 1_764_400_000.0  # a fixed clock for events (2025-11-29 07:06:40 UTC)


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Times on screen are local: pin the zone so snapshots and assertions do not depend on it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def finding(label: str, start: int, end: int, *, rule: str | None = None, detector: str = "patterns",
            shadow: bool = False, action: str = "redact", source: str = "") -> EventFinding:
    return EventFinding(detector=detector, rule=rule or label.lower(), label=label, action=action, start=start,
                        end=end, score=1.0, preview="j********e (17)", digest="0123456789abcdef", source=source,
                        shadow=shadow)


def verdict(n: int, *, action: str = "allow", output: str | None = None, findings: tuple[EventFinding, ...] = (),
            principal: str | None = None, status: str = "scanned", version: str = "v1abcdef0000",
            instance: str = "app-1:100", ts: float | None = None, prompt: str | None = None) -> Event:
    return Event(
        kind="verdict", ts=T0 + n * 0.01 if ts is None else ts, principal=principal or f"client-{n % 7}",
        model="gpt-x", source="live", instance=instance, action=action, status=status, rules_version=version,
        latency_ms=1.5, prompt=prompt, output=output if output is not None else f"answer number {n}",
        findings=findings, timings_ms={"canary": 0.1, "patterns": 0.2, "corpus": 0.1, "pii": 3.0},
    )


def redacted(n: int, **kwargs: object) -> Event:
    text = "Write to [EMAIL] or call ***********0134."
    return verdict(n, action="redact", output=text,
                   findings=(finding("EMAIL", 9, 16, rule="email"), finding("PHONE", 25, 40, rule="phone-nanp")),
                   **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Callable[[list[Event]], None]]:
    """(URI, write) for a fresh SQLite event store."""
    path = tmp_path / "events.db"
    sink = SQLiteSink(path)
    return f"sqlite:///{path}", sink.write


async def wait_until(pilot: object, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until `predicate()` holds (generous timeout: CI machines are busy)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)  # type: ignore[attr-defined]
        await asyncio.sleep(0)
