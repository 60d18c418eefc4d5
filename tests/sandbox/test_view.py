"""What the jail shows (issue 13, E): the host's files read-only, writes that fail visibly, a
private TMPDIR, secrets and sockets out of reach, and failures for lack of access said in words.

Before, /tmp, /var/tmp, /run and /root were private empty tmpfs: a command reading them saw
nothing, and one writing or deleting there reported success while nothing happened on the host.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aios.config import Config, SandboxConfig
from aios.sandbox import Jail
from aios.security import Policy
from aios.tools import Approval, ToolContext, ToolRegistry

from .conftest import needs_bwrap

pytestmark = needs_bwrap


def _exists(path: Path | str) -> bool:
    return os.path.lexists(path)


def _read(path: Path) -> str:
    return path.read_text()


@pytest.fixture(params=["/tmp", "/var/tmp"])
def shared(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A directory of the host's /tmp or /var/tmp that the sandbox user may read."""
    d = Path(tempfile.mkdtemp(prefix="aios-view-", dir=request.param))
    d.chmod(0o755)
    (d / "f").write_text("from the host\n")
    (d / "f").chmod(0o644)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


async def test_host_tmp_is_shown_read_only(cfg: SandboxConfig, workspace: Path, shared: Path) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["cat", str(shared / "f")])
    assert (r.exit_code, r.stdout) == (0, "from the host\n"), r.stderr
    r = await jail.run(["bash", "-c", f"echo changed > {shared}/f"])
    assert r.exit_code != 0 and "Read-only file system" in r.stderr
    r = await jail.run(["rm", "-f", str(shared / "f")])
    assert r.exit_code != 0 and "Read-only file system" in r.stderr
    assert _read(shared / "f") == "from the host\n"


WRITES = """
import errno, os, sys
for what, fn in (("append", lambda p: open(p, "a").write("x")), ("rename", lambda p: os.rename(p, p + ".moved")),
                 ("unlink", os.unlink), ("create", lambda p: open(p + ".new", "w"))):
    try:
        fn(sys.argv[1]); print(what, "ok")
    except OSError as e:
        print(what, errno.errorcode[e.errno])
"""


async def test_every_kind_of_write_outside_writable_places_fails(cfg: SandboxConfig, workspace: Path, shared: Path) -> None:
    r = await Jail(cfg, mode="normal", workspace=workspace).run(["python3", "-c", WRITES, str(shared / "f")])
    results = dict(line.split() for line in r.stdout.splitlines())
    assert set(results) == {"append", "rename", "unlink", "create"}, (r.stdout, r.stderr)
    # Read-only file system, or for the host's file the permission check that comes first.
    assert set(results.values()) <= {"EROFS", "EACCES"} and results["create"] == "EROFS", results
    assert sorted(os.listdir(shared)) == ["f"]


@pytest.mark.parametrize("target", ["/root/aios-probe", "/run/aios-probe", "/var/tmp/aios-probe-{u}", "/tmp/aios-probe-{u}"])
async def test_writes_that_used_to_vanish_now_fail(cfg: SandboxConfig, workspace: Path, target: str) -> None:
    path = target.format(u=uuid.uuid4().hex[:8])
    r = await Jail(cfg, mode="normal", workspace=workspace).run(["bash", "-c", f"echo x > {path}"])
    assert r.exit_code != 0, f"writing {path} reported success"
    assert "Read-only file system" in r.stderr or "Permission denied" in r.stderr
    assert r.denied and r.denied[0].endswith(("Read-only file system", "Permission denied"))
    assert not _exists(path)


async def test_tmpdir_is_private_writable_and_new_for_every_command(cfg: SandboxConfig, workspace: Path) -> None:
    jail = Jail(cfg, mode="normal", workspace=workspace)
    r = await jail.run(["bash", "-c", 'echo kept > "$TMPDIR/x" && mktemp && python3 -c "import tempfile; print(tempfile.gettempdir())"'])
    assert r.exit_code == 0, r.stderr
    made, gettempdir = r.stdout.split()
    assert made.startswith("/run/tmp/") and gettempdir == "/run/tmp"
    again = await jail.run(["bash", "-c", 'ls -A "$TMPDIR"'])
    assert again.stdout == ""
    assert not _exists("/run/tmp/x") and not _exists(made)


@pytest.fixture
def under_tmp() -> Iterator[Path]:
    """A directory in the host's /tmp with a world-readable file, ``token``."""
    d = Path(tempfile.mkdtemp(prefix="aios-hid-", dir="/tmp"))
    d.chmod(0o755)
    (d / "token").write_text("SECRET")
    (d / "token").chmod(0o644)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


async def test_secrets_under_tmp_are_hidden_and_named(cfg: SandboxConfig, workspace: Path, under_tmp: Path) -> None:
    secret_dir = under_tmp
    jail = Jail(cfg, mode="normal", workspace=workspace, hidden=[secret_dir])
    r = await jail.run(["bash", "-c", f"cat {secret_dir}/token; ls -A {secret_dir}"])
    assert "SECRET" not in r.stdout and r.stdout == ""
    assert str(secret_dir) in r.hidden
    # Control: the same file with nothing hidden is readable (the jail shows /tmp).
    ok = await Jail(cfg, mode="normal", workspace=workspace).run(["cat", str(secret_dir / "token")])
    assert ok.stdout == "SECRET"


CONNECT = """
import errno, socket, sys
kind, addr = sys.argv[1], sys.argv[2]
try:
    if kind == "stream":
        s = socket.socket(socket.AF_UNIX); s.connect(addr)
    elif kind == "abstract":
        s = socket.socket(socket.AF_UNIX); s.connect("\\0" + addr)
    else:  # a datagram pair's sendto() names any socket path
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM); a.sendto(b"hi", addr)
    print("reached")
except OSError as e:
    print("refused", errno.errorcode[e.errno])
"""


@pytest.fixture
def tmp_sockets() -> Iterator[dict[str, str]]:
    d = Path(tempfile.mkdtemp(prefix="aios-sock-", dir="/tmp"))
    d.chmod(0o755)
    socks = []
    try:
        stream = socket.socket(socket.AF_UNIX)
        stream.bind(str(d / "s.sock"))
        os.chmod(d / "s.sock", 0o777)
        stream.listen(4)
        dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        dgram.bind(str(d / "d.sock"))
        os.chmod(d / "d.sock", 0o777)
        name = f"aios-test-{uuid.uuid4().hex[:8]}"
        abstract = socket.socket(socket.AF_UNIX)
        abstract.bind("\0" + name)
        abstract.listen(4)
        socks = [stream, dgram, abstract]
        yield {"stream": str(d / "s.sock"), "dgram": str(d / "d.sock"), "abstract": name}
    finally:
        for s in socks:
            s.close()
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("kind", ["stream", "dgram", "abstract"])
async def test_unix_sockets_under_the_visible_tmp_are_unreachable(
    cfg: SandboxConfig, workspace: Path, tmp_sockets: dict[str, str], kind: str
) -> None:
    r = await Jail(cfg, mode="normal", workspace=workspace).run(["python3", "-c", CONNECT, kind, tmp_sockets[kind]])
    assert r.stdout.startswith("refused"), (r.stdout, r.stderr)
    # Control: the same probe, unjailed, reaches it.
    ok = await Jail(cfg, mode="trusted", workspace=workspace).run(["python3", "-c", CONNECT, kind, tmp_sockets[kind]])
    assert ok.stdout == "reached\n", ok.stderr


# Through the bash tool: failures for lack of access and hidden paths in words.


def _context(workspace: Path, mode: str, hidden: list[Path] | None = None) -> ToolContext:
    config = Config()

    async def emit(method: str, params: dict[str, Any]) -> None:
        return None

    async def confirm(params: dict[str, Any]) -> Approval:
        return Approval(False, "person")

    async def record(type_: str, content: str, metadata: dict[str, Any]) -> str | None:
        return None

    policy = Policy(config.security, workspace=workspace, protected_paths=[], home=Path.home())
    jail = Jail(config.sandbox, mode=mode, workspace=workspace, hidden=hidden or [])
    return ToolContext(config=config, mode=mode, workspace=workspace, policy=policy, jail=jail, emit=emit,
                       confirm=confirm, record=record)  # fmt: skip


SCRIPTS = {
    # Programs the policy cannot see into, writing system paths: allowed, and failing in the jail.
    "setup.sh": ("sh setup.sh", "mkdir -p /var/lib/aios-probe-dir\n"),
    "tool.py": ("python3 tool.py", "open('/usr/share/aios-probe', 'w')\n"),
}


@pytest.mark.parametrize("script", list(SCRIPTS))
async def test_a_failure_for_lack_of_access_says_so_and_offers_the_host(workspace: Path, script: str) -> None:
    command, body = SCRIPTS[script]
    (workspace / script).write_text(body)
    (workspace / script).chmod(0o644)
    bash = ToolRegistry.load(plugins=False).entries["bash"].tool
    res = await bash.execute({"command": command}, _context(workspace, "normal"))
    assert not res.ok
    assert res.error and "lack of access inside the jail" in res.error and "host=true" in res.error
    assert res.metadata["offer"] == "host" and res.metadata["access_denied"]
    strict = await bash.execute({"command": command}, _context(workspace, "safe"))
    if strict.metadata.get("exit_code") != 126:  # safe mode may block it outright
        assert strict.error and "lack of access" in strict.error and "offer" not in strict.metadata
    # host=true in safe mode is refused by the mode, never run.
    refused = await bash.execute({"command": "true", "host": True}, _context(workspace, "safe"))
    assert refused.metadata["exit_code"] == 126 and refused.metadata["rule"] == "mode.no-host"


async def test_a_command_naming_a_hidden_path_is_told(workspace: Path, under_tmp: Path) -> None:
    hidden = under_tmp
    bash = ToolRegistry.load(plugins=False).entries["bash"].tool
    res = await bash.execute({"command": "ls /tmp"}, _context(workspace, "normal", [hidden]))
    assert f"hidden in the jail, so shown empty or missing: {hidden}" in res.output
    assert str(hidden) in res.metadata["hidden"]
    plain = await bash.execute({"command": "echo hi"}, _context(workspace, "normal", [hidden]))
    assert "hidden in the jail" not in plain.output
