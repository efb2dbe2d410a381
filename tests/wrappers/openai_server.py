"""A small OpenAI-compatible server on 127.0.0.1 for the wrapper tests (stdlib only, port 0).

It answers `POST /v1/chat/completions` and `POST /v1/responses`, whole or as server-sent events
(`data: {...}` lines, `data: [DONE]` for chat), with scripted texts: `server.script("Hi ", "there")`
queues one reply whose text arrives in those pieces (one SSE event each, flushed separately);
with `n` > 1 every choice gets the same pieces unless `script(..., choices=[[...], [...]])`.
Asked for `logprobs`, it returns one entry per piece (token = the piece). Every request body is
kept in `server.requests` as `(path, body)`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREATED = 1_700_000_000


@dataclass
class Reply:
    choices: list[list[str]] | None
    pieces: list[str]
    finish_with_text: bool = False
    """Stream the finish reason in the chunk with the last text (as llama.cpp and vLLM may)."""
    tool_call: bool = False
    """Stream a tool-call delta between the texts (chat)."""
    no_deltas: bool = False
    """Stream no text deltas: the text comes only whole, in the done events (Responses)."""


class LoopbackOpenAI:
    """The server; `with LoopbackOpenAI() as server:` runs it in a thread for the block."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.streamed_events = 0
        """SSE events written so far (all requests)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *pieces: str, choices: list[list[str]] | None = None, **shape: bool) -> None:
        self.replies.append(Reply(choices, list(pieces), **shape))

    def __enter__(self) -> LoopbackOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def next_reply(self, n: int) -> Reply:
        reply = self.replies.popleft() if self.replies else Reply(None, ["Hello from the loopback model."])
        return reply if reply.choices else dataclasses.replace(reply, choices=[reply.pieces] * n)


def _handler(server: LoopbackOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.requests.append((self.path, body))
            reply = server.next_reply(int(body.get("n") or 1))
            choices = reply.choices or []
            if self.path.endswith("/chat/completions"):
                events = _chat_stream(body, reply) if body.get("stream") else None
                whole = None if events else _chat(body, choices)
            elif self.path.endswith("/responses"):
                events = _responses_stream(body, choices[0], reply.no_deltas) if body.get("stream") else None
                whole = None if events else _response(body, choices[0], "".join(choices[0]))
            else:
                self.send_error(404)
                return
            if whole is not None:
                data = json.dumps(whole).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for name, event in events:
                head = f"event: {name}\n" if name else ""
                payload = event if isinstance(event, str) else json.dumps(event)
                try:
                    self.wfile.write(f"{head}data: {payload}\n\n".encode())
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return
                server.streamed_events += 1

    return Handler


def _token_logprobs(pieces: list[str], body: dict[str, Any]) -> list[dict[str, Any]]:
    top = int(body.get("top_logprobs") or 0)
    entries = []
    for j, piece in enumerate(pieces):
        logprob = -0.123456789 - j / 1000
        alternatives = [
            {"token": piece, "logprob": logprob, "bytes": list(piece.encode())},
            {"token": "zz", "logprob": -2.718281828, "bytes": [122, 122]},
            {"token": "qq", "logprob": -3.141592653, "bytes": [113, 113]},
        ]
        entries.append(
            {"token": piece, "logprob": logprob, "bytes": list(piece.encode()), "top_logprobs": alternatives[:top]}
        )
    return entries


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


def _chat(body: dict[str, Any], choices: list[list[str]]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": CREATED,
        "model": body["model"],
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": "".join(pieces), "refusal": None},
                "finish_reason": "stop",
                "logprobs": {"content": _token_logprobs(pieces, body), "refusal": None}
                if body.get("logprobs")
                else None,
            }
            for i, pieces in enumerate(choices)
        ],
        "usage": _usage(),
    }


def _chunk(body: dict[str, Any], choices: list[dict[str, Any]], **extra: Any) -> tuple[None, dict[str, Any]]:
    chunk = {"id": "chatcmpl-loopback", "object": "chat.completion.chunk", "created": CREATED, "model": body["model"]}
    return None, {**chunk, "choices": choices, **extra}


def _chat_stream(body: dict[str, Any], reply: Reply) -> list[tuple[str | None, Any]]:
    choices = reply.choices or []
    events = [
        _chunk(body, [{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        for i in range(len(choices))
    ]
    for j in range(max(len(p) for p in choices)):
        for i, pieces in enumerate(choices):  # choices interleave, as real servers send them
            if j < len(pieces):
                logprobs = {"content": _token_logprobs(pieces, body)[j : j + 1]} if body.get("logprobs") else None
                last = reply.finish_with_text and j == len(pieces) - 1
                choice = {"index": i, "delta": {"content": pieces[j]}, "finish_reason": "stop" if last else None}
                events.append(_chunk(body, [{**choice, "logprobs": logprobs}]))
            if reply.tool_call and j == 0:
                call = {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": "{}"},
                }
                events.append(_chunk(body, [{"index": i, "delta": {"tool_calls": [call]}, "finish_reason": None}]))
    if not reply.finish_with_text:
        events += [_chunk(body, [{"index": i, "delta": {}, "finish_reason": "stop"}]) for i in range(len(choices))]
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(_chunk(body, [], usage=_usage()))
    return [*events, (None, "[DONE]")]


def _part(text: str, logprobs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs}


def _message(content: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "message", "id": "msg_loopback", "role": "assistant", "status": "completed", "content": content}


def _response(body: dict[str, Any], pieces: list[str], text: str | None, status: str = "completed") -> dict[str, Any]:
    wants = "message.output_text.logprobs" in (body.get("include") or [])
    logprobs = _token_logprobs(pieces, body) if wants else []
    return {
        "id": "resp_loopback",
        "object": "response",
        "created_at": CREATED,
        "model": body["model"],
        "status": status,
        "output": [] if text is None else [_message([_part(text, logprobs)])],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12},
    }


def _responses_stream(body: dict[str, Any], pieces: list[str], no_deltas: bool) -> list[tuple[str | None, Any]]:
    text = "".join(pieces)
    wants = "message.output_text.logprobs" in (body.get("include") or [])
    logprobs = _token_logprobs(pieces, body) if wants else []
    where = {"item_id": "msg_loopback", "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response(body, pieces, None, "in_progress")},
        {"type": "response.in_progress", "response": _response(body, pieces, None, "in_progress")},
        {"type": "response.output_item.added", "output_index": 0, "item": {**_message([]), "status": "in_progress"}},
        {"type": "response.content_part.added", **where, "part": _part("", [])},
    ]
    for j, piece in enumerate([] if no_deltas else pieces):
        events.append({"type": "response.output_text.delta", **where, "delta": piece, "logprobs": logprobs[j : j + 1]})
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": logprobs},
        {"type": "response.content_part.done", **where, "part": _part(text, logprobs)},
        {"type": "response.output_item.done", "output_index": 0, "item": _message([_part(text, logprobs)])},
        {"type": "response.completed", "response": _response(body, pieces, text)},
    ]
    return [(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)]
