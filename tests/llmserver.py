"""A scripted language-model server on 127.0.0.1 for tests: OpenAI- and Anthropic-compatible.

It replays a queue of scripted replies, one per model request, whatever the protocol asked in:

- ``POST /v1/chat/completions`` (also ``/chat/completions``): OpenAI chat completions; with
  ``"stream": true`` an SSE stream of ``data: {chunk}`` events ending with ``data: [DONE]``,
  otherwise one JSON completion;
- ``POST /v1/messages``: Anthropic messages; with ``"stream": true`` the SSE events
  ``message_start``, ``content_block_start/_delta/_stop``, ``message_delta``, ``message_stop``;
- ``POST /v1/embeddings``: OpenAI embeddings, unscripted and deterministic (64 dimensions, a
  hashed bag of words), for the memory's endpoint embedder;
- ``GET /v1/models`` (or a scripted error, :meth:`LLMServer.fail_models`), ``GET /health``;
- ``POST /_script`` (a JSON list of replies, or ``{"replies": [...], "append": true}``) replaces
  or extends the queue; ``GET /_requests`` returns what was received; ``POST /_reset`` clears both.

A reply is a plain JSON-able dict built by the helpers below (:func:`text`, :func:`tool_call`,
:func:`tool_calls`, :func:`error`, :func:`cut`, :func:`malformed`, :func:`stream_error`,
:func:`slow`, :func:`raw` (or :func:`raw_bytes`) for a body sent verbatim, :func:`gzipped`, :func:`stall`, :func:`reset`);
a script file for the standalone process is a JSON list of the same dicts.
When the queue is empty the server answers with the text ``(script exhausted)``.
:func:`endless` sends a body that never ends.

Streams use chunked transfer encoding, like real servers, so a :func:`cut` reply is a connection
closed in the middle of the body (the client sees an incomplete chunked read), not a clean end.

In-process::

    with LLMServer() as srv:
        srv.script([tool_call("bash", {"command": "ls"}), text("done")])
        provider = OpenAIProvider(base_url=srv.base_url, ...)       # .../v1
        provider = AnthropicProvider(base_url=srv.root_url, ...)    # no /v1
        srv.requests[0].body["messages"]

Standalone (for tests that start the daemon as a separate process)::

    python tests/llmserver.py --port-file /tmp/x/port --script script.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time
import zlib
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs

EMBED_DIM = 64  # dimensions of the /v1/embeddings stand-in

Reply = dict[str, Any]

EXHAUSTED = "(script exhausted)"

# ---------------------------------------------------------------------------------------------
# Reply builders: each returns a JSON-able dict, so scripts can also be written as JSON files.


def text(s: str, chunks: int = 3, *, delay: float = 0.0) -> Reply:
    """A final answer ``s``, streamed in ``chunks`` pieces."""
    return {"kind": "text", "text": s, "chunks": chunks, "delay": delay}


def tool_call(
    name: str,
    args: dict[str, Any] | str,
    chunks: int = 8,
    id: str | None = None,
    *,
    text: str = "",
    delay: float = 0.0,
) -> Reply:
    """One tool call; ``args`` (a dict, or a raw string, e.g. invalid JSON) split in ``chunks``."""
    raw = args if isinstance(args, str) else json.dumps(args)
    call = {"id": id, "name": name, "arguments": raw, "chunks": chunks}
    return {"kind": "tool_calls", "calls": [call], "text": text, "delay": delay}


def tool_calls(calls: list[Reply], *, text: str = "", delay: float = 0.0) -> Reply:
    """Several tool calls in one message: ``calls`` are :func:`tool_call` replies."""
    merged = [c for reply in calls for c in reply["calls"]]
    return {"kind": "tool_calls", "calls": merged, "text": text, "delay": delay}


def error(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """An HTTP error answer. ``body`` (str or JSON-able) defaults to an error object both
    protocols use: ``{"type": "error", "error": {"type": ..., "message": ...}}``."""
    if body is None:
        body = {
            "type": "error",
            "error": {"type": f"http_{status}", "message": f"scripted error {status}"},
        }
    return {"kind": "error", "status": status, "body": body, "headers": dict(headers or {})}


def cut(reply: Reply, after: int = 2) -> Reply:
    """``reply``, but the connection is closed after ``after`` stream events, mid-body."""
    return {**reply, "cut_after": after}


def malformed(reply: Reply | None = None, at: int = 1) -> Reply:
    """``reply`` (default: a text) with a chunk of invalid JSON sent as stream event ``at``."""
    return {**(reply if reply is not None else text("never seen")), "malformed_at": at}


def stream_error(reply: Reply | None = None, at: int = 2, message: str = "Overloaded") -> Reply:
    """``reply`` whose stream reports an error as event ``at`` and ends there (as an overloaded
    Anthropic or OpenAI server does after a 200)."""
    return {
        **(reply if reply is not None else text("never seen")),
        "error_at": at,
        "error_message": message,
    }


def slow(reply: Reply, delay: float) -> Reply:
    """``reply`` with ``delay`` seconds before each stream event."""
    return {**reply, "delay": delay}


def raw(
    blocks: list[str],
    *,
    status: int = 200,
    content_type: str = "text/event-stream",
    headers: dict[str, str] | None = None,
    chunked: bool = True,
    encoding: str = "utf-8",
) -> Reply:
    """A reply sent verbatim, whatever the protocol: each of ``blocks`` is one write of the body
    (so line endings, comments, odd fields and JSON are exactly what a real server sent).
    ``chunked=False`` sends the joined blocks with a Content-Length, like a non-streamed answer.
    ``encoding`` turns each block into bytes: ``"latin-1"`` lets a block carry any bytes (see
    :func:`raw_bytes`), e.g. half of a UTF-8 character."""
    return {
        "kind": "raw",
        "blocks": list(blocks),
        "status": status,
        "content_type": content_type,
        "headers": dict(headers or {}),
        "chunked": chunked,
        "encoding": encoding,
    }


def raw_bytes(parts: list[bytes], **kw: Any) -> Reply:
    """:func:`raw` with each write given as bytes, so a write may end inside a UTF-8 character."""
    return raw([p.decode("latin-1") for p in parts], encoding="latin-1", **kw)


def gzipped(reply: Reply) -> Reply:
    """``reply`` with its body gzip-encoded (``Content-Encoding: gzip``), flushed per event."""
    return {**reply, "gzip": True}


def stall(reply: Reply, after: int, seconds: float = 5.0) -> Reply:
    """``reply``, but after ``after`` stream events the server stops sending for ``seconds``
    (headers already sent) and then closes the connection."""
    return {**reply, "stall_after": after, "stall_seconds": seconds}


def reset(reply: Reply, after: int = 2) -> Reply:
    """``reply``, but after ``after`` stream events the connection is reset (TCP RST)."""
    return {**reply, "reset_after": after}


def endless(piece: str = "x" * 65536, *, status: int = 200, content_type: str = "text/event-stream") -> Reply:
    """A body that never ends: ``piece`` written again and again until the client goes away
    (a ``base_url`` pointing at something that streams forever, never a line end)."""
    return {"kind": "endless", "piece": piece, "status": status, "content_type": content_type}


def split(s: str, n: int) -> list[str]:
    """``s`` in ``n`` nearly equal non-empty pieces (fewer when ``s`` is shorter than ``n``)."""
    if not s:
        return []
    n = max(1, min(n, len(s)))
    size, extra = divmod(len(s), n)
    pieces, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        pieces.append(s[start:end])
        start = end
    return pieces


def _call_ids(reply: Reply, seq: int, prefix: str) -> list[str]:
    return [c.get("id") or f"{prefix}{seq}_{i}" for i, c in enumerate(reply.get("calls", []))]


def _usage(body: dict[str, Any], reply: Reply) -> tuple[int, int]:
    """Made-up but stable token counts: characters / 4 of what went in and came out."""
    prompt = len(json.dumps(body.get("messages", []))) // 4 + 1
    out = reply.get("text", "") + "".join(c["arguments"] for c in reply.get("calls", []))
    return prompt, len(out) // 4 + 1


# ---------------------------------------------------------------------------------------------
# OpenAI chat completions


def _sse(data: Any, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def openai_events(reply: Reply, body: dict[str, Any], seq: int) -> list[str]:
    """The SSE blocks of a streamed OpenAI reply."""
    model = body.get("model", "scripted")
    base = {
        "id": f"chatcmpl-{seq}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    blocks = [chunk({"role": "assistant", "content": ""})]
    for piece in split(
        reply.get("text", ""), reply.get("chunks", 3) if reply["kind"] == "text" else 2
    ):
        blocks.append(chunk({"content": piece}))
    ids = _call_ids(reply, seq, "call_")
    for index, (call, cid) in enumerate(zip(reply.get("calls", []), ids, strict=True)):
        first = {
            "index": index,
            "id": cid,
            "type": "function",
            "function": {"name": call["name"], "arguments": ""},
        }
        blocks.append(chunk({"tool_calls": [first]}))
        for frag in split(call["arguments"], call.get("chunks", 8)):
            blocks.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": frag}}]})
            )
    blocks.append(chunk({}, "tool_calls" if reply.get("calls") else "stop"))
    prompt, completion = _usage(body, reply)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    blocks.append(_sse({**base, "choices": [], "usage": usage}))
    blocks.append(_sse("[DONE]"))
    return blocks


def openai_json(reply: Reply, body: dict[str, Any], seq: int) -> dict[str, Any]:
    """A non-streamed OpenAI completion."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("text", "")}
    ids = _call_ids(reply, seq, "call_")
    if reply.get("calls"):
        message["tool_calls"] = [
            {
                "id": cid,
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c, cid in zip(reply["calls"], ids, strict=True)
        ]
    prompt, completion = _usage(body, reply)
    return {
        "id": f"chatcmpl-{seq}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.get("calls") else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


# ---------------------------------------------------------------------------------------------
# Anthropic messages


def _anthropic_content(reply: Reply, seq: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.get("text"):
        blocks.append({"type": "text", "text": reply["text"]})
    for call, cid in zip(reply.get("calls", []), _call_ids(reply, seq, "toolu_"), strict=True):
        blocks.append(
            {"type": "tool_use", "id": cid, "name": call["name"], "input": call["arguments"]}
        )
    return blocks


def anthropic_events(reply: Reply, body: dict[str, Any], seq: int) -> list[str]:
    """The SSE blocks of a streamed Anthropic reply."""
    prompt, completion = _usage(body, reply)
    message = {
        "id": f"msg_{seq}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "scripted"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": 1},
    }
    out = [
        _sse({"type": "message_start", "message": message}, "message_start"),
        _sse({"type": "ping"}, "ping"),
    ]
    chunks = reply.get("chunks", 3) if reply["kind"] == "text" else 2
    for index, block in enumerate(_anthropic_content(reply, seq)):
        start: dict[str, Any]
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in split(block["text"], chunks)]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            call = reply["calls"][index - (1 if reply.get("text") else 0)]
            deltas = [
                {"type": "input_json_delta", "partial_json": p}
                for p in split(call["arguments"], call.get("chunks", 8))
            ]
        out.append(
            _sse(
                {"type": "content_block_start", "index": index, "content_block": start},
                "content_block_start",
            )
        )
        for delta in deltas:
            out.append(
                _sse(
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    "content_block_delta",
                )
            )
        out.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    stop = "tool_use" if reply.get("calls") else "end_turn"
    out.append(
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": completion},
            },
            "message_delta",
        )
    )
    out.append(_sse({"type": "message_stop"}, "message_stop"))
    return out


def anthropic_json(reply: Reply, body: dict[str, Any], seq: int) -> dict[str, Any]:
    """A non-streamed Anthropic message."""
    content = _anthropic_content(reply, seq)
    for block in content:
        if block["type"] == "tool_use":
            try:
                block["input"] = json.loads(block["input"])
            except ValueError:
                block["input"] = {}
    prompt, completion = _usage(body, reply)
    return {
        "id": f"msg_{seq}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "scripted"),
        "content": content,
        "stop_reason": "tool_use" if reply.get("calls") else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": completion},
    }


# ---------------------------------------------------------------------------------------------
# The server


@attrs.frozen
class Request:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: Any
    """The parsed JSON body (None when there was none, the raw text when it was not JSON)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
        }


class _State:
    """The script queue and the request log, shared by the handler threads."""

    def __init__(self, api_key: str | None) -> None:
        self.lock = threading.Lock()
        self.queue: deque[Reply] = deque()
        self.requests: list[Request] = []
        self.api_key = api_key
        self.seq = 0
        self.models_reply: Reply | None = None  # an error() for GET /v1/models, else the list

    def next_reply(self) -> tuple[Reply, int]:
        with self.lock:
            self.seq += 1
            reply = self.queue.popleft() if self.queue else text(EXHAUSTED, chunks=2)
            return reply, self.seq


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "llmserver/1"
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("LLMSERVER_LOG"):
            super().log_message(format, *args)

    # -- plumbing

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.state.lock:
            self.state.requests.append(Request(self.command, self.path, headers, body))

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        raw = (data if isinstance(data, str) else json.dumps(data)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_stream(self, blocks: list[str], reply: Reply, bad: str = "", failure: str = "") -> None:
        if "malformed_at" in reply:
            at = int(reply["malformed_at"])
            blocks = [*blocks[:at], bad, *blocks[at:]]
        if "error_at" in reply:
            blocks = [*blocks[: int(reply["error_at"])], failure]
        cut_after = reply.get("cut_after")
        stall_after = reply.get("stall_after")
        reset_after = reply.get("reset_after")
        delay = float(reply.get("delay") or 0.0)
        chunked = reply.get("chunked", True)
        compressor = zlib.compressobj(wbits=31) if reply.get("gzip") else None
        charset = str(reply.get("encoding") or "utf-8")

        def encode(data: bytes, final: bool = False) -> bytes:
            if compressor is None:
                return data
            out = compressor.compress(data)
            return out + compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)

        self.send_response(int(reply.get("status", 200)))
        self.send_header("Content-Type", reply.get("content_type", "text/event-stream"))
        self.send_header("Cache-Control", "no-cache")
        if compressor is not None:
            self.send_header("Content-Encoding", "gzip")
        for k, v in (reply.get("headers") or {}).items():
            self.send_header(k, v)
        if not chunked:
            body = encode("".join(blocks).encode(charset), final=True)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for i, block in enumerate(blocks):
                if cut_after is not None and i >= int(cut_after):
                    # Mid-body: no terminating chunk, the socket just goes away.
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reset_after is not None and i >= int(reset_after):
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    return
                if stall_after is not None and i == int(stall_after):
                    time.sleep(float(reply.get("stall_seconds", 5.0)))
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if delay:
                    time.sleep(delay)
                self._write_chunk(encode(block.encode(charset)))
            if compressor is not None:
                self._write_chunk(encode(b"", final=True))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client went away; that is what some tests do

    def _send_endless(self, reply: Reply) -> None:
        self.send_response(int(reply.get("status", 200)))
        self.send_header("Content-Type", str(reply.get("content_type", "text/event-stream")))
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        data = str(reply["piece"]).encode()
        try:
            while True:
                self._write_chunk(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client gave up: what the tests using this expect

    def _embeddings(self, body: Any) -> None:
        """OpenAI-compatible embeddings, deterministic: each word adds +1 to one of 64 dimensions
        (picked by crc32), so texts that share words are near. Needs no script."""
        if not self._auth_ok(False):
            self._send_json(401, {"error": {"type": "invalid_api_key", "message": "invalid api key"}})
            return
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(x, str) for x in texts):
            self._send_json(400, {"error": {"type": "invalid_request_error", "message": "input must be a string or a list of strings"}})
            return
        data = []
        for i, text in enumerate(texts):
            vec = [0.0] * EMBED_DIM
            for word in text.lower().split():
                vec[zlib.crc32(word.encode()) % EMBED_DIM] += 1.0
            vec[0] += 1e-3  # never all zeros
            data.append({"object": "embedding", "index": i, "embedding": vec})
        self._send_json(200, {"object": "list", "data": data, "model": body.get("model", "")})

    def _auth_ok(self, anthropic: bool) -> bool:
        key = self.state.api_key
        if key is None:
            return True
        given = (
            self.headers.get("x-api-key")
            if anthropic
            else (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        )
        return given == key

    # -- routes

    def do_GET(self) -> None:
        if self.path in ("/health", "/v1/health"):
            self._send_json(200, {"status": "ok"})
        elif self.path in ("/v1/models", "/models") and self.state.models_reply is not None:
            reply = self.state.models_reply
            self._send_json(int(reply["status"]), reply.get("body") or "", reply.get("headers"))
        elif self.path in ("/v1/models", "/models"):
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": "scripted", "object": "model", "owned_by": "tests"}],
                },
            )
        elif self.path == "/_requests":
            with self.state.lock:
                data = [r.to_json() for r in self.state.requests]
            self._send_json(200, data)
        else:
            self._send_json(
                404, {"error": {"type": "not_found", "message": f"no route {self.path}"}}
            )

    def do_POST(self) -> None:
        body = self._read_body()
        path = self.path.split("?", 1)[0]
        if path == "/_script":
            replies = body if isinstance(body, list) else (body or {}).get("replies", [])
            with self.state.lock:
                if not (isinstance(body, dict) and body.get("append")):
                    self.state.queue.clear()
                self.state.queue.extend(replies)
            self._send_json(200, {"queued": len(self.state.queue)})
            return
        if path == "/_reset":
            with self.state.lock:
                self.state.queue.clear()
                self.state.requests.clear()
            self._send_json(200, {"ok": True})
            return
        self._record(body)
        if path in ("/v1/embeddings", "/embeddings"):
            self._embeddings(body)
            return
        anthropic = path in ("/v1/messages", "/messages")
        if not anthropic and path not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, {"error": {"type": "not_found", "message": f"no route {path}"}})
            return
        if not isinstance(body, dict):
            self._send_json(
                400,
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "body is not a JSON object",
                    }
                },
            )
            return
        if not self._auth_ok(anthropic):
            kind = "authentication_error" if anthropic else "invalid_api_key"
            self._send_json(
                401, {"type": "error", "error": {"type": kind, "message": "invalid api key"}}
            )
            return
        reply, seq = self.state.next_reply()
        if reply["kind"] == "raw":
            self._send_stream(list(reply["blocks"]), reply)
            return
        if reply["kind"] == "endless":
            self._send_endless(reply)
            return
        if reply["kind"] == "error":
            self._send_json(int(reply["status"]), reply.get("body") or "", reply.get("headers"))
            return
        stream = bool(body.get("stream"))
        if anthropic:
            if not stream:
                self._send_json(200, anthropic_json(reply, body, seq))
                return
            bad = 'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n'
            err = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": reply.get("error_message", "")},
            }
            self._send_stream(anthropic_events(reply, body, seq), reply, bad, _sse(err, "error"))
        else:
            if not stream:
                self._send_json(200, openai_json(reply, body, seq))
                return
            bad = 'data: {"choices": [{"index": 0, "delta": {"content": "x"\n\n'
            err = {"error": {"type": "server_error", "message": reply.get("error_message", "")}}
            self._send_stream(openai_events(reply, body, seq), reply, bad, _sse(err))


class LLMServer:
    """The scripted server, in a background thread; a context manager.

    Args:
        port: 0 picks a free one.
        api_key: when set, requests without this key (``Authorization: Bearer`` for OpenAI,
            ``x-api-key`` for Anthropic) get a real 401.
    """

    def __init__(self, *, port: int = 0, api_key: str | None = None) -> None:
        self._state = _State(api_key)
        handler = type("Handler", (_Handler,), {"state": self._state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``: the Anthropic provider's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the OpenAI-compatible provider's base URL."""
        return f"{self.root_url}/v1"

    anthropic_url = root_url

    @property
    def requests(self) -> list[Request]:
        """Model requests (POSTs to the two chat endpoints, or unknown paths) received so far;
        GETs and ``/_`` control requests are not recorded."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def pending(self) -> int:
        """Scripted replies not yet served."""
        with self._state.lock:
            return len(self._state.queue)

    def script(self, replies: list[Reply], *, append: bool = False) -> None:
        """Replace (or extend) the queue of replies."""
        with self._state.lock:
            if not append:
                self._state.queue.clear()
            self._state.queue.extend(replies)

    def fail_models(self, reply: Reply | None) -> None:
        """Answer ``GET /v1/models`` with ``reply`` (an :func:`error`); None: the list again."""
        with self._state.lock:
            self._state.models_reply = reply

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.requests.clear()

    def start(self) -> LLMServer:
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="llmserver", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_script(path: str | Path) -> list[Reply]:
    """A JSON script file: a list of replies, or ``{"replies": [...]}``."""
    data = json.loads(Path(path).read_text())
    replies = data if isinstance(data, list) else data.get("replies", [])
    if not isinstance(replies, list) or not all(
        isinstance(r, dict) and "kind" in r for r in replies
    ):
        raise SystemExit(
            f"{path}: a script is a JSON list of replies, each an object with a 'kind'"
        )
    return replies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Scripted OpenAI/Anthropic-compatible server for tests."
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the port here once listening (atomically)")
    parser.add_argument("--script", help="JSON file: a list of replies")
    parser.add_argument("--api-key", help="refuse requests without this key (401)")
    args = parser.parse_args(argv)
    server = LLMServer(port=args.port, api_key=args.api_key)
    if args.script:
        server.script(load_script(args.script))
    if args.port_file:
        tmp = Path(f"{args.port_file}.tmp")
        tmp.write_text(str(server.port))
        tmp.replace(args.port_file)
    print(f"llmserver listening on {server.root_url}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
