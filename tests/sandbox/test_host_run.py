"""Commands approved to run on the host never run what the jail planted in their working directory
without the person being told (issue 13, A2).

The host profile runs as the daemon's user (root here) with the workspace as its working
directory; the jail (so the model) writes that workspace. ``python3 -m pip install …`` once ran a
planted ``pip/__main__.py`` as root. Each planted program writes a unique marker file outside
the workspace when it runs; the marker must never appear.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aios.config import Config, SandboxConfig
from aios.sandbox import HOST_ENV_KEEP, Jail
from aios.security import Policy
from aios.tools import Approval, ToolContext, ToolRegistry
from harness import Env, LineReader, connect

from .conftest import needs_bwrap

pytestmark = needs_bwrap

MARK = "import pathlib; pathlib.Path({path!r}).write_text('planted code ran')"


@pytest.fixture
def marker(outside: Path) -> Iterator[Path]:
    path = outside / f"pwned-{uuid.uuid4().hex[:8]}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _plant(rel: str, marker: Path) -> str:
    """A jailed command line that writes a planted Python file at ``rel``."""
    parent = os.path.dirname(rel)
    # A regular package (with __init__.py) wins over the installed one when it comes first.
    mk = f"mkdir -p {parent} && touch {parent}/__init__.py && " if parent else ""
    return f"{mk}printf '%s' {json.dumps(MARK.format(path=str(marker)))} > {rel}"


async def test_host_profile_environment_is_exactly_the_kept_variables(cfg: SandboxConfig, workspace: Path) -> None:
    planted = {"PYTHONPATH": str(workspace), "PYTHONHOME": "/x", "LD_PRELOAD": "/x.so", "GIT_DIR": "/x",
               "NODE_OPTIONS": "--require /x.js", "JAVA_TOOL_OPTIONS": "-javaagent:/x", "PERL5OPT": "-Mx",
               "RUBYOPT": "-rx", "BASH_ENV": "/x.sh"}  # fmt: skip
    saved = {k: os.environ.get(k) for k in planted}
    os.environ.update(planted)
    try:
        r = await Jail(cfg, mode="normal", workspace=workspace).run(["env"], profile="host")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert env["PYTHONSAFEPATH"] == "1"
    assert set(env) <= {*HOST_ENV_KEEP, "PWD", "SHLVL", "_"}, env
    assert not set(planted) & set(env)


@pytest.mark.parametrize(
    ("planted", "host_command"),
    [
        ("pip/__main__.py", "python3 -m pip --version"),
        ("pip.py", "python3 -m pip --version"),  # a module, not a package: -m runs it too
        ("base64.py", "python3 -c 'import base64'"),  # shadowing the standard library
    ],
)
async def test_planted_python_module_does_not_run_on_the_host(
    cfg: SandboxConfig, workspace: Path, marker: Path, planted: str, host_command: str
) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["bash", "-c", _plant(planted, marker)])
    assert r.exit_code == 0, r.stderr
    assert planted in jail.changed_files()
    await jail.run(["bash", "-c", host_command], profile="host")
    assert not _exists(marker), f"{planted} ran on the host"
    # Control: the planted file works when asked for by path (so the probe is real).
    ok = await jail.run(["bash", "-c", f"cd {workspace} && python3 {planted}"], profile="host")
    assert _exists(marker), ok.stderr


# Through the daemon: the confirmation names what the jail wrote, in words.


def call_bash(sock: socket.socket, args: dict[str, Any], answer: Callable[[dict[str, Any]], Any], *, id: int = 1,
              session: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    params: dict[str, Any] = {"tool": "bash", "arguments": args}
    if session:
        params["session"] = session
    sock.sendall(json.dumps({"jsonrpc": "2.0", "id": id, "method": "tools.call", "params": params}).encode() + b"\n")
    reader = LineReader(sock)
    asked = []
    while True:
        msg = reader.read()
        if msg.get("method") == "confirm":
            asked.append(msg["params"])
            reply = {"jsonrpc": "2.0", "id": msg["id"], "result": answer(msg["params"])}
            sock.sendall(json.dumps(reply).encode() + b"\n")
        elif msg.get("id") == id:
            return msg["result"], asked


def approve(p: dict[str, Any]) -> dict[str, Any]:
    return {"approve": True, "how": "person"}


def test_approved_pip_install_does_not_run_a_planted_pip_and_the_confirmation_lists_it(env: Env) -> None:
    marker = env.outside() / f"pwned-{uuid.uuid4().hex[:8]}"
    d = env.start_daemon()
    try:
        with connect(env.socket, timeout=60) as s:
            res, asked = call_bash(s, {"command": _plant("pip/__main__.py", marker)}, approve)
            assert res["ok"] and not asked, res
            assert "pip/__main__.py" in res["metadata"]["changed"]
            # host=true: the same path as a confirmed `pip install`, without touching the host.
            res, asked = call_bash(s, {"command": "python3 -m pip --version", "host": True}, approve, id=2)
        assert not marker.exists(), "the planted pip ran as root"
        assert res["metadata"]["profile"] == "host"
        [p] = asked
        assert p["profile"] == "host"
        assert "pip/__main__.py" in p["jail_changed_named"] and "pip/__main__.py" in p["jail_changed"]
        words = " ".join(p["notes"])
        assert "runs outside the jail" in words and "pip/__main__.py" in words
        assert "it names files that jailed commands wrote" in words
    finally:
        d.kill()
        marker.unlink(missing_ok=True)


def test_a_planted_makefile_is_listed(env: Env) -> None:
    # make reads ./Makefile by design: the command cannot be kept from it, so the person must
    # see it before approving.
    marker = env.outside() / f"pwned-{uuid.uuid4().hex[:8]}"
    d = env.start_daemon()
    try:
        with connect(env.socket, timeout=60) as s:
            res, _ = call_bash(s, {"command": f"printf 'all:\\n\\ttouch {marker}\\n' > Makefile"}, approve)
            assert res["ok"], res
            deny = lambda p: {"approve": False, "how": "person"}  # noqa: E731
            res, asked = call_bash(s, {"command": "make", "host": True}, deny, id=2)
        [p] = asked
        assert p["jail_changed"] == ["Makefile"] and p["jail_changed_named"] == []
        assert "Makefile" in " ".join(p["notes"]) and res["metadata"]["exit_code"] == 126
        assert not marker.exists()
    finally:
        d.kill()
        marker.unlink(missing_ok=True)


async def test_a_session_grant_does_not_cover_files_the_jail_wrote_since(cfg: SandboxConfig, workspace: Path, marker: Path) -> None:
    asked: list[dict[str, Any]] = []
    ctx = _context(workspace, asked, remember=True)
    line = {"command": "python3 -m pip --version", "host": True}
    tool = ToolRegistry.load(plugins=False).entries["bash"].tool
    await tool.execute(line, ctx)
    assert len(asked) == 1 and not asked[0]["jail_changed"]
    await tool.execute(line, ctx)
    assert len(asked) == 1  # the grant covers the same command while the jail wrote nothing
    res = await tool.execute({"command": _plant("pip/__main__.py", marker)}, ctx)
    assert res.ok, res
    res = await tool.execute(line, ctx)
    assert len(asked) == 2, "a session grant covered files the jail wrote since"
    assert "pip/__main__.py" in asked[1]["jail_changed_named"]
    assert not _exists(marker)


def _context(workspace: Path, asked: list[dict[str, Any]], *, remember: bool) -> ToolContext:
    """A real tool context (real policy, real jail); the person is a function that says yes."""
    config = Config()

    async def emit(method: str, params: dict[str, Any]) -> None:
        return None

    async def confirm(params: dict[str, Any]) -> Approval:
        asked.append(params)
        return Approval(True, "person", remember=remember)

    async def record(type_: str, content: str, metadata: dict[str, Any]) -> str | None:
        return None

    policy = Policy(config.security, workspace=workspace, protected_paths=[], home=Path.home())
    jail = Jail(config.sandbox, mode="normal", workspace=workspace)
    return ToolContext(config=config, mode="normal", workspace=workspace, policy=policy, jail=jail, emit=emit,
                       confirm=confirm, record=record)  # fmt: skip


def test_a_command_line_setting_code_loading_variables_is_named(env: Env) -> None:
    d = env.start_daemon()
    try:
        with connect(env.socket, timeout=60) as s:
            deny = lambda p: {"approve": False, "how": "person"}  # noqa: E731
            _, asked = call_bash(s, {"command": "PYTHONPATH=. LD_PRELOAD=./x.so python3 -m pip list", "host": True}, deny)
        words = " ".join(asked[0]["notes"])
        assert "LD_PRELOAD" in words and "PYTHONPATH" in words
    finally:
        d.kill()


def test_aios_run_offers_and_takes_the_host_profile(env: Env) -> None:
    (env.workspace / "setup.sh").write_text("id -u\nmkdir /var/lib/aios-host-probe-$$\n")
    d = env.start_daemon()
    try:
        jailed = env.cli("run", "--", "sh setup.sh")
        assert jailed.returncode != 0
        assert "lack of access inside the jail" in jailed.stderr and "aios run --host" in jailed.stderr
        assert jailed.stdout.split()[0] != "0"  # the sandbox user
        refused = env.cli("run", "--host", "--", "id -u")  # no terminal to ask on: denied
        assert refused.returncode == 126, refused.stderr
        host = env.cli("run", "--host", "--yes", "--", "id -u")
        assert host.returncode == 0, host.stderr
        assert host.stdout.split()[0] == str(os.geteuid())  # outside the jail, as the daemon's user
        assert "snapshot" in host.stderr  # taken first, like any system change
    finally:
        d.kill()
