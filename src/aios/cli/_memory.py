"""``aios memory search|add|get``."""

from __future__ import annotations

from typing import Annotated, Any

from cyclopts import App, Parameter

from . import _context as ctx
from ._status import JsonFlag

app = App(name="memory", help="Search and add to the shared memory (commands, chats, system events, snapshots).")


@app.command
def search(
    query: Annotated[str, Parameter(help="Words to look for; any text is a valid query.", allow_leading_hyphen=True)] = "",
    *,
    type: Annotated[list[str] | None, Parameter(name=["--type", "-t"], help="Only this type: Command, Chat, System or Snapshot (repeatable).", negative=())] = None,
    since: Annotated[str | None, Parameter(help='Only newer than this: "2h", "7d", "2026-11-01" or an ISO time.')] = None,
    until: Annotated[str | None, Parameter(help="Only older than this (same forms as --since).")] = None,
    origin: Annotated[str | None, Parameter(help="Only records made by this host or container.")] = None,
    limit: Annotated[int, Parameter(name=["--limit", "-n"], help="Most results to show.")] = 20,
    json: JsonFlag = False,
) -> int:
    """Search memories, best match first (bm25 with highlighted snippets); newest first without a query."""

    def body() -> int:
        params: dict[str, object] = {"query": query, "limit": limit}
        if type:
            params["type"] = type
        for key, value in (("since", since), ("until", until), ("origin", origin)):
            if value is not None:
                params[key] = value
        hits = ctx.call("memory.search", params)
        if json:
            ctx.print_json(hits)
            return 0
        if not hits:
            print("no memories match")
            return 0
        from . import _render

        _render.table(
            ["id", "type", "created", "origin", "snippet"],
            [
                [h["id"], h["type"], _render.short_time(h["created_at"]), h.get("origin", ""), _markup(h["snippet"])]
                for h in hits
            ],
        )
        return 0

    return ctx.run(body)


def _markup(snippet: str) -> str:
    from rich.markup import escape

    return escape(snippet).replace("\x02", "[bold yellow]").replace("\x03", "[/bold yellow]")


@app.command
def add(
    content: Annotated[str, Parameter(help="The text to remember.")],
    *,
    type: Annotated[str, Parameter(name=["--type", "-t"], help="Command, Chat, System or Snapshot.")] = "System",
    meta: Annotated[list[str] | None, Parameter(help="Metadata KEY=VALUE (repeatable).", negative=())] = None,
    shared: Annotated[bool, Parameter(help="Recall it for every user of this daemon (the owner only).", negative=())] = False,
    json: JsonFlag = False,
) -> int:
    """Add one memory and print its id."""

    def body() -> int:
        metadata: dict[str, str] = {}
        for item in meta or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                return ctx.fail(f"--meta {item!r}: expected KEY=VALUE", ctx.EXIT_USAGE)
            metadata[key] = value
        params: dict[str, Any] = {"content": content, "type": type, "metadata": metadata}
        if shared:
            params["metadata"] = {**metadata, "shared": True}
        memory = ctx.call("memory.add", params)
        if json:
            ctx.print_json(memory)
        else:
            print(memory["id"])
        return 0

    return ctx.run(body)


@app.command
def get(id: Annotated[str, Parameter(help="The memory's ULID.")], *, json: JsonFlag = False) -> int:
    """Show one memory."""

    def body() -> int:
        memory = ctx.call("memory.get", {"id": id})
        if json:
            ctx.print_json(memory)
            return 0
        for key in ("id", "type", "created_at", "origin"):
            print(f"{key:<11} {memory[key]}")
        if memory.get("metadata"):
            import json as jsonlib

            print(f"{'metadata':<11} {jsonlib.dumps(memory['metadata'], ensure_ascii=False)}")
        print()
        print(memory["content"])
        return 0

    return ctx.run(body)
