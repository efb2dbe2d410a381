"""Where text lives in the OpenAI APIs: prompts in requests, texts in responses and in stream items.

One class per API (Chat Completions, Responses). Each knows how to find the caller's prompt in
the request, the model's texts in a response (keys and log-probs), how to put scanned texts
back (`rewrite`), and the stream side for `Demux` (split, needs, finalize). Only output text
(`content` / `output_text`) and refusals are scanned; tool-call arguments, reasoning summaries
and audio transcripts pass as they are. Decisions are not made here: the verdicts come in.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from firewall.wrappers._demux import Done, Key, ScanWhole, Split

if TYPE_CHECKING:
    from firewall.hardening import Hardening

Found = tuple[Key, str, list[Any]]
"""A text in a response: its key, the raw text, its per-token log-prob entries."""


def _get(obj: Any, name: str) -> Any:
    """A field of a request part, which may be a dict (TypedDict params) or an SDK model."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _text_of(content: Any, part_types: tuple[str, ...]) -> str:
    if isinstance(content, str):
        return content
    texts = [_get(p, "text") for p in content or () if _get(p, "type") in part_types]
    return "\n".join(t for t in texts if isinstance(t, str))


def _last_user_text(messages: Any, part_types: tuple[str, ...]) -> str:
    for message in reversed(list(messages or ())):
        if _get(message, "role") == "user":
            return _text_of(_get(message, "content"), part_types)
    return ""


def _validated(model: type[Any], entries: list[dict[str, Any]] | None) -> list[Any] | None:
    return None if entries is None else [model.model_validate(e) for e in entries]


def _update(obj: Any, **changes: Any) -> Any:
    return obj.model_copy(update=changes) if changes else obj


class ChatCompletions:
    """`client.chat.completions.create`: texts are each choice's `content` and `refusal`; a key is
    `(choice index, field)`. A blocked choice gets `finish_reason="content_filter"`."""

    FIELDS = ("content", "refusal")
    path = "/chat/completions"

    def __init__(self, request: Mapping[str, Any]) -> None:
        self.n = int(request.get("n") or 1)

    @staticmethod
    def prompt(request: Mapping[str, Any]) -> str:
        """The text of the last user message."""
        return _last_user_text(request.get("messages"), ("text",))

    @staticmethod
    def sanitize(request: dict[str, Any], hardening: Hardening) -> dict[str, Any]:
        """What `firewall.hardening.sanitize_request` leaves to the API: nothing, for chat."""
        return request

    # -- whole responses -------------------------------------------------------------------------

    def texts(self, completion: Any) -> Iterator[Found]:
        for choice in completion.choices:
            for name in self.FIELDS:
                if text := getattr(choice.message, name, None):
                    yield (choice.index, name), text, list(getattr(choice.logprobs, name, None) or ())

    def rewrite(self, completion: Any, done: Mapping[Key, Done], scan: ScanWhole) -> Any:
        choices = []
        for choice in completion.choices:
            texts = {name: done[(choice.index, name)].text for name in self.FIELDS if (choice.index, name) in done}
            choices.append(
                _update(
                    choice,
                    message=_update(choice.message, **texts),
                    logprobs=self._logprobs(choice, done),
                    **self._finish(choice.index, done),
                )
            )
        return completion.model_copy(update={"choices": choices})

    def _logprobs(self, choice: Any, done: Mapping[Key, Done]) -> Any:
        if choice.logprobs is None:
            return None
        from openai.types.chat import ChatCompletionTokenLogprob

        released = {
            name: _validated(ChatCompletionTokenLogprob, done[(choice.index, name)].logprobs)
            for name in self.FIELDS
            if (choice.index, name) in done
        }
        if not any(v is not None for v in released.values()):
            return None
        return type(choice.logprobs)(**{name: released.get(name) for name in self.FIELDS})

    @staticmethod
    def _finish(index: int, done: Mapping[Key, Done]) -> dict[str, Any]:
        blocked = any(d.blocked for k, d in done.items() if k[0] == index)  # type: ignore[index]
        return {"finish_reason": "content_filter"} if blocked else {}

    # -- streams -------------------------------------------------------------------------------

    def split(self, chunk: Any) -> Split:
        split = Split()
        rest = []
        for choice in chunk.choices:
            delta = choice.delta
            for name in self.FIELDS:
                if text := getattr(delta, name, None):
                    split.texts.append(((choice.index, name), text))
                if choice.logprobs is not None and (entries := getattr(choice.logprobs, name, None)):
                    split.logprobs.append(((choice.index, name), list(entries)))
            other = delta.model_copy(update=dict.fromkeys(self.FIELDS))
            if choice.finish_reason is not None or other.model_dump(exclude_none=True):
                rest.append(choice.model_copy(update={"delta": other, "logprobs": None}))
        split.ends = tuple(c.index for c in chunk.choices if c.finish_reason is not None)
        if rest or not chunk.choices:  # a chunk without choices carries usage: keep it
            split.rest = chunk.model_copy(update={"choices": rest})
        return split

    def ended(self, key: Key, markers: set[Hashable]) -> bool:
        return key[0] in markers  # type: ignore[index]

    def needs(self, rest: Any, keys: Sequence[Key]) -> set[Key]:
        finished = {c.index for c in rest.choices if c.finish_reason is not None}
        return {k for k in keys if k[0] in finished}  # type: ignore[index]

    def text_item(self, template: Any, key: Key, text: str) -> Any:
        from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta

        index, name = key  # type: ignore[misc]
        choice = Choice(index=index, delta=ChoiceDelta(**{name: text}), finish_reason=None, logprobs=None)
        return template.model_copy(update={"choices": [choice], "usage": None})

    def finalize(self, chunk: Any, done: Mapping[Key, Done], scan: ScanWhole) -> Any:
        from openai.types.chat.chat_completion_chunk import ChoiceLogprobs

        choices = []
        for choice in chunk.choices:
            if choice.finish_reason is None:
                choices.append(choice)
                continue
            logprobs = self._logprobs(choice.model_copy(update={"logprobs": ChoiceLogprobs()}), done)
            choices.append(_update(choice, logprobs=logprobs, **self._finish(choice.index, done)))
        return chunk.model_copy(update={"choices": choices})

    def settled(self, done: Mapping[Key, Done]) -> bool:
        blocked = {k[0] for k, d in done.items() if d.blocked}  # type: ignore[index]
        return blocked >= set(range(self.n))

    def closing(self, templates: Mapping[Key, Any], done: Mapping[Key, Done], markers: set[Hashable]) -> list[Any]:
        from openai.types.chat.chat_completion_chunk import Choice, ChoiceDelta

        items = []
        for key, d in done.items():
            if d.blocked and key[0] not in markers:  # type: ignore[index]
                choice = Choice(index=key[0], delta=ChoiceDelta(), finish_reason="content_filter")  # type: ignore[index]
                items.append(templates[key].model_copy(update={"choices": [choice], "usage": None}))
                markers.add(key[0])  # type: ignore[index]
        return items

    def number(self, item: Any, position: int) -> Any:
        return item


class Responses:
    """`client.responses.create`: texts are the `output_text` and `refusal` parts of message output
    items; a key is `(output index, content index)`. Stream events are renumbered in order. A
    blocked part makes the response `incomplete` (reason `content_filter`); a stream then stops
    and ends with the part's, its item's and the response's closing events."""

    path = "/responses"
    _TEXT: ClassVar[dict[str, str]] = {"output_text": "text", "refusal": "refusal"}
    """Part type → the field holding its text."""

    def __init__(self, request: Mapping[str, Any]) -> None:
        self._snapshot: Any = None
        """The latest response snapshot a stream carried (`response.created`, `in_progress`)."""
        self._items: dict[int, Any] = {}
        """Output items finished so far in a stream, as released."""

    @staticmethod
    def prompt(request: Mapping[str, Any]) -> str:
        """`input` when it is a string, else the text of its last user message."""
        value = request.get("input")
        if isinstance(value, str):
            return value
        return _last_user_text(value, ("input_text", "text"))

    LOGPROBS = "message.output_text.logprobs"
    """The `include` entry that asks for per-token log-probs (`top_logprobs` only adds alternatives)."""

    @classmethod
    def sanitize(cls, request: dict[str, Any], hardening: Hardening) -> dict[str, Any]:
        """Under `strip`, drop the `include` entry that asks for log-probs (in `extra_body` too):
        `sanitize_request` has dropped `top_logprobs` and capped it under `top_k`, but the Responses
        API computes the chosen tokens' log-probs whenever `include` names them."""
        if hardening.mode != "strip":
            return request
        out = dict(request)
        if isinstance(out.get("extra_body"), Mapping):
            out["extra_body"] = dict(out["extra_body"])  # the caller's own dict stays as it was
        for holder in (out, out.get("extra_body")):
            if isinstance(holder, dict) and isinstance(holder.get("include"), list | tuple):
                kept = [i for i in holder["include"] if i != cls.LOGPROBS]
                if kept:
                    holder["include"] = kept
                else:
                    del holder["include"]
        return out

    # -- whole responses -------------------------------------------------------------------------

    def texts(self, response: Any) -> Iterator[Found]:
        for oi, item in enumerate(response.output):
            for ci, part in enumerate(getattr(item, "content", None) or ()):
                if (name := self._TEXT.get(getattr(part, "type", ""))) and (text := getattr(part, name, None)):
                    yield (oi, ci), text, list(getattr(part, "logprobs", None) or ())

    def rewrite(self, response: Any, done: Mapping[Key, Done], scan: ScanWhole) -> Any:
        done = {**done, **{key: scan(key, raw) for key, raw, _ in self.texts(response) if key not in done}}
        output = [self._item(item, oi, done, scan) for oi, item in enumerate(response.output)]
        return response.model_copy(update={"output": output, **self._incomplete(done)})

    @staticmethod
    def _incomplete(done: Mapping[Key, Done]) -> dict[str, Any]:
        if not any(d.blocked for d in done.values()):
            return {}
        from openai.types.responses.response import IncompleteDetails

        return {"status": "incomplete", "incomplete_details": IncompleteDetails(reason="content_filter")}

    def _item(self, item: Any, oi: int, done: Mapping[Key, Done], scan: ScanWhole) -> Any:
        content = getattr(item, "content", None)
        if getattr(item, "type", None) != "message" or not content:
            return item
        return item.model_copy(
            update={"content": [self._part(p, (oi, ci), done, scan) for ci, p in enumerate(content)]}
        )

    def _part(self, part: Any, key: Key, done: Mapping[Key, Done], scan: ScanWhole) -> Any:
        name = self._TEXT.get(getattr(part, "type", ""))
        if name is None or (scanned := self._scanned(key, getattr(part, name, None), done, scan)) is None:
            return part
        changes: dict[str, Any] = {name: scanned.text}
        if hasattr(part, "logprobs"):
            changes["logprobs"] = self._released(scanned)
        return part.model_copy(update=changes)

    @staticmethod
    def _scanned(key: Key, text: str | None, done: Mapping[Key, Done], scan: ScanWhole) -> Done | None:
        """The scanned stream of `key`; else `text` scanned whole (it never came as deltas); None
        for no text (an empty part is not scanned: no event for nothing)."""
        if key in done:
            return done[key]
        return scan(key, text) if text else None

    @staticmethod
    def _released(done: Done | None) -> list[Any]:
        if done is None or done.logprobs is None:
            return []
        # The parts' and the done events' Logprob classes are twins; one serves for both.
        from openai.types.responses.response_output_text import Logprob

        return _validated(Logprob, done.logprobs) or []

    # -- streams -------------------------------------------------------------------------------

    _DELTAS = ("response.output_text.delta", "response.refusal.delta")
    _PART_DONE = ("response.output_text.done", "response.refusal.done", "response.content_part.done")
    _FINAL = ("response.completed", "response.incomplete", "response.failed")

    def split(self, event: Any) -> Split:
        kind = getattr(event, "type", "")
        if kind in self._DELTAS:
            key = (event.output_index, event.content_index)
            entries = list(getattr(event, "logprobs", None) or ())
            return Split(texts=[(key, event.delta)] if event.delta else [], logprobs=[(key, entries)])
        if kind in self._PART_DONE:
            return Split(rest=event, ends=((event.output_index, event.content_index),))
        if kind == "response.output_item.done":
            return Split(rest=event, ends=(("item", event.output_index),))
        if kind in self._FINAL:
            return Split(rest=event, ends=("all",))
        if getattr(event, "response", None) is not None:
            self._snapshot = event.response
        return Split(rest=event)

    def ended(self, key: Key, markers: set[Hashable]) -> bool:
        return key in markers or ("item", key[0]) in markers or "all" in markers  # type: ignore[index]

    def needs(self, rest: Any, keys: Sequence[Key]) -> set[Key]:
        kind = getattr(rest, "type", "")
        if kind in self._PART_DONE:
            return {(rest.output_index, rest.content_index)} & set(keys)
        if kind in ("response.output_item.done", "response.output_item.added"):
            return {k for k in keys if k[0] == rest.output_index}  # type: ignore[index]
        if getattr(rest, "response", None) is not None:
            return set(keys)
        return set()

    def text_item(self, template: Any, key: Key, text: str) -> Any:
        changes: dict[str, Any] = {"delta": text}
        if "logprobs" in type(template).model_fields:
            changes["logprobs"] = []  # released, hardened, with the done event
        return template.model_copy(update=changes)

    def finalize(self, event: Any, done: Mapping[Key, Done], scan: ScanWhole) -> Any:
        kind = getattr(event, "type", "")
        if kind in ("response.output_text.done", "response.refusal.done"):
            key = (event.output_index, event.content_index)
            name = "text" if kind == "response.output_text.done" else "refusal"
            scanned = self._scanned(key, getattr(event, name), done, scan)
            changes: dict[str, Any] = {} if scanned is None else {name: scanned.text}
            if hasattr(event, "logprobs"):
                changes["logprobs"] = self._released(scanned)
            return event.model_copy(update=changes)
        if (part := getattr(event, "part", None)) is not None:
            return event.model_copy(
                update={"part": self._part(part, (event.output_index, event.content_index), done, scan)}
            )
        if kind.startswith("response.output_item."):
            item = self._item(event.item, event.output_index, done, scan)
            if kind == "response.output_item.done":
                self._items[event.output_index] = item
            return event.model_copy(update={"item": item})
        if (response := getattr(event, "response", None)) is not None:
            return event.model_copy(update={"response": self.rewrite(response, done, scan)})
        return event

    def settled(self, done: Mapping[Key, Done]) -> bool:
        return any(d.blocked for d in done.values())  # the response is withheld: stop generating

    def closing(self, templates: Mapping[Key, Any], done: Mapping[Key, Done], markers: set[Hashable]) -> list[Any]:
        from openai.types.responses import (
            ResponseContentPartDoneEvent,
            ResponseIncompleteEvent,
            ResponseOutputItemDoneEvent,
            ResponseOutputMessage,
            ResponseOutputRefusal,
            ResponseOutputText,
            ResponseRefusalDoneEvent,
            ResponseTextDoneEvent,
        )

        events: list[Any] = []
        for (oi, ci), d in done.items():  # type: ignore[misc]
            if not d.blocked:
                continue
            where = {
                "item_id": templates[(oi, ci)].item_id,
                "output_index": oi,
                "content_index": ci,
                "sequence_number": 0,
            }
            refusal = templates[(oi, ci)].type == "response.refusal.delta"
            if (oi, ci) not in markers:  # its own done event never came: the stream stopped first
                if refusal:
                    events.append(ResponseRefusalDoneEvent(type="response.refusal.done", refusal=d.text, **where))
                else:
                    events.append(
                        ResponseTextDoneEvent(type="response.output_text.done", text=d.text, logprobs=[], **where)
                    )
            if refusal:
                part: Any = ResponseOutputRefusal(type="refusal", refusal=d.text)
            else:
                part = ResponseOutputText(type="output_text", text=d.text, annotations=[], logprobs=[])
            events.append(ResponseContentPartDoneEvent(type="response.content_part.done", part=part, **where))
            item = ResponseOutputMessage(
                id=where["item_id"], type="message", role="assistant", status="incomplete", content=[part]
            )
            self._items[oi] = item
            events.append(
                ResponseOutputItemDoneEvent(
                    type="response.output_item.done", item=item, output_index=oi, sequence_number=0
                )
            )
        if self._snapshot is not None:
            output = [self._items[oi] for oi in sorted(self._items)]
            response = self._snapshot.model_copy(update={"output": output, **self._incomplete(done)})
            events.append(ResponseIncompleteEvent(type="response.incomplete", response=response, sequence_number=0))
        return events

    def number(self, item: Any, position: int) -> Any:
        if "sequence_number" in type(item).model_fields:
            return item.model_copy(update={"sequence_number": position})
        return item
