"""The packages tool's backend choice, on this host (apt; dnf in tests/containers/test_admin_dnf.py).

- ``tools.packages.backend``: auto picks the backend whose package database the host keeps
  (dpkg's status file first, else an rpm database); a named backend that is missing is one line
  naming the key, in the call and in ``aios doctor``; a value that is no backend is a config error.
- Changing a security package is blocked in normal mode whatever the backend's spelling.
- Nothing here passes ``--yes``: a change that the code under test fails to stop waits for a
  person (none answers) instead of changing this host.
- dnf's transaction table, as dnf 4 prints it (including a name too long for its column), gives
  the packages, operations, versions and architectures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aios.config import SecurityConfig
from aios.security import Policy, admin_decision
from aios.tools._apt import Apt
from aios.tools._dnf import Dnf, transaction
from aios.tools._host import which
from aios.tools._pkgbackend import Step, host_database
from harness import Daemon, Env


def call(env: Env, args: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any], str]:
    proc = env.cli("tools", "call", "packages", json.dumps(args), "--json", *extra, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def doctor_detail(env: Env) -> str:
    checks = {c["check"]: c for c in json.loads(env.cli("doctor", "--json").stdout)}
    detail: str = checks["admin tools"]["detail"]
    return detail


def test_auto_follows_the_package_database_the_host_keeps(tmp_path: Path) -> None:
    status, rpmdb = tmp_path / "status", tmp_path / "rpmdb.sqlite"
    assert host_database(str(status), [str(rpmdb)]) is None
    rpmdb.write_bytes(b"")
    assert host_database(str(status), [str(rpmdb)]) == "dnf"
    status.write_text("Package: bash\n")
    assert host_database(str(status), [str(rpmdb)]) == "apt"  # both: apt first
    rpmdb.unlink()
    assert host_database(str(status), [str(rpmdb)]) == "apt"
    assert host_database() == "apt"  # this Debian host


def test_doctor_names_the_packages_backend(env: Env) -> None:
    assert "packages: usable (apt)" in doctor_detail(env)
    env.write_config('[tools.packages]\nbackend = "apt"\n')
    assert "packages: usable (apt)" in doctor_detail(env)


def test_a_chosen_backend_that_is_missing_is_one_line_naming_the_key(env: Env) -> None:
    assert which("dnf") is None, "this test needs a host without dnf"
    env.write_config('[tools.packages]\nbackend = "dnf"\n')
    line = 'tools.packages.backend is "dnf" but dnf or rpm is not installed on this host'
    if which("rpm") is not None:
        line = 'tools.packages.backend is "dnf" but dnf is not installed on this host'
    assert f"packages: {line}" in doctor_detail(env)
    d = env.start_daemon()
    try:
        for args in ({"action": "search", "query": "bash"}, {"action": "install", "names": ["sl"]}):
            code, res, err = call(env, args)  # never --yes on this host: nothing may change here
            assert code not in (0, 126), (res, err)
            assert res["error"] == line and res["metadata"]["unavailable"] is True, res
    finally:
        d.kill()


def test_a_backend_that_does_not_exist_is_a_config_error(env: Env) -> None:
    env.write_config('[tools.packages]\nbackend = "yum"\n')
    proc = env.cli("doctor", "--json")
    assert "Traceback" not in proc.stderr
    assert "tools.packages.backend" in proc.stdout + proc.stderr


@pytest.mark.parametrize(("backend", "op", "name"), [
    (Dnf(), "install", "firewalld"), (Dnf(), "remove", "audit"), (Dnf(), "upgrade", "selinux-policy-targeted"),
    (Apt(), "install", "ufw"), (Apt(), "remove", "apparmor"), (Apt(), "upgrade", "auditd"),
])
def test_a_security_package_change_is_blocked_in_normal_mode(backend: Any, op: str, name: str, tmp_path: Path) -> None:
    policy = Policy(SecurityConfig(), workspace=tmp_path)
    argv = backend.change(op, [name])
    d = admin_decision(policy, tool="packages", action=op, argv=argv, kind="system", mode="normal", allow=None)
    assert d.action == "block" and d.rule == "secoff.security-package", (argv, d)
    plan = backend.simulate(op, [name])  # planning it only reads
    d = admin_decision(policy, tool="packages", action="plan", argv=plan, kind="read", mode="normal", allow=None)
    assert d.action == "allow", (plan, d)
    ok = admin_decision(policy, tool="packages", action=op, argv=backend.change(op, ["nginx"]), kind="system",
                        mode="normal", allow=None)
    assert ok.action == "confirm"


@pytest.mark.parametrize(("backend", "op", "names", "steps"), [
    (Apt(), "remove", ["libauparse0"], [Step("libauparse0", "remove", "1:3.0.9-1", None), Step("auditd", "remove", "1:3.0.9-1", None)]),
    (Apt(), "install", ["iptables-nft-only"], [Step("iptables-nft-only", "install", None, "1"), Step("ufw", "remove", "0.36.2-1", None)]),
    (Dnf(), "remove", ["python3-firewall"], [Step("python3-firewall", "remove", "1.0-1", None), Step("firewalld", "remove", "1.0-1", None)]),
])
def test_a_security_package_removed_as_a_dependency_is_blocked(backend: Any, op: str, names: list[str], steps: list[Step],
                                                               tmp_path: Path) -> None:
    """The change's command names every package its plan removes, so the policy sees them."""
    argv = backend.change(op, names, steps)
    assert steps[1].name in " ".join(argv)
    d = admin_decision(Policy(SecurityConfig(), workspace=tmp_path), tool="packages", action=op, argv=argv,
                       kind="system", mode="normal", allow=None)
    assert d.action == "block" and d.rule == "secoff.security-package", (argv, d)


def test_a_security_package_install_through_the_daemon_is_blocked(env: Env, daemon: Daemon) -> None:
    for names in (["ufw"], ["sl", "auditd"]):  # known to this host's apt, not installed
        # never --yes on this host: should the block regress, the change still waits for a person
        code, res, _err = call(env, {"action": "install", "names": names})
        assert code == 126 and res["metadata"]["decision"] == "block", res
        assert res["metadata"]["rule"] == "secoff.security-package", res


# dnf 4.14's own output (LANG=C, 80 columns), from the container test's repository.
UPGRADE = """\
Last metadata expiration check: 0:00:03 ago on Wed Dec  2 09:50:18 2026.
Dependencies resolved.
================================================================================
 Package              Architecture     Version            Repository       Size
================================================================================
Upgrading:
 aios-probe           noarch           3.0-1              local           5.9 k
Installing dependencies:
 aios-dep             noarch           1.0-1              local           6.1 k

Transaction Summary
================================================================================
Install  1 Package
Upgrade  1 Package

Total download size: 12 k
Operation aborted.
"""
REMOVE = """\
Dependencies resolved.
================================================================================
 Package            Architecture   Version          Repository             Size
================================================================================
Removing:
 aios-probe         noarch         1.0-1            @@commandline           4

Transaction Summary
================================================================================
Remove  1 Package

Freed space: 4
Operation aborted.
"""
WRAPPED = """\
Dependencies resolved.
================================================================================
 Package                                               Arch   Version
                                                                    Repo   Size
================================================================================
Installing:
 aios-a-package-name-that-is-far-too-long-for-its-column
                                                       noarch 1.0-1 local 6.3 k
 aios-short                                            noarch 1.0-1 local 6.0 k

Transaction Summary
================================================================================
Install  2 Packages
"""


def test_dnf_transaction_table() -> None:
    assert transaction(UPGRADE) == [("aios-probe", "upgrade", "3.0-1", "noarch"), ("aios-dep", "install", "1.0-1", "noarch")]
    assert transaction(WRAPPED) == [("aios-a-package-name-that-is-far-too-long-for-its-column", "install", "1.0-1", "noarch"),
                                    ("aios-short", "install", "1.0-1", "noarch")]
    assert transaction(REMOVE) == [("aios-probe", "remove", "1.0-1", "noarch")]
    assert transaction("Dependencies resolved.\nNothing to do.\nComplete!\n") == []


@pytest.mark.parametrize(("action", "names", "word"), [
    ("remove", ["sl+"], "would install sl"),  # apt reads 'NAME+' in a remove line as an install
    ("install", ["curl-"], "would remove curl"),  # and 'NAME-' in an install line as a removal
])
def test_an_action_never_does_what_another_action_does(env: Env, daemon: Daemon, action: str, names: list[str], word: str) -> None:
    """paranoid's allow list names actions (tool:packages:remove): a remove must not install."""
    # never --yes on this host: on code without the guard this is a confirm that no one answers
    code, res, _err = call(env, {"action": action, "names": names})
    assert code not in (0, 126), res
    assert word in res["error"] and "\n" not in res["error"], res


OBSOLETES = """Dependencies resolved.
================================================================================
 Package            Arch       Version        Repository     Size
================================================================================
Installing:
 aios-fw-ng         noarch     1.0-1          local          6.0 k
     replacing  firewalld.noarch 1.0-1
Upgrading:
 aios-probe         noarch     3.0-1          local          6.1 k
     replacing  aios-probe.noarch 2.0-1

Transaction Summary
================================================================================
Install  1 Package
Upgrade  1 Package
"""


def test_dnf_obsoletes_are_removals() -> None:
    """A package that obsoletes another removes it: the plan (and so the policy) must see that;
    the 'replacing' line dnf prints for a package's own older version is not a removal."""
    assert transaction(OBSOLETES) == [("aios-fw-ng", "install", "1.0-1", "noarch"), ("firewalld", "remove", "1.0-1", "noarch"),
                                      ("aios-probe", "upgrade", "3.0-1", "noarch")]
