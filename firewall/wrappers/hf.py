"""transformers: a `pipeline("text-generation")` and a causal LM's `generate()`, guarded; streamers
(`TextStreamer`, `TextIteratorStreamer`...) receive only scanned text.

    generator = wrap_pipeline(fw, pipeline("text-generation", model=path))
    generator("The access code is ", max_new_tokens=20)        # [{"generated_text": <scanned>}]
    generate = wrap_generate(fw, model, tokenizer)
    generate(**inputs, max_new_tokens=20, streamer=TextStreamer(tokenizer))  # prints scanned text

Both check the prompt first (`Firewall.check_prompt`: quotas, extraction signals), then scan
what the model wrote: only the new text (a `return_full_text` prompt is the caller's own text
and is put back as it was). n sequences (`num_return_sequences`, batches) are scanned one by one,
one event each.

Streaming: `generate()` (or the pipeline) runs in the caller's thread with a relay streamer; a
scanning thread runs `Firewall.stream` over the relay's text and hands the caller's streamer only
what the firewall releases, so a printing `TextStreamer` never prints unscanned text, and a
`TextIteratorStreamer` (generation in a worker thread, iteration in yours, as usual) yields
scanned text and always ends, even when generation fails. A blocked stream stops generation at
the next token. The call returns when the scanned text is all delivered.

What comes back keeps its type: the pipeline's records, and from `generate()` token ids, which
are those of the *scanned* text (prompt ids, then the scanned text re-encoded; rows are padded
with the pad token). With `return_dict_in_generate=True` the output object holds only
`sequences`: per-step logits, scores, attentions and the cache describe the raw tokens.

Memorisation score: `wrap_generate` asks `generate()` for the raw logits (`output_logits=True`;
memory grows with steps x vocabulary, `scores=False` turns it off; beam search is not scored)
and puts the Min-K% Prob and zlib ratio (`firewall.memorization`) of each generated text in its
event's `scores`. `wrap_pipeline(scores=True)` computes them with one forward pass over the
generated text (a pipeline returns no logits worth converting).

Causal LMs only. torch and transformers (the `hf` extra) are imported by this module, which
`import firewall` never loads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextStreamer

from firewall.memorization import score_logprobs, token_logprobs

if TYPE_CHECKING:
    from firewall.firewall import Firewall
    from firewall.model import Verdict

Principal = str | Callable[[Mapping[str, Any]], "str | None"] | None


def wrap_pipeline(
    fw: Firewall,
    pipe: Any,
    *,
    principal: Principal = None,
    model_name: str | None = None,
    source: str = "transformers",
    scores: bool = False,
) -> GuardedPipeline:
    """Return `pipe` (a text-generation pipeline) guarded by `fw`: same call, same records.

    Args:
        fw: the firewall.
        pipe: `transformers.pipeline("text-generation", ...)`.
        principal: a string, or a callable given the call's arguments (a dict with
            `text_inputs` and the keyword arguments) returning one or None.
        model_name: the events' model (default: the model's `name_or_path`).
        source: the events' source.
        scores: also put the memorisation scores of each generated text in its event (one
            forward pass of the model over that text).
    """
    name = model_name or getattr(pipe.model, "name_or_path", None)
    return GuardedPipeline(fw, pipe, _Options(principal, name, source), scores)


def wrap_generate(
    fw: Firewall,
    model: Any,
    tokenizer: Any,
    *,
    principal: Principal = None,
    model_name: str | None = None,
    source: str = "transformers",
    scores: bool = True,
) -> GuardedGenerate:
    """Return a guarded stand-in for `model.generate` (same arguments; see the module docstring).

    Args:
        fw: the firewall.
        model: a transformers causal LM.
        tokenizer: its tokenizer (decodes what is scanned, encodes what is returned).
        principal: a string, or a callable given `generate`'s keyword arguments.
        model_name: the events' model (default: the model's `name_or_path`).
        source: the events' source.
        scores: put the memorisation scores of each generated text in its event.
    """
    if getattr(model.config, "is_encoder_decoder", False):
        raise TypeError("wrap_generate supports causal (decoder-only) language models")
    name = model_name or getattr(model, "name_or_path", None)
    return GuardedGenerate(fw, model, tokenizer, _Options(principal, name, source), scores)


@dataclass(frozen=True)
class _Options:
    principal: Principal
    model: str | None
    source: str

    def context(self, call: Mapping[str, Any]) -> dict[str, Any]:
        principal = self.principal(dict(call)) if callable(self.principal) else self.principal
        return {"principal": principal, "model": self.model, "source": self.source}


class GuardedGenerate:
    """`model.generate`, guarded; call it exactly like `generate`."""

    def __init__(self, fw: Firewall, model: Any, tokenizer: Any, options: _Options, scores: bool) -> None:
        self.fw, self.model, self.tokenizer = fw, model, tokenizer
        self._options, self._scores = options, scores
        self._generate = model.generate  # bound now: `model.generate = wrap_generate(...)` must not recurse

    def __call__(self, input_ids: Any = None, *, streamer: Any = None, **kwargs: Any) -> Any:
        fw, tok = self.fw, self.tokenizer
        input_ids = kwargs.pop("inputs", input_ids)
        if input_ids is None:
            raise TypeError("a guarded generate() needs input_ids (the prompt's token ids)")
        context = self._options.context({"input_ids": input_ids, "streamer": streamer, **kwargs})
        prompts = [tok.decode(row, skip_special_tokens=True) for row in input_ids]
        for prompt in prompts:
            fw.check_prompt(prompt, **context)
        wants_dict = kwargs.get("return_dict_in_generate", False)
        score = self._scores and int(kwargs.get("num_beams") or 1) == 1
        if score:
            kwargs.update(output_logits=True, return_dict_in_generate=True)
        width = input_ids.shape[-1]
        per_prompt = int(kwargs.get("num_return_sequences") or 1)

        if streamer is None:
            out = self._generate(input_ids, **kwargs)
            sequences = out.sequences if hasattr(out, "sequences") else out
            safe = []
            for row in range(sequences.shape[0]):
                new, logprobs = self._new_tokens(out, row, width, score)
                raw = tok.decode(new, skip_special_tokens=True)
                found = _scores(logprobs, raw) if score else {}
                safe.append(fw.scan(raw, prompt=prompts[row // per_prompt], scores=found, **context).text)
        else:
            _check_streamer(streamer, input_ids)
            relay = _Relay(tok, getattr(streamer, "decode_kwargs", {}))
            extra: dict[str, float] = {}
            scanning = _Scanning(fw, relay, streamer, prompts[0], {**context, "scores": extra})
            kwargs["stopping_criteria"] = _with_stop(kwargs.get("stopping_criteria"), scanning.stop)
            with scanning:
                out = self._generate(input_ids, streamer=relay, **kwargs)
                if score:
                    new, logprobs = self._new_tokens(out, 0, width, score)
                    extra.update(_scores(logprobs, tok.decode(new, skip_special_tokens=True)))
            safe = [scanning.text]
        sequences = _encode(tok, input_ids, safe, per_prompt)
        return type(out)(sequences=sequences) if wants_dict else sequences

    def _new_tokens(self, out: Any, row: int, width: int, score: bool) -> tuple[list[int], list[float]]:
        """Row `row`'s generated token ids up to its first end-of-sequence token, and (when
        scoring) each one's log-probability under the raw logits."""
        sequences = out.sequences if hasattr(out, "sequences") else out
        ids = sequences[row, width:].tolist()
        stops = _eos_ids(self.model)
        length = next((i for i, t in enumerate(ids) if t in stops), len(ids))
        logprobs = []
        if score and out.logits:
            steps = torch.stack([step[row] for step in out.logits[:length]]).float()
            picked = torch.log_softmax(steps, dim=-1).gather(-1, torch.tensor(ids[:length]).unsqueeze(-1))
            logprobs = picked.squeeze(-1).tolist()
        return ids[:length], logprobs


class GuardedPipeline:
    """A text-generation pipeline, guarded; call it like the pipeline. Other attributes are the pipeline's."""

    def __init__(self, fw: Firewall, pipe: Any, options: _Options, scores: bool) -> None:
        self.fw, self.pipe = fw, pipe
        self._options, self._scores = options, scores

    def __getattr__(self, name: str) -> Any:
        if name == "pipe":
            raise AttributeError(name)
        return getattr(self.pipe, name)

    def __call__(self, text_inputs: Any, **kwargs: Any) -> Any:
        fw = self.fw
        if kwargs.get("return_tensors") or kwargs.get("return_text") is False:
            raise ValueError("a guarded pipeline returns text only: token ids cannot be scanned")
        streamer = kwargs.pop("streamer", None)
        context = self._options.context({"text_inputs": text_inputs, **kwargs})
        single = isinstance(text_inputs, str) or _is_chat(text_inputs)
        inputs = [text_inputs] if single else list(text_inputs)
        prompts = [_prompt_text(i) for i in inputs]
        for prompt in prompts:
            fw.check_prompt(prompt, **context)
        full_text = kwargs.get("return_full_text", self._full_text_default())

        scanned: Callable[[str, int], str]
        if streamer is None:
            outputs = self.pipe(text_inputs, **kwargs)

            def scanned(raw: str, index: int) -> str:
                return fw.scan(raw, prompt=prompts[index], scores=self._score(raw), **context).text

        else:
            if not single:
                raise ValueError("streamers take one prompt at a time")
            _check_streamer(streamer, None)
            skip = {"skip_special_tokens": kwargs.get("skip_special_tokens", True)}
            relay = _Relay(self.pipe.tokenizer, skip)
            extra: dict[str, float] = {}
            scanning = _Scanning(fw, relay, streamer, prompts[0], {**context, "scores": extra})
            kwargs["stopping_criteria"] = _with_stop(kwargs.get("stopping_criteria"), scanning.stop)
            with scanning:
                outputs = self.pipe(text_inputs, streamer=relay, **kwargs)
                extra.update(self._score(relay.raw_text))

            def scanned(raw: str, index: int) -> str:
                # The relay decoded the same tokens the pipeline did; if not, scan the record itself.
                same = raw == relay.raw_text
                return scanning.text if same else fw.scan(raw, prompt=prompts[index], **context).text

        groups = [outputs] if single else outputs
        result = [[self._record(r, inputs[i], full_text, _bind(scanned, i)) for r in g] for i, g in enumerate(groups)]
        return result[0] if single else result

    def _full_text_default(self) -> bool:
        from transformers.pipelines.text_generation import ReturnType

        params = getattr(self.pipe, "_postprocess_params", {}) or {}
        return params.get("return_type", ReturnType.FULL_TEXT) == ReturnType.FULL_TEXT

    def _record(
        self, record: dict[str, Any], given: Any, full_text: bool, scanned: Callable[[str], str]
    ) -> dict[str, Any]:
        generated = record.get("generated_text")
        if isinstance(generated, str):
            head = given if full_text and isinstance(given, str) and generated.startswith(given) else ""
            return {**record, "generated_text": head + scanned(generated[len(head) :])}
        if isinstance(generated, list) and generated:  # chat: the answer is the last message
            *before, last = generated
            given_messages = _messages(given)
            continued = given_messages and len(generated) == len(given_messages)  # an assistant prefill
            prefill = str(given_messages[-1].get("content") or "") if continued else ""
            content = last.get("content") or ""
            head = prefill if prefill and content.startswith(prefill) else ""
            return {**record, "generated_text": [*before, {**last, "content": head + scanned(content[len(head) :])}]}
        raise ValueError("a guarded pipeline returns text only: this record holds no generated_text")

    def _score(self, raw: str) -> dict[str, float]:
        if not self._scores or not raw:
            return {}
        return _scores(token_logprobs(_LM(self.pipe.model, self.pipe.tokenizer), raw), raw)


def _bind(scanned: Callable[[str, int], str], index: int) -> Callable[[str], str]:
    return lambda raw: scanned(raw, index)


# -- streaming: the relay, the scanning thread, the stop signal -------------------------------------

_END = object()


@dataclass(frozen=True)
class _Prompt:
    text: str


class _Relay(TextStreamer):
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


class _Scanning:
    """`Firewall.stream` over a relay's text in a thread, feeding the caller's streamer.

    Used as a context manager around the generation: on a clean exit it ends the stream (so the
    event carries whatever `context["scores"]` holds by then), waits for the thread, and ends the
    caller's streamer; on an error it ends both too, then lets the error through.
    """

    def __init__(self, fw: Firewall, relay: _Relay, target: Any, prompt: str, context: dict[str, Any]) -> None:
        self._fw, self._relay, self._target = fw, relay, target
        self._prompt, self._context = prompt, context
        self.stop = threading.Event()
        """Set when the stream is blocked (or failed): generation stops at the next token."""
        self._safe: list[str] = []
        self._error: BaseException | None = None
        self._verdict: Verdict | None = None
        self._thread = threading.Thread(target=self._run, name="outguard-scan", daemon=True)

    @property
    def text(self) -> str:
        return "".join(self._safe)

    def __enter__(self) -> _Scanning:
        self._thread.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._relay.queue.put(_END)
        self._thread.join()
        self._target.on_finalized_text("", stream_end=True)
        if exc is None and self._error is not None:
            raise self._error

    def _texts(self) -> Iterator[str]:
        while (item := self._relay.queue.get()) is not _END:
            if isinstance(item, _Prompt):
                if not getattr(self._target, "skip_prompt", False):
                    self._target.on_finalized_text(item.text)
                continue
            yield item

    def _run(self) -> None:
        try:
            for safe in self._fw.stream(
                self._texts(), prompt=self._prompt, on_verdict=self._on_verdict, **self._context
            ):
                self._safe.append(safe)
                self._target.on_finalized_text(safe)
        except BaseException as exc:  # re-raised in the caller's thread by __exit__
            self._error = exc
            self.stop.set()

    def _on_verdict(self, verdict: Verdict) -> None:
        self._verdict = verdict
        if verdict.action == "block":
            self.stop.set()


class _Stop(StoppingCriteria):
    def __init__(self, flag: threading.Event) -> None:
        self._flag = flag

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        return torch.full((input_ids.shape[0],), self._flag.is_set(), dtype=torch.bool, device=input_ids.device)


def _with_stop(criteria: Any, flag: threading.Event) -> StoppingCriteriaList:
    return StoppingCriteriaList([*(criteria or ()), _Stop(flag)])


def _check_streamer(streamer: Any, input_ids: Any) -> None:
    if not callable(getattr(streamer, "on_finalized_text", None)):
        raise TypeError("a guarded generation streams text: pass a TextStreamer (or subclass), which receives it")
    if input_ids is not None and input_ids.shape[0] != 1:
        raise ValueError("streamers take one prompt at a time (batch size 1)")


# -- helpers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LM:
    """What `firewall.memorization.token_logprobs` needs of a loaded model."""

    model: Any
    tokenizer: Any


def _scores(logprobs: list[float], raw: str) -> dict[str, float]:
    if not logprobs:
        return {}
    score = score_logprobs(logprobs, raw)
    return {"min_k": score.min_k, "zlib_ratio": score.zlib_ratio}


def _eos_ids(model: Any) -> set[int]:
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None)
    return set(eos if isinstance(eos, list) else [] if eos is None else [eos])


def _encode(tokenizer: Any, input_ids: Any, texts: list[str], per_prompt: int) -> Any:
    """Token ids of each prompt followed by its scanned text, right-padded into one tensor."""
    rows = [
        input_ids[i // per_prompt].tolist() + tokenizer.encode(text, add_special_tokens=False)
        for i, text in enumerate(texts)
    ]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    width = max(len(r) for r in rows)
    return torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long, device=input_ids.device)


def _is_chat(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _messages(value: Any) -> list[Any]:
    return value if _is_chat(value) else []


def _prompt_text(value: Any) -> str:
    """A pipeline input as the prompt to check: the text, or a chat's last user message."""
    if isinstance(value, str):
        return value
    for message in reversed(_messages(value)):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""
