"""An aios tool plugin written for asyncio; the daemon bridges it with trio-asyncio."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class Checksum:
    name = "checksum"
    description = "The sha256 (or md5, sha1, sha512) checksum of a file."
    parameters: dict[str, Any] = {  # noqa: RUF012
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1},
            "algorithm": {"type": "string", "enum": ["sha256", "sha1", "sha512", "md5"], "default": "sha256"},
        },
        "required": ["path"],
        "additionalProperties": False,
    }
    framework = "asyncio"

    async def execute(self, args: dict[str, Any], context: Any) -> dict[str, Any]:
        asyncio.get_running_loop()  # this really runs on an asyncio loop
        path = Path(context.workspace) / args["path"]
        decision = context.policy.check_path("read", str(path), mode=context.mode)
        if decision.action != "allow":
            return {"ok": False, "output": "", "error": f"not read: {decision.reason}"}
        algorithm = args.get("algorithm", "sha256")
        digest = await asyncio.get_running_loop().run_in_executor(None, _digest, path, algorithm)
        return {"ok": True, "output": f"{digest}  {path}", "metadata": {"algorithm": algorithm, "digest": digest}}
