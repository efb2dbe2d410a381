"""The async faces run detection off the event loop: NER never stops an async server."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from firewall import Firewall
from tests.conftest import ROOT

ANSWER = (
    "Hi Maria Gonzalez, your booking is confirmed. Jonas Weber from our Lisbon office will meet you. "
    "If anything changes, Priya Raman can be reached at priya.raman@corpmail.net. "
) * 12


@pytest.fixture(scope="module")
def firewall():
    fw = Firewall.from_rules(ROOT / "rules", events=False)
    fw.scan("warm up, Jane Roe.")
    yield fw
    fw.close()


def _pii(fw: Firewall):
    return next(d for d in fw._active.scanner.detectors if d.name == "pii")


async def _with_heartbeat(work):
    """Run `work()` while a task ticks every millisecond; return the longest gap between ticks."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def beat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(beat())
    await asyncio.sleep(0.005)
    await work()
    done.set()
    await ticker
    return max(gaps)


def test_ascan_and_astream_run_the_detectors_on_worker_threads(firewall: Firewall, monkeypatch) -> None:
    pii = _pii(firewall)
    threads: set[int] = set()
    find = pii.find

    def spy(text: str, start: int = 0):
        threads.add(threading.get_ident())
        return find(text, start)

    monkeypatch.setattr(pii, "find", spy)

    async def main() -> int:
        loop_thread = threading.get_ident()
        await firewall.ascan(ANSWER + " one")

        async def chunks():
            for i in range(0, len(ANSWER), 17):
                yield ANSWER[i : i + 17]

        out = "".join([piece async for piece in firewall.astream(chunks())])
        assert "Maria" not in out and "Jonas" not in out
        return loop_thread

    loop_thread = asyncio.run(main())
    assert threads and loop_thread not in threads


def test_the_event_loop_keeps_ticking_during_pii_heavy_scans(firewall: Firewall) -> None:
    """A regression guard, not a benchmark (bench pii reports the figures): running NER on the loop
    stalled it ~300 ms per 2 KB answer; off the loop the gap stays near the GIL switch interval."""

    async def work() -> None:
        for n in range(3):
            await firewall.ascan(ANSWER + f" Variant {n}, Dana Whitfield.")

    gap = asyncio.run(_with_heartbeat(work))
    assert gap < 0.1, f"the event loop stood still {gap * 1000:.0f} ms"


def test_a_stream_analyses_each_sentence_once(firewall: Firewall, monkeypatch) -> None:
    """An open sentence is not re-analysed at every stream step: NER sees each window once."""
    pii = _pii(firewall)
    seen: list[str] = []
    for model in pii._ner:
        entities = model.entities
        monkeypatch.setattr(model, "entities", lambda texts, e=entities: seen.extend(texts) or e(texts))
    text = "".join(f"Sentence {n} mentions Zora Whitfield and a long clause after it. " for n in range(12))

    out = "".join(firewall.stream(text[i : i + 5] for i in range(0, len(text), 5)))

    assert "Zora" not in out
    assert len(seen) == len(set(seen)) and len(seen) <= 12
