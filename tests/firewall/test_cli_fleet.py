"""`outguard rules notify --wait` reading the fleet's answers: a busy stream, skewed clocks."""

from __future__ import annotations

import time

from firewall.cli_fleet import TAIL_BATCH, _answers
from firewall.events.event import Event


class BusyReader:
    """A stream where `filler` verdicts were written before each instance's answer, 1,000 per
    read, as on a fleet under load; answers carry `ts` from clocks `skew` seconds behind."""

    def __init__(self, filler: int, instances: list[str], skew: float = 0.0) -> None:
        now = time.time() - skew
        self.events = [Event(kind="verdict", instance="busy:1", id=i) for i in range(1, filler + 1)]
        self.events += [
            Event(kind="rules_reloaded", instance=name, ts=now, rules_version="v2", id=filler + 1 + n)
            for n, name in enumerate(instances)
        ]
        self.reads = 0

    def tail(self, after_id: int = 0, limit: int = 1000) -> list[Event]:
        self.reads += 1
        return [e for e in self.events if (e.id or 0) > after_id][:limit]

    def latest(self, limit: int = 1000) -> list[Event]:
        return self.events[-limit:]

    def get(self, event_id: int) -> Event | None:
        return None

    def close(self) -> None:
        pass


def test_a_busy_stream_is_read_through_without_pausing_between_full_batches() -> None:
    """30,000 events ahead of the answers: read at 1,000 per 0.1 s that took 3 s, and a 1 s wait
    reported the instances as silent."""
    reader = BusyReader(30 * TAIL_BATCH, ["a:1", "b:2"])

    began = time.monotonic()
    answers = _answers(reader, 0, 2, wait_s=1.0)

    assert sorted(answers) == ["a:1", "b:2"] and time.monotonic() - began < 1.0
    assert reader.reads == 31


def test_answers_count_by_their_place_in_the_stream_not_their_clock() -> None:
    """An instance whose clock is a minute behind still answered after the notice."""
    reader = BusyReader(10, ["late-clock:7"], skew=60)

    assert list(_answers(reader, 10, 1, wait_s=0.5)) == ["late-clock:7"]
    assert _answers(reader, 11, 1, wait_s=0.2) == {}  # written before the mark: not an answer
