"""Structured-output mode: every reply is exactly one registered tool call, or a final answer.

For models that ignore native tool calling (the embedded SmolLM2, many small Ollama models).
The request carries a JSON schema (``response_format: json_schema``); servers that constrain
decoding with it (llama.cpp, vLLM, Ollama, OpenAI) can then only produce::

    {"tool": "bash", "arguments": {"command": "df -h"}}
    {"answer": "The disk is 42% full."}
"""

from __future__ import annotations

import json
import re
from typing import Any

from ulid import ULID

from aios.errors import ProviderError

from ._messages import Message, ToolCall, ToolSpec

ANSWER_MAX = 400
"""Characters in a structured answer: a small model otherwise rambles until max_tokens and the
JSON never closes."""


ARG_MAX = 300
"""Characters in a structured string argument (a command line): stops runaway pipelines."""


def essential(parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool's argument schema with only its required properties: small models fill optional
    ones with nonsense (a timeout of 10^15 seconds), and grammars do not enforce every bound.

    A tool keeps optional properties it cannot work without (a typed tool's package names or
    unit) by listing them in ``"x-essential"``; their enums and patterns stay in the schema.
    """
    props = parameters.get("properties")
    required = parameters.get("required")
    if not isinstance(props, dict) or not isinstance(required, list) or not required:
        return parameters
    keep = {*required, *parameters.get("x-essential", ())}
    kept = {}
    for k, v in props.items():
        if k in keep:
            if isinstance(v, dict) and v.get("type") == "string" and "maxLength" not in v:
                v = {**v, "maxLength": ARG_MAX}
            kept[k] = v
    out = {k: v for k, v in parameters.items() if k != "x-essential"}
    return {**out, "properties": kept, "additionalProperties": False}


def reply_schema(tools: list[ToolSpec]) -> dict[str, Any]:
    """A schema admitting one of ``tools`` with its argument schema, or ``{"answer": str}``."""
    options: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {"tool": {"type": "string", "enum": [t.name]}, "arguments": essential(t.parameters)},
            "required": ["tool", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    options.append(
        {
            "type": "object",
            "properties": {"answer": {"type": "string", "minLength": 1, "maxLength": ANSWER_MAX}},
            "required": ["answer"],
            "additionalProperties": False,
        }
    )
    return options[0] if len(options) == 1 else {"anyOf": options}


def instructions(tools: list[ToolSpec]) -> str:
    """The part of the system prompt that explains the reply format."""
    lines = [
        "Reply with exactly one JSON object and nothing else.",
        'To run a tool: {"tool": "<name>", "arguments": {...}}.',
        'To answer the person: {"answer": "<text>"}.',
        "Tools:",
    ]
    for t in tools:
        lines.append(f"- {t.name}: {t.description} Arguments schema: {json.dumps(essential(t.parameters), separators=(',', ':'))}")
    return "\n".join(lines)


def render_call(call: ToolCall) -> str:
    """How an earlier tool call of the model is shown back to it."""
    try:
        args = json.loads(call.arguments)
    except (ValueError, RecursionError):
        args = call.arguments
    return json.dumps({"tool": call.name, "arguments": args}, ensure_ascii=False)


def render_answer(text: str) -> str:
    """An earlier answer as the model itself writes answers in structured mode (a small model
    imitates the shape it sees: shown as plain text, answers after a tool result came out as
    noise far more often)."""
    return json.dumps({"answer": text}, ensure_ascii=False)


_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)


def _reply_object(text: str) -> Any:
    """The JSON reply inside ``text``: the whole text, else a fenced block, else the first JSON
    object with a ``tool`` or ``answer`` key. Servers that enforce the schema send bare JSON;
    where the format is only asked for (Anthropic, servers without json_schema support) models
    wrap it in code fences or a sentence, and reasoning models put a <think> block first."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    for block in _FENCE.findall(text):
        try:
            return json.loads(block.strip())
        except (ValueError, RecursionError):
            continue
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict) and ("tool" in value or "answer" in value):
            return value
    raise ValueError("no JSON object")


def parse_reply(content: str, tools: list[ToolSpec]) -> Message:
    """Turn a structured reply into an assistant message (answer text, or one tool call).

    Raises:
        ProviderError: the reply is not one of the admitted shapes (a server that ignored the schema).
    """
    text = _THINK.sub("", content).strip()
    try:
        data = _reply_object(text)
    except (ValueError, RecursionError) as exc:
        raise ProviderError(f"the model's structured reply is not JSON: {text[:160]!r}") from exc
    if isinstance(data, dict) and isinstance(data.get("answer"), str):
        return Message("assistant", data["answer"])
    names = {t.name for t in tools}
    args = data.get("arguments") if isinstance(data, dict) else None
    if isinstance(args, str):  # the arguments as a JSON string, as in native tool calls
        try:
            args = json.loads(args or "{}")
        except (ValueError, RecursionError):
            pass
    if isinstance(data, dict) and data.get("tool") in names and isinstance(args, dict):
        call = ToolCall(f"call_{ULID()}", str(data["tool"]), json.dumps(args, ensure_ascii=False))
        return Message("assistant", "", (call,))
    raise ProviderError(f"the model's structured reply has neither a known tool nor an answer: {text[:160]!r}")
