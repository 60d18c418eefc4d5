"""``aios config show|check``."""

from __future__ import annotations

from typing import Annotated, Any

from cyclopts import App, Parameter

from . import _context as ctx
from ._status import JsonFlag

app = App(name="config", help="Show the merged config with each value's source, or validate a file.")


def _fmt(value: Any) -> str:
    import json

    if value is None:
        return "(unset)"
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


@app.command
def show(
    *,
    json: JsonFlag = False,
    daemon: Annotated[bool, Parameter(help="Show the running daemon's config instead of this shell's.", negative=())] = False,
) -> int:
    """Print the merged config and, for each value, the layer it came from."""

    def body() -> int:
        if daemon:
            data = ctx.call("config.show")
            rows = [(k, v, data["sources"].get(k, "default")) for k, v in _flatten(data["config"])]
        else:
            from aios.config import load

            loaded = load(config_file=ctx.G.config, sets=ctx.G.sets)
            data = loaded.to_json()
            rows = loaded.rows()
        if json:
            ctx.print_json(data)
            return 0
        from . import _render

        _render.table(["key", "value", "source"], [[k, _fmt(v), s] for k, v, s in rows])
        files = data.get("files") or []
        _render.err.print("config files read: " + (", ".join(files) if files else "none (defaults and environment only)"))
        return 0

    return ctx.run(body)


def _flatten(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in tree.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, full + "."))
        else:
            out.append((full, value))
    return out


@app.command
def check(file: Annotated[str | None, Parameter(help="A config file to validate alone; default: every layer in force.")] = None) -> int:
    """Validate a config file (or every layer in force); exit 1 with the file and key when invalid."""

    def body() -> int:
        from aios.config import check_file, load

        if file is not None:
            check_file(file)
            print(f"{file}: valid")
            return 0
        loaded = load(config_file=ctx.G.config, sets=ctx.G.sets)
        for f in loaded.files:
            print(f"{f}: valid")
        print("merged config: valid")
        return 0

    return ctx.run(body)


@app.command
def reload(*, json: JsonFlag = False) -> int:
    """Make the running daemon reload its config files; exit 1 with every error when they are invalid.

    All-or-nothing: an invalid config changes nothing and the daemon keeps the config in force.
    Settings bound at start (socket, scope, directories, who may connect) are named as needing a
    restart ('aios daemon restart'); everything else applies at once.
    """

    def body() -> int:
        data = ctx.call("config.reload")
        if json:
            ctx.print_json(data)
            return 1 if data.get("errors") else 0
        for error in data.get("errors") or []:
            ctx.fail(error["message"])
        if data.get("pinned"):
            ctx.fail("pinned in the system config, cannot be loosened: " + ", ".join(data["pinned"]))
        if data.get("errors"):
            ctx.fail("nothing changed: the daemon keeps the config in force")
            return 1
        print("reloaded: " + (", ".join(data.get("changed") or []) or "nothing changed"))
        if data.get("needs_restart"):
            print("needs a restart to apply: " + ", ".join(data["needs_restart"]) + " ('aios daemon restart')")
        return 0

    return ctx.run(body)
