"""``aios snapshot``, ``aios snapshots``, ``aios restore``."""

from __future__ import annotations

import sys
from typing import Annotated, Any

from cyclopts import App, Parameter

from . import _context as ctx
from ._status import JsonFlag

app = App(name="snapshot", help="Take a snapshot (default), or show, diff and delete one.")

PathOpt = Annotated[list[str] | None, Parameter(name=["--path", "-p"], help="Only this path (repeatable).", negative=())]


class ProgressView:
    """Shows ``progress`` notifications as a bar on a terminal (stderr), nothing otherwise."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, method: str, params: dict[str, Any]) -> None:
        if method == "snapshot.created":
            self.close()
            print(f"snapshot {params.get('id')} taken ({params.get('trigger')})", file=sys.stderr)
            return
        if method != "progress" or not sys.stderr.isatty():
            return
        if self.bar is None:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[current]}"), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(params.get("what", "working"), total=params.get("total") or None, current="")
        self.bar.update(self.task, completed=params.get("done", 0), total=params.get("total") or None, current=str(params.get("current", ""))[-40:])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _call(method: str, params: dict[str, Any]) -> Any:
    view = ProgressView()
    try:
        with ctx.client() as c:
            return c.call(method, params, on_notification=view)
    finally:
        view.close()


def _absolute(paths: list[str]) -> list[str]:
    """``--path`` values as the daemon needs them: absolute, from this shell's directory (the
    daemon's own working directory is ``/``)."""
    import os

    return [os.path.abspath(os.path.expanduser(p)) for p in paths]


def _size(n: Any) -> str:
    from aios.config import format_size

    return format_size(int(n or 0))


@app.default
def create(
    *,
    description: Annotated[str, Parameter(name=["--description", "-d"], help="Why this snapshot exists.")] = "",
    path: PathOpt = None,
    json: JsonFlag = False,
) -> int:
    """Take a manual snapshot (never expires) of the configured recovery paths and memory."""

    def body() -> int:
        params: dict[str, Any] = {"description": description}
        if path:
            params["paths"] = _absolute(path)
        data = _call("snapshot.create", params)
        if json:
            ctx.print_json(data)
        else:
            disk = "" if data.get("disk_bytes") is None else f" ({_size(data['disk_bytes'])} on disk)"
            print(f"{data['id']}  {_size(data.get('size_bytes'))} new{disk}  {data.get('description', '')}")
        return 0

    return ctx.run(body)


def list_snapshots(
    *,
    origin: Annotated[str | None, Parameter(help="Only snapshots made by this host or container.")] = None,
    trigger: Annotated[str | None, Parameter(help="Only this trigger: manual, hourly, pre-exec, pre-restore.")] = None,
    json: JsonFlag = False,
) -> int:
    """List snapshots, newest first: id, time, trigger, size added (bytes and disk), origin, description."""

    def body() -> int:
        params: dict[str, Any] = {}
        if origin:
            params["origin"] = origin
        if trigger:
            params["trigger"] = trigger
        items = ctx.call("snapshot.list", params)
        if json:
            ctx.print_json(items)
            return 0
        if not items:
            print("no snapshots")
            return 0
        from . import _render

        _render.table(
            ["id", "created", "trigger", "size", "disk", "origin", "description"],
            [
                [
                    s["id"], _render.short_time(s["created_at"]), s["trigger"], _size(s.get("size_bytes")),
                    "-" if s.get("disk_bytes") is None else _size(s["disk_bytes"]), s.get("origin", ""), s.get("description", ""),
                ]
                for s in items
            ],
        )
        return 0

    return ctx.run(body)


@app.command
def show(id: Annotated[str, Parameter(help="Snapshot id (ULID).")], *, json: JsonFlag = False) -> int:
    """Show one snapshot's metadata."""

    def body() -> int:
        data = ctx.call("snapshot.show", {"id": id})
        if json:
            ctx.print_json(data)
            return 0
        for key, value in data.items():
            if value is None or value == [] or value == {}:
                value = "-"
            elif key == "paths" and isinstance(value, list):
                value = "\n".join(f"{'':<14} {p}" for p in value).lstrip()
            elif isinstance(value, list | dict):
                import json as jsonlib

                value = jsonlib.dumps(value, ensure_ascii=False)[:400]
            print(f"{key:<14} {value}")
        return 0

    return ctx.run(body)


def _print_changes(changes: list[dict[str, Any]]) -> None:
    if not changes:
        print("no changes")
        return
    marks = {"added": "+", "removed": "-", "modified": "~", "metadata": "m"}
    for c in changes:
        extra = f"  ({c['detail']})" if c.get("detail") else ""
        print(f"{marks.get(c.get('kind', ''), '?')} {c.get('path')}{extra}")


@app.command
def diff(
    id: Annotated[str, Parameter(help="Snapshot id.")],
    id2: Annotated[str | None, Parameter(help="Second snapshot id; default: the live files.")] = None,
    *,
    json: JsonFlag = False,
) -> int:
    """What changed between a snapshot and another one (or the live files)."""

    def body() -> int:
        params: dict[str, Any] = {"id": id}
        if id2:
            params["id2"] = id2
        changes = ctx.call("snapshot.diff", params)
        if json:
            ctx.print_json(changes)
        else:
            _print_changes(changes)
        return 0

    return ctx.run(body)


@app.command
def delete(id: Annotated[str, Parameter(help="Snapshot id.")], *, json: JsonFlag = False) -> int:
    """Delete one snapshot (its unshared file contents are freed)."""

    def body() -> int:
        data = ctx.call("snapshot.delete", {"id": id})
        if json:
            ctx.print_json(data)
        else:
            print(f"deleted {id}")
        return 0

    return ctx.run(body)


def restore(
    id: Annotated[str, Parameter(help="Snapshot id (ULID).")],
    *,
    dry_run: Annotated[bool, Parameter(help="Only say what would change.", negative=())] = False,
    path: PathOpt = None,
    yes: Annotated[bool, Parameter(name=["--yes", "-y"], help="Do not ask.", negative=())] = False,
    json: JsonFlag = False,
) -> int:
    """Restore a snapshot: a pre-restore snapshot first, then each path atomically."""

    def body() -> int:
        params: dict[str, Any] = {"id": id}
        if path:
            params["paths"] = _absolute(path)
        if not dry_run and not yes:
            preview = _call("snapshot.restore", {**params, "dry_run": True})
            _print_changes(preview.get("changes", []))
            if not sys.stdin.isatty():
                return ctx.fail("not restoring without a terminal to ask on; add --yes")
            answer = input(f"restore {id} over these paths? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                return ctx.fail("not restored")
        report = _call("snapshot.restore", {**params, "dry_run": dry_run})
        if json:
            ctx.print_json(report)
            return 0
        _print_changes(report.get("changes", []))
        skipped = report.get("skipped") or []
        if skipped:
            shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
            print(f"left as they are (not in the snapshot's copy, or a mount point): {shown}", file=sys.stderr)
        if not dry_run:
            print(f"restored {id}" + (f"; undo with: aios restore {report['pre_restore']}" if report.get("pre_restore") else ""))
        return 0

    return ctx.run(body)
