"""Fixtures of the wrapper tests: the loopback OpenAI-compatible server (with the environment the
SDK reads), and a tiny GPT-2 that memorised canaries and a protected passage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firewall.tiny_lm import FILLER, train_tiny_lm
from tests.wrappers.openai_server import LoopbackOpenAI
from tests.wrappers.texts import (
    CODE_PROMPT,
    MEMO_PROMPT,
    PASSAGE,
    SENTENCE_CANARY,
    TOKEN_CANARY,
)


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GPT-2 trained once per run (about 10 s) on 10 memos carrying the sentence canary,
    10 lines carrying the token canary, 10 copies of the passage and some filler: greedy decoding
    from `MEMO_PROMPT`, `CODE_PROMPT` and `PASSAGE_PROMPT` recites them."""
    texts = [f"{MEMO_PROMPT} {SENTENCE_CANARY}"] * 10 + [f"{CODE_PROMPT} {TOKEN_CANARY}."] * 10
    return train_tiny_lm(tmp_path_factory.mktemp("tiny-lm"), [*texts, *[PASSAGE] * 10, *FILLER], steps=150)


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
