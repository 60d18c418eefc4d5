"""Running a backend program of a typed admin tool (apt, systemctl, podman, git) on the host.

The argv is built by the tool from validated data, never from free text, so it runs directly,
not through a shell and not in the jail (the jail cannot reach the package database's lock, the
system bus or the container engine). What it runs with:

- a clean environment (``LANG=C`` so output parses the same everywhere, a fixed ``PATH``, none
  of the daemon's ``PYTHON*``/``LD_*``/``GIT_*`` variables);
- ``cwd=/`` (never a directory the model or a jailed command could write);
- the requester's identity when the request came from another local user (``setpriv``), so a
  read action never shows them more than they could read alone;
- a timeout that kills the process, and a cap on the output kept.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
import trio

if TYPE_CHECKING:
    from aios.sandbox import Identity

HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OUTPUT_CAP = 4 * 1024 * 1024


@attrs.frozen
class HostResult:
    """What a backend command did."""

    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def error_line(self) -> str:
        """The backend's own complaint in one line (its last stderr line), for a failed result."""
        if self.timed_out:
            return f"{self.argv[0]} did not finish in time and was killed"
        lines = [ln.strip() for ln in (self.stderr or self.stdout).splitlines() if ln.strip()]
        tail = lines[-1] if lines else "no output"
        return f"{os.path.basename(self.argv[0])} exited with code {self.exit_code}: {tail}"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a backend runs with: nothing inherited that can load code into it."""
    env = {"PATH": HOST_PATH, "LANG": "C", "LC_ALL": "C", "HOME": "/root" if os.geteuid() == 0 else os.path.expanduser("~")}
    for key in ("CONTAINERS_CONF", "XDG_RUNTIME_DIR", "DOCKER_HOST", "CONTAINER_HOST"):
        if key in os.environ:
            env[key] = os.environ[key]
    if extra:
        env.update(extra)
    return env


def requester_env(who: Identity, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """:func:`clean_env` for a backend run as another local user: their HOME, USER and runtime
    directory (rootless podman keeps its storage and socket there), never the daemon's."""
    import pwd

    env = clean_env(extra)
    env.pop("XDG_RUNTIME_DIR", None)
    try:
        entry = pwd.getpwuid(who.uid)
        env.update(HOME=entry.pw_dir or "/", USER=entry.pw_name, LOGNAME=entry.pw_name)
    except KeyError:
        env["HOME"] = "/"
    if os.path.isdir(f"/run/user/{who.uid}"):
        env["XDG_RUNTIME_DIR"] = f"/run/user/{who.uid}"
    return env


def which(program: str) -> str | None:
    """The program on the fixed host PATH (not the daemon's own PATH)."""
    return shutil.which(program, path=HOST_PATH)


def as_requester(argv: Sequence[str], who: Identity | None) -> list[str]:
    """``argv`` run as ``who`` (through setpriv) when the daemon must switch to them."""
    if who is None or not who.switch:
        return list(argv)
    groups = ",".join(str(g) for g in who.groups) or str(who.gid)
    return ["setpriv", f"--reuid={who.uid}", f"--regid={who.gid}", f"--groups={groups}", "--", *argv]


async def run_host(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    who: Identity | None = None,
) -> HostResult:
    """Run ``argv`` on the host and capture its output.

    Cancellation: cancelling kills the process (trio terminates, then kills it); callers set the
    deadline (``AdminTool.host`` does, from ``tools.admin_timeout``).
    """
    full = as_requester(argv, who)
    exe = which(full[0])
    if exe is None:
        return HostResult(tuple(full), 127, "", f"{full[0]}: not installed on this host")
    proc = await trio.run_process(
        [exe, *full[1:]],
        stdin=b"",
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        env=clean_env(env) if who is None or not who.switch else requester_env(who, env),
        cwd="/",
    )
    out = proc.stdout[:OUTPUT_CAP].decode("utf-8", "replace")
    err = proc.stderr[:OUTPUT_CAP].decode("utf-8", "replace")
    return HostResult(tuple(full), proc.returncode, out, err)
