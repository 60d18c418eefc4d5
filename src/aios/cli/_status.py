"""``aios status`` and ``aios info``: plain output, so they start fast."""

from __future__ import annotations

from typing import Annotated, Any

from cyclopts import Parameter

from . import _context as ctx

JsonFlag = Annotated[bool, Parameter(name="--json", help="Print one JSON document for scripts.", negative=())]


def _fmt_uptime(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}d " if d else "") + (f"{h}h " if h or d else "") + f"{m}m {s}s"


def status(*, json: JsonFlag = False) -> int:
    """Show whether the daemon runs: version, pid, uptime, mode, clients, memory counts."""

    def body() -> int:
        data = ctx.call("status")
        if json:
            ctx.print_json(data)
            return 0
        mem = data.get("memory", {})
        rows = [
            ("daemon", f"running (pid {data['pid']}, up {_fmt_uptime(data['uptime_s'])})"),
            ("version", data["version"]),
            ("mode", data["mode"]),
            ("socket", f"{data['socket']} ({data.get('scope', 'user')})"),
            ("clients", str(data["clients"])),
            ("memory", ", ".join(f"{k} {v}" for k, v in mem.items()) or "empty"),
            ("embedded", _embedded(data.get("embedding"))),
        ]
        for key, value in rows:
            print(f"{key:<9} {value}")
        return 0

    return ctx.run(body)


def _embedded(progress: dict[str, Any] | None) -> str:
    """``12,345 / 80,000 (all-MiniLM-L6-v2-int8)``, or why semantic search is off."""
    if not progress:
        return "off (keyword search only)"
    text = f"{progress.get('embedded', 0):,} / {progress.get('total', 0):,} ({progress.get('model') or 'no model'})"
    if progress.get("notice"):
        text += f"; {progress['notice']}"
    return text


def info(*, json: JsonFlag = False) -> int:
    """Show the host, kernel, paths, sandbox state and configured model provider."""

    def body() -> int:
        data = ctx.call("info")
        if json:
            ctx.print_json(data)
            return 0
        for key in ("version", "os", "kernel", "hostname", "origin", "python", "mode"):
            if key in data:
                print(f"{key:<12} {data[key]}")
        print("paths")
        for key, value in data.get("paths", {}).items():
            shown = ", ".join(value) if isinstance(value, list) else value
            print(f"  {key:<12} {shown or '-'}")
        for section in ("sandbox", "provider"):
            if isinstance(data.get(section), dict):
                print(section)
                for key, value in data[section].items():
                    print(f"  {key:<12} {value}")
        return 0

    return ctx.run(body)
