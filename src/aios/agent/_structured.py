"""Structured-output mode: every reply is exactly one registered tool call, or a final answer.

For models that ignore native tool calling (the embedded SmolLM2, many small Ollama models).
The request carries a JSON schema (``response_format: json_schema``); servers that constrain
decoding with it (llama.cpp, vLLM, Ollama, OpenAI) can then only produce::

    {"tool": "bash", "arguments": {"command": "df -h"}}
    {"answer": "The disk is 42% full."}
"""

from __future__ import annotations

import json
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
    ones with nonsense (a timeout of 10^15 seconds), and grammars do not enforce every bound."""
    props = parameters.get("properties")
    required = parameters.get("required")
    if not isinstance(props, dict) or not isinstance(required, list) or not required:
        return parameters
    kept = {}
    for k, v in props.items():
        if k in required:
            if isinstance(v, dict) and v.get("type") == "string" and "maxLength" not in v:
                v = {**v, "maxLength": ARG_MAX}
            kept[k] = v
    return {**parameters, "properties": kept, "additionalProperties": False}


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
    except ValueError:
        args = call.arguments
    return json.dumps({"tool": call.name, "arguments": args}, ensure_ascii=False)


def parse_reply(content: str, tools: list[ToolSpec]) -> Message:
    """Turn a structured reply into an assistant message (answer text, or one tool call).

    Raises:
        ProviderError: the reply is not one of the admitted shapes (a server that ignored the schema).
    """
    text = content.strip()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProviderError(f"the model's structured reply is not JSON: {text[:160]!r}") from exc
    if isinstance(data, dict) and isinstance(data.get("answer"), str):
        return Message("assistant", data["answer"])
    names = {t.name for t in tools}
    if isinstance(data, dict) and data.get("tool") in names and isinstance(data.get("arguments"), dict):
        call = ToolCall(f"call_{ULID()}", str(data["tool"]), json.dumps(data["arguments"], ensure_ascii=False))
        return Message("assistant", "", (call,))
    raise ProviderError(f"the model's structured reply has neither a known tool nor an answer: {text[:160]!r}")
