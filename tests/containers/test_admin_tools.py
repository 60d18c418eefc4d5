"""The typed admin tools against real backends that need containers.

- containers: the host daemon's ``containers`` tool on a Podman container of the project's image
  (listed, logs read, stopped, started, refused removal while running, removed with volumes kept);
- services and packages: an aios daemon inside a container whose PID 1 is systemd (the project's
  image plus Debian's systemd), where units can really be started and stopped and a package really
  installed and removed — nothing on this host changes.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_shared_data import IMAGE, image, podman, podman_env  # noqa: F401 - image is a fixture

from harness import Daemon, Env

SYSTEMD_IMAGE = "localhost/aios-systemd-test:latest"


def host_call(env: Env, args: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any], str]:
    proc = env.cli("tools", "call", "containers", json.dumps(args), "--json", *extra, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


@pytest.fixture
def engine_daemon(env: Env) -> Iterator[Daemon]:
    d = env.start_daemon(env={"CONTAINERS_CONF": podman_env()["CONTAINERS_CONF"]})
    try:
        yield d
    finally:
        d.kill()


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_containers_tool_on_a_container_of_the_project_image(image: str, env: Env, engine_daemon: Daemon) -> None:  # noqa: F811
    name = f"aios-admin-{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, "--network", "none", IMAGE)
    try:
        code, res, err = host_call(env, {"action": "list"})
        assert code == 0, err
        [row] = [r for r in res["metadata"]["data"] if r["name"] == name]
        assert row["state"] == "running"
        code, res, err = host_call(env, {"action": "inspect", "name": name})
        assert res["metadata"]["data"]["State"]["Running"] is True
        code, res, err = host_call(env, {"action": "logs", "name": name, "lines": 50})
        assert code == 0, err
        code, res, err = host_call(env, {"action": "remove", "name": name}, "--yes")
        assert code != 0 and "stop it first" in res["error"]
        code, res, err = host_call(env, {"action": "stop", "name": name}, "--yes")
        assert code == 0, (res, err)
        assert res["metadata"]["verified"] is True and res["metadata"]["plan"]["from"] == "running"
        code, res, err = host_call(env, {"action": "start", "name": name}, "--yes")
        assert code == 0 and res["metadata"]["verified"] is True, (res, err)
        host_call(env, {"action": "stop", "name": name}, "--yes")
        code, res, err = host_call(env, {"action": "remove", "name": name}, "--yes")
        assert code == 0, (res, err)
        assert res["metadata"]["plan"]["volumes_kept"], res["metadata"]["plan"]  # the image's VOLUME
        assert podman("container", "exists", name, check=False).returncode != 0
    finally:
        podman("rm", "-f", "-v", name, check=False)


# -- systemd as PID 1 in a container ------------------------------------------------------------------
@pytest.fixture(scope="module")
def systemd_image(image: str, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    ctx = tmp_path_factory.mktemp("systemd-image")
    (ctx / "Containerfile").write_text(
        f"FROM {IMAGE}\nRUN apt-get update && apt-get install -y --no-install-recommends systemd systemd-sysv"
        " && rm -rf /var/lib/apt/lists/*\n")
    proc = subprocess.run(["podman", "build", "-q", "--pull=never", "-t", SYSTEMD_IMAGE, str(ctx)],
                          capture_output=True, text=True, env=podman_env(), timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return SYSTEMD_IMAGE


class Booted:
    def __init__(self, name: str) -> None:
        self.name = name

    def sh(self, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, "sh", "-c", script, check=check, timeout=600)

    def call(self, tool: str, args: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any], str]:
        proc = podman("exec", self.name, "aios", "tools", "call", tool, json.dumps(args), "--json", *extra,
                      check=False, timeout=600)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout.strip(), proc.stderr
        return proc.returncode, json.loads(proc.stdout), proc.stderr


@pytest.fixture
def booted(systemd_image: str) -> Iterator[Booted]:
    name = f"aios-systemd-{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, "--systemd=always", "--entrypoint", "/lib/systemd/systemd", systemd_image)
    b = Booted(name)
    try:
        b.sh("for i in $(seq 100); do s=$(systemctl is-system-running 2>/dev/null); "
             "case $s in running|degraded) exit 0;; esac; sleep 0.2; done; systemctl is-system-running; exit 1")
        b.sh("AIOS_RECOVERY__AUTO_ROLLBACK=true AIOS_RECOVERY__PATHS='[\"/etc/systemd/system\"]' "
             "nohup aios-runtime >/var/log/aios.log 2>&1 & "
             "for i in $(seq 100); do aios status >/dev/null 2>&1 && exit 0; sleep 0.2; done; cat /var/log/aios.log; exit 1")
        b.sh("printf '[Service]\\nExecStart=/bin/sleep infinity\\n' > /etc/systemd/system/aios-demo.service; "
             "printf '[Service]\\nType=oneshot\\nExecStart=/bin/false\\n' > /etc/systemd/system/aios-broken.service; "
             "systemctl daemon-reload")
        yield b
    finally:
        podman("rm", "-f", "-v", name, check=False)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_services_tool_with_systemd_as_pid_1(booted: Booted) -> None:
    code, res, err = booted.call("services", {"action": "status", "unit": "aios-demo"})
    assert code == 0, err
    assert res["metadata"]["data"]["ActiveState"] == "inactive"
    proc = podman("exec", booted.name, "aios", "tools", "call", "services", '{"action": "start", "unit": "aios-demo"}',
                  check=False)
    assert proc.returncode == 126 and "aios-demo.service: ActiveState inactive -> active" in proc.stderr
    code, res, err = booted.call("services", {"action": "start", "unit": "aios-demo"}, "--yes")
    assert code == 0, (res, err)
    assert res["metadata"]["verified"] is True
    assert booted.sh("systemctl is-active aios-demo").stdout.strip() == "active"
    snap = res["metadata"]["snapshot_id"]
    assert snap
    code, res, err = booted.call("services", {"action": "logs", "unit": "aios-demo", "lines": 20})
    assert code == 0 and isinstance(res["metadata"]["data"], list)
    code, res, err = booted.call("services", {"action": "stop", "unit": "aios-demo"}, "--yes")
    assert code == 0 and booted.sh("systemctl is-active aios-demo", check=False).stdout.strip() == "inactive"
    # A start that fails verification is rolled back (recovery.auto_rollback) and says so.
    code, res, err = booted.call("services", {"action": "start", "unit": "aios-broken"}, "--yes")
    assert code != 0
    assert res["metadata"]["verified"] is False and res["metadata"]["differences"]
    assert "rolled back" in res["error"]
    code, res, err = booted.call("services", {"action": "list"})
    assert any(r["unit"] == "systemd-journald.service" and r["active"] == "active" for r in res["metadata"]["data"])


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_packages_tool_really_installs_and_removes_in_a_container(booted: Booted) -> None:
    booted.sh("apt-get update -qq")
    code, res, err = booted.call("packages", {"action": "install", "names": ["sl"]}, "--yes")
    assert code == 0, (res, err)
    assert res["metadata"]["verified"] is True
    assert "sl" in [r["name"] for r in res["metadata"]["plan"]["packages"]]  # with its dependencies
    assert booted.sh("dpkg-query -W -f='${Status}' sl").stdout.endswith(" installed")
    code, res, err = booted.call("packages", {"action": "remove", "names": ["sl"]}, "--yes")
    assert code == 0 and res["metadata"]["verified"] is True, (res, err)


# A flat apt repository of packages built in the container: `aios-probe` 1.0 is sound, 2.0 and
# `aios-broken` fail in their postinst, so apt leaves them half-configured and the tool's
# verification (installed at the planned version) fails for real.
LOCAL_REPO = r"""
set -e
mkdir -p /srv/repo && cd /srv/repo
build() {  # name version postinst-exit-code
  d=$(mktemp -d); mkdir -p "$d/DEBIAN" "$d/usr/share/$1"; echo "$2" > "$d/usr/share/$1/version"
  printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: aios tests <t@example.invalid>\nDescription: aios rollback probe\n' "$1" "$2" > "$d/DEBIAN/control"
  printf '#!/bin/sh\nexit %s\n' "$3" > "$d/DEBIAN/postinst"; chmod 755 "$d/DEBIAN/postinst"
  dpkg-deb -Zgzip --build "$d" "/srv/repo/$1_$2_all.deb" >/dev/null; rm -rf "$d"
}
index() {
  : > Packages
  for f in *.deb; do
    dpkg-deb -f "$f" Package Version Architecture Maintainer Description >> Packages
    printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" >> Packages
  done
}
"""


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_package_change_that_fails_verification_is_rolled_back(booted: Booted) -> None:
    booted.sh(LOCAL_REPO + "build aios-probe 1.0 0; build aios-broken 1.0 1; index\n"
              "echo 'deb [trusted=yes] file:/srv/repo ./' > /etc/apt/sources.list.d/aios-probe.list\n"
              "apt-get update -qq")
    # A fresh install whose postinst fails: not installed as planned, so it is removed again.
    code, res, err = booted.call("packages", {"action": "install", "names": ["aios-broken"]}, "--yes")
    assert code != 0, res
    meta = res["metadata"]
    assert meta["verified"] is False and any("aios-broken" in d for d in meta["differences"]), meta
    assert meta["rolled_back"] == ["removed aios-broken"], meta
    assert "rolled back (recovery.auto_rollback): removed aios-broken" in res["error"]
    status = booted.sh("dpkg-query -W -f='${Status}' aios-broken", check=False).stdout
    assert not status.endswith(" installed"), status
    # An upgrade whose new version fails: the previous version comes back (apt-get does not keep
    # the .deb of a file: repository in its cache, so this also shows the fetch from the source).
    code, res, err = booted.call("packages", {"action": "install", "names": ["aios-probe"]}, "--yes")
    assert code == 0 and res["metadata"]["verified"] is True, (res, err)
    booted.sh(LOCAL_REPO + "build aios-probe 2.0 1; index; apt-get update -qq")
    code, res, err = booted.call("packages", {"action": "upgrade", "names": ["aios-probe"]}, "--yes")
    assert code != 0, res
    meta = res["metadata"]
    assert [(p["name"], p["op"], p["from"], p["to"]) for p in meta["plan"]["packages"]] == [("aios-probe", "upgrade", "1.0", "2.0")]
    assert meta["verified"] is False and meta["rolled_back"] == ["reinstalled aios-probe=1.0"], meta
    assert booted.sh("dpkg-query -W -f='${Version} ${Status}' aios-probe").stdout == "1.0 install ok installed"
    assert booted.sh("cat /usr/share/aios-probe/version").stdout.strip() == "1.0"
    # What cannot be rolled back is said: a previous version no source offers any more.
    booted.sh(LOCAL_REPO + "rm aios-probe_1.0_all.deb; index; apt-get update -qq; rm -f /var/cache/apt/archives/aios-probe_*")
    code, res, err = booted.call("packages", {"action": "upgrade", "names": ["aios-probe"]}, "--yes")
    meta = res["metadata"]
    why = f"{res['error']} / rolled back: {meta.get('rolled_back')} / not: {meta.get('not_rolled_back')}"
    assert code != 0 and meta["rolled_back"] == [], why
    assert any("aios-probe 1.0" in n and "no longer" in n for n in meta["not_rolled_back"]), why
    assert "could not roll back" in res["error"]
