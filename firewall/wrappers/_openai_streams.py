"""Guarded OpenAI SDK streams: `GuardedStream` / `AsyncGuardedStream`, and the two drivers that run
one `Firewall.stream` per text stream of a `Demux` (identical but for `for` / `async for`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, closing
from functools import partial
from typing import TYPE_CHECKING, Any

import openai

from firewall.wrappers._demux import Demux, Key

if TYPE_CHECKING:
    from firewall.firewall import Firewall


class GuardedStream(openai.Stream):  # type: ignore[type-arg]
    """An `openai.Stream` whose items went through the firewall (iterate it, `with` it, `close()`)."""

    def __init__(self, inner: openai.Stream[Any], items: Iterator[Any]) -> None:
        # Not Stream.__init__: it would start a second decoder on the same HTTP body.
        self.response = inner.response
        self._cast_to = inner._cast_to
        self._client = inner._client
        self._options = inner._options
        self._iterator = items

    def close(self) -> None:
        """Stop: closes the firewall's stream (held-back text is never released) and the response."""
        self._iterator.close()  # type: ignore[attr-defined]
        self.response.close()


class AsyncGuardedStream(openai.AsyncStream):  # type: ignore[type-arg]
    """An `openai.AsyncStream` whose items went through the firewall."""

    def __init__(self, inner: openai.AsyncStream[Any], items: AsyncIterator[Any]) -> None:
        self.response = inner.response
        self._cast_to = inner._cast_to
        self._client = inner._client
        self._options = inner._options
        self._iterator = items

    async def close(self) -> None:
        await self._iterator.aclose()  # type: ignore[attr-defined]
        await self.response.aclose()


_END = object()


def items(stream: openai.Stream[Any]) -> Iterator[Any]:
    with stream:
        yield from stream


async def aitems(stream: openai.AsyncStream[Any]) -> AsyncIterator[Any]:
    async with stream:
        async for item in stream:
            yield item


def drive(fw: Firewall, demux: Demux, upstream: Iterator[Any], prompt: str, context: dict[str, Any]) -> Iterator[Any]:
    """Yield the upstream's items with each text stream scanned by its own `fw.stream`."""

    def pull() -> None:
        item = next(upstream, _END)
        demux.end() if item is _END else demux.push(item)

    def texts(key: Key, scores: dict[str, float]) -> Iterator[str]:
        while True:
            if (text := demux.take(key)) is not None:
                yield text
            elif demux.drained(key):
                scores.update(demux.scores(key))  # before the stream ends: the event reads it then
                return
            else:
                pull()

    try:
        while not demux.settled():
            if (key := demux.next_key()) is None:
                if demux.upstream_done:
                    break
                pull()
                yield from demux.ready()
                continue
            scores: dict[str, float] = {}
            on_verdict = partial(demux.finish, key)
            safe_texts = fw.stream(texts(key, scores), prompt=prompt, on_verdict=on_verdict, scores=scores, **context)
            with closing(safe_texts):
                for safe in safe_texts:
                    yield from demux.ready()
                    yield demux.text_item(key, safe)
            yield from demux.ready()
        yield from demux.closing()
    finally:
        upstream.close()  # type: ignore[attr-defined]


async def adrive(
    fw: Firewall, demux: Demux, upstream: AsyncIterator[Any], prompt: str, context: dict[str, Any]
) -> AsyncIterator[Any]:
    """The async twin of `drive`."""

    async def pull() -> None:
        item = await anext(upstream, _END)
        demux.end() if item is _END else demux.push(item)

    async def texts(key: Key, scores: dict[str, float]) -> AsyncIterator[str]:
        while True:
            if (text := demux.take(key)) is not None:
                yield text
            elif demux.drained(key):
                scores.update(demux.scores(key))
                return
            else:
                await pull()

    try:
        while not demux.settled():
            if (key := demux.next_key()) is None:
                if demux.upstream_done:
                    break
                await pull()
                for item in demux.ready():
                    yield item
                continue
            scores: dict[str, float] = {}
            on_verdict = partial(demux.finish, key)
            safe_texts = fw.astream(texts(key, scores), prompt=prompt, on_verdict=on_verdict, scores=scores, **context)
            async with aclosing(safe_texts):
                async for safe in safe_texts:
                    for item in demux.ready():
                        yield item
                    yield demux.text_item(key, safe)
            for item in demux.ready():
                yield item
        for item in demux.closing():
            yield item
    finally:
        await upstream.aclose()  # type: ignore[attr-defined]
