"""How a stream ended is on its record: finished, blocked, or aborted (the upstream raised, the
consumer closed it early), so a partial output never looks like a clean one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from firewall import Firewall, Verdict
from firewall.events.event import Event
from firewall.testing import capture_events

TEXT = "mail jane@corp.io, then more words to stream along here."
PEM = "-----BEGIN RSA PRIVATE KEY-----"


def upstream(text: str, fail_at: int | None = None) -> Iterator[str]:
    for i in range(0, len(text), 4):
        if fail_at is not None and i >= fail_at:
            raise ConnectionResetError("the model server went away")
        yield text[i : i + 4]


def ended(events: list[Event]) -> tuple[str | None, str | None, str | None]:
    [event] = events
    return event.action, event.status, event.message


def test_a_finished_stream_is_scanned_with_no_message(fw: Firewall) -> None:
    verdicts: list[Verdict] = []
    with capture_events(fw) as events:
        out = "".join(fw.stream(upstream(TEXT), on_verdict=verdicts.append))

    assert out == fw.scan(TEXT).text
    assert ended(events) == ("redact", "scanned", None) and verdicts[0].status == "scanned"


def test_an_upstream_error_marks_the_stream_aborted(fw: Firewall) -> None:
    verdicts: list[Verdict] = []
    with capture_events(fw) as events, pytest.raises(ConnectionResetError):
        for _ in fw.stream(upstream(TEXT, fail_at=40), on_verdict=verdicts.append):
            pass

    assert ended(events)[1:] == ("aborted", "stream ended early: ConnectionResetError")
    assert verdicts[0].status == "aborted" and TEXT not in (events[0].output or "")
    assert "the model server" not in repr(events)  # the type only: a message may quote text


def test_a_consumer_that_stops_early_leaves_an_aborted_record(fw: Firewall) -> None:
    with capture_events(fw) as events:
        stream = fw.stream(upstream(f"{TEXT} " * 100))
        next(stream)
        stream.close()

    assert ended(events)[1:] == ("aborted", "stream ended early: GeneratorExit")


def test_a_blocked_stream_closed_after_its_refusal_is_a_block_not_an_abort(fw: Firewall) -> None:
    with capture_events(fw) as events:
        stream = fw.stream(upstream(f"here it is: {PEM}\nMIIEow" + "x" * 200))
        *_, refusal = stream
        stream.close()

    assert "withheld" in refusal and ended(events)[:2] == ("block", "scanned")


async def aupstream(text: str, fail_at: int) -> AsyncIterator[str]:
    for chunk in upstream(text, fail_at):
        yield chunk


async def test_the_async_stream_records_an_abort_alike(fw: Firewall) -> None:
    with capture_events(fw) as events, pytest.raises(ConnectionResetError):
        async for _ in fw.astream(aupstream(TEXT, fail_at=40)):
            pass

    assert ended(events)[1:] == ("aborted", "stream ended early: ConnectionResetError")
