"""The tool pipeline through the real daemon and CLI: policy, confirmation, snapshot, jail, memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import BIN, REPO, Daemon, Env, connect, rpc


def memories(env: Env, type_: str = "Command") -> list[dict[str, Any]]:
    with connect(env.socket) as s:
        out: list[dict[str, Any]] = rpc(s, "memory.search", {"query": "", "type": type_, "limit": 100})
        return out


def test_tools_list_shows_builtins_and_plugins(env: Env, daemon: Daemon) -> None:
    tools = {t["name"]: t for t in env.cli_json("tools", "list")}
    assert {"bash", "read", "write", "list", "word_count", "checksum"} <= set(tools)
    assert tools["bash"]["origin"] == "built-in"
    assert tools["word_count"]["origin"].startswith("plugin:aios-example-anyio")
    assert tools["checksum"]["framework"] == "asyncio"
    assert tools["bash"]["parameters"]["required"] == ["command"]


def test_run_allowed_command_streams_output_and_is_recorded(env: Env, daemon: Daemon) -> None:
    proc = env.cli("run", "--", "echo hello from the jail; echo oops >&2; exit 3")
    assert proc.returncode == 3, proc.stderr
    assert "hello from the jail" in proc.stdout
    assert "oops" in proc.stderr
    [mem] = [m for m in memories(env) if "hello from the jail" in m["content"]]
    assert mem["metadata"]["decision"] == "allow"
    assert mem["metadata"]["exit_code"] == 3
    assert mem["metadata"]["tool"] == "bash"


def test_run_blocked_command_exits_126_and_is_recorded(env: Env, daemon: Daemon) -> None:
    proc = env.cli("run", "--", "rm -rf --no-preserve-root /")
    assert proc.returncode == 126
    assert "blocked" in proc.stderr
    [mem] = [m for m in memories(env) if "no-preserve-root" in m["content"]]
    assert mem["metadata"]["decision"] == "block"
    assert mem["metadata"]["rule"]


def test_confirmation_without_tty_is_denied_and_yes_approves(env: Env, daemon: Daemon, tmp_path: Path) -> None:
    target = env.outside() / "made-by-aios"
    try:
        denied = env.cli("run", "--", f"touch {target}")
        assert denied.returncode == 126, denied.stderr
        assert "no-tty" in denied.stderr or "none was given" in denied.stderr
        assert not target.exists()
        approved = env.cli("run", "--yes", "--", f"touch {target}")
        assert approved.returncode == 0, approved.stderr
        assert target.exists()  # a confirmed system change runs with the host profile
        recs = [m for m in memories(env) if str(target) in m["content"]]
        hows = sorted(str(m["metadata"].get("approved_how")) for m in recs)
        assert hows == ["flag", "no-tty"]
    finally:
        target.unlink(missing_ok=True)


def test_paranoid_refuses_yes_flag(env: Env, daemon: Daemon) -> None:
    proc = env.cli("run", "--mode", "paranoid", "--yes", "--", "ls")
    assert proc.returncode == 126
    assert "--yes is not enough" in proc.stderr


def test_mode_can_be_tightened_not_loosened_past_a_pin(env: Env) -> None:
    env.system_config.write_text('[pin.security]\nmode = "safe"\n')
    d = env.start_daemon()
    try:
        proc = env.cli("run", "--mode", "normal", "--", "true")
        assert proc.returncode == 1
        assert "pinned" in proc.stderr
    finally:
        d.kill()


def test_timeout_kills_the_whole_process_group(env: Env, daemon: Daemon) -> None:
    marker = f"aios-timeout-marker-{os.getpid()}"
    start = time.monotonic()
    proc = env.cli("run", "--timeout", "1", "--", f"(exec -a {marker} sleep 300) & exec -a {marker} sleep 300")
    assert proc.returncode == 124, proc.stderr
    assert time.monotonic() - start < 30
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert left.stdout.strip() == "", "processes survived the timeout"


def test_file_tools_follow_the_path_policy(env: Env, daemon: Daemon) -> None:
    (env.workspace / "notes.txt").write_text("first line\nsecond line\n")
    (env.workspace / "blob.bin").write_bytes(b"\0\1\2" * 100)
    (env.home / ".ssh").mkdir()
    (env.home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    read = json.loads(env.cli("tools", "call", "read", '{"path": "notes.txt"}', "--json").stdout)
    assert read["ok"] and read["output"] == "first line\nsecond line\n"
    binary = json.loads(env.cli("tools", "call", "read", '{"path": "blob.bin"}', "--json").stdout)
    assert binary["ok"] and "binary" in binary["output"] and "\x00" not in binary["output"]
    secret = env.cli("tools", "call", "read", json.dumps({"path": str(env.home / ".ssh" / "id_rsa")}))
    assert secret.returncode == 126 and "PRIVATE" not in secret.stdout
    wrote = env.cli("tools", "call", "write", '{"path": "out/new.txt", "content": "made by aios"}')
    assert wrote.returncode == 1  # the directory does not exist: a clear error, nothing written
    wrote = env.cli("tools", "call", "write", '{"path": "new.txt", "content": "made by aios"}')
    assert wrote.returncode == 0, wrote.stderr
    assert (env.workspace / "new.txt").read_text() == "made by aios"
    listing = json.loads(env.cli("tools", "call", "list", "{}", "--json").stdout)
    assert "notes.txt" in listing["output"] and "new.txt" in listing["output"]
    bad = env.cli("tools", "call", "read", '{"path": 5}')
    assert bad.returncode == 2 and "path" in bad.stderr


def test_file_tools_refuse_symlinks_through_the_cli(env: Env, daemon: Daemon) -> None:
    (env.workspace / "real").mkdir()
    os.symlink(env.home, env.workspace / "link")
    read = env.cli("tools", "call", "read", '{"path": "link/.bashrc"}')
    assert read.returncode == 1 and f"{env.workspace}/link is a symbolic link (to {env.home})" in read.stderr
    os.symlink(env.workspace / "real", env.workspace / "inner")  # harmless, and still refused
    wrote = json.loads(env.cli("tools", "call", "write", '{"path": "inner/x", "content": "x"}', "--json").stdout)
    assert not wrote["ok"] and wrote["error"].startswith("refused:") and wrote["metadata"]["refused"] is True
    assert not (env.workspace / "real" / "x").exists()


def test_a_home_directory_is_never_the_workspace(env: Env) -> None:
    # From ~ the jail could write ~/.bashrc, run later by the person's shell: ~/aios-workspace instead.
    env.env.pop("AIOS_PATHS__WORKSPACE")  # the workspace follows the caller's directory
    env.home.chmod(0o755)  # the sandbox user reaches a project below it
    project = env.home / "proj"
    project.mkdir()

    def run_from(cwd: Path, command: str) -> str:
        r = subprocess.run([str(BIN / "aios"), "run", "--", command], env=env.env, cwd=cwd,
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""

    d = env.start_daemon()
    try:
        assert run_from(env.home, "pwd") == str(env.home / "aios-workspace")
        assert run_from(project, "pwd") == str(project)  # a project below the home is fine
        run_from(env.home, "touch .bashrc")
        assert not (env.home / ".bashrc").exists()
    finally:
        d.stop()


def test_file_tools_do_not_hang_on_a_fifo(env: Env, daemon: Daemon) -> None:
    os.mkfifo(env.workspace / "pipe")  # no writer: a plain open() would block forever
    r = subprocess.run([str(BIN / "aios"), "tools", "call", "read", '{"path": "pipe"}', "--json"],
                       env=env.env, capture_output=True, text=True, timeout=20)
    assert "not a regular file" in json.loads(r.stdout)["error"]
    w = subprocess.run([str(BIN / "aios"), "tools", "call", "write", '{"path": "pipe", "content": "x", "append": true}', "--json"],
                       env=env.env, capture_output=True, text=True, timeout=20)
    assert json.loads(w.stdout)["ok"] is False  # ENXIO at once, no reader to wait for
    with connect(env.socket) as s:
        assert rpc(s, "ping") == "pong"


@pytest.fixture
def plugin_env(env: Env) -> Iterator[Env]:
    env.env["PYTHONPATH"] = str(REPO / "tests" / "plugins")
    env.isolated = False  # the test plugins are found through PYTHONPATH, which -I ignores
    env.write_config('[tools]\nplugin_timeout = "1s"\n')
    yield env


def test_misbehaving_plugins_fail_alone(plugin_env: Env) -> None:
    env = plugin_env
    d = env.start_daemon()
    try:
        data = None
        with connect(env.socket) as s:
            data = rpc(s, "tools.list")
        assert any("not_a_tool" in e["entry_point"] for e in data["load_errors"])
        boom = json.loads(env.cli("tools", "call", "explode", "--json").stdout)
        assert not boom["ok"] and "kaboom" in boom["error"]
        hang = json.loads(env.cli("tools", "call", "hang", "--json").stdout)
        assert not hang["ok"] and "did not finish" in hang["error"]
        garbage = json.loads(env.cli("tools", "call", "garbage", "--json").stdout)
        assert not garbage["ok"] and "not a result" in garbage["error"]
        with connect(env.socket) as s:
            assert rpc(s, "ping") == "pong"
    finally:
        d.kill()


def test_a_call_stuck_in_a_thread_does_not_keep_the_daemon_from_stopping(plugin_env: Env) -> None:
    env = plugin_env
    env.write_config('[tools]\nplugin_timeout = "1h"\n[daemon]\nshutdown_grace = "1s"\n')
    d = env.start_daemon()
    client = subprocess.Popen([str(BIN / "aios"), "tools", "call", "block_thread"], env=env.env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # the call is in flight; the daemon serves others meanwhile
            with connect(env.socket) as s:
                if rpc(s, "status")["clients"] >= 2:
                    break
            assert time.monotonic() < deadline and client.poll() is None, "the plugin call never started"
            time.sleep(0.2)
        time.sleep(1)  # into the plugin's thread
        start = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        code = d.proc.wait(40)  # 1 s grace, then 10 s for cancelled work, then out anyway
        assert code == 1 and time.monotonic() - start < 30
        assert not env.socket.exists()
        assert "exiting anyway" in d.log()
    finally:
        client.kill()
        client.wait()
        d.kill()


def test_example_plugins_anyio_and_asyncio(env: Env, daemon: Daemon) -> None:
    (env.workspace / "words.txt").write_text("one two three\nfour\n")
    wc = json.loads(env.cli("tools", "call", "word_count", '{"path": "words.txt"}', "--json").stdout)
    assert wc["ok"] and wc["output"].startswith("2 lines, 4 words")
    ck = json.loads(env.cli("tools", "call", "checksum", '{"path": "words.txt"}', "--json").stdout)
    import hashlib

    assert ck["ok"] and ck["metadata"]["digest"] == hashlib.sha256(b"one two three\nfour\n").hexdigest()


def test_policy_check_json_shape_and_exit_code(env: Env, daemon: Daemon) -> None:
    proc = env.cli("policy", "check", "--json", "--", "rm -rf /")
    assert proc.returncode == 0
    d = json.loads(proc.stdout)
    assert d["decision"] == "block" and d["rule"] and d["reason"]
    assert ["rm", "-rf", "/"] in d["commands"]
    ok = json.loads(env.cli("policy", "check", "--json", "--", 'echo "rm -rf /"').stdout)
    assert ok["decision"] == "allow"
