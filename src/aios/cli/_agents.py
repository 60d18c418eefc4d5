"""``aios agents list``: the specialist agents the main agent can delegate to."""

from __future__ import annotations

from cyclopts import App

from . import _context as ctx
from ._status import JsonFlag

app = App(name="agents", help="The specialist agents (built-in and [agents.NAME]) and what they may use.")


@app.command(name="list")
def list_agents(*, json: JsonFlag = False) -> int:
    """Each agent with its tools, mode and provider; talk to one with aios chat --agent NAME."""

    def body() -> int:
        rows = ctx.call("agents.list", {})
        if json:
            ctx.print_json(rows)
            return 0
        from . import _render

        _render.table(
            ["agent", "tools", "mode", "provider", "description"],
            [
                [
                    r["name"] + ("" if r["builtin"] else " *"),
                    ", ".join(r["tools"]) if r["tools"] is not None else "all",
                    (r["mode"] or "the request's") + (", read-only" if r["read_only"] else ""),
                    r["provider"] or "the turn's",
                    r["description"],
                ]
                for r in rows
            ],
        )
        print("* configured in [agents.NAME]")
        return 0

    return ctx.run(body)
