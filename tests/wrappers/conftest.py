"""Fixtures of the wrapper tests: the loopback OpenAI-compatible server and the SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.wrappers.openai_server import LoopbackOpenAI


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackOpenAI]:
    """The server, and the environment the SDK reads (`OpenAI()` with no arguments reaches it)."""
    with LoopbackOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-loopback-test")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # loopback never goes through a proxy
        for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
            monkeypatch.delenv(name, raising=False)
        yield server
