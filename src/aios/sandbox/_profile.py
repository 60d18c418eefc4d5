"""The bubblewrap argv for each mode and profile, built as a list (never a shell string).

Pure apart from looking at the file system (which hidden paths exist, which the jail's user can
reach); it starts nothing. The order of mounts matters: bwrap applies them left to right, so the
private tmpfs directories come first, then the configured binds, the workspace, the read-only
git hook/config files inside it, and last the hidden paths (which may lie inside the workspace).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from attrs import frozen

from ..config import MODES
from ..errors import SandboxError
from ._access import Identity, reachable

if TYPE_CHECKING:
    from ..config import SandboxConfig

Profile = Literal["jail", "host"]

JAIL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HIDDEN_RUN = "/run"
"""An empty, read-only tmpfs in every jail: /run holds the host's sockets (docker, dbus, aios).
/tmp, /var/tmp and /root show the host's, read-only like the rest of the root."""
JAIL_TMPDIR = "/run/tmp"
"""The command's private, writable temporary directory (``TMPDIR``), new for every command."""
READONLY_IN_WORKSPACE: tuple[str, ...] = (".git/hooks", ".git/config", ".git/commondir")
"""Kept read-only in a writable workspace while a command runs: each can make git run code
outside the jail later (``commondir`` points git at another directory's config and hooks). The
runner undoes such metadata anywhere else in the workspace afterwards (:mod:`._workspace`)."""
HOST_ENV_KEEP = ("PATH", "HOME", "LANG", "TERM", "USER", "LOGNAME", "PYTHONSAFEPATH")
"""The whole environment of a host-profile command. Nothing is inherited: PYTHONPATH,
PYTHONHOME, LD_PRELOAD, GIT_*, NODE_OPTIONS, PERL5OPT, RUBYOPT, JAVA_TOOL_OPTIONS, BASH_ENV and
the like make an interpreter load code from wherever they point. ``PYTHONSAFEPATH=1`` keeps
Python from importing from the working directory (the workspace, which the jail writes):
``python3 -m pip`` once ran a planted ``pip/__main__.py`` as root."""


HIDDEN_TMPFS_SIZE = 64 * 1024
"""A hidden directory becomes a tiny read-only (0500) tmpfs: nothing to read, no room to fill."""


@frozen
class _Mount:
    kind: Literal["tmpfs", "bind", "ro-bind", "remount-ro"]
    src: str
    dest: str
    size: int | None = None
    perms: str | None = None


SYSTEM_DIRS: frozenset[str] = frozenset(
    {"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
     "/proc", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/local", "/var", "/var/tmp",
     "/var/lib", "/opt", "/mnt", "/media"}
)  # fmt: skip
"""Never a workspace: binding one writable (or granting the sandbox user access to it) would
open a system directory, or the host's /tmp with other users' sockets, to jailed commands."""


def check_workspace(path: str | Path) -> str:
    """The workspace's real path (symlinks resolved), after refusing what cannot be one.

    Raises:
        SandboxError: it does not exist, is not a directory, or is a system directory.
    """
    real = os.path.realpath(path)
    if real in SYSTEM_DIRS:
        raise SandboxError(
            f"the workspace cannot be {real}: a system directory would become writable to jailed "
            "commands; use a project directory or ~/aios-workspace",
            data={"workspace": real},
        )
    if not os.path.isdir(real):
        raise SandboxError(f"the workspace {real} does not exist", data={"workspace": real})
    return real


def _depth(path: str) -> int:
    return len([part for part in path.split("/") if part])


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _expand(entry: str, home: Path | None) -> str:
    if entry == "~" or entry.startswith("~/"):
        base = str(home) if home is not None else os.path.expanduser("~")
        entry = base + entry[1:]
    return os.path.normpath(os.path.abspath(entry))


def _bind_pair(entry: str, home: Path | None) -> tuple[str, str]:
    """``"path"`` or ``"src:dest"`` from sandbox.extra_binds / extra_ro_binds."""
    src, sep, dest = entry.partition(":")
    return _expand(src, home), _expand(dest if sep else src, home)


def resolve_bwrap(name: str) -> str | None:
    """The bwrap executable: an absolute path as given, else looked up on PATH."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
    return shutil.which(name)


def network_enabled(config: SandboxConfig, mode: str) -> bool:
    """sandbox.network when set, else by mode: on in normal, off in safe and paranoid."""
    if config.network is not None:
        return config.network
    return mode == "normal"


def jail_mounts(
    config: SandboxConfig,
    *,
    mode: str,
    workspace: Path,
    hidden: Sequence[Path],
    home: Path | None,
    ident: Identity,
    readonly: bool = False,
) -> list[_Mount]:
    """The mounts after ``--ro-bind / /`` (see the module docstring for the order).

    ``readonly`` binds the workspace read-only (safe, normal): for a command that only reads it.
    """
    ws = os.path.normpath(os.path.abspath(workspace))
    # Every writable tmpfs is sized: tmpfs is memory, and RLIMIT_FSIZE bounds one file, not many.
    tmpfs_size = int(config.max_file_size)
    # /run hidden (sockets) and read-only once the private TMPDIR is mounted inside it: a write
    # outside the writable places fails with EROFS instead of vanishing into a throwaway copy.
    mounts = [
        _Mount("tmpfs", "", HIDDEN_RUN, size=HIDDEN_TMPFS_SIZE, perms="0755"),
        _Mount("tmpfs", "", JAIL_TMPDIR, size=tmpfs_size, perms="1777"),
    ]
    # /dev is bwrap's own tmpfs, unsized (half the RAM) and writable, /dev/shm included: a sized
    # /dev/shm here, and /dev read-only after every other mount (its device nodes stay usable:
    # writing a device is no write to the file system).
    mounts.append(_Mount("tmpfs", "", "/dev/shm", size=tmpfs_size))
    for entry in config.extra_ro_binds:
        src, dest = _bind_pair(entry, home)
        mounts.append(_Mount("ro-bind", src, dest))
    for entry in config.extra_binds:
        src, dest = _bind_pair(entry, home)
        mounts.append(_Mount("bind", src, dest))
    if mode == "paranoid":
        # A private scratch directory: a fresh tmpfs at the workspace path, nothing of the host's
        # workspace visible, nothing kept after the command.
        mounts.append(_Mount("tmpfs", "", ws, size=tmpfs_size))
    elif readonly:
        mounts.append(_Mount("ro-bind", ws, ws))
    else:
        mounts.append(_Mount("bind", ws, ws))
        for rel in READONLY_IN_WORKSPACE:
            p = os.path.join(ws, rel)
            if os.path.lexists(p) and not os.path.islink(p):
                mounts.append(_Mount("ro-bind", p, p))
    to_hide = [_expand(str(h), home) for h in hidden]
    to_hide += [_expand(h, home) for h in config.hidden_paths]
    seen: set[str] = {"/", ws}  # hiding the workspace itself would defeat it: the workspace wins
    for path in to_hide:
        if path in seen:
            continue
        seen.add(path)
        if not os.path.lexists(path):
            continue  # nothing to hide; the root is read-only, so nothing can appear there
        # The deepest mount covering the path decides whether the host's copy shows through.
        covering = max(
            (m for m in mounts if _under(path, m.dest)), key=lambda m: len(m.dest), default=None
        )
        if covering is not None and covering.kind == "tmpfs":
            continue  # already an empty tmpfs in the jail
        if not reachable(path, ident):
            continue  # the jail's user cannot reach it on the host either (and bwrap could not)
        if os.path.isdir(path) and not os.path.islink(path):
            mounts.append(_Mount("tmpfs", "", path, size=HIDDEN_TMPFS_SIZE, perms="0500"))
        else:
            mounts.append(_Mount("ro-bind", "/dev/null", path))
    # bwrap mounts left to right: a mount must come after every mount above it (a hidden
    # directory inside the workspace after the workspace, a workspace inside a hidden directory
    # after that directory). A stable sort by depth keeps the listed order otherwise.
    mounts += _pins(mounts, ident)
    first = 3  # /run, its TMPDIR and /dev/shm: nothing configured may come before them
    ordered = mounts[:first] + sorted(mounts[first:], key=lambda m: _depth(m.dest))
    return [*ordered, _Mount("remount-ro", "", HIDDEN_RUN), _Mount("remount-ro", "", "/dev")]


def hidden_of(mounts: Sequence[_Mount]) -> tuple[str, ...]:
    """The paths a jail hides (emptied or covered), for the result to name them."""
    return tuple(
        m.dest
        for m in mounts
        if (m.kind == "tmpfs" and m.perms == "0500") or (m.kind == "ro-bind" and m.src == "/dev/null")
    )


def _pins(mounts: Sequence[_Mount], ident: Identity) -> list[_Mount]:
    """Self-binds of the directories between a writable bind and each mount inside it.

    A mount point cannot be renamed or removed (EBUSY), but its parent can, and the mount moves
    with it: ``mv a b`` took a hidden ``a/secret`` out of its path, so the next command found it
    unhidden at ``b/secret``; ``mv .git x`` let a command build a new ``.git`` with its own hooks.
    Binding each directory in between onto itself makes it a mount point too.
    """
    pins: dict[str, _Mount] = {}
    for m in mounts:
        p = os.path.dirname(m.dest)
        while p not in pins:
            covering = max(
                (c for c in mounts if _under(p, c.dest)), key=lambda c: len(c.dest), default=None
            )
            if covering is None or covering.kind != "bind" or covering.dest == p:
                break  # read-only, a private tmpfs, or already a mount point
            src = covering.src + p[len(covering.dest.rstrip("/")) :]
            if os.path.isdir(src) and not os.path.islink(src) and reachable(src, ident):
                pins[p] = _Mount("bind", src, p)
            p = os.path.dirname(p)
    return list(pins.values())


def _mount_args(mounts: Sequence[_Mount]) -> list[str]:
    args: list[str] = []
    for m in mounts:
        if m.kind == "remount-ro":
            args += ["--remount-ro", m.dest]
        elif m.kind == "tmpfs":
            if m.perms is not None:
                args += ["--perms", m.perms]
            if m.size is not None:
                args += ["--size", str(m.size)]
            args += ["--tmpfs", m.dest]
        else:
            args += [f"--{m.kind}", m.src, m.dest]
    return args


def build_argv(
    config: SandboxConfig,
    command: Sequence[str],
    *,
    mode: str,
    profile: Profile,
    workspace: Path,
    hidden: Sequence[Path],
    home: Path | None,
    ident: Identity,
    seccomp_fd: int | None,
    sync_fds: tuple[int, int] | None = None,
    run_as: Identity | None = None,
    hidden_out: list[str] | None = None,
    readonly: bool = False,
    env: dict[str, str] | None = None,
) -> list[str]:
    """The full argv: ``bwrap <options> -- command``, or the plain command in trusted mode.

    ``run_as`` (another local user) decides the host profile's environment; ``hidden_out``, when
    given, receives the paths the jail hides; ``readonly`` binds the workspace read-only; ``env``
    adds variables to the jail's environment (the jail profile only).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if not command:
        raise ValueError("empty command")
    if mode == "trusted":
        return list(command)
    bwrap = resolve_bwrap(config.bwrap) or config.bwrap
    ws = os.path.normpath(os.path.abspath(workspace))
    if profile == "host":
        # The system writable (device nodes too), for confirmed system changes. Still its own
        # pid namespace so nothing outlives the command, still killed with the daemon.
        args = [
            bwrap,
            "--dev-bind",
            "/",
            "/",
            "--unshare-pid",
            "--die-with-parent",
            "--new-session",
        ]
        args += ["--clearenv"]
        for key, value in host_env(run_as).items():
            args += ["--setenv", key, value]
        args += ["--chdir", ws if os.path.isdir(ws) else "/"]
    else:
        if not os.path.isdir(ws):
            raise SandboxError(f"the workspace {ws} does not exist", data={"workspace": ws})
        if ws == "/":
            raise SandboxError(
                "the workspace cannot be / (it would make the whole system writable)"
            )
        args = [bwrap, "--unshare-all"]
        if network_enabled(config, mode):
            args.append("--share-net")
        args += ["--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
        args += ["--cap-drop", "ALL", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        args += ["--ro-bind", "/proc/sys", "/proc/sys"]
        mounts = jail_mounts(
            config, mode=mode, workspace=workspace, hidden=hidden, home=home, ident=ident,
            readonly=readonly,
        )
        args += _mount_args(mounts)
        if hidden_out is not None:
            hidden_out += hidden_of(mounts)
        args += ["--clearenv", "--setenv", "PATH", JAIL_PATH, "--setenv", "HOME", ws]
        args += ["--setenv", "LANG", "C.UTF-8", "--setenv", "TERM", "dumb"]
        args += ["--setenv", "USER", ident.name, "--setenv", "LOGNAME", ident.name]
        args += ["--setenv", "TMPDIR", JAIL_TMPDIR]
        for key, value in (env or {}).items():
            args += ["--setenv", key, value]
        args += ["--chdir", ws]
    if sync_fds is not None:
        # bwrap writes the sandbox's pid to the first and waits on the second before it starts
        # the command: the runner sets the rlimits on that pid in between (see _runner.py).
        args += ["--info-fd", str(sync_fds[0]), "--block-fd", str(sync_fds[1])]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return [*args, "--", *command]


def host_env(run_as: Identity | None) -> dict[str, str]:
    """The environment of a host-profile command (exactly :data:`HOST_ENV_KEEP`), for the
    daemon's user or, when acting for another local user, for them."""
    import pwd

    uid = os.geteuid() if run_as is None else run_as.uid
    try:
        entry = pwd.getpwuid(uid)
        name, home = entry.pw_name, entry.pw_dir or "/"
    except KeyError:
        name, home = str(uid), "/"
    if run_as is None:
        home = os.path.expanduser("~")
    env = {"PATH": JAIL_PATH, "HOME": home, "LANG": "C.UTF-8", "TERM": "dumb", "USER": name,
           "LOGNAME": name, "PYTHONSAFEPATH": "1"}  # fmt: skip
    assert tuple(env) == HOST_ENV_KEEP
    return env
