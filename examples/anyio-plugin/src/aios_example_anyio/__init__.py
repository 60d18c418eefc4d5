"""An aios tool plugin written for anyio (it runs as is under the daemon's trio).

A plugin that touches files asks the daemon's path policy first, as the built-in tools do.
"""

from __future__ import annotations

from typing import Any

import anyio


class WordCount:
    name = "word_count"
    description = "Count the lines, words and bytes of a text file (like wc)."
    parameters: dict[str, Any] = {  # noqa: RUF012
        "type": "object",
        "properties": {"path": {"type": "string", "minLength": 1, "description": "File; relative paths start in the workspace."}},
        "required": ["path"],
        "additionalProperties": False,
    }
    framework = "anyio"

    async def execute(self, args: dict[str, Any], context: Any) -> dict[str, Any]:
        path = anyio.Path(context.workspace) / args["path"]
        decision = context.policy.check_path("read", str(path), mode=context.mode)
        if decision.action != "allow":
            return {"ok": False, "output": "", "error": f"not read: {decision.reason}"}
        data = await path.read_bytes()
        await anyio.sleep(0)
        text = data.decode("utf-8", "replace")
        lines, words = text.count("\n"), len(text.split())
        return {"ok": True, "output": f"{lines} lines, {words} words, {len(data)} bytes", "metadata": {"lines": lines, "words": words, "bytes": len(data)}}
