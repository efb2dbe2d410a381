"""`wrap_openai`: an OpenAI-compatible SDK client (`openai.OpenAI` / `openai.AsyncOpenAI`) whose
completions go through the firewall, with the SDK's own return types.

    client = fw.wrap_openai(OpenAI(), principal=lambda request: request.get("user"))
    completion = client.chat.completions.create(model="m", messages=[...])   # a ChatCompletion
    for chunk in client.chat.completions.create(model="m", messages=[...], stream=True): ...

What a guarded `chat.completions.create` / `responses.create` does, in order:

1. Refuses scoring requests (`echo` or `logit_bias` with log-probs, `prompt_logprobs`) with the
   SDK's `BadRequestError` (400), and asks the server for no more log-probs than the policy's
   `hardening:` releases (`firewall.hardening.sanitize_request`; for Responses, `strip` also
   drops `include=["message.output_text.logprobs"]`). A `principal` callable is called here: it
   must return a str or None (a `TypeError` otherwise, before the model is called).
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
differ** from the server's: the text arrives later, in fewer, larger chunks. Non-text chunks
(role, tool calls, usage) keep their order among themselves but are not held back, so a tool-call
chunk can come before text the server sent ahead of it; a choice's finish chunk (carrying its
hardened log-probs) or a part's `*.done` event comes after its last text. Responses stream events
are renumbered (`sequence_number`) in their new order. A blocked text ends with the refusal; the
stream stops reading (the connection is closed) once nothing more can be released: chat once
every choice is blocked (n > 1: the other choices go on), with `finish_reason="content_filter"`;
Responses at the first blocked part, with the part's, its item's and a `response.incomplete`
(reason `content_filter`) closing event.

The wrapper passes through an allow-list, not a block-list: the guarded `chat.completions.create`
and `responses.create`, the client's settings (`api_key`, `base_url`, `timeout`...), `close()`,
and the resources that return no model output: `models`, `embeddings` and `moderations` (which
return vectors and categories of the caller's own input) and `files` metadata (`create`, `list`,
`retrieve`, `delete`; not `content`, which may hold batch results). Everything else (the other
methods of the guarded resources, `with_raw_response`, `conversations`, `evals`, `batches`, legacy
`completions`, raw `post` / `get`, ...) raises an `AttributeError` that says why; the raw client is
`.unguarded`. Tool-call arguments, reasoning summaries and audio transcripts are passed as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import openai

from firewall.errors import QuotaExceeded
from firewall.hardening import Hardening, refuse_scoring_requests, sanitize_request
from firewall.wrappers._demux import Demux, Done, Key, scores_of
from firewall.wrappers._openai_apis import ChatCompletions, Responses
from firewall.wrappers._openai_streams import AsyncGuardedStream, GuardedStream, adrive, aitems, drive, items
from firewall.wrappers._options import Options, Principal

try:  # the SDK's HTTP library: httpx2 from openai 3 on, httpx before; errors carry its Response
    import httpx2 as _http
except ImportError:  # pragma: no cover - older SDKs
    import httpx as _http  # type: ignore[no-redef]

if TYPE_CHECKING:
    from firewall.firewall import Firewall
    from firewall.model import Verdict

__all__ = ["AsyncGuardedOpenAI", "AsyncGuardedStream", "GuardedOpenAI", "GuardedStream", "wrap_openai"]

API = type[ChatCompletions] | type[Responses]

SETTINGS = frozenset(
    {
        "api_key",
        "base_url",
        "close",
        "default_headers",
        "default_query",
        "is_closed",
        "max_retries",
        "organization",
        "project",
        "timeout",
        "user_agent",
        "webhook_secret",
        "websocket_base_url",
    }
)
"""The client's settings (and `close`), passed through: values, not requests."""

RESOURCES: Mapping[str, frozenset[str]] = {
    "models": frozenset({"list", "retrieve", "delete"}),  # model metadata
    "embeddings": frozenset({"create"}),  # vectors of the caller's own input
    "moderations": frozenset({"create"}),  # categories and scores of the caller's own input
    "files": frozenset({"create", "list", "retrieve", "delete", "wait_for_processing"}),  # metadata only
}
"""Resources that return no model output, with the methods passed through; nothing else is."""

_WHY = {
    "with_raw_response": "it returns the raw HTTP response",
    "with_streaming_response": "it returns the raw HTTP response",
    "completions": "legacy completions are not guarded",
    "beta": "its endpoints are not guarded",
    "realtime": "realtime sessions are not guarded",
    "live": "live sessions are not guarded",
    "content": "a file's content may hold model output (batch results)",
    "retrieve_content": "a file's content may hold model output (batch results)",
    **{f"client.{verb}": "raw requests are not scanned" for verb in ("get", "post", "put", "patch", "request")},
    "client.delete": "raw requests are not scanned",
}
"""Why a name (or `where.name`) is not passed through, where there is more to say than the proxy's default."""


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
        A proxy (`GuardedOpenAI`, or `AsyncGuardedOpenAI` for an async client) that passes
        through only what returns no model output (see the module docstring); `.unguarded` is
        the client itself.

    Raises:
        TypeError: `principal` is neither a str, a callable nor None.
    """
    if isinstance(client, GuardedOpenAI):
        client = client.unguarded
    options = Options(principal, model, source)
    if isinstance(client, openai.AsyncOpenAI):
        return AsyncGuardedOpenAI(fw, client, options)
    return GuardedOpenAI(fw, client, options)


@dataclass(frozen=True)
class _Call:
    """One admitted request: the API's view of it, the arguments sent, the prompt, the context."""

    api: ChatCompletions | Responses
    kwargs: dict[str, Any]
    prompt: str
    context: dict[str, Any]


class _Guard:
    """What every guarded call of one client shares."""

    def __init__(self, fw: Firewall, client: Any, options: Options) -> None:
        self.fw = fw
        self.client = client
        self.options = options

    def admit(self, api: API, kwargs: dict[str, Any]) -> _Call:
        context = self.options.context(kwargs, kwargs.get("model"))  # a bad principal fails here, first
        if reason := refuse_scoring_requests(kwargs):
            self.fw.report_refusal(reason, **context)
            raise self._error(openai.BadRequestError, 400, api.path, reason, "outguard_scoring_request")
        hardening = Hardening.from_settings(self.fw.policy.hardening)
        kwargs = api.sanitize(sanitize_request(kwargs, hardening), hardening)
        return _Call(api(kwargs), kwargs, api.prompt(kwargs), context)

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
        return call.api.rewrite(response, done, partial(self._scan_whole, call))

    def _scan_whole(self, call: _Call, key: Key, raw: str) -> Done:
        # Every text of a whole response is in `found`: this only serves texts found nowhere else.
        return Done.of(raw, self.scan(call, raw), (), self.harden)

    def scan(self, call: _Call, text: str) -> Verdict:
        return self.fw.scan(text, prompt=call.prompt, **call.context)

    def harden(self, entries: list[Any]) -> list[dict[str, Any]] | None:
        payload = [e.model_dump() if hasattr(e, "model_dump") else dict(e) for e in entries]
        hardened = self.fw.harden({"content": payload})
        return None if hardened is None else hardened["content"]

    def demux(self, call: _Call) -> Demux:
        return Demux(call.api, self.harden, partial(self.scan, call))


class _Proxy:
    """Passes through to the wrapped SDK object only the names in `passed`; any other name is an
    `AttributeError` that says why (`why`, unless `reasons` has more to say)."""

    def __init__(
        self, inner: Any, where: str, passed: Iterable[str] = (), why: str = "", reasons: Mapping[str, str] = _WHY
    ) -> None:
        self._inner = inner
        self._where = where
        self._passed = frozenset(passed)
        self._reasons = reasons
        self._why = why

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        if name.startswith("__") or "_why" not in state:  # special names; not set up yet (copy, pickle)
            raise AttributeError(name)
        if name in state["_passed"]:
            return getattr(state["_inner"], name)
        where = f"{state['_where']}.{name}"
        why = state["_reasons"].get(where) or state["_reasons"].get(name, state["_why"])
        raise AttributeError(
            f"{where} is not available through the outguard wrapper: {why}; "
            "call it on the raw client (`.unguarded`) if its output needs no scanning"
        )

    def __repr__(self) -> str:
        return f"<guarded {self._inner!r}>"


class _Create(_Proxy):
    """A guarded resource: only `create` is reachable."""

    def __init__(self, inner: Any, guard: _Guard, api: API, where: str) -> None:
        super().__init__(inner, where, why=f"only create() is guarded on {where}", reasons={})
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
            return GuardedStream(result, drive(guard.fw, guard.demux(call), items(result), call.prompt, call.context))
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
            upstream = adrive(guard.fw, guard.demux(call), aitems(result), call.prompt, call.context)
            return AsyncGuardedStream(result, upstream)
        found = guard.found(call, result)
        verdicts = [await guard.fw.ascan(raw, prompt=call.prompt, scores=s, **call.context) for _, raw, _, s in found]
        return guard.assemble(call, result, found, verdicts)


class _Chat(_Proxy):
    def __init__(self, inner: Any, completions: _Create) -> None:
        super().__init__(inner, "chat", why="only completions.create() is guarded on chat")
        self.completions = completions


class GuardedOpenAI(_Proxy):
    """An `openai.OpenAI` whose completions are guarded; see the module docstring."""

    _create: type[_Create] = _SyncCreate

    def __init__(self, fw: Firewall, client: Any, options: Options) -> None:
        why = (
            "it may return model output, and only chat.completions.create and responses.create are scanned "
            f"(passed through: settings, {', '.join(RESOURCES)})"
        )
        super().__init__(client, "client", SETTINGS, why)
        self._fw = fw
        self._options = options
        guard = _Guard(fw, client, options)
        completions = self._create(client.chat.completions, guard, ChatCompletions, "chat.completions")
        self.chat = _Chat(client.chat, completions)
        if hasattr(type(client), "responses"):
            self.responses = self._create(client.responses, guard, Responses, "responses")

    def __getattr__(self, name: str) -> Any:
        if name in RESOURCES and "_why" in self.__dict__:
            where = f"client.{name}"
            resource = _Proxy(getattr(self._inner, name), where, RESOURCES[name], f"only metadata is passed on {where}")
            setattr(self, name, resource)  # built once
            return resource
        return super().__getattr__(name)

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
