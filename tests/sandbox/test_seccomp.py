"""The seccomp filter, exercised by real syscalls inside the jail."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

import pyseccomp

from aios.config import SandboxConfig
from aios.sandbox import Jail

from .conftest import STATUS, needs_bwrap

pytestmark = needs_bwrap

PROBE = r"""
import ctypes, errno, json, os, socket, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
nums = json.loads(sys.argv[1])
out = {}
def call(name, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nums[name]), *[ctypes.c_ulong(a) for a in args])
    return "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]
out["keyctl"] = call("keyctl", 0, 0)
out["unshare_user"] = call("unshare", 0x10000000)
out["unshare_net"] = call("unshare", 0x40000000)
out["mount"] = call("mount", 0, 0, 0, 0, 0)
out["clone3"] = call("clone3", 0, 0)
out["fsopen"] = call("fsopen", 0, 0)
out["bpf"] = call("bpf", 0, 0, 0)
out["userfaultfd"] = call("userfaultfd", 0)
out["ptrace"] = call("ptrace", 2, 1, 0, 0)  # PEEKDATA: ESRCH unless filtered
out["personality_query"] = call("personality", 0xFFFFFFFF)
out["personality_norandom"] = call("personality", 0x0040000)
out["perf_event_open"] = call("perf_event_open", 0, 0, 0, 0, 0)
out["init_module"] = call("init_module", 0, 0, 0)
for fam in ("AF_PACKET", "AF_ALG", "AF_VSOCK"):
    try:
        socket.socket(getattr(socket, fam), socket.SOCK_DGRAM).close(); out[fam] = "ok"
    except OSError as e:
        out[fam] = errno.errorcode[e.errno]
for name, make in (("AF_UNIX", lambda: socket.socket(socket.AF_UNIX)),
                   ("AF_UNIX_HIGH", lambda: socket.socket(1 | (1 << 32))),
                   ("pair_dgram", lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)[0]),
                   ("pair_stream", lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)[0])):
    try:
        make().close(); out[name] = "ok"
    except OverflowError:
        out[name] = "overflow"
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
out["io_uring_setup"] = call("io_uring_setup", 1, 0)
socket.socket(socket.AF_INET6).close()
out["fork"] = subprocess.run(["true"]).returncode
t = threading.Thread(target=lambda: None); t.start(); t.join()
out["getpid"] = call("getpid")
print(json.dumps(out))
"""

NAMES = ["keyctl", "unshare", "mount", "clone3", "fsopen", "bpf", "userfaultfd", "ptrace", "personality",
         "perf_event_open", "init_module", "getpid", "io_uring_setup"]  # fmt: skip


async def test_filter_denies_and_allows(cfg: SandboxConfig, workspace: Path) -> None:
    assert STATUS.seccomp, STATUS.reason
    nums = {n: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, n) for n in NAMES}
    r = await Jail(cfg, mode="normal", workspace=workspace).run(
        ["python3", "-c", PROBE, json.dumps(nums)]
    )
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    for name in ("keyctl", "unshare_user", "unshare_net", "mount", "bpf", "userfaultfd", "ptrace",
                 "personality_query", "personality_norandom", "perf_event_open", "init_module"):  # fmt: skip
        assert res[name] == "EPERM", (name, res[name])
    # clone3 and the new mount API: ENOSYS, so that libc falls back to what the filter can see.
    assert res["clone3"] == "ENOSYS" and res["fsopen"] == "ENOSYS"
    for fam in ("AF_PACKET", "AF_ALG", "AF_VSOCK"):
        assert res[fam] == "EAFNOSUPPORT"
    # No unix sockets (a filter cannot see connect()'s address; the host's /tmp is visible), no
    # datagram pairs (sendto() names any socket path), no io_uring (it makes sockets unfiltered).
    assert res["AF_UNIX"] == "EACCES" and res["pair_dgram"] == "EACCES"
    assert res["AF_UNIX_HIGH"] in ("EACCES", "EAFNOSUPPORT", "overflow")
    assert res["io_uring_setup"] == "ENOSYS"
    assert res["pair_stream"] == "ok"  # pipes between a command's own processes still work
    # Ordinary work goes on: fork/exec (through clone), threads, plain syscalls.
    assert res["fork"] == 0 and res["getpid"] == "ok"


def test_without_the_filter_the_same_calls_fail_differently(
    cfg: SandboxConfig, workspace: Path
) -> None:
    """Control: the EPERM/ENOSYS above come from the filter, not from the namespaces alone."""
    nums = {n: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, n) for n in NAMES}
    jail = Jail(cfg, mode="normal", workspace=workspace)
    argv = jail.argv(["python3", "-c", PROBE, json.dumps(nums)])  # no seccomp_fd
    kw: dict[str, object] = {}
    if os.geteuid() == 0:
        pw = pwd.getpwnam(cfg.user)
        kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    workspace.chmod(0o755)
    out = subprocess.run(argv, capture_output=True, text=True, cwd="/", timeout=60, **kw)  # type: ignore[call-overload]
    res = json.loads(out.stdout)
    assert res["clone3"] != "ENOSYS"
    assert res["keyctl"] != "EPERM" and res["ptrace"] == "ESRCH" and res["mount"] != "EPERM"
    assert res["AF_PACKET"] != "EAFNOSUPPORT"
    assert res["AF_UNIX"] == "ok" and res["pair_dgram"] == "ok" and res["io_uring_setup"] != "ENOSYS"
    assert res["personality_query"] == "ok"
