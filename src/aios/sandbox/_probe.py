"""Can a jail start on this host? Decided by starting one, then explained when it cannot.

:func:`probe` runs ``bwrap <the jail's namespace and mount options> -- true`` as the user jailed
commands run as. When that fails it reads bwrap's message and the kernel knobs that commonly
cause it (unprivileged user namespaces switched off by sysctl, restricted by AppArmor, a
container's seccomp profile or masked /proc) and says what to change. ``aios doctor`` and
``aios info`` show the result; :class:`~aios.sandbox.Jail` refuses to run without it.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import asdict, frozen

from ..errors import SandboxError
from . import _seccomp
from ._access import Identity
from ._profile import resolve_bwrap

if TYPE_CHECKING:
    from ..config import SandboxConfig

INSTALL_HINT = "install bubblewrap: `apt-get install bubblewrap` (Debian/Ubuntu), `dnf install bubblewrap` (Fedora)"
PROBE_TIMEOUT = 15.0


@frozen
class SandboxStatus:
    """Whether jailed commands can run here, and if not, why and what to change."""

    usable: bool
    bwrap: str | None
    """Resolved path of the bubblewrap binary (None when not found)."""
    version: str | None
    reason: str | None
    """Why the jail cannot start (or what is degraded, e.g. no seccomp), for a person."""
    fix: str | None
    """What to change on the host."""
    seccomp: bool
    """Whether the seccomp filter is loaded into every jail."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_cache: dict[tuple[str, str], SandboxStatus] = {}
_lock = threading.Lock()


def cached(config: SandboxConfig) -> SandboxStatus | None:
    """The status already probed for this bwrap and user in this process, if any."""
    return _cache.get((config.bwrap, config.user))


def probe(config: SandboxConfig) -> SandboxStatus:
    """Start a minimal jail (``true``) and report whether it worked; cached per process.

    Blocking (it waits for bwrap, typically a few ms, at most 15 s): from trio call it through
    ``trio.to_thread.run_sync``.
    """
    key = (config.bwrap, config.user)
    with _lock:
        status = _cache.get(key)
        if status is None:
            status = _probe(config)
            _cache[key] = status
    return status


def _version(bwrap: str) -> str | None:
    try:
        out = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT
        )
    except (OSError, subprocess.SubprocessError):
        return None
    words = out.stdout.split()
    return words[-1] if out.returncode == 0 and words else None


def _probe_argv(bwrap: str, seccomp_fd: int | None) -> list[str]:
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent"]
    argv += ["--new-session", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--dev", "/dev"]
    argv += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys", "--tmpfs", "/tmp"]
    argv += ["--tmpfs", "/run", "--clearenv", "--chdir", "/"]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    return [*argv, "--", "true"]


def _try(bwrap: str, ident: Identity, with_seccomp: bool) -> tuple[int, str]:
    fd = _seccomp.filter_fd() if with_seccomp else None
    kwargs: dict[str, Any] = {}
    if ident.switch:
        kwargs.update(user=ident.uid, group=ident.gid, extra_groups=[])
    try:
        proc = subprocess.run(
            _probe_argv(bwrap, fd),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PROBE_TIMEOUT,
            pass_fds=() if fd is None else (fd,),
            cwd="/",
            start_new_session=True,
            **kwargs,
        )
    except subprocess.TimeoutExpired:
        return 124, f"bwrap did not finish within {PROBE_TIMEOUT:.0f} s"
    except OSError as exc:
        return 127, f"cannot execute {bwrap}: {exc}"
    finally:
        if fd is not None:
            os.close(fd)
    return proc.returncode, proc.stderr.strip()


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _in_container() -> str | None:
    if os.path.exists("/.dockerenv"):
        return "docker"
    if os.path.exists("/run/.containerenv"):
        return "podman"
    env = _read("/proc/1/environ")
    if env is not None and "container=" in env:
        return "a container"
    return None


def diagnose(stderr: str, ident: Identity) -> tuple[str, str]:
    """(reason, fix) for a bwrap that failed with ``stderr``."""
    msg = stderr.splitlines()[-1] if stderr else "bwrap failed without a message"
    who = f" for the user {ident.name}" if ident.switch else ""
    if "Unknown option" in stderr or "Unrecognized option" in stderr:
        return (
            f"bubblewrap is too old: {msg}",
            "upgrade bubblewrap to 0.8 or later (`apt-get install bubblewrap`)",
        )
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return (
            f"unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone=0): {msg}",
            "sysctl -w kernel.unprivileged_userns_clone=1, and persist it in /etc/sysctl.d/",
        )
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        return (
            f"user namespaces are switched off (user.max_user_namespaces=0): {msg}",
            "sysctl -w user.max_user_namespaces=15000, and persist it in /etc/sysctl.d/",
        )
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        return (
            f"AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): {msg}",
            "give bwrap an AppArmor profile that allows userns (Ubuntu: apt-get install apparmor-profiles "
            "and load bwrap-userns-restrict) or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        )
    container = _in_container()
    if "proc" in msg and ("mount" in msg or "Can't" in msg):
        return (
            f"cannot mount a new /proc{who} (masked /proc in a container?): {msg}",
            "run the container with --security-opt unmask=/proc/* (podman) or --security-opt "
            "systempaths=unconfined (docker), or with --privileged",
        )
    if container is not None and ("namespace" in msg or "Operation not permitted" in msg):
        return (
            f"{container}'s seccomp/AppArmor profile blocks the namespaces bwrap needs: {msg}",
            "run the container with --security-opt seccomp=unconfined --security-opt apparmor=unconfined, "
            "or use a seccomp profile that allows clone/unshare with CLONE_NEWUSER",
        )
    if "Permission denied" in msg and ident.switch:
        return (
            f"bwrap cannot start as the sandbox user {ident.name}: {msg}",
            f"check that {ident.name} can execute bwrap and search / and /usr",
        )
    return (
        f"bwrap cannot start a jail{who}: {msg}",
        "run `aios doctor`; check that user namespaces work: "
        "`bwrap --unshare-all --ro-bind / / true`",
    )


def _probe(config: SandboxConfig) -> SandboxStatus:
    bwrap = resolve_bwrap(config.bwrap)
    if bwrap is None:
        return SandboxStatus(
            False, None, None, f"bubblewrap not found ({config.bwrap!r})", INSTALL_HINT, False
        )
    version = _version(bwrap)
    try:
        ident = Identity.for_daemon(config.user)
    except SandboxError as exc:
        return SandboxStatus(
            False, bwrap, version, exc.message, f"useradd --system {config.user}", False
        )
    seccomp_note: str | None = None
    try:
        _seccomp.filter_bytes()
        with_seccomp = True
    except SandboxError as exc:
        with_seccomp, seccomp_note = False, exc.message
    rc, err = _try(bwrap, ident, with_seccomp)
    if rc != 0 and with_seccomp:
        plain_rc, _plain_err = _try(bwrap, ident, False)
        if plain_rc == 0:
            # A jail without the filter is still a jail (namespaces, read-only root, no caps).
            return SandboxStatus(
                True,
                bwrap,
                version,
                f"bwrap refused the seccomp filter: {err}",
                "check that the kernel has CONFIG_SECCOMP_FILTER",
                False,
            )
    if rc != 0:
        reason, fix = diagnose(err, ident)
        return SandboxStatus(False, bwrap, version, reason, fix, with_seccomp)
    return SandboxStatus(
        True,
        bwrap,
        version,
        seccomp_note,
        None if seccomp_note is None else "apt-get install libseccomp2",
        with_seccomp,
    )
