"""The packages tool's dnf backend on a real dnf (issue 18), in a container: nothing on this host changes.

The image is the project's image plus Debian's ``dnf rpm createrepo-c`` (built once per session
with ``--pull=never``). In the container a local rpm repository of tiny noarch packages is built
with rpmbuild: ``aios-read`` (read actions), ``aios-probe`` (a real install and remove),
``aios-up`` 1.0 then 2.0, which needs ``aios-dep``, whose ``%pre`` fails (rpm then installs
aios-up 2.0 but not aios-dep: the upgrade's verification fails for real), ``aios-broken`` (its
``%pre`` fails: never installed) and ``firewalld`` (named like a security package). The
repository is served over HTTP on the container's loopback, so dnf downloads the packages and,
with keepcache, keeps them: rollback reinstalls from that cache. Scriptlets are Lua (run inside
rpm): an rpm on a Debian system has no rpm that provides /bin/sh.

An aios daemon runs inside with ``tools.packages.backend = "dnf"`` and
``recovery.auto_rollback``; each test uses its own packages, so the order does not matter.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_shared_data import IMAGE, image, podman, podman_env  # noqa: F401 - image is a fixture

DNF_IMAGE = IMAGE.rsplit(":", 1)[0] + "-dnf-test:latest"
BACKEND = {"AIOS_TOOLS__PACKAGES__BACKEND": "dnf"}

# build NAME VERSION [FAILING-SCRIPTLET [REQUIRES]]; index
RPM_REPO = r"""
set -e
mkdir -p /srv/rpmrepo /tmp/rpmb
build() {
  {
    printf 'Name: %s\nVersion: %s\nRelease: 1\nSummary: aios test package %s\nLicense: MIT\nBuildArch: noarch\n' "$1" "$2" "$1"
    [ -z "${4:-}" ] || printf 'Requires: %s\n' "$4"
    printf '%%description\naios test package %s\nsecond line\n' "$1"
    printf '%%install\nmkdir -p %%{buildroot}/usr/share/%s\necho %s > %%{buildroot}/usr/share/%s/version\n' "$1" "$2" "$1"
    printf '%%files\n/usr/share/%s/version\n' "$1"
    [ -z "${3:-}" ] || printf '%%%s -p <lua>\nerror("aios test: %%%s fails")\n' "$3" "$3"
  } > "/tmp/rpmb/$1-$2.spec"
  rpmbuild -bb --quiet --define "_topdir /tmp/rpmb/top" --define "_rpmdir /srv/rpmrepo" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" "/tmp/rpmb/$1-$2.spec" 2>/dev/null
}
index() { createrepo_c -q --update /srv/rpmrepo; }
"""


@pytest.fixture(scope="module")
def dnf_image(image: str, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    ctx = tmp_path_factory.mktemp("dnf-image")
    # dnf on Debian cannot tell the release version: it is set once for the $releasever variable.
    (ctx / "Containerfile").write_text(
        f"FROM {IMAGE}\nRUN apt-get update && apt-get install -y --no-install-recommends dnf rpm createrepo-c"
        " && rm -rf /var/lib/apt/lists/* && mkdir -p /etc/yum.repos.d && echo 12 > /etc/dnf/vars/releasever\n")
    start = time.monotonic()
    proc = subprocess.run(["podman", "build", "-q", "--pull=never", "-t", DNF_IMAGE, str(ctx)],
                          capture_output=True, text=True, env=podman_env(), timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"\n{DNF_IMAGE} built (or reused) in {time.monotonic() - start:.1f} s")
    return DNF_IMAGE


class RpmHost:
    def __init__(self, name: str) -> None:
        self.name = name

    def sh(self, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, "sh", "-c", script, check=check, timeout=600)

    def repo(self, script: str) -> None:
        self.sh(RPM_REPO + script)

    def installed(self, name: str) -> str | None:
        out = self.sh(f"rpm -q --qf '%{{VERSION}}-%{{RELEASE}}' {name}", check=False)
        return out.stdout if out.returncode == 0 else None

    def call(self, args: dict[str, Any], *extra: str, user: str = "root") -> tuple[int, dict[str, Any], str]:
        proc = podman("exec", "--user", user, self.name, "aios", "tools", "call", "packages", json.dumps(args), "--json", *extra,
                      check=False, timeout=600)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout.strip(), proc.stderr
        return proc.returncode, json.loads(proc.stdout), proc.stderr


@pytest.fixture(scope="module")
def rpmhost(dnf_image: str) -> Iterator[RpmHost]:
    name = f"aios-dnf-{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, "--network", "none", "--entrypoint", "sleep", dnf_image, "infinity")
    h = RpmHost(name)
    try:
        h.repo("build aios-read 1.0; build aios-probe 1.0; build aios-up 1.0; build aios-broken 1.0 pre; "
               "build firewalld 1.0; index")
        h.sh("cd /srv/rpmrepo && nohup python3 -m http.server 8765 --bind 127.0.0.1 >/var/log/repo.log 2>&1 &\n"
             "printf '[local]\\nname=local\\nbaseurl=http://127.0.0.1:8765/\\ngpgcheck=0\\nmetadata_expire=0\\n'"
             " > /etc/yum.repos.d/local.repo\n"
             "for i in $(seq 50); do dnf -q makecache >/dev/null 2>&1 && exit 0; sleep 0.2; done; dnf makecache; exit 1")
        # the system daemon, so that another local user (tester, in its socket group) can ask too
        h.sh("groupadd aios && useradd -M -G aios tester && chgrp aios /run/aios")
        h.sh("AIOS_DAEMON__SYSTEM=true AIOS_TOOLS__PACKAGES__BACKEND=dnf AIOS_RECOVERY__AUTO_ROLLBACK=true "
             "AIOS_RECOVERY__PATHS='[\"/etc/yum.repos.d\"]' nohup aios-runtime >/var/log/aios.log 2>&1 & "
             "for i in $(seq 100); do aios status >/dev/null 2>&1 && exit 0; sleep 0.2; done; cat /var/log/aios.log; exit 1")
        yield h
    finally:
        podman("rm", "-f", "-t", "0", "-v", name, check=False)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_dnf_search_info_list_installed_and_plan(rpmhost: RpmHost) -> None:
    code, res, err = rpmhost.call({"action": "search", "query": "aios-re"})
    assert code == 0, (res, err)
    assert [(r["name"], r["version"]) for r in res["metadata"]["data"]] == [("aios-read", "1.0-1")]
    code, res, err = rpmhost.call({"action": "info", "names": ["aios-read"]})
    assert code == 0, (res, err)
    [info] = res["metadata"]["data"]
    size = int(rpmhost.sh("stat -c %s /srv/rpmrepo/aios-read-1.0-1.noarch.rpm").stdout)
    assert (info["Name"], info["Version"], info["Download-Size"]) == ("aios-read", "1.0-1", str(size))
    assert info["Description"] == "aios test package aios-read\nsecond line"
    code, res, err = rpmhost.call({"action": "list_installed", "names": ["aios-read"]})
    assert code == 0 and res["metadata"]["data"] == [] and "none of them" in res["output"], (res, err)
    # The plan is dnf's own resolution (--assumeno): versions and sizes, and nothing installed.
    code, res, err = rpmhost.call({"action": "plan", "install": ["aios-read"]})
    assert code == 0, (res, err)
    assert res["metadata"]["decision"] == "allow"
    [row] = res["metadata"]["data"]["packages"]
    assert (row["name"], row["op"], row["from"], row["to"], row["download_bytes"], row["installed_kib"]) == (
        "aios-read", "install", None, "1.0-1", size, 1)
    assert rpmhost.installed("aios-read") is None
    # dnf makes no plan for anyone but root, even with --assumeno: the daemon makes it for them
    code, res, err = rpmhost.call({"action": "plan", "install": ["aios-read"]}, user="tester")
    assert code == 0 and res["metadata"]["data"]["packages"][0]["to"] == "1.0-1", (res, err)
    code, res, err = rpmhost.call({"action": "search", "query": "aios-re"}, user="tester")
    assert code == 0 and [r["name"] for r in res["metadata"]["data"]] == ["aios-read"], (res, err)
    rpmhost.sh("dnf -q -y install aios-read")
    code, res, err = rpmhost.call({"action": "list_installed"})
    assert {"name": "aios-read", "version": "1.0-1", "arch": "noarch", "status": "installed"} in res["metadata"]["data"]
    code, res, err = rpmhost.call({"action": "plan", "install": ["aios-probe"], "remove": ["aios-read"]})
    assert code != 0 and "ask for one plan each" in res["error"]
    code, res, err = rpmhost.call({"action": "plan", "install": ["aios-nosuch"]})
    assert code != 0 and "aios-nosuch" in res["error"] and "\n" not in res["error"]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_dnf_install_shows_its_plan_then_installs_and_removes(rpmhost: RpmHost) -> None:
    proc = podman("exec", rpmhost.name, "aios", "tools", "call", "packages",
                  '{"action": "install", "names": ["aios-probe"]}', check=False, timeout=600)
    assert proc.returncode == 126 and "install aios-probe 1.0-1" in proc.stderr, proc.stderr
    assert rpmhost.installed("aios-probe") is None
    code, res, err = rpmhost.call({"action": "install", "names": ["aios-probe"]}, "--yes")
    assert code == 0, (res, err)
    meta = res["metadata"]
    assert meta["verified"] is True and meta["decision"] == "confirm", meta
    assert [(p["name"], p["op"], p["from"], p["to"]) for p in meta["plan"]["packages"]] == [("aios-probe", "install", None, "1.0-1")]
    assert meta["plan"]["backend"] == "dnf" and meta["plan"]["before"] == {}
    assert rpmhost.installed("aios-probe") == "1.0-1"
    assert rpmhost.sh("ls /var/cache/dnf/*/packages/aios-probe-1.0-1.noarch.rpm").returncode == 0  # keepcache
    code, res, err = rpmhost.call({"action": "remove", "names": ["aios-probe"]}, "--yes")
    assert code == 0 and res["metadata"]["verified"] is True, (res, err)
    assert res["metadata"]["plan"]["before"] == {"aios-probe": ["1.0-1"]}
    assert rpmhost.installed("aios-probe") is None
    code, res, err = rpmhost.call({"action": "remove", "names": ["aios-probe"]}, "--yes")
    assert code != 0 and "nothing to remove" in res["error"], res


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_dnf_changes_that_fail_verification_are_rolled_back(rpmhost: RpmHost) -> None:
    # A fresh install whose %pre fails: rpm never installs it, so there is nothing to take away.
    code, res, err = rpmhost.call({"action": "install", "names": ["aios-broken"]}, "--yes")
    meta = res["metadata"]
    assert code != 0 and meta["verified"] is False, (res, err)
    assert any("aios-broken is not installed, planned 1.0-1" in d for d in meta["differences"]), meta
    assert meta["rolled_back"] == [] and meta["not_rolled_back"] == [], meta
    assert rpmhost.installed("aios-broken") is None
    # An upgrade that goes half-way (aios-up 2.0 installed, its new dependency not): back to 1.0
    # from dnf's cache.
    code, res, err = rpmhost.call({"action": "install", "names": ["aios-up"]}, "--yes")
    assert code == 0, (res, err)
    rpmhost.repo("build aios-dep 1.0 pre; build aios-up 2.0 '' aios-dep; index")
    code, res, err = rpmhost.call({"action": "upgrade", "names": ["aios-up"]}, "--yes")
    meta = res["metadata"]
    assert code != 0, res
    assert sorted((p["name"], p["op"], p["from"], p["to"]) for p in meta["plan"]["packages"]) == [
        ("aios-dep", "install", None, "1.0-1"), ("aios-up", "upgrade", "1.0-1", "2.0-1")]
    assert meta["verified"] is False and any("aios-dep is not installed" in d for d in meta["differences"]), meta
    assert meta["rolled_back"] == ["reinstalled aios-up-1.0-1.noarch"], meta
    assert rpmhost.installed("aios-up") == "1.0-1"
    assert rpmhost.sh("cat /usr/share/aios-up/version").stdout.strip() == "1.0"
    assert "rolled back (recovery.auto_rollback): reinstalled aios-up-1.0-1.noarch" in res["error"]
    # What cannot be rolled back is said: 1.0 neither in the cache nor offered any more.
    rpmhost.repo("rm /srv/rpmrepo/aios-up-1.0-1.noarch.rpm; index; rm -f /var/cache/dnf/*/packages/aios-up-1.0-1*")
    code, res, err = rpmhost.call({"action": "upgrade", "names": ["aios-up"]}, "--yes")
    meta = res["metadata"]
    why = f"{res['error']} / rolled back: {meta.get('rolled_back')} / not: {meta.get('not_rolled_back')}"
    assert code != 0 and meta["rolled_back"] == [], why
    assert meta["not_rolled_back"] == ["aios-up 1.0-1: no longer in /var/cache/dnf and no configured repository offers it"], why
    assert "could not roll back" in res["error"]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_dnf_change_of_a_security_package_is_blocked(rpmhost: RpmHost) -> None:
    code, res, err = rpmhost.call({"action": "install", "names": ["firewalld"]}, "--yes")
    assert code == 126 and res["metadata"]["decision"] == "block", (res, err)
    assert res["metadata"]["rule"] == "secoff.security-package", res["metadata"]
    assert rpmhost.installed("firewalld") is None
    # other spellings: removing one that is installed (by hand here), upgrading it, and removing
    # a package it needs, which takes it away as a dependent
    rpmhost.sh("dnf -q -y install firewalld")
    rpmhost.repo("build aios-fwlib 1.0; build firewalld 2.0 '' aios-fwlib; index")
    for action in ("remove", "upgrade"):
        code, res, err = rpmhost.call({"action": action, "names": ["firewalld"]}, "--yes")
        assert code == 126 and res["metadata"]["decision"] == "block", (action, res, err)
    assert rpmhost.installed("firewalld") == "1.0-1"
    rpmhost.sh("dnf -q -y upgrade firewalld")
    code, res, err = rpmhost.call({"action": "remove", "names": ["aios-fwlib"]}, "--yes")
    assert code == 126 and res["metadata"]["decision"] == "block", (res, err)
    assert ("firewalld", "remove") in [(p["name"], p["op"]) for p in res["metadata"]["plan"]["packages"]], res
    assert rpmhost.installed("firewalld") == "2.0-1" and rpmhost.installed("aios-fwlib") == "1.0-1"
    code, res, err = rpmhost.call({"action": "plan", "remove": ["firewalld"]})  # reading stays allowed
    assert code == 0 and res["metadata"]["data"]["packages"][0]["op"] == "remove", (res, err)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_dnf_missing_is_one_line_and_doctor_names_the_backend(rpmhost: RpmHost) -> None:
    doctor = podman("exec", "-e", "AIOS_TOOLS__PACKAGES__BACKEND=dnf", rpmhost.name, "aios", "doctor", "--json", check=False)
    checks = {c["check"]: c for c in json.loads(doctor.stdout)}
    assert "packages: usable (dnf)" in checks["admin tools"]["detail"], checks["admin tools"]
    rpmhost.sh("mv /usr/bin/dnf /usr/bin/dnf.aside")
    try:
        code, res, err = rpmhost.call({"action": "search", "query": "aios"})
        assert code != 0 and res["metadata"]["unavailable"] is True, (res, err)
        assert res["error"] == 'tools.packages.backend is "dnf" but dnf is not installed on this host'
    finally:
        rpmhost.sh("mv /usr/bin/dnf.aside /usr/bin/dnf")
