"""guard() wraps def / async def / generators / async generators; early stops never leak held-back text."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from firewall import Firewall
from firewall.testing import capture_events

LEAK = "Sure: mail jane@corp.io or call +1 415 555 0134."
SAFE = "Sure: mail [EMAIL] or call ***********0134."


async def test_every_kind_of_callable_is_scanned(fw: Firewall) -> None:
    @fw.guard
    def plain(prompt: str) -> str:
        return LEAK

    @fw.guard(principal="svc-a", model="m1")
    async def coroutine(prompt: str) -> str:
        return LEAK

    @fw.guard
    def generator(prompt: str) -> Iterator[str]:
        yield from (LEAK[i : i + 3] for i in range(0, len(LEAK), 3))

    @fw.guard
    async def async_generator(prompt: str) -> AsyncIterator[str]:
        for char in LEAK:
            yield char

    @fw.guard
    def returns_iterator(prompt: str) -> Iterator[str]:
        return iter([LEAK[:20], LEAK[20:]])

    assert plain("hi") == SAFE
    assert await coroutine("hi") == SAFE
    assert "".join(generator("hi")) == SAFE
    assert "".join([c async for c in async_generator("hi")]) == SAFE
    assert "".join(returns_iterator("hi")) == SAFE


def test_guard_keeps_the_function_name(fw: Firewall) -> None:
    @fw.guard
    def ask_model(prompt: str) -> str:
        return "ok"

    assert ask_model.__name__ == "ask_model"


def test_guard_records_context_and_redacted_prompt(fw: Firewall) -> None:
    @fw.guard(principal="svc-a", model="m1")
    def ask(prompt: str) -> str:
        return LEAK

    with capture_events(fw) as events:
        ask("my own address is joe@home.io")

    (event,) = events
    assert (event.principal, event.model, event.action) == ("svc-a", "m1", "redact")
    assert event.prompt == "my own address is [EMAIL]"


def test_consumer_stopping_early_never_gets_held_back_text(fw: Firewall) -> None:
    """Breaking out of the stream closes the upstream generator; the held-back tail is not released."""
    closed = []

    def upstream() -> Iterator[str]:
        try:
            yield "Hello there, write to jane@corp"
            yield ".io today"
        finally:
            closed.append(True)

    stream = fw.stream(upstream())
    first = next(stream)
    stream.close()

    assert closed == [True]
    assert "jane" not in first


def test_block_stops_the_upstream_stream(fw: Firewall) -> None:
    produced = []

    body = ["MIIEowIBAAKCAQEA" + "q7Zx2mLp7RtXk9fQ2Wm5Nv9Xc3Bt7Hy1Kp4Jd6Fg0Sa" + f"{i:06d}\n" for i in range(30)]
    pieces = ["Here it is:\n", "-----BEGIN RSA PRIVATE KEY-----\n", *body, "-----END RSA PRIVATE KEY-----\n"]
    pieces += ["Keep it somewhere safe and rotate it every quarter.\n"] * 200

    def upstream() -> Iterator[str]:
        for piece in pieces:
            produced.append(piece)
            yield piece

    out = "".join(fw.stream(upstream()))

    assert "private-key-block" in out and "MIIE" not in out
    # the whole key decides the block: consumption stops within one rule width (~4 KB) of it
    assert len(produced) < 120 < len(pieces)


def test_guard_rejects_non_text_results(fw: Firewall) -> None:
    import pytest

    @fw.guard
    def wrong(prompt: str) -> int:
        return 3

    with pytest.raises(TypeError, match="expected str"):
        wrong("x")
