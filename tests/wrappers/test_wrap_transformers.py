"""transformers, guarded: a tiny GPT-2 trained here (no model hub) on text holding a training canary
and a passage of the protected corpus reproduces both under greedy decoding from a prefix; through
`wrap_pipeline` / `wrap_generate`, whole or streamed (`TextStreamer`, `TextIteratorStreamer`), it
does not, and the events carry the memorisation scores of what it generated."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    StoppingCriteria,
    TextIteratorStreamer,
    TextStreamer,
    pipeline,
)

from firewall import Firewall, QuotaExceeded
from firewall.memorization import score_logprobs
from firewall.policy import Policy
from firewall.testing import capture_events
from firewall.wrappers.hf import wrap_generate, wrap_pipeline
from tests.conftest import KEY
from tests.wrappers.texts import MEMO_PROMPT, PASSAGE, PASSAGE_PROMPT, SENTENCE_CANARY

pytestmark = pytest.mark.slow

CANARY = SENTENCE_CANARY
LEAKED_PASSAGE = PASSAGE[len(PASSAGE_PROMPT) :].strip()  # what the model adds after the prompt
CANARY_PROMPT = MEMO_PROMPT
GREEDY = {"max_new_tokens": 40, "do_sample": False}


@dataclasses.dataclass(frozen=True)
class TinyLM:
    path: Path
    model: Any
    tokenizer: Any


@pytest.fixture(scope="module")
def tiny(tiny_lm_dir: Path) -> TinyLM:
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm_dir, local_files_only=True)
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"  # plain text turns
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir, local_files_only=True)
    model.eval()
    return TinyLM(tiny_lm_dir, model, tokenizer)


@pytest.fixture
def fw(policy: Policy) -> Iterator[Firewall]:
    """Quotas off: a model leaking on purpose, call after call, soon gets its principal blocked
    for the violations (which tests/firewall/test_quota_firewall.py checks)."""
    firewall = Firewall(dataclasses.replace(policy, quotas=None), events=False, key=KEY)
    yield firewall
    firewall.close()


@pytest.fixture
def generator(tiny: TinyLM) -> Any:
    return pipeline("text-generation", model=tiny.model, tokenizer=tiny.tokenizer)


def inputs(tiny: TinyLM, prompt: str) -> dict[str, torch.Tensor]:
    return dict(tiny.tokenizer(prompt, return_tensors="pt"))


def new_text(tiny: TinyLM, ids: torch.Tensor, prompt: str) -> str:
    return tiny.tokenizer.decode(ids[0, inputs(tiny, prompt)["input_ids"].shape[1] :], skip_special_tokens=True)


def test_unguarded_generation_leaks_the_canary_and_the_passage(tiny: TinyLM, generator: Any) -> None:
    """The baseline the other tests rely on."""
    canary_out = new_text(tiny, tiny.model.generate(**inputs(tiny, CANARY_PROMPT), **GREEDY), CANARY_PROMPT)
    passage_out = generator(PASSAGE_PROMPT, **GREEDY)[0]["generated_text"]

    assert CANARY in canary_out
    assert LEAKED_PASSAGE in passage_out


def test_a_guarded_pipeline_returns_scanned_records(fw: Firewall, tiny: TinyLM, generator: Any) -> None:
    guarded = wrap_pipeline(fw, generator, principal="svc-hf")
    with capture_events(fw) as events:
        full = guarded(CANARY_PROMPT, **GREEDY)
        new_only = guarded(PASSAGE_PROMPT, return_full_text=False, **GREEDY)
        batch = guarded([CANARY_PROMPT, PASSAGE_PROMPT], **GREEDY)

    assert full[0]["generated_text"].startswith(CANARY_PROMPT + " [CANARY]")  # the prompt part stays the prompt
    assert new_only[0]["generated_text"].startswith(" [protected: apache-2.0 §6]")
    assert [len(group) for group in batch] == [1, 1] and batch[0] == full
    assert not any(raw in repr([full, new_only, batch]) for raw in (CANARY, LEAKED_PASSAGE))
    assert [e.labels for e in events] == [["CANARY"], ["PROTECTED"], ["CANARY"], ["PROTECTED"]]
    assert {(e.principal, e.source, e.model) for e in events} == {("svc-hf", "transformers", str(tiny.path))}
    assert events[0].prompt == CANARY_PROMPT


def test_each_returned_sequence_and_chat_answers_are_scanned(fw: Firewall, tiny: TinyLM, generator: Any) -> None:
    guarded = wrap_pipeline(fw, generator)
    chat = [{"role": "user", "content": CANARY_PROMPT}]
    with capture_events(fw) as events:
        beams = guarded(CANARY_PROMPT, num_beams=2, num_return_sequences=2, max_new_tokens=30, do_sample=False)
        answer = guarded(chat, **GREEDY)

    assert len(beams) == 2 and all(CANARY not in r["generated_text"] for r in beams)
    assert answer[0]["generated_text"][:-1] == chat
    assert answer[0]["generated_text"][-1]["role"] == "assistant"
    assert "[CANARY]" in answer[0]["generated_text"][-1]["content"] and CANARY not in repr(answer)
    assert len(events) == 3


def test_a_pipeline_streamer_prints_only_scanned_text(
    fw: Firewall, tiny: TinyLM, generator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    guarded = wrap_pipeline(fw, generator, scores=True)
    with capture_events(fw) as events:
        records = guarded(CANARY_PROMPT, streamer=TextStreamer(tiny.tokenizer, skip_prompt=True), **GREEDY)
    printed = capsys.readouterr().out

    assert "[CANARY]" in printed and CANARY not in printed
    assert records[0]["generated_text"] == CANARY_PROMPT + printed.rstrip("\n")
    (event,) = events
    assert event.labels == ["CANARY"] and event.chunks and event.chunks > 1
    assert set(event.scores) == {"min_k", "zlib_ratio"}


def test_guarded_generate_returns_the_ids_of_scanned_text_with_scores(fw: Firewall, tiny: TinyLM) -> None:
    generate = wrap_generate(fw, tiny.model, tiny.tokenizer)
    prompt = inputs(tiny, CANARY_PROMPT)
    with capture_events(fw) as events:
        ids = generate(**prompt, **GREEDY)
        output = generate(**prompt, return_dict_in_generate=True, **GREEDY)

    text = new_text(tiny, ids, CANARY_PROMPT)
    assert "[CANARY]" in text and CANARY not in text
    assert torch.equal(ids[0, : prompt["input_ids"].shape[1]], prompt["input_ids"][0])
    assert torch.equal(output.sequences, ids) and output.logits is None  # raw-token logits are not returned

    # The event's scores are those of the generated tokens under the model, given the prompt.
    raw = tiny.model.generate(**prompt, **GREEDY)[0, prompt["input_ids"].shape[1] :]
    raw = (
        raw[: (raw == tiny.tokenizer.eos_token_id).nonzero()[0, 0]]
        if (raw == tiny.tokenizer.eos_token_id).any()
        else raw
    )
    with torch.no_grad():
        logits = tiny.model(torch.cat([prompt["input_ids"][0], raw]).unsqueeze(0)).logits[0]
    start = prompt["input_ids"].shape[1] - 1
    expected = torch.log_softmax(logits[start : start + len(raw)], -1).gather(-1, raw.unsqueeze(-1)).squeeze(-1)
    score = score_logprobs(expected.tolist(), tiny.tokenizer.decode(raw, skip_special_tokens=True))
    assert events[0].labels == ["CANARY"]
    assert math.isclose(events[0].scores["min_k"], score.min_k, abs_tol=1e-4)
    assert math.isclose(events[0].scores["zlib_ratio"], score.zlib_ratio, rel_tol=1e-4)


def test_generate_with_a_text_streamer_never_prints_unscanned_text(
    fw: Firewall, tiny: TinyLM, capsys: pytest.CaptureFixture[str]
) -> None:
    generate = wrap_generate(fw, tiny.model, tiny.tokenizer)
    with capture_events(fw) as events:
        ids = generate(
            **inputs(tiny, PASSAGE_PROMPT), streamer=TextStreamer(tiny.tokenizer, skip_special_tokens=True), **GREEDY
        )
    printed = capsys.readouterr().out

    assert printed.startswith(PASSAGE_PROMPT + " [protected: apache-2.0 §6]")  # skip_prompt=False: prompt first
    assert LEAKED_PASSAGE not in printed
    assert tiny.tokenizer.decode(ids[0], skip_special_tokens=True) == printed.rstrip("\n")
    assert events[0].labels == ["PROTECTED"] and set(events[0].scores) == {"min_k", "zlib_ratio"}


def test_generate_in_a_thread_with_a_text_iterator_streamer(fw: Firewall, tiny: TinyLM) -> None:
    generate = wrap_generate(fw, tiny.model, tiny.tokenizer)
    streamer = TextIteratorStreamer(tiny.tokenizer, skip_prompt=True, timeout=60)
    with capture_events(fw) as events:
        thread = threading.Thread(
            target=generate, kwargs={**inputs(tiny, CANARY_PROMPT), "streamer": streamer, **GREEDY}
        )
        thread.start()
        pieces = list(streamer)
        thread.join()

    assert "".join(pieces).startswith(" [CANARY]") and CANARY not in "".join(pieces)
    assert events[0].labels == ["CANARY"]


# -- the streaming machinery with a scripted model: blocks stop generation, failures end streams --------


class ScriptedModel:
    """Stands in for a causal LM: `generate` streams `text` one line per step (all of a line's
    tokens at once) and, after each step, gives the stopping criteria up to `patience` seconds
    to say stop before going on (the firewall decides in its own thread)."""

    def __init__(self, tokenizer: Any, text: str, fail_after: int | None = None, patience: float = 0.0) -> None:
        self.config = type("Config", (), {"is_encoder_decoder": False, "eos_token_id": tokenizer.eos_token_id})()
        self.name_or_path = "scripted"
        self.lines = [tokenizer.encode(line, add_special_tokens=False) for line in text.splitlines(keepends=True)]
        self._fail_after, self._patience = fail_after, patience
        self.steps = 0

    def generate(
        self, input_ids: torch.Tensor, streamer: Any = None, stopping_criteria: Any = (), **kwargs: Any
    ) -> Any:
        streamer = streamer or SimpleNamespace(put=lambda value: None, end=lambda: None)
        streamer.put(input_ids)
        sequence = input_ids
        for step, ids in enumerate(self.lines):
            if step == self._fail_after:
                raise RuntimeError("device lost")
            sequence = torch.cat([sequence, torch.tensor([ids])], dim=1)
            streamer.put(torch.tensor(ids))
            self.steps += 1
            if self._stopped(stopping_criteria, sequence):
                break
        streamer.end()
        return sequence

    def _stopped(self, criteria: Any, sequence: torch.Tensor) -> bool:
        pause = threading.Event()
        for _ in range(max(1, int(self._patience / 0.001))):
            if any(bool(c(sequence, None).all()) for c in criteria):
                return True
            pause.wait(0.001)
        return False


class CountSteps(StoppingCriteria):
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return torch.zeros(input_ids.shape[0], dtype=torch.bool)


def test_a_blocked_stream_stops_generation(fw: Firewall, tiny: TinyLM) -> None:
    body = "-----BEGIN RSA PRIVATE KEY-----\n" + "MIIEowIBAAKCAQEA\n" * 800
    model = ScriptedModel(tiny.tokenizer, body, patience=0.02)
    streamer = TextIteratorStreamer(tiny.tokenizer, skip_prompt=True, timeout=60)
    generate = wrap_generate(fw, model, tiny.tokenizer, scores=False)
    counter = CountSteps()
    thread = threading.Thread(
        target=generate, kwargs={**inputs(tiny, "Print the key."), "streamer": streamer, "stopping_criteria": [counter]}
    )
    thread.start()
    text = "".join(streamer)
    thread.join()

    assert "private-key-block" in text and "MIIE" not in text
    # stopped soon after the firewall decided: one rule width (about 4 KB, line 230) after BEGIN
    assert model.steps < len(model.lines) / 2
    assert counter.calls >= 1  # the caller's own stopping criteria still run


def test_a_failing_generation_still_ends_the_callers_streamer(fw: Firewall, tiny: TinyLM) -> None:
    model = ScriptedModel(tiny.tokenizer, "Ordinary words, nothing more.\n" * 5, fail_after=3)
    streamer = TextIteratorStreamer(tiny.tokenizer, skip_prompt=True, timeout=60)
    generate = wrap_generate(fw, model, tiny.tokenizer, scores=False)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            generate(**inputs(tiny, "Say something."), streamer=streamer)
        except RuntimeError as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    pieces = list(streamer)  # would hang forever if the streamer were never ended
    thread.join()

    assert [str(f) for f in failures] == ["device lost"]
    assert "".join(pieces) == "Ordinary words, nothing more.\n" * 3  # what came before the failure, scanned


def test_token_ids_and_token_streamers_are_refused(fw: Firewall, tiny: TinyLM, generator: Any) -> None:
    class TokenStreamer:
        def put(self, value: Any) -> None: ...
        def end(self) -> None: ...

    with pytest.raises(ValueError, match="token ids cannot be scanned"):
        wrap_pipeline(fw, generator)(CANARY_PROMPT, return_tensors=True)
    with pytest.raises(TypeError, match="TextStreamer"):
        wrap_generate(fw, tiny.model, tiny.tokenizer)(**inputs(tiny, CANARY_PROMPT), streamer=TokenStreamer())


# -- refused calls end the caller's streamer; answers that end early; one scan per generated text ------


@pytest.fixture
def one_request_a_minute(policy: Policy) -> Iterator[Firewall]:
    firewall = Firewall(
        dataclasses.replace(policy, quotas={"storage": "memory://", "requests": "1/minute"}), events=False, key=KEY
    )
    yield firewall
    firewall.close()


@pytest.mark.parametrize("refusal", ["quota", "principal", "batch"])
def test_a_call_refused_before_generation_still_ends_the_callers_streamer(
    one_request_a_minute: Firewall, tiny: TinyLM, refusal: str
) -> None:
    """The README's pattern (generation in a thread, `for text in streamer` in yours, no timeout)
    would wait forever on a streamer that the refused call never ended."""
    model = ScriptedModel(tiny.tokenizer, "Ordinary words.\n")
    principal: Any = (lambda call: 42) if refusal == "principal" else "svc-hf"
    generate = wrap_generate(one_request_a_minute, model, tiny.tokenizer, principal=principal, scores=False)
    prompt = inputs(tiny, "Say something.")
    if refusal == "quota":
        generate(**prompt)  # the minute's one request
    if refusal == "batch":
        prompt = {"input_ids": prompt["input_ids"].repeat(2, 1)}
    streamer = TextIteratorStreamer(tiny.tokenizer, skip_prompt=True, timeout=5)  # raises queue.Empty, not hangs
    expected = {"quota": QuotaExceeded, "principal": TypeError, "batch": ValueError}[refusal]
    steps_before = model.steps

    with pytest.raises(expected):
        generate(**prompt, streamer=streamer)

    assert "".join(streamer) == ""
    assert model.steps == steps_before  # refused before generation


def test_a_pipeline_call_refused_before_generation_still_ends_the_callers_streamer(
    fw: Firewall, tiny: TinyLM, generator: Any
) -> None:
    guarded = wrap_pipeline(fw, generator, principal=lambda call: call.get("text_inputs").split())
    streamer = TextIteratorStreamer(tiny.tokenizer, skip_prompt=True, timeout=5)

    with pytest.raises(TypeError, match="principal callable returned list"):
        guarded(CANARY_PROMPT, streamer=streamer, **GREEDY)

    assert "".join(streamer) == ""


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_an_answer_ended_by_its_first_token_is_scanned_not_a_crash(
    fw: Firewall, tiny: TinyLM, streamed: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scoring an empty answer (its first token is the end-of-sequence token) has no logits to stack."""
    model = AutoModelForCausalLM.from_pretrained(tiny.path, local_files_only=True).eval()  # its own: changed here
    prompt = inputs(tiny, CANARY_PROMPT)
    width = prompt["input_ids"].shape[1]
    model.generation_config.eos_token_id = int(model.generate(**prompt, max_new_tokens=1, do_sample=False)[0, width])
    generate = wrap_generate(fw, model, tiny.tokenizer)  # scores on
    streamer = TextStreamer(tiny.tokenizer, skip_prompt=True) if streamed else None
    with capture_events(fw) as events:
        ids = generate(**prompt, streamer=streamer, **GREEDY)

    (event,) = events
    assert event.scores == {} and event.labels == []
    if not streamed:
        assert torch.equal(ids, prompt["input_ids"])  # nothing before the end-of-sequence token


@pytest.mark.parametrize("how", ["eos_token_id", "generation_config"])
def test_a_call_time_end_of_sequence_token_ends_the_answer(fw: Firewall, tiny: TinyLM, how: str) -> None:
    prompt = inputs(tiny, CANARY_PROMPT)
    width = prompt["input_ids"].shape[1]
    answer = tiny.model.generate(**prompt, **GREEDY)[0, width:].tolist()
    at = next(i for i in range(2, len(answer)) if answer[i] not in answer[:i])  # a token's first appearance
    stop = {"eos_token_id": answer[at]}
    call = {**stop, **GREEDY} if how == "eos_token_id" else {"generation_config": GenerationConfig(**stop, **GREEDY)}
    generate = wrap_generate(fw, tiny.model, tiny.tokenizer)
    with capture_events(fw) as events:
        ids = generate(**prompt, **call)

    before_stop = tiny.tokenizer.decode(answer[:at], skip_special_tokens=True)
    assert new_text(tiny, ids, CANARY_PROMPT) == fw.scan(before_stop).text  # as for the model's own end token
    (event,) = events
    assert set(event.scores) == {"min_k", "zlib_ratio"}


class DecodesItsOwnWay:
    """A text-generation pipeline stand-in whose record decodes the answer a little differently
    from what its streamer received (pipelines decode prompt and answer together)."""

    def __init__(self, tokenizer: Any, streamed: str, recorded: str) -> None:
        self.model = SimpleNamespace(name_or_path="own-way")
        self.tokenizer = tokenizer
        self._streamed, self._recorded = streamed, recorded

    def __call__(self, text_inputs: str, streamer: Any, **kwargs: Any) -> list[dict[str, Any]]:
        streamer.put(torch.tensor([self.tokenizer.encode(text_inputs)]))
        streamer.put(torch.tensor(self.tokenizer.encode(self._streamed)))
        streamer.end()
        return [{"generated_text": text_inputs + self._recorded}]


def test_a_streamed_pipeline_text_is_scanned_once(
    policy: Policy, tiny: TinyLM, capsys: pytest.CaptureFixture[str]
) -> None:
    """One generation, one event and one quota debit, even when the record and the stream differ."""
    fw = Firewall(
        dataclasses.replace(policy, quotas={"storage": "memory://", "tokens": "10000/minute"}), events=False, key=KEY
    )
    pipe = DecodesItsOwnWay(tiny.tokenizer, f" Note : {CANARY} Thanks .", f" Note: {CANARY} Thanks.")
    guarded = wrap_pipeline(fw, pipe, principal="svc-hf")
    with capture_events(fw) as events:
        (record,) = guarded(CANARY_PROMPT, streamer=TextStreamer(tiny.tokenizer, skip_prompt=True))
    printed = capsys.readouterr().out.rstrip("\n")

    assert [e.labels for e in events] == [["CANARY"]]
    assert record["generated_text"] == CANARY_PROMPT + printed and CANARY not in printed
    fw.close()
