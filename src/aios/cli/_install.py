"""``aios daemon install|uninstall``: the system daemon as a hardened systemd service.

Install creates the unprivileged sandbox user, the ``aios`` group that may use the system
socket, ``/etc/aios`` and ``/var/lib/aios`` with their owners and modes, a system config that
selects the system scope, and the two units (ExecStart runs this installation's interpreter isolated: ``python -I -m aios.daemon``).
Uninstall removes the units (and the group and user it created) and keeps the data and config.
``--root DIR`` works on another root file system (as ``systemctl --root`` does), which is how the
tests run it; ``--dry-run`` prints the steps without doing them.
"""

from __future__ import annotations

import grp
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from aios.errors import AiosError

from . import _context as ctx

UNITS = ("aios-runtime.service", "aios-runtime.socket")
SYSTEM_CONFIG = '''# Written by `aios daemon install`: this host runs the system daemon (docs/deploy.md).
[daemon]
system = true
socket_group = "aios"
'''


def _units_source() -> Path:
    """The unit templates, shipped inside the package (containers/systemd links to them)."""
    from importlib.resources import files

    base = Path(str(files("aios.daemon") / "units"))
    if not (base / UNITS[0]).is_file():
        raise AiosError(f"the systemd unit templates are missing from {base}; reinstall aios")
    return base


class Plan:
    def __init__(self, root: Path, dry_run: bool) -> None:
        self.root = root
        self.dry_run = dry_run
        self.steps: list[str] = []

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def run(self, argv: list[str], why: str) -> None:
        if self.root != Path("/"):
            argv = [argv[0], "--prefix" if argv[0] in ("useradd", "groupadd", "userdel", "groupdel") else "--root", str(self.root), *argv[1:]]
        self.steps.append(f"{why}: {' '.join(argv)}")
        if self.dry_run:
            return
        try:
            subprocess.run(argv, check=True, capture_output=True, text=True)
        except FileNotFoundError as exc:
            raise AiosError(f"{why}: {argv[0]} is not installed here (it comes with the passwd package)") from exc
        except subprocess.CalledProcessError as exc:
            said = (exc.stderr or exc.stdout or "").strip().splitlines()
            raise AiosError(f"{why}: {' '.join(argv)} failed (exit {exc.returncode}): {said[-1] if said else 'no message'}") from exc

    def mkdir(self, p: str, mode: int, group: str) -> None:
        target = self.path(p)
        self.steps.append(f"directory {target} mode {mode:o} owner root:{group}")
        if not self.dry_run:
            with _os_errors(target):
                target.mkdir(parents=True, exist_ok=True)
                os.chmod(target, mode)
                os.chown(target, 0, _gid(group, self.root))

    def write(self, p: str, text: str, mode: int, *, keep: bool = False) -> None:
        target = self.path(p)
        if keep and target.exists():
            self.steps.append(f"keep existing {target}")
            return
        self.steps.append(f"write {target} mode {mode:o}")
        if not self.dry_run:
            with _os_errors(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
                os.chmod(target, mode)

    def remove(self, p: str) -> None:
        target = self.path(p)
        if target.exists():
            self.steps.append(f"remove {target}")
            if not self.dry_run:
                with _os_errors(target):
                    target.unlink()


@contextmanager
def _os_errors(target: Path) -> Iterator[None]:
    """An OSError on ``target`` becomes one line that names it."""
    try:
        yield
    except OSError as exc:
        raise AiosError(f"{target}: {exc.strerror or exc}") from exc


# What useradd/groupadd accept by default (shadow's NAME_REGEX); a name also goes into the
# units, so nothing else (spaces, newlines, '=') may reach them.
_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def _bad_names(**names: str) -> str | None:
    for option, name in names.items():
        if not _NAME.fullmatch(name):
            return f"--{option} {name!r} is not a valid user or group name (lower-case letters, digits, '-' and '_', at most 32)"
    return None


def _check_root(root: Path, dry_run: bool) -> None:
    """``--root`` must be a root file system that useradd and groupadd can edit.

    Raises:
        AiosError: what is missing and how to provide it.
    """
    if root == Path("/"):
        return
    if not root.is_dir():
        raise AiosError(f"--root {root}: {'not a directory' if root.exists() else 'no such directory'}")
    if dry_run:
        return
    for name in ("passwd", "group"):
        if not (root / "etc" / name).is_file():
            raise AiosError(
                f"--root {root}: {root / 'etc' / name} is missing; a root for --root needs etc/passwd and "
                "etc/group (useradd and groupadd edit them): copy them from /etc or build the root with debootstrap"
            )


def _exists(db: str, name: str, root: Path) -> bool:
    path = root / "etc" / db
    try:
        return any(line.split(":", 1)[0] == name for line in path.read_text().splitlines())
    except OSError:
        return False


def _gid(group: str, root: Path) -> int:
    if root == Path("/"):
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            raise AiosError(f"group {group!r} does not exist (groupadd --system {group})") from None
    for line in (root / "etc" / "group").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == group and len(parts) > 2 and parts[2].isdigit():
            return int(parts[2])
    raise AiosError(f"group {group!r} is not in {root / 'etc' / 'group'}")


def install(
    *,
    root: Annotated[str, Parameter(help="Install into this root file system instead of /.")] = "/",
    dry_run: Annotated[bool, Parameter(help="Print the steps without doing them.", negative=())] = False,
    user: Annotated[str, Parameter(help="The unprivileged user jailed commands run as.")] = "aios-sandbox",
    group: Annotated[str, Parameter(help="Members of this group may use the system socket.")] = "aios",
) -> int:
    """Install the system daemon: sandbox user, aios group, directories, config, systemd units."""
    if os.geteuid() != 0 and not dry_run:
        return ctx.fail("aios daemon install needs root (try sudo, or --dry-run to see the steps)")
    bad = _bad_names(user=user, group=group)
    if bad:
        return ctx.fail(bad, ctx.EXIT_USAGE)
    base = Path(root)
    _check_root(base, dry_run)
    plan = Plan(base, dry_run)
    if not _exists("passwd", user, base):
        plan.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], "sandbox user")
    if not _exists("group", group, base):
        plan.run(["groupadd", "--system", group], "socket group")
    plan.mkdir("/etc/aios", 0o750, group)
    plan.mkdir("/var/lib/aios", 0o750, group)
    plan.write("/etc/aios/config.toml", SYSTEM_CONFIG, 0o640, keep=True)
    src = _units_source()
    for unit in UNITS:
        text = (src / unit).read_text().replace("@AIOS_PYTHON@", sys.executable).replace("Group=aios", f"Group={group}").replace("SocketGroup=aios", f"SocketGroup={group}")
        plan.write(f"/etc/systemd/system/{unit}", text, 0o644)
    if base == Path("/") and Path("/run/systemd/system").is_dir():
        plan.run(["systemctl", "daemon-reload"], "reload systemd")
        plan.run(["systemctl", "enable", "--now", "aios-runtime.socket"], "start on the first connection")
        note = "the socket is active; the daemon starts on the first connection"
    else:
        note = "systemd is not running here: enable later with 'systemctl enable --now aios-runtime.socket'"
    for s in plan.steps:
        print(("would " if dry_run else "") + s)
    print(note if not dry_run else "(dry run: nothing was changed)")
    return 0


def uninstall(
    *,
    root: Annotated[str, Parameter(help="Uninstall from this root file system instead of /.")] = "/",
    dry_run: Annotated[bool, Parameter(help="Print the steps without doing them.", negative=())] = False,
    user: Annotated[str, Parameter(help="The sandbox user to remove.")] = "aios-sandbox",
    group: Annotated[str, Parameter(help="The socket group to remove.")] = "aios",
) -> int:
    """Remove the units, the sandbox user and the group; keep /etc/aios and /var/lib/aios."""
    if os.geteuid() != 0 and not dry_run:
        return ctx.fail("aios daemon uninstall needs root (try sudo, or --dry-run to see the steps)")
    bad = _bad_names(user=user, group=group)
    if bad:
        return ctx.fail(bad, ctx.EXIT_USAGE)
    base = Path(root)
    _check_root(base, dry_run)
    plan = Plan(base, dry_run)
    if base == Path("/") and Path("/run/systemd/system").is_dir():
        plan.run(["systemctl", "disable", "--now", "aios-runtime.socket", "aios-runtime.service"], "stop the service")
    for unit in UNITS:
        plan.remove(f"/etc/systemd/system/{unit}")
    if _exists("passwd", user, base):
        plan.run(["userdel", user], "sandbox user")
    if _exists("group", group, base):
        plan.run(["groupdel", group], "socket group")
    for s in plan.steps:
        print(("would " if dry_run else "") + s)
    print(f"kept {base / 'etc/aios'} and {base / 'var/lib/aios'} (remove them by hand to delete the data)")
    return 0


