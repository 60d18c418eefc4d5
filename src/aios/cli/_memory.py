"""``aios memory search|add|get|reindex``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import App, Parameter

from . import _context as ctx
from ._status import JsonFlag

if TYPE_CHECKING:
    from rich.text import Text

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
    mode: Annotated[str, Parameter(help="keyword (words, stemmed), semantic (meaning), hybrid (both) or auto (hybrid when embeddings are ready, else keyword).")] = "auto",
    json: JsonFlag = False,
) -> int:
    """Search memories, best match first, with highlighted snippets; newest first without a query."""

    def body() -> int:
        params: dict[str, object] = {"query": query, "limit": limit, "mode": mode}
        if type:
            params["type"] = type
        for key, value in (("since", since), ("until", until), ("origin", origin)):
            if value is not None:
                params[key] = value
        with ctx.client() as c:
            hits = c.call("memory.search", params, on_notification=_notice)
        if json:
            ctx.print_json(hits)
            return 0
        if not hits:
            print("no memories match")
            return 0
        from . import _render

        _render.table(
            ["id", "type", "created", "origin", "matched", "result", "snippet"],
            [
                [h["id"], h["type"], _render.short_time(h["created_at"]), h.get("origin", ""), matched(h), outcome(h), _markup(h["snippet"])]
                for h in hits
            ],
        )
        return 0

    return ctx.run(body)


def _notice(method: str, params: dict[str, object]) -> None:
    if method == "memory.notice":
        print(f"aios: {params.get('text', '')}", file=sys.stderr)


def matched(hit: dict[str, Any]) -> str:
    """Which side found a hit, with its place: "words #1", "meaning #3", "words #2 + meaning #1"."""
    sides = []
    if hit.get("fts_rank"):
        sides.append(f"words #{hit['fts_rank']}")
    if hit.get("vec_rank"):
        sides.append(f"meaning #{hit['vec_rank']}")
    return " + ".join(sides) if sides else "recent"


def outcome(hit: dict[str, Any]) -> str:
    """A Command record's decision and exit code ("allow, exit 0", "block, exit 126"); "" for others."""
    meta = hit.get("metadata") or {}
    if hit.get("type") != "Command" or not isinstance(meta, dict):
        return ""
    parts = []
    decision = meta.get("decision")
    if decision:
        approved = meta.get("approved")
        parts.append(f"{decision} ({'approved' if approved else 'denied'})" if approved is not None else str(decision))
    if meta.get("exit_code") is not None:
        parts.append(f"exit {meta['exit_code']}")
    return ", ".join(parts)


def _markup(snippet: str) -> Text:
    """The snippet with its matched words highlighted (\x02 … \x03 marks them); the rest is text."""
    from rich.text import Text

    from ._render import cell

    out = Text()
    for i, part in enumerate(snippet.replace("\x03", "\x02").split("\x02")):
        out.append(cell(part), style="bold yellow" if i % 2 else "")
    return out


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


@app.command
def reindex(
    *,
    model: Annotated[str | None, Parameter(help="Switch the store to this embedding model (every memory is embedded again).")] = None,
    wait: Annotated[bool, Parameter(help="Show progress until every memory is embedded (--no-wait: return at once).")] = True,
    json: JsonFlag = False,
) -> int:
    """Embed memories that have no vector yet (in the background, at low priority), or change the model."""

    def body() -> int:
        import time

        params: dict[str, object] = {} if model is None else {"model": model}
        progress = ctx.call("memory.reindex", params)
        while wait and not json and progress.get("ready") and progress.get("embedded", 0) < progress.get("total", 0):
            print(f"\rembedded {progress['embedded']:,} / {progress['total']:,} with {progress['model']}", end="", flush=True)
            time.sleep(1.0)
            progress = ctx.call("memory.progress")
        if json:
            ctx.print_json(progress)
            return 0
        print(f"\rembedded {progress.get('embedded', 0):,} / {progress.get('total', 0):,} with {progress.get('model')}")
        if progress.get("notice"):
            print(f"aios: {progress['notice']}", file=sys.stderr)
        return 0

    return ctx.run(body)
