"""`wrap_openai`: an OpenAI-compatible SDK client (`openai.OpenAI` / `openai.AsyncOpenAI`) whose
completions go through the firewall, with the SDK's own return types.

    client = fw.wrap_openai(OpenAI(), principal=lambda request: request.get("user"))
    completion = client.chat.completions.create(model="m", messages=[...])   # a ChatCompletion
    for chunk in client.chat.completions.create(model="m", messages=[...], stream=True): ...

What a guarded `chat.completions.create` / `responses.create` does, in order:

1. Refuses scoring requests (`echo` or `logit_bias` with log-probs, `prompt_logprobs`) with the
   SDK's `BadRequestError` (400), and asks the server for no more log-probs than the policy's
   `hardening:` releases (`firewall.hardening.sanitize_request`).
2. `Firewall.check_prompt` on the prompt (the last user message; a string `input`): quotas and
   extraction signals. `QuotaExceeded` becomes the SDK's `RateLimitError` (429) with
   `retry-after` / `retry-after-ms` headers, so existing retry code (the SDK's is for HTTP
   responses only) backs off as it would for the server's own 429.
3. Calls the real client with the sanitised arguments.
4. Scans every text: each choice's `content` and `refusal` (n > 1: each choice is one scan and
   one event), each Responses `output_text` / `refusal` part. A blocked choice reads the policy's
   refusal and gets `finish_reason="content_filter"`; a blocked Responses part makes the response
   `incomplete` (reason `content_filter`). Log-probs are hardened by the policy, and
   withheld for a text the firewall changed (their tokens would spell out what it removed); when
   present, their Min-K% and zlib scores go into the event's `scores`.

Streams (`stream=True`) come back as `openai.Stream` / `openai.AsyncStream` subclasses of the
same chunk or event types (iteration, `with`, `close()`), through one `Firewall.stream` per text.
The firewall holds back text that a later chunk could still change, so **chunk boundaries
differ** from the server's: the text arrives later, in fewer, larger chunks; non-text chunks
(role, tool calls, usage) keep their order, and a choice's finish chunk (carrying its hardened
log-probs) or a part's `*.done` event comes after its last text. Responses stream events are
renumbered (`sequence_number`) in their new order. A blocked stream ends with the refusal and
stops reading (the connection is closed): chat once every choice is blocked, with
`finish_reason="content_filter"`; Responses at the first blocked part, with the part's, its
item's and a `response.incomplete` (reason `content_filter`) closing event.

Not guarded, so not reachable through the wrapper (an `AttributeError` says so; the raw client is
`.unguarded`): the other methods of the guarded resources (`parse`, `stream`, `retrieve`, stored
completions...), `with_raw_response` / `with_streaming_response`, legacy `completions`, `beta`,
`realtime` and `live`. Everything else (`models`, `files`, `embeddings`...) is the client's own.
Tool-call arguments, reasoning summaries and audio transcripts are passed as they are.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import aclosing, closing
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import openai

from firewall.errors import QuotaExceeded
from firewall.hardening import Hardening, refuse_scoring_requests, sanitize_request
from firewall.wrappers._demux import Demux, Done, Key, scores_of
from firewall.wrappers._openai_apis import ChatCompletions, Responses

try:  # the SDK's HTTP library: httpx2 from openai 3 on, httpx before; errors carry its Response
    import httpx2 as _http
except ImportError:  # pragma: no cover - older SDKs
    import httpx as _http  # type: ignore[no-redef]

if TYPE_CHECKING:
    from firewall.firewall import Firewall

Principal = str | Callable[[Mapping[str, Any]], "str | None"] | None
API = type[ChatCompletions] | type[Responses]

_BLOCKED = {
    "with_raw_response": "it returns the raw HTTP response",
    "with_streaming_response": "it returns the raw HTTP response",
    "completions": "legacy completions are not guarded",
    "beta": "its endpoints are not guarded",
    "realtime": "realtime sessions are not guarded",
    "live": "live sessions are not guarded",
}


def wrap_openai(
    fw: Firewall,
    client: Any,
    *,
    principal: Principal = None,
    model: str | None = None,
    source: str = "openai",
) -> Any:
    """Return `client` with `chat.completions.create` and `responses.create` guarded by `fw`.

    Args:
        fw: the firewall.
        client: an `openai.OpenAI` or `openai.AsyncOpenAI` (or a subclass, e.g. `AzureOpenAI`),
            pointed at any OpenAI-compatible server.
        principal: who is asking, for quotas and events: a string, or a callable given the
            request's keyword arguments (a dict) that returns one or None, e.g.
            `lambda request: request.get("user")` or `lambda _: current_user.get()`. None: no
            quotas apply.
        model: the model name in events and per-model quotas (default: the request's `model`).
        source: the events' `source` (default "openai").

    Returns:
        A proxy (`GuardedOpenAI`, or `AsyncGuardedOpenAI` for an async client); every other
        attribute is the client's own, and `.unguarded` is the client itself.
    """
    if isinstance(client, GuardedOpenAI):
        client = client.unguarded
    options = _Options(principal, model, source)
    if isinstance(client, openai.AsyncOpenAI):
        return AsyncGuardedOpenAI(fw, client, options)
    return GuardedOpenAI(fw, client, options)


@dataclass(frozen=True)
class _Options:
    principal: Principal
    model: str | None
    source: str

    def context(self, request: Mapping[str, Any]) -> dict[str, Any]:
        principal = self.principal(dict(request)) if callable(self.principal) else self.principal
        return {"principal": principal, "model": self.model or request.get("model"), "source": self.source}


@dataclass(frozen=True)
class _Call:
    """One admitted request: the API's view of it, the arguments sent, the prompt, the context."""

    api: ChatCompletions | Responses
    kwargs: dict[str, Any]
    prompt: str
    context: dict[str, Any]


class _Guard:
    """What every guarded call of one client shares."""

    def __init__(self, fw: Firewall, client: Any, options: _Options) -> None:
        self.fw = fw
        self.client = client
        self.options = options

    def admit(self, api: API, kwargs: dict[str, Any]) -> _Call:
        if reason := refuse_scoring_requests(kwargs):
            self.fw.report_refusal(reason, **self.options.context(kwargs))
            raise self._error(openai.BadRequestError, 400, api.path, reason, "outguard_scoring_request")
        kwargs = sanitize_request(kwargs, Hardening.from_settings(self.fw.policy.hardening))
        return _Call(api(kwargs), kwargs, api.prompt(kwargs), self.options.context(kwargs))

    def refused(self, exc: QuotaExceeded, call: _Call) -> openai.RateLimitError:
        wait = max(0.0, exc.retry_after)
        headers = {"retry-after": str(math.ceil(wait)), "retry-after-ms": str(math.ceil(wait * 1000))}
        return self._error(openai.RateLimitError, 429, call.api.path, str(exc), "rate_limit_exceeded", headers)

    def _error(
        self, cls: type[Any], status: int, path: str, message: str, code: str, headers: dict[str, str] | None = None
    ) -> Any:
        body = {"message": f"[outguard] {message}", "type": "outguard", "param": None, "code": code}
        url = str(self.client.base_url).rstrip("/") + path
        response = _http.Response(status, headers=headers, json={"error": body}, request=_http.Request("POST", url))
        return cls(f"Error code: {status} - {body}", response=response, body=body)

    # -- whole responses -------------------------------------------------------------------------

    def found(self, call: _Call, response: Any) -> list[tuple[Key, str, list[Any], dict[str, float]]]:
        return [(key, raw, entries, scores_of(raw, entries)) for key, raw, entries in call.api.texts(response)]

    def assemble(self, call: _Call, response: Any, found: list[Any], verdicts: list[Any]) -> Any:
        done = {
            key: Done.of(raw, v, entries, self.harden)
            for (key, raw, entries, _), v in zip(found, verdicts, strict=True)
        }
        return call.api.rewrite(response, done, partial(self.scan, call))

    def scan(self, call: _Call, text: str) -> str:
        return self.fw.scan(text, prompt=call.prompt, **call.context).text

    def harden(self, entries: list[Any]) -> list[dict[str, Any]] | None:
        payload = [e.model_dump() if hasattr(e, "model_dump") else dict(e) for e in entries]
        hardened = self.fw.harden({"content": payload})
        return None if hardened is None else hardened["content"]

    def demux(self, call: _Call) -> Demux:
        return Demux(call.api, self.harden, partial(self.scan, call))


class _Proxy:
    """Falls through to the wrapped SDK object, except for the names in `_blocked`."""

    _blocked: ClassVar[Mapping[str, str]] = {}

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        if name in self._blocked or (self._blocked.get("*") and not name.startswith("__")):
            reason = self._blocked.get(name) or self._blocked["*"]
            raise AttributeError(
                f"{name!r} is not available through the outguard wrapper: {reason}; "
                "call it on the raw client (`.unguarded`) if its output needs no scanning"
            )
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"<guarded {self._inner!r}>"


class _Create(_Proxy):
    """A guarded resource: only `create` is reachable."""

    _blocked: ClassVar[Mapping[str, str]] = {"*": "only create() is guarded on this resource"}

    def __init__(self, inner: Any, guard: _Guard, api: API) -> None:
        super().__init__(inner)
        self._guard = guard
        self._api = api


class _SyncCreate(_Create):
    def create(self, **kwargs: Any) -> Any:
        """The SDK's `create`, guarded (see the module docstring); same arguments and results."""
        guard = self._guard
        call = guard.admit(self._api, kwargs)
        try:
            guard.fw.check_prompt(call.prompt, **call.context)
        except QuotaExceeded as exc:
            raise guard.refused(exc, call) from exc
        result = self._inner.create(**call.kwargs)
        if isinstance(result, openai.Stream):
            return GuardedStream(result, _drive(guard.fw, call, guard.demux(call), _items(result)))
        found = guard.found(call, result)
        verdicts = [guard.fw.scan(raw, prompt=call.prompt, scores=s, **call.context) for _, raw, _, s in found]
        return guard.assemble(call, result, found, verdicts)


class _AsyncCreate(_Create):
    async def create(self, **kwargs: Any) -> Any:
        """The SDK's async `create`, guarded (see the module docstring)."""
        guard = self._guard
        call = guard.admit(self._api, kwargs)
        try:
            await guard.fw.acheck_prompt(call.prompt, **call.context)
        except QuotaExceeded as exc:
            raise guard.refused(exc, call) from exc
        result = await self._inner.create(**call.kwargs)
        if isinstance(result, openai.AsyncStream):
            return AsyncGuardedStream(result, _adrive(guard.fw, call, guard.demux(call), _aitems(result)))
        found = guard.found(call, result)
        verdicts = [await guard.fw.ascan(raw, prompt=call.prompt, scores=s, **call.context) for _, raw, _, s in found]
        return guard.assemble(call, result, found, verdicts)


class _Chat(_Proxy):
    _blocked = _BLOCKED

    def __init__(self, inner: Any, completions: _Create) -> None:
        super().__init__(inner)
        self.completions = completions


class GuardedOpenAI(_Proxy):
    """An `openai.OpenAI` whose completions are guarded; see the module docstring."""

    _blocked = _BLOCKED
    _create: type[_Create] = _SyncCreate

    def __init__(self, fw: Firewall, client: Any, options: _Options) -> None:
        super().__init__(client)
        self._fw = fw
        self._options = options
        guard = _Guard(fw, client, options)
        self.chat = _Chat(client.chat, self._create(client.chat.completions, guard, ChatCompletions))
        if hasattr(type(client), "responses"):
            self.responses = self._create(client.responses, guard, Responses)

    @property
    def unguarded(self) -> Any:
        """The wrapped client itself: nothing called on it is scanned."""
        return self._inner

    def with_options(self, **options: Any) -> Any:
        """The SDK's `with_options` / `copy`, guarded the same way."""
        return type(self)(self._fw, self._inner.with_options(**options), self._options)

    copy = with_options

    def __enter__(self) -> Any:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._inner.__exit__(*exc_info)


class AsyncGuardedOpenAI(GuardedOpenAI):
    """An `openai.AsyncOpenAI` whose completions are guarded."""

    _create = _AsyncCreate

    async def __aenter__(self) -> Any:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.__aexit__(*exc_info)


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


# -- the two drivers: identical but for `for` / `async for` (the logic is in Demux) -----------------

_END = object()


def _items(stream: openai.Stream[Any]) -> Iterator[Any]:
    with stream:
        yield from stream


async def _aitems(stream: openai.AsyncStream[Any]) -> AsyncIterator[Any]:
    async with stream:
        async for item in stream:
            yield item


def _drive(fw: Firewall, call: _Call, demux: Demux, upstream: Iterator[Any]) -> Iterator[Any]:
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
            safe_texts = fw.stream(
                texts(key, scores), prompt=call.prompt, on_verdict=on_verdict, scores=scores, **call.context
            )
            with closing(safe_texts):
                for safe in safe_texts:
                    yield from demux.ready()
                    yield demux.text_item(key, safe)
            yield from demux.ready()
        yield from demux.closing()
    finally:
        upstream.close()  # type: ignore[attr-defined]


async def _adrive(fw: Firewall, call: _Call, demux: Demux, upstream: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """The async twin of `_drive`."""

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
            safe_texts = fw.astream(
                texts(key, scores), prompt=call.prompt, on_verdict=on_verdict, scores=scores, **call.context
            )
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
