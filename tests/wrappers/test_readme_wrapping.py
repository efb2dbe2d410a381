"""The README's "Wrapping your client" section: its snippets run in order, as a reader would paste
them, against the loopback OpenAI-compatible server, the tiny model and an Anthropic-shaped
stand-in, all of which leak; nothing they print holds a raw secret, and the events are stored."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from firewall.events.store import EventStore
from tests.conftest import ROOT
from tests.wrappers.openai_server import LoopbackOpenAI
from tests.wrappers.texts import CODE_PROMPT, SECRET, TOKEN_CANARY

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
SECTION = "## Wrapping your client"
LEAK = f"The access code is {TOKEN_CANARY} and the key is {SECRET}."
PIECES = [LEAK[:25], LEAK[25:40], LEAK[40:60], LEAK[60:]]  # cuts through the canary and the key


def section(markdown: str) -> str:
    start = markdown.index(f"\n{SECTION}\n")
    return markdown[start : markdown.index("\n## ", start + 1)]


def snippets(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section(markdown), re.S)


class AnthropicStandIn:
    """`anthropic.Anthropic`'s shape for the two calls the README makes."""

    def __init__(self, pieces: list[str]) -> None:
        self.messages = SimpleNamespace(create=self._create, stream=self._stream)
        self._pieces = pieces

    def _create(self, *, model: str, max_tokens: int, messages: list[dict[str, str]]) -> Any:
        return SimpleNamespace(content=[SimpleNamespace(type="text", text="".join(self._pieces))])

    @contextmanager
    def _stream(self, *, model: str, max_tokens: int, messages: list[dict[str, str]]) -> Iterator[Any]:
        yield SimpleNamespace(text_stream=iter(self._pieces))


def test_the_section_comes_just_before_the_benchmarks() -> None:
    headings = re.findall(r"^## .*$", README.read_text("utf-8"), re.M)

    assert headings[headings.index(SECTION) + 1] == "## Benchmarks"


def test_the_tiny_model_leaks_the_canary_unguarded(tiny_lm_dir: Path) -> None:
    """What makes the transformers snippets' check below mean something."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir)
    ids = model.generate(**tokenizer(CODE_PROMPT, return_tensors="pt"), max_new_tokens=20, do_sample=False)

    assert TOKEN_CANARY in tokenizer.decode(ids[0])


def test_every_snippet_runs_and_prints_nothing_raw(
    openai_server: LoopbackOpenAI,
    tiny_lm_dir: Path,
    rules_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(rules_dir.parent)  # "rules/" is a private copy; events go to its .outguard/
    for _ in range(4):  # completion, stream, responses, async stream
        openai_server.script(*PIECES)
    namespace: dict[str, Any] = {
        "__name__": "readme",
        "model_dir": str(tiny_lm_dir),
        "claude": AnthropicStandIn(PIECES),
    }
    blocks = snippets(README.read_text("utf-8"))

    assert len(blocks) == 4  # OpenAI, async OpenAI, transformers, any other SDK
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"README.md ({SECTION}, snippet {number})", "exec"), namespace)
    namespace["fw"].close()
    printed = capsys.readouterr().out

    assert TOKEN_CANARY not in printed and SECRET not in printed
    assert printed.count("[CANARY]") == 9  # 4 OpenAI calls, 3 generations, 2 guarded functions
    assert len(openai_server.requests) == 4
    events = EventStore(rules_dir.parent / ".outguard" / "events.db").tail()
    sources = [(e.source, e.principal) for e in events if "CANARY" in e.labels]
    assert sorted(sources, key=str) == sorted(
        [("openai", "alice")] * 3 + [("openai", "svc-a")] + [("transformers", None)] * 3 + [("live", "svc-a")] * 2,
        key=str,
    )
