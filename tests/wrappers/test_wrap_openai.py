"""`fw.wrap_openai`: the real openai SDK against a loopback OpenAI-compatible server. Completions,
streams (a leak split across SSE events), n > 1, blocks, quotas as the SDK's RateLimitError,
scoring requests refused, log-probs hardened, async clients and the Responses API. Every test
that checks the guarded output first shows the server really sent the leak."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response

from firewall import Firewall
from firewall.policy import Policy
from firewall.testing import capture_events
from firewall.wrappers.openai import AsyncGuardedOpenAI, GuardedOpenAI
from tests.conftest import KEY
from tests.wrappers.openai_server import LoopbackOpenAI
from tests.wrappers.texts import SECRET, TOKEN_CANARY

CANARY = TOKEN_CANARY
RAW = (CANARY, SECRET)
LEAK = f"Sure. The support code is {CANARY} and the key is {SECRET}. Anything else?"
# The leak cut across SSE events mid-canary and mid-key: no single event holds either.
PIECES = [LEAK[:30], LEAK[30:41], LEAK[41:70], LEAK[70:75], LEAK[75:]]
MESSAGES = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "What is the code?"}]


def client_for(server: LoopbackOpenAI, *, asynchronous: bool = False) -> Any:
    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return cls(base_url=server.base_url, api_key="sk-loopback-test", max_retries=0)


def visible(obj: Any) -> str:
    """Everything a caller could read from SDK objects: their full JSON."""
    items = obj if isinstance(obj, list) else [obj]
    return "\n".join(i.model_dump_json() for i in items)


def firewall(policy: Policy, **changes: Any) -> Firewall:
    return Firewall(dataclasses.replace(policy, **changes), events=False, key=KEY)


@pytest.fixture
def guarded(fw: Firewall, openai_server: LoopbackOpenAI) -> Iterator[GuardedOpenAI]:
    with fw.wrap_openai(client_for(openai_server), principal="svc-a") as client:
        yield client


def test_the_unguarded_client_receives_the_leak(openai_server: LoopbackOpenAI) -> None:
    """The baseline every other test relies on: the server really sends the raw values."""
    openai_server.script(*PIECES)
    openai_server.script(*PIECES)
    with client_for(openai_server) as client:
        whole = client.chat.completions.create(model="m", messages=MESSAGES)
        chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True))

    assert whole.choices[0].message.content == LEAK
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == LEAK
    assert not any(
        raw in c.choices[0].delta.content for raw in RAW for c in chunks if c.choices and c.choices[0].delta.content
    )


def test_a_completion_is_scanned_and_keeps_its_type(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    openai_server.script(*PIECES)
    with capture_events(fw) as events:
        completion = guarded.chat.completions.create(model="gpt-x", messages=MESSAGES)

    assert isinstance(completion, ChatCompletion)
    assert completion.choices[0].message.content == fw.scan(LEAK).text
    assert "[CANARY]" in completion.choices[0].message.content
    assert not any(raw in visible(completion) for raw in RAW)
    assert (completion.id, completion.model, completion.usage.total_tokens) == ("chatcmpl-loopback", "gpt-x", 12)
    (event,) = events
    assert (event.kind, event.principal, event.model, event.source) == ("verdict", "svc-a", "gpt-x", "openai")
    assert event.labels == ["CANARY", "SECRET"] and event.prompt == "What is the code?"
    assert not any(raw in repr(event) for raw in RAW)


def test_a_leak_split_across_sse_events_is_caught(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    openai_server.script(*PIECES)
    with capture_events(fw) as events:
        stream = guarded.chat.completions.create(
            model="gpt-x", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)

    assert isinstance(stream, openai.Stream)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fw.scan(LEAK).text
    assert not any(raw in visible(chunks) for raw in RAW)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 12  # usage stays last
    (event,) = events
    assert (event.labels, event.chunks, event.principal) == (["CANARY", "SECRET"], len(PIECES), "svc-a")


def test_a_finish_in_the_last_text_chunk_and_tool_calls_keep_their_place(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    openai_server.script(*PIECES, finish_with_text=True, tool_call=True)
    chunks = list(guarded.chat.completions.create(model="m", messages=MESSAGES, stream=True))

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == fw.scan(LEAK).text
    finishes = [i for i, c in enumerate(chunks) if c.choices[0].finish_reason]
    assert finishes == [len(chunks) - 1]  # once, after the last text
    calls = [c.choices[0].delta.tool_calls for c in chunks if c.choices[0].delta.tool_calls]
    assert [call[0].function.name for call in calls] == ["lookup"]  # passed through, before the held-back text
    assert not any(raw in visible(chunks) for raw in RAW)


def test_stopping_early_closes_the_stream_and_releases_no_held_back_text(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    filler = "This sentence is ordinary filler text for the test. " * 40  # longer than the hold-back
    openai_server.script(filler, CANARY[:10], CANARY[10:], " and more text.")
    with capture_events(fw) as events:
        with guarded.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
            seen = [next(stream), next(stream)]  # the role chunk, then released filler text
        assert stream.response.is_closed

    text = "".join(c.choices[0].delta.content or "" for c in seen)
    assert text and filler.startswith(text)
    assert CANARY[:5] not in text
    assert len(events) == 1  # the stopped stream still produced its event


def test_each_of_n_choices_is_scanned_streamed_or_not(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    benign = ["Nothing ", "secret ", "here."]
    openai_server.script(choices=[PIECES, benign])
    openai_server.script(choices=[PIECES, benign])
    with capture_events(fw) as events:
        whole = guarded.chat.completions.create(model="m", messages=MESSAGES, n=2)
        chunks = list(guarded.chat.completions.create(model="m", messages=MESSAGES, n=2, stream=True))

    assert [c.message.content for c in whole.choices] == [fw.scan(LEAK).text, "Nothing secret here."]
    streamed = {
        i: "".join(c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].index == i)
        for i in (0, 1)
    }
    assert streamed == {0: fw.scan(LEAK).text, 1: "Nothing secret here."}
    finishes = [
        (c.choices[0].index, c.choices[0].finish_reason) for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert sorted(finishes) == [(0, "stop"), (1, "stop")]
    assert [e.labels for e in events] == [["CANARY", "SECRET"], [], ["CANARY", "SECRET"], []]


def test_a_blocked_stream_ends_with_the_refusal_and_content_filter(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    openai_server.script("Here it is:\n", "-----BEGIN RSA PRIVATE KEY-----\n", *["MIIEowIBAAKCAQEA" * 4 + "\n"] * 40)
    with capture_events(fw) as events:
        stream = guarded.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "private-key-block" in text and "MIIE" not in visible(chunks)
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert stream.response.is_closed
    assert events[0].action == "block"


def test_a_blocked_completion_says_content_filter(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    openai_server.script(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7Zx2mLp7RtXk9fQ2Wm5Nv9Xc3Bt7Hy1\n-----END RSA PRIVATE KEY-----"
    )
    completion = guarded.chat.completions.create(model="m", messages=MESSAGES)

    assert completion.choices[0].finish_reason == "content_filter"
    assert "MIIE" not in visible(completion)


def test_quota_refusals_are_the_sdks_rate_limit_error(policy: Policy, openai_server: LoopbackOpenAI) -> None:
    fw = firewall(policy, quotas={"storage": "memory://", "requests": "1/minute"})
    client = fw.wrap_openai(client_for(openai_server), principal=lambda request: request.get("user"))
    with capture_events(fw) as events:
        client.chat.completions.create(model="m", messages=MESSAGES, user="alice")
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model="m", messages=MESSAGES, user="alice")
        client.chat.completions.create(model="m", messages=MESSAGES, user="bob")

    error = refused.value
    assert error.status_code == 429 and error.code == "rate_limit_exceeded"
    assert 0 < int(error.response.headers["retry-after"]) <= 60 and int(error.response.headers["retry-after-ms"]) > 0
    assert "requests 1/minute" in error.message
    assert [b.get("user") for _, b in openai_server.requests] == ["alice", "bob"]  # refused before the model
    assert [(e.kind, e.principal) for e in events] == [("verdict", "alice"), ("quota", "alice"), ("verdict", "bob")]
    client.close()
    fw.close()


def test_scoring_requests_are_refused_as_bad_requests(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    with capture_events(fw) as events, pytest.raises(openai.BadRequestError) as refused:
        guarded.chat.completions.create(model="m", messages=MESSAGES, logprobs=True, logit_bias={"50256": 100})

    assert refused.value.status_code == 400 and "logit_bias" in refused.value.message
    assert openai_server.requests == []
    assert [(e.kind, e.action, e.model) for e in events] == [("refused", "block", "m")]
    assert "logit_bias" in (events[0].message or "")


def test_log_probabilities_are_stripped_by_default(guarded: GuardedOpenAI, openai_server: LoopbackOpenAI) -> None:
    openai_server.script("Hello", " there")
    completion = guarded.chat.completions.create(model="m", messages=MESSAGES, logprobs=True, top_logprobs=2)

    assert completion.choices[0].logprobs is None
    assert "logprobs" not in openai_server.requests[0][1] and "top_logprobs" not in openai_server.requests[0][1]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_log_probabilities_are_hardened_and_withheld_for_changed_text(
    policy: Policy, openai_server: LoopbackOpenAI, stream: bool
) -> None:
    fw = firewall(policy, hardening={"mode": "top_k", "k": 1})
    benign = ["Hello", " there", ", friend."]
    openai_server.script(choices=[benign, PIECES])
    client = fw.wrap_openai(client_for(openai_server))
    with capture_events(fw) as events:
        result = client.chat.completions.create(
            model="m", messages=MESSAGES, n=2, logprobs=True, top_logprobs=3, stream=stream
        )
        if stream:
            chunks = list(result)
            logprobs = {
                c.choices[0].index: c.choices[0].logprobs for c in chunks if c.choices and c.choices[0].finish_reason
            }
            assert not any(c.choices[0].logprobs for c in chunks if c.choices and not c.choices[0].finish_reason)
        else:
            logprobs = {c.index: c.logprobs for c in result.choices}

    assert openai_server.requests[0][1]["top_logprobs"] == 1  # sanitised: the server computes no more than released
    assert [e.token for e in logprobs[0].content] == benign
    assert all(len(e.top_logprobs) <= 1 for e in logprobs[0].content)
    assert logprobs[1] is None  # the firewall changed choice 1: its tokens would spell the canary
    assert not any(raw in visible(chunks if stream else result) for raw in RAW)
    scores = {tuple(e.labels): e.scores for e in events}
    assert set(scores[()]) == {"min_k", "zlib_ratio"} and scores[()]["min_k"] < 0
    client.close()
    fw.close()


async def test_async_client_completion_and_stream(fw: Firewall, openai_server: LoopbackOpenAI) -> None:
    openai_server.script(*PIECES)
    openai_server.script(*PIECES)
    async with fw.wrap_openai(client_for(openai_server, asynchronous=True), principal=lambda r: "async-user") as client:
        assert isinstance(client, AsyncGuardedOpenAI)
        with capture_events(fw) as events:
            completion = await client.chat.completions.create(model="m", messages=MESSAGES)
            async with await client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
                assert isinstance(stream, openai.AsyncStream)
                chunks = [c async for c in stream]

    assert isinstance(completion, ChatCompletion) and completion.choices[0].message.content == fw.scan(LEAK).text
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == fw.scan(LEAK).text
    assert not any(raw in visible([completion, *chunks]) for raw in RAW)
    assert [(e.labels, e.principal) for e in events] == [(["CANARY", "SECRET"], "async-user")] * 2


async def test_async_quota_refusal(policy: Policy, openai_server: LoopbackOpenAI) -> None:
    fw = firewall(policy, quotas={"storage": "memory://", "requests": "1/minute"})
    async with fw.wrap_openai(client_for(openai_server, asynchronous=True), principal="carol") as client:
        await client.responses.create(model="m", input="hi")
        with pytest.raises(openai.RateLimitError):
            await client.responses.create(model="m", input="hi")
    await fw.aclose()


def test_responses_api_whole_and_streamed(fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI) -> None:
    openai_server.script(*PIECES)
    openai_server.script(*PIECES)
    with capture_events(fw) as events:
        response = guarded.responses.create(model="m", input="What is the code?")
        stream_events = list(
            guarded.responses.create(model="m", input=[{"role": "user", "content": "Code?"}], stream=True)
        )

    safe = fw.scan(LEAK).text
    assert isinstance(response, Response) and response.output_text == safe
    kinds = [e.type for e in stream_events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert "".join(e.delta for e in stream_events if e.type == "response.output_text.delta") == safe
    assert stream_events[-4].text == safe and stream_events[-1].response.output_text == safe
    assert [e.sequence_number for e in stream_events] == list(range(len(stream_events)))
    assert not any(raw in visible([response, *stream_events]) for raw in RAW)
    assert [(e.labels, e.prompt) for e in events] == [
        (["CANARY", "SECRET"], "What is the code?"),
        (["CANARY", "SECRET"], "Code?"),
    ]


def test_a_blocked_response_is_incomplete_and_its_stream_stops(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    key = ["Here it is:\n", "-----BEGIN RSA PRIVATE KEY-----\n", *["MIIEowIBAAKCAQEA" * 4 + "\n"] * 40]
    openai_server.script(*key)
    openai_server.script(*key)
    response = guarded.responses.create(model="m", input="Print the key.")
    stream = guarded.responses.create(model="m", input="Print the key.", stream=True)
    events = list(stream)

    assert response.status == "incomplete" and response.incomplete_details.reason == "content_filter"
    assert "private-key-block" in response.output_text
    kinds = [e.type for e in events]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    assert events[-1].response.incomplete_details.reason == "content_filter"
    assert events[-1].response.output_text == events[-4].text and "private-key-block" in events[-4].text
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert stream.response.is_closed
    assert "MIIE" not in visible([response, *events])


def test_only_what_returns_no_model_output_passes_through(fw: Firewall, guarded: GuardedOpenAI) -> None:
    """An allow-list: stored conversations, evals, batches, a file's content or a raw request would
    hand back model output that nothing scanned."""
    for path in ("with_raw_response", "completions", "beta", "conversations", "evals", "batches", "post", "_client"):
        with pytest.raises(AttributeError, match=r"not available through the outguard wrapper.*`\.unguarded`"):
            getattr(guarded, path)
    for name in ("content", "retrieve_content", "with_raw_response"):
        with pytest.raises(AttributeError, match=r"client\.files\." + name):
            getattr(guarded.files, name)
    for name in ("parse", "stream", "with_raw_response", "retrieve"):
        with pytest.raises(AttributeError, match="only create"):
            getattr(guarded.chat.completions, name)
    with pytest.raises(AttributeError, match="only create"):
        guarded.responses.input_items  # noqa: B018

    raw = guarded.unguarded
    assert guarded.models.list == raw.models.list and guarded.files.create == raw.files.create
    assert guarded.embeddings.create == raw.embeddings.create and guarded.moderations.create == raw.moderations.create
    assert guarded.api_key == "sk-loopback-test" and guarded.base_url == raw.base_url
    copy = guarded.with_options(timeout=5)
    assert isinstance(copy, GuardedOpenAI) and copy.unguarded.timeout == 5
    assert fw.wrap_openai(guarded).unguarded is guarded.unguarded  # wrapping twice does not scan twice


def test_a_principal_must_be_a_string_or_none(fw: Firewall, openai_server: LoopbackOpenAI) -> None:
    client = fw.wrap_openai(client_for(openai_server), principal=lambda request: request.get("metadata"))

    with pytest.raises(TypeError, match="principal callable returned dict"):
        client.chat.completions.create(model="m", messages=MESSAGES, metadata={"user": "alice"})
    with pytest.raises(TypeError, match="principal must be a str"):
        fw.wrap_openai(client_for(openai_server), principal=42)
    assert openai_server.requests == []  # refused before the model was called
    client.close()


def test_a_responses_text_that_never_came_as_deltas_is_scanned_once(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    """Its done events, its item and the final response all carry it: one scan, one event."""
    openai_server.script(*PIECES, no_deltas=True)
    with capture_events(fw) as events:
        stream_events = list(guarded.responses.create(model="m", input="Code?", stream=True))

    safe = fw.scan(LEAK).text
    done = {e.type: e for e in stream_events}
    assert "response.output_text.delta" not in done
    assert done["response.output_text.done"].text == safe
    assert done["response.content_part.done"].part.text == safe
    assert done["response.output_item.done"].item.content[0].text == safe
    assert done["response.completed"].response.output_text == safe
    assert not any(raw in visible(stream_events) for raw in RAW)
    assert [e.labels for e in events] == [["CANARY", "SECRET"]]


def test_an_empty_responses_text_makes_no_event(
    fw: Firewall, guarded: GuardedOpenAI, openai_server: LoopbackOpenAI
) -> None:
    openai_server.script("")
    with capture_events(fw) as events:
        stream_events = list(guarded.responses.create(model="m", input="Code?", stream=True))

    assert stream_events[-1].type == "response.completed" and stream_events[-1].response.output_text == ""
    assert events == []  # as for chat: nothing was said, nothing to record


LOGPROBS, ENCRYPTED = "message.output_text.logprobs", "reasoning.encrypted_content"


@pytest.mark.parametrize(
    ("hardening", "sent_include", "sent_top", "sent_extra_include"),
    [
        pytest.param({"mode": "strip"}, [ENCRYPTED], None, None, id="strip"),
        pytest.param({"mode": "top_k", "k": 1}, [LOGPROBS, ENCRYPTED], 1, [LOGPROBS], id="top_k"),
    ],
)
def test_responses_ask_for_no_more_log_probabilities_than_released(
    policy: Policy,
    openai_server: LoopbackOpenAI,
    hardening: dict[str, Any],
    sent_include: list[str],
    sent_top: int | None,
    sent_extra_include: list[str] | None,
) -> None:
    """`include` asks the Responses API for the chosen tokens' log-probs; `strip` releases none."""
    fw = firewall(policy, hardening=hardening)
    client = fw.wrap_openai(client_for(openai_server))
    client.responses.create(model="m", input="hi", include=[LOGPROBS, ENCRYPTED], top_logprobs=3)
    client.responses.create(model="m", input="hi", extra_body={"include": [LOGPROBS]})

    (_, sent), (_, sent_extra) = openai_server.requests
    assert (sent.get("include"), sent.get("top_logprobs")) == (sent_include, sent_top)
    assert sent_extra.get("include") == sent_extra_include
    client.close()
    fw.close()
