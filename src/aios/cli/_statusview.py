"""What ``aios status`` and ``aios info`` print: plain output, no cyclopts and no rich, so the
status poll scripts run in loops starts fast (``aios.cli`` calls :func:`show_status` directly)."""

from __future__ import annotations

import sys
from typing import Any

from . import _context as ctx


def _fmt_uptime(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}d " if d else "") + (f"{h}h " if h or d else "") + f"{m}m {s}s"


def show_status(*, json: bool = False) -> int:
    """Show whether the daemon runs: version, pid, uptime, mode, clients, memory counts."""

    def body() -> int:
        data = ctx.call("status")
        if json:
            ctx.print_json(data)
            return _config_verdict(data.get("config"))
        mem = data.get("memory", {})
        rows = [
            ("daemon", f"running (pid {data['pid']}, up {_fmt_uptime(data['uptime_s'])})"),
            ("version", data["version"]),
            ("mode", data["mode"]),
            ("socket", f"{data['socket']} ({data.get('scope', 'user')})"),
            ("clients", str(data["clients"])),
            ("memory", ", ".join(f"{k} {v}" for k, v in mem.items()) or "empty"),
            ("embedded", _embedded(data.get("embedding"))),
            ("config", _config(data.get("config"))),
        ]
        for key, value in rows:
            lines = shown(value).splitlines() or [""]
            print(f"{key:<9} {lines[0]}")
            for line in lines[1:]:
                print(f"{'':<9}   {line}")
        return _config_verdict(data.get("config"))

    return ctx.run(body)


def _config_verdict(state: dict[str, Any] | None) -> int:
    """Exit 1, with ``aios: config: error: …`` on stderr, while the daemon runs on an older config
    because an edited file is invalid (scripts and monitoring notice; the daemon keeps serving)."""
    if not state or state.get("state") != "error":
        return 0
    first = str(state.get("error") or "invalid config").splitlines()[0]
    print(f"aios: config: error: {first} (the daemon keeps running on its last good config; "
          "fix the file, then 'aios config reload')", file=sys.stderr)
    return 1


def _config(state: dict[str, Any] | None) -> str:
    """``ok (loaded 12:00:05)``, or ``error:`` and one line per problem while a bad edit waits."""
    if not state:
        return "-"
    import time

    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(state.get("loaded_at") or 0)))
    if state.get("state") == "error":
        return f"error: the daemon keeps the config loaded {when}; fix and reload ('aios config reload')\n{state.get('error')}"
    return f"ok (loaded {when})"


def _embedded(progress: dict[str, Any] | None) -> str:
    """``12,345 / 80,000 (all-MiniLM-L6-v2-int8)``, or why semantic search is off."""
    if not progress:
        return "off (keyword search only)"
    text = f"{progress.get('embedded', 0):,} / {progress.get('total', 0):,} ({progress.get('model') or 'no model'})"
    if progress.get("notice"):
        text += f"; {progress['notice']}"
    return text


def shown(value: Any) -> str:
    """A value as a person reads it: never ``None`` or Python's ``True``; empty is ``-``."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={shown(v)}" for k, v in value.items())
    return str(value)


def show_info(*, json: bool = False) -> int:
    """Show the host, kernel, paths, sandbox state and configured model provider."""

    def body() -> int:
        data = ctx.call("info")
        if json:
            ctx.print_json(data)
            return 0
        top = [(k, data[k]) for k in ("version", "os", "kernel", "hostname", "origin", "python", "mode", "tools") if k in data]
        sections = [(s, data[s]) for s in ("paths", "sandbox", "provider") if isinstance(data.get(s), dict)]
        width = max([len(k) for k, _v in top] + [len(k) + 2 for _s, d in sections for k in d] + [10]) + 1
        for key, value in top:
            print(f"{key:<{width}}{shown(value)}")
        for section, fields in sections:
            print(section)
            for key, value in fields.items():
                print(f"  {key:<{width - 2}}{shown(value)}")
        return 0

    return ctx.run(body)
