"""Guarded transformers streaming: the relay streamer `generate()` writes to, the scanning thread
that feeds the caller's streamer, the stop signal a block sends back, and the caller's streamer,
ended exactly once however the call ends."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextStreamer

if TYPE_CHECKING:
    from firewall.firewall import Firewall
    from firewall.model import Verdict

_END = object()


class Target:
    """The caller's streamer, which receives scanned text; `with` it around the whole call.

    It is ended exactly once, however the call ends: refused before generation (a quota, a bad
    argument), failed during it, or done. A `TextIteratorStreamer` read in another thread
    (timeout None, as usual) would otherwise wait forever.
    """

    def __init__(self, streamer: Any) -> None:
        self.streamer = streamer
        self._ended = False
        self._lock = threading.Lock()

    @property
    def skip_prompt(self) -> bool:
        return bool(getattr(self.streamer, "skip_prompt", False))

    def check(self, batch: int | None) -> None:
        """Refuse a streamer that takes token ids, or a batch of more than one prompt."""
        if not callable(getattr(self.streamer, "on_finalized_text", None)):
            raise TypeError("a guarded generation streams text: pass a TextStreamer (or subclass), which receives it")
        if batch is not None and batch != 1:
            raise ValueError("streamers take one prompt at a time (batch size 1)")

    def text(self, text: str) -> None:
        self.streamer.on_finalized_text(text)

    def end(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        if callable(getattr(self.streamer, "on_finalized_text", None)):
            self.streamer.on_finalized_text("", stream_end=True)
        elif callable(getattr(self.streamer, "end", None)):  # a token streamer, refused: ended all the same
            self.streamer.end()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.end()


@dataclass(frozen=True)
class _Prompt:
    text: str


class Relay(TextStreamer):
    """The streamer `generate()` writes to: decodes like `TextStreamer` and queues the text."""

    def __init__(self, tokenizer: Any, decode_kwargs: Mapping[str, Any]) -> None:
        super().__init__(tokenizer, skip_prompt=False, **decode_kwargs)
        self.queue: queue.Queue[Any] = queue.Queue()
        self._raw: list[str] = []

    @property
    def raw_text(self) -> str:
        return "".join(self._raw)

    def put(self, value: Any) -> None:
        if self.next_tokens_are_prompt:  # the prompt: the caller's own text, forwarded unscanned
            self.next_tokens_are_prompt = False
            ids = value[0] if len(value.shape) > 1 else value
            self.queue.put(_Prompt(self.tokenizer.decode(ids, **self.decode_kwargs)))
            return
        super().put(value)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self._raw.append(text)
            self.queue.put(text)


class Scanning:
    """`Firewall.stream` over a relay's text in a thread, feeding the caller's streamer.

    Used as a context manager around the generation: on a clean exit it ends the stream (so the
    event carries whatever `context["scores"]` holds by then), waits for the thread, and ends the
    caller's streamer; on an error it ends both too, then lets the error through.
    """

    def __init__(self, fw: Firewall, relay: Relay, target: Target, prompt: str, context: dict[str, Any]) -> None:
        self._fw, self._relay, self._target = fw, relay, target
        self._prompt, self._context = prompt, context
        self.stop = threading.Event()
        """Set when the stream is blocked (or failed): generation stops at the next token."""
        self._safe: list[str] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="outguard-scan", daemon=True)

    @property
    def text(self) -> str:
        return "".join(self._safe)

    def __enter__(self) -> Scanning:
        self._thread.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._relay.queue.put(_END)
        self._thread.join()
        self._target.end()
        if exc is None and self._error is not None:
            raise self._error

    def _texts(self) -> Iterator[str]:
        while (item := self._relay.queue.get()) is not _END:
            if isinstance(item, _Prompt):
                if not self._target.skip_prompt:
                    self._target.text(item.text)
                continue
            yield item

    def _run(self) -> None:
        try:
            for safe in self._fw.stream(
                self._texts(), prompt=self._prompt, on_verdict=self._on_verdict, **self._context
            ):
                self._safe.append(safe)
                self._target.text(safe)
        except BaseException as exc:  # re-raised in the caller's thread by __exit__
            self._error = exc
            self.stop.set()

    def _on_verdict(self, verdict: Verdict) -> None:
        if verdict.action == "block":
            self.stop.set()


class _Stop(StoppingCriteria):
    def __init__(self, flag: threading.Event) -> None:
        self._flag = flag

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        return torch.full((input_ids.shape[0],), self._flag.is_set(), dtype=torch.bool, device=input_ids.device)


def with_stop(criteria: Any, flag: threading.Event) -> StoppingCriteriaList:
    """The caller's stopping criteria and one more, true once `flag` is set."""
    return StoppingCriteriaList([*(criteria or ()), _Stop(flag)])
