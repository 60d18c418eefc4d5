"""The typed admin tools (packages, services, containers, git) through the real daemon and CLI.

Backends are real: apt-get's own simulation for plans, git in a temporary repository in the
workspace, podman as installed, and systemd's "not PID 1" path on this host (systemd as PID 1 runs
in a container: tests/containers/test_admin_services.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from harness import REPO, Daemon, Env, connect, rpc


def refused_args(env: Env, tool: str, args: dict[str, Any]) -> str:
    """The one-line error for arguments the tool's schema refuses (nothing runs)."""
    proc = env.cli("tools", "call", tool, json.dumps(args), "--json")
    assert proc.returncode not in (0, 126), proc.stdout
    assert "Traceback" not in proc.stderr
    assert f"invalid arguments for {tool}" in proc.stderr, proc.stderr
    return proc.stderr


def call(env: Env, tool: str, args: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any], str]:
    proc = env.cli("tools", "call", tool, json.dumps(args), "--json", *extra, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def commands(env: Env) -> list[dict[str, Any]]:
    with connect(env.socket) as s:
        out: list[dict[str, Any]] = rpc(s, "memory.search", {"query": "", "type": "Command", "limit": 200})
        return out


def git(ws: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "safe.directory=*", "-C", str(ws), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(env: Env, daemon: Daemon) -> Path:
    """A repository made in the jail (so the sandbox user owns it, as for any jailed git)."""
    proc = env.cli("run", "--", "git init -q -b main && git -c safe.directory='*' -c user.name=t -c user.email=t@t commit -q --allow-empty -m first")
    assert proc.returncode == 0, proc.stderr
    return env.workspace


def test_the_four_tools_are_listed_with_enum_actions(env: Env, daemon: Daemon) -> None:
    tools = {t["name"]: t for t in env.cli_json("tools", "list")}
    for name, actions in {
        "packages": {"search", "info", "list_installed", "plan", "install", "remove", "upgrade"},
        "services": {"list", "status", "logs", "start", "stop", "restart", "reload", "enable", "disable"},
        "containers": {"list", "inspect", "logs", "start", "stop", "restart", "remove"},
        "git": {"status", "diff", "log", "show", "commit", "branch"},
    }.items():
        schema = tools[name]["parameters"]
        assert actions <= set(schema["properties"]["action"]["enum"]), name
        assert schema["additionalProperties"] is False
        assert tools[name]["origin"] == "built-in"


# -- git ---------------------------------------------------------------------------------------
def test_git_status_commit_log_in_the_workspace(env: Env, daemon: Daemon, repo: Path) -> None:
    (repo / "notes.txt").write_text("hello\n")
    code, res, err = call(env, "git", {"action": "status"})
    assert code == 0, err
    assert res["metadata"]["data"]["branch"].startswith("main")
    assert {"status": "??", "path": "notes.txt"} in res["metadata"]["data"]["files"]
    code, res, err = call(env, "git", {"action": "commit", "message": "add notes", "paths": ["notes.txt"]})
    assert code == 0, (res, err)
    assert res["metadata"]["decision"] == "allow", res["metadata"]
    assert res["metadata"]["verified"] is True
    assert git(repo, "log", "-1", "--format=%s").strip() == "add notes"
    code, res, err = call(env, "git", {"action": "log", "lines": 5})
    assert [c["subject"] for c in res["metadata"]["data"]] == ["add notes", "first"]
    code, res, err = call(env, "git", {"action": "show"})
    assert "notes.txt" in res["output"]
    code, res, err = call(env, "git", {"action": "branch"})
    assert res["metadata"]["data"]["current"] == "main"
    recorded = [m for m in commands(env) if m["metadata"].get("tool") == "git"]
    assert len(recorded) >= 5


def test_git_with_nothing_to_commit_says_so(env: Env, daemon: Daemon, repo: Path) -> None:
    code, res, _err = call(env, "git", {"action": "commit", "message": "empty"})
    assert code != 0
    assert "nothing to commit" in res["error"]


def test_git_never_runs_programs_a_planted_repository_config_names(env: Env, daemon: Daemon, repo: Path) -> None:
    outside = env.outside()
    fsmonitor = outside / "fsmonitor-ran"
    filt = outside / "filter-ran"
    with (repo / ".git" / "config").open("a") as f:
        f.write(f'[core]\n\tfsmonitor = "touch {fsmonitor}"\n')
        f.write(f'[filter "evil"]\n\tclean = "touch {filt}; cat"\n')
        f.write(f'[diff "evil"]\n\ttextconv = "touch {filt}; cat"\n')
    (repo / ".gitattributes").write_text("*.txt filter=evil diff=evil\n")
    (repo / "a.txt").write_text("x\n")
    for args in ({"action": "status"}, {"action": "diff"},
                 {"action": "commit", "message": "m", "paths": ["a.txt", ".gitattributes"]}, {"action": "show"}):
        call(env, "git", args)
    assert not fsmonitor.exists()
    assert not filt.exists()


@pytest.mark.parametrize("path", ["/etc/../tmp", "/", "../.."])
def test_git_refuses_repositories_outside_the_workspace(env: Env, daemon: Daemon, repo: Path, path: str) -> None:
    code, res, _err = call(env, "git", {"action": "status", "path": path})
    assert code != 0
    assert "works in the workspace" in res["error"]


def test_git_push_is_off_unless_configured(env: Env, daemon: Daemon, repo: Path) -> None:
    code, res, _err = call(env, "git", {"action": "push"})
    assert code != 0
    assert "tools.git.allow_push" in res["error"]


@pytest.mark.parametrize("bad", [{"action": "show", "rev": "--output=/tmp/x"},
                                 {"action": "diff", "paths": ["-p"]},
                                 {"action": "status", "extra": 1},
                                 {"action": "rm"}])
def test_git_arguments_cannot_smuggle_options(env: Env, daemon: Daemon, repo: Path, bad: dict[str, Any]) -> None:
    refused_args(env, "git", bad)


# -- packages ----------------------------------------------------------------------------------
def _not_installed_package() -> str:
    for name in ("sl", "cowsay", "fortune-mod", "figlet", "toilet"):
        st = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True)
        if not st.stdout.endswith(" installed"):
            have = subprocess.run(["apt-cache", "show", "--no-all-versions", name], capture_output=True, text=True)
            if have.returncode == 0 and have.stdout.strip():
                return name
    pytest.fail("none of the small test packages is both known to apt and not installed; run apt-get update")


def test_packages_plan_comes_from_apt_simulation_and_changes_nothing(env: Env, daemon: Daemon) -> None:
    name = _not_installed_package()
    code, res, err = call(env, "packages", {"action": "plan", "install": [name]})
    assert code == 0, (res, err)
    plan = res["metadata"]["data"]
    [row] = [r for r in plan["packages"] if r["name"] == name]
    assert row["op"] == "install" and row["to"] and row["from"] is None
    assert row["download_bytes"] and row["download_bytes"] > 0
    assert plan["counts"]["install"] >= 1
    assert res["metadata"]["decision"] == "allow"
    st = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True)
    assert not st.stdout.endswith(" installed")


def _host_apt_keeps_no_cache() -> bool:
    """Whether the host's apt config turns the binary cache off (Docker's docker-clean does)."""
    out = subprocess.run(["apt-config", "shell", "P", "Dir::Cache::pkgcache"], capture_output=True, text=True).stdout
    return out.strip() == "P=''"


def test_packages_plan_keeps_an_apt_cache_of_its_own_only_where_the_host_turns_it_off(env: Env, daemon: Daemon) -> None:
    code, res, err = call(env, "packages", {"action": "plan", "install": [_not_installed_package()]})
    assert code == 0, (res, err)
    where = env.state / "apt-cache"
    assert (where / "pkgcache.bin").is_file() == _host_apt_keeps_no_cache()
    if where.exists():
        st = os.lstat(where)
        assert st.st_uid == os.geteuid() and st.st_mode & 0o777 == 0o700


def test_packages_never_use_an_apt_cache_directory_someone_else_could_write(env: Env, daemon: Daemon) -> None:
    """apt (as root) maps its cache file: one planted where others can write is never used."""
    name = _not_installed_package()
    planted = env.state / "apt-cache"
    planted.mkdir()
    planted.chmod(0o777)
    (planted / "pkgcache.bin").write_bytes(b"planted-by-test")
    code, res, err = call(env, "packages", {"action": "plan", "install": [name]})
    assert code == 0, (res, err)
    assert (planted / "pkgcache.bin").read_bytes() == b"planted-by-test"
    assert not (planted / "srcpkgcache.bin").exists()
    # the same through a link to a directory elsewhere (ours, private: still not the state dir's)
    planted.rename(env.root / "planted-aside")
    elsewhere = Path(tempfile.mkdtemp(prefix="aios-aptcache-", dir=env.root))
    planted.symlink_to(elsewhere)
    code, res, err = call(env, "packages", {"action": "plan", "install": [name]})
    assert code == 0, (res, err)
    assert list(elsewhere.iterdir()) == []


def test_packages_install_shows_its_plan_and_needs_a_person(env: Env, daemon: Daemon) -> None:
    name = _not_installed_package()
    proc = env.cli("tools", "call", "packages", json.dumps({"action": "install", "names": [name]}), timeout=300)
    assert proc.returncode == 126, proc.stderr
    assert f"install {name}" in proc.stderr  # the plan is in the confirmation
    assert "no terminal" in proc.stderr
    [mem] = [m for m in commands(env) if m["metadata"].get("tool") == "packages" and m["metadata"].get("action") == "install"]
    assert mem["metadata"]["decision"] == "confirm"
    assert mem["metadata"]["approved"] is False


@pytest.mark.parametrize(("mode", "word"), [("safe", "safe mode never"), ("paranoid", "tool:packages:install")])
def test_packages_install_is_blocked_in_strict_modes(env: Env, daemon: Daemon, mode: str, word: str) -> None:
    name = _not_installed_package()
    code, res, _err = call(env, "packages", {"action": "install", "names": [name]}, "--mode", mode)
    assert code == 126
    assert res["metadata"]["decision"] == "block"
    assert word in res["error"]


def test_packages_read_actions(env: Env, daemon: Daemon) -> None:
    code, res, _ = call(env, "packages", {"action": "list_installed", "names": ["bash", "coreutils"]})
    assert code == 0 and {r["name"] for r in res["metadata"]["data"]} == {"bash", "coreutils"}
    code, res, _ = call(env, "packages", {"action": "info", "names": ["bash"]})
    assert res["metadata"]["data"][0]["Package"] == "bash"
    code, res, _ = call(env, "packages", {"action": "search", "query": "coreutils"})
    assert any(r["name"] == "coreutils" for r in res["metadata"]["data"])


@pytest.mark.parametrize("names", [["-oAPT::Get::Trivial-Only=false"], ["bash; rm -rf /"], ["../x"], []])
def test_packages_names_are_package_names(env: Env, daemon: Daemon, names: list[str]) -> None:
    refused_args(env, "packages", {"action": "install", "names": names})


# -- services and containers on this host ---------------------------------------------------------
def test_services_say_why_they_cannot_work_without_systemd(env: Env, daemon: Daemon) -> None:
    if Path("/run/systemd/system").is_dir():
        pytest.fail("this test expects a host where systemd is not PID 1 (the case on these VMs)")
    for args in ({"action": "status", "unit": "ssh"}, {"action": "restart", "unit": "cron"}, {"action": "list"}):
        code, res, _err = call(env, "services", args)
        assert code != 0
        assert res["error"] == "systemd is not PID 1 here (no /run/systemd/system): services cannot be managed on this host"
        assert res["metadata"]["unavailable"] is True


def test_containers_list_reads_the_engine_json(env: Env, daemon: Daemon) -> None:
    code, res, err = call(env, "containers", {"action": "list"})
    assert code == 0, (res, err)
    assert isinstance(res["metadata"]["data"], list)
    code, res, err = call(env, "containers", {"action": "stop", "name": "aios-no-such-container"})
    assert code != 0
    assert "no container named" in res["error"]


def test_doc_names_every_tool() -> None:
    doc = (REPO / "docs" / "tools.md").read_text()
    for name in ("packages", "services", "containers", "git"):
        assert f"## {name}" in doc


def test_doctor_lists_which_admin_tools_work_here(env: Env) -> None:
    checks = {c["check"]: c for c in json.loads(env.cli("doctor", "--json").stdout)}
    detail = checks["admin tools"]["detail"]
    assert "git: usable" in detail and "packages: usable" in detail
    assert ("services: usable" in detail) == Path("/run/systemd/system").is_dir()
    assert "services: systemd is not PID 1 here" in detail or "services: usable" in detail
