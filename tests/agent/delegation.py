"""Helpers of the delegation tests: a daemon whose providers are scripted servers, and readers
of what it recorded and sent."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from harness import Daemon, Env
from llmserver import LLMServer, tool_call


def start(env: Env, servers: dict[str, LLMServer], agents: str = "", llm_extra: str = "") -> Daemon:
    providers = "\n".join(
        f'[llm.providers.{name}]\nkind = "openai"\nbase_url = "{srv.base_url}"\nmodel = "m-{name}"\nmax_retries = 1\n{llm_extra}'
        for name, srv in servers.items()
    )
    (env.outside() / "etc-like").mkdir(exist_ok=True)
    env.write_config(
        f"""
[llm]
default_provider = "main"
{providers}
[recovery]
paths = ["{env.outside() / 'etc-like'}"]
packages = false
{agents}
"""
    )
    return env.start_daemon()


def worker(name: str, **extra: str) -> str:
    """An [agents.NAME] section whose model is the scripted server of the same name."""
    lines = [f"[agents.{name}]", f'description = "Worker {name}: runs shell commands."', f'provider = "{name}"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def delegate(*tasks: dict[str, str]) -> dict[str, Any]:
    return tool_call("delegate", {"tasks": list(tasks)})


def mems(env: Env, type_: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = env.cli_json("memory", "search", "--type", type_, "--limit", "100")
    return out


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def delegate_result(srv: LLMServer, request: int = 1) -> list[dict[str, Any]]:
    """The delegate tool's result as the main model received it (inside the untrusted-data fence)."""
    [content] = [m["content"] for m in srv.requests[request].body["messages"] if m["role"] == "tool"]
    inner = content.split("\n", 1)[1].rsplit("\n", 1)[0]
    result: list[dict[str, Any]] = json.loads(inner)
    return result
