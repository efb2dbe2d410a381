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

Streaming (`firewall.wrappers._hf_streaming`): `generate()` (or the pipeline) runs in the
caller's thread with a relay streamer; a scanning thread runs `Firewall.stream` over the relay's
text and hands the caller's streamer only what the firewall releases, so a printing `TextStreamer`
never prints unscanned text, and a `TextIteratorStreamer` (generation in a worker thread,
iteration in yours, as usual) yields scanned text and always ends: when generation fails, and when
the call is refused before it starts (a quota, a bad argument). A blocked stream stops generation
at the next token. The call returns when the scanned text is all delivered. A streamed pipeline
call's record holds the text its streamer received (one scan, one event).

What comes back keeps its type: the pipeline's records, and from `generate()` token ids, which
are those of the *scanned* text (prompt ids, then the scanned text re-encoded; rows are padded
with the pad token). A row's text ends before its first end-of-sequence token: the call's
`eos_token_id` (or its `generation_config`'s), else the model's. With
`return_dict_in_generate=True` the output object holds only `sequences`: per-step logits, scores,
attentions and the cache describe the raw tokens.

Memorisation score: `wrap_generate` asks `generate()` for the raw logits (`output_logits=True`;
memory grows with steps x vocabulary, `scores=False` turns it off; beam search is not scored)
and puts the Min-K% Prob and zlib ratio (`firewall.memorization`) of each generated text in its
event's `scores`. `wrap_pipeline(scores=True)` computes them with one forward pass over the
generated text (a pipeline returns no logits worth converting).

A `principal` callable must return a str or None (a `TypeError` otherwise, before the model runs).
Causal LMs only. torch and transformers (the `hf` extra) are imported by this module, which
`import firewall` never loads (`Firewall.wrap_pipeline` / `wrap_generate` import it when called).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from firewall.memorization import token_logprobs
from firewall.wrappers._hf_streaming import Relay, Scanning, Target, with_stop
from firewall.wrappers._options import Options, Principal
from firewall.wrappers._scores import memorisation_scores

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from firewall.firewall import Firewall


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

    Raises:
        TypeError: `principal` is neither a str, a callable nor None.
    """
    name = model_name or getattr(pipe.model, "name_or_path", None)
    return GuardedPipeline(fw, pipe, Options(principal, name, source), scores)


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

    Raises:
        TypeError: an encoder-decoder model, or a `principal` that is neither a str, a callable
            nor None.
    """
    if getattr(model.config, "is_encoder_decoder", False):
        raise TypeError("wrap_generate supports causal (decoder-only) language models")
    name = model_name or getattr(model, "name_or_path", None)
    return GuardedGenerate(fw, model, tokenizer, Options(principal, name, source), scores)


def _target(streamer: Any) -> AbstractContextManager[Target | None]:
    return nullcontext() if streamer is None else Target(streamer)


class GuardedGenerate:
    """`model.generate`, guarded; call it exactly like `generate`."""

    def __init__(self, fw: Firewall, model: Any, tokenizer: Any, options: Options, scores: bool) -> None:
        self.fw, self.model, self.tokenizer = fw, model, tokenizer
        self._options, self._scores = options, scores
        self._generate = model.generate  # bound now: `model.generate = wrap_generate(...)` must not recurse

    def __call__(self, input_ids: Any = None, *, streamer: Any = None, **kwargs: Any) -> Any:
        with _target(streamer) as target:  # a refused call still ends the caller's streamer
            return self._call(kwargs.pop("inputs", input_ids), target, kwargs)

    def _call(self, input_ids: Any, target: Target | None, kwargs: dict[str, Any]) -> Any:
        fw, tok = self.fw, self.tokenizer
        if input_ids is None:
            raise TypeError("a guarded generate() needs input_ids (the prompt's token ids)")
        if target is not None:
            target.check(input_ids.shape[0])
        context = self._options.context(
            {"input_ids": input_ids, "streamer": getattr(target, "streamer", None), **kwargs}
        )
        prompts = [tok.decode(row, skip_special_tokens=True) for row in input_ids]
        for prompt in prompts:
            fw.check_prompt(prompt, **context)
        wants_dict = kwargs.get("return_dict_in_generate", False)
        score = self._scores and int(kwargs.get("num_beams") or 1) == 1
        if score:
            kwargs.update(output_logits=True, return_dict_in_generate=True)
        stops = _eos_ids(self.model, kwargs)
        width = input_ids.shape[-1]
        per_prompt = int(kwargs.get("num_return_sequences") or 1)

        if target is None:
            out = self._generate(input_ids, **kwargs)
            sequences = out.sequences if hasattr(out, "sequences") else out
            safe = []
            for row in range(sequences.shape[0]):
                new, logprobs = _new_tokens(out, row, width, stops, score)
                raw = tok.decode(new, skip_special_tokens=True)
                found = memorisation_scores(logprobs, raw)
                safe.append(fw.scan(raw, prompt=prompts[row // per_prompt], scores=found, **context).text)
        else:
            relay = Relay(tok, getattr(target.streamer, "decode_kwargs", {}))
            extra: dict[str, float] = {}
            scanning = Scanning(fw, relay, target, prompts[0], {**context, "scores": extra})
            kwargs["stopping_criteria"] = with_stop(kwargs.get("stopping_criteria"), scanning.stop)
            with scanning:
                out = self._generate(input_ids, streamer=relay, **kwargs)
                if score:
                    new, logprobs = _new_tokens(out, 0, width, stops, score)
                    extra.update(memorisation_scores(logprobs, tok.decode(new, skip_special_tokens=True)))
            safe = [scanning.text]
        sequences = _encode(tok, input_ids, safe, per_prompt)
        return type(out)(sequences=sequences) if wants_dict else sequences


class GuardedPipeline:
    """A text-generation pipeline, guarded; call it like the pipeline. Other attributes are the pipeline's."""

    def __init__(self, fw: Firewall, pipe: Any, options: Options, scores: bool) -> None:
        self.fw, self.pipe = fw, pipe
        self._options, self._scores = options, scores

    def __getattr__(self, name: str) -> Any:
        if name == "pipe":
            raise AttributeError(name)
        return getattr(self.pipe, name)

    def __call__(self, text_inputs: Any, **kwargs: Any) -> Any:
        with _target(kwargs.pop("streamer", None)) as target:  # a refused call still ends the caller's streamer
            return self._call(text_inputs, target, kwargs)

    def _call(self, text_inputs: Any, target: Target | None, kwargs: dict[str, Any]) -> Any:
        fw = self.fw
        if kwargs.get("return_tensors") or kwargs.get("return_text") is False:
            raise ValueError("a guarded pipeline returns text only: token ids cannot be scanned")
        single = isinstance(text_inputs, str) or _is_chat(text_inputs)
        if target is not None:
            target.check(1 if single else None)
            if not single:
                raise ValueError("streamers take one prompt at a time")
        context = self._options.context({"text_inputs": text_inputs, **kwargs})
        inputs = [text_inputs] if single else list(text_inputs)
        prompts = [_prompt_text(i) for i in inputs]
        for prompt in prompts:
            fw.check_prompt(prompt, **context)
        full_text = kwargs.get("return_full_text", self._full_text_default())

        scanned: Callable[[str, int], str]
        if target is None:
            outputs = self.pipe(text_inputs, **kwargs)

            def scanned(raw: str, index: int) -> str:
                return fw.scan(raw, prompt=prompts[index], scores=self._score(raw), **context).text

        else:
            skip = {"skip_special_tokens": kwargs.get("skip_special_tokens", True)}
            relay = Relay(self.pipe.tokenizer, skip)
            extra: dict[str, float] = {}
            scanning = Scanning(fw, relay, target, prompts[0], {**context, "scores": extra})
            kwargs["stopping_criteria"] = with_stop(kwargs.get("stopping_criteria"), scanning.stop)
            with scanning:
                outputs = self.pipe(text_inputs, streamer=relay, **kwargs)
                extra.update(self._score(relay.raw_text))

            def scanned(raw: str, index: int) -> str:
                # The text was scanned once, as it streamed: the record holds what the streamer got,
                # even where the pipeline decoded the same tokens a little differently (the relay
                # decodes the new tokens alone). Scanning the record too would be a second event
                # and a second quota debit for one generation.
                return scanning.text

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
        return memorisation_scores(token_logprobs(_LM(self.pipe.model, self.pipe.tokenizer), raw), raw)


def _bind(scanned: Callable[[str, int], str], index: int) -> Callable[[str], str]:
    return lambda raw: scanned(raw, index)


@dataclass(frozen=True)
class _LM:
    """What `firewall.memorization.token_logprobs` needs of a loaded model."""

    model: Any
    tokenizer: Any


def _new_tokens(out: Any, row: int, width: int, stops: set[int], score: bool) -> tuple[list[int], list[float]]:
    """Row `row`'s generated token ids up to its first end-of-sequence token (one of `stops`), and
    (when scoring) each one's log-probability under the raw logits."""
    sequences = out.sequences if hasattr(out, "sequences") else out
    ids = sequences[row, width:].tolist()
    length = next((i for i, t in enumerate(ids) if t in stops), len(ids))
    logprobs = []
    if score and length and out.logits:  # length 0: the first token ended the answer; nothing to score
        steps = torch.stack([step[row] for step in out.logits[:length]]).float()
        picked = torch.log_softmax(steps, dim=-1).gather(-1, torch.tensor(ids[:length]).unsqueeze(-1))
        logprobs = picked.squeeze(-1).tolist()
    return ids[:length], logprobs


def _eos_ids(model: Any, kwargs: Mapping[str, Any]) -> set[int]:
    """The ids generate() ends a row at: the call's `eos_token_id`, else its `generation_config`'s,
    else the model's generation config's, else its config's (generate's own order)."""
    candidates = (
        kwargs.get("eos_token_id"),
        getattr(kwargs.get("generation_config"), "eos_token_id", None),
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
        getattr(model.config, "eos_token_id", None),
    )
    eos = next((c for c in candidates if c is not None), None)
    if isinstance(eos, torch.Tensor):
        eos = eos.tolist()
    return set(eos if isinstance(eos, list | tuple) else [] if eos is None else [eos])


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
