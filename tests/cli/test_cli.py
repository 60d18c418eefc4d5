"""The real ``aios`` command against a real daemon: JSON shapes, exit codes, start/stop."""

from __future__ import annotations

import json
import os

from harness import Daemon, Env


def test_status_json_shape(env: Env, daemon: Daemon) -> None:
    data = env.cli_json("status")
    for key in ("version", "pid", "uptime_s", "mode", "socket", "clients", "memory"):
        assert key in data, key
    assert data["pid"] == daemon.proc.pid
    assert data["socket"] == str(env.socket)
    assert set(data["memory"]) == {"Command", "Chat", "System", "Snapshot"}


def test_status_human(env: Env, daemon: Daemon) -> None:
    proc = env.cli("status")
    assert proc.returncode == 0, proc.stderr
    assert f"pid {daemon.proc.pid}" in proc.stdout
    assert "mode" in proc.stdout


def test_info_json_paths(env: Env, daemon: Daemon) -> None:
    data = env.cli_json("info")
    paths = data["paths"]
    for key in ("config_files", "state_dir", "memory_db", "snapshot_dir", "socket", "workspace"):
        assert key in paths, key
    assert paths["state_dir"] == str(env.state)
    assert paths["memory_db"] == str(env.state / "memory.db")
    assert data["kernel"].startswith("Linux")


def test_memory_add_search_get_through_the_cli(env: Env, daemon: Daemon) -> None:
    added = env.cli_json("memory", "add", "restarted nginx after the certificate renewal", "--type", "command", "--meta", "host=web1")
    assert added["type"] == "Command"
    assert added["metadata"]["host"] == "web1"
    hits = env.cli_json("memory", "search", "nginx certificate")
    assert [h["id"] for h in hits] == [added["id"]]
    for key in ("id", "type", "content", "snippet", "score", "created_at", "metadata"):
        assert key in hits[0]
    assert env.cli_json("memory", "search", "nginx", "--type", "Chat") == []
    got = env.cli_json("memory", "get", added["id"])
    assert got["content"] == added["content"]
    human = env.cli("memory", "search", "nginx")
    assert human.returncode == 0 and added["id"] in human.stdout


def test_any_query_text_works_through_the_cli(env: Env, daemon: Daemon) -> None:
    env.cli_json("memory", "add", "disk full on /var (95%)")
    for query in ['"unbalanced', "*", "-", "NEAR(", "a AND OR NOT", "(((", "日本語", "🙂", "col:on", "^", "/var"]:
        proc = env.cli("memory", "search", query, "--json")
        assert proc.returncode == 0, (query, proc.stderr)
        json.loads(proc.stdout)


def test_memory_get_unknown_id_is_one_line_error(env: Env, daemon: Daemon) -> None:
    proc = env.cli("memory", "get", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "no memory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_since_is_a_usage_error(env: Env, daemon: Daemon) -> None:
    proc = env.cli("memory", "search", "x", "--since", "the dawn of time")
    assert proc.returncode == 2
    assert "since" in proc.stderr


def test_not_running_is_exit_3_with_the_fix(env: Env) -> None:
    proc = env.cli("status")
    assert proc.returncode == 3
    assert "not running" in proc.stderr and "aios daemon start" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_usage_error_is_exit_2(env: Env) -> None:
    assert env.cli("no-such-command").returncode == 2
    assert env.cli("memory", "search", "--limit", "many").returncode == 2


def test_daemon_start_and_stop(env: Env) -> None:
    started = env.cli("daemon", "start", "--json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    try:
        again = env.cli("daemon", "start")
        assert again.returncode == 1 and "already running" in again.stderr
        assert env.cli_json("status")["pid"] == pid
    finally:
        stopped = env.cli("daemon", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not env.socket.exists()
    assert env.cli("daemon", "stop").returncode == 3


def test_autostart_on_demand(env: Env) -> None:
    proc = env.cli("status", "--json", env={"AIOS_DAEMON__AUTOSTART": "true"})
    assert proc.returncode == 0, proc.stderr
    pid = json.loads(proc.stdout)["pid"]
    try:
        assert env.cli_json("status")["pid"] == pid
    finally:
        assert env.cli("daemon", "stop").returncode == 0
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of the CLI's child: gone for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_config_show_json_names_sources(env: Env) -> None:
    env.write_config("[security]\nmode = \"safe\"\n")
    data = env.cli_json("--set", "sandbox.timeout=30s", "config", "show")
    assert data["config"]["security"]["mode"] == "safe"
    assert data["sources"]["security.mode"] == str(env.config_file)
    assert data["sources"]["sandbox.timeout"].startswith("flag --set")
    assert data["sources"]["daemon.max_line"] == "default"


def test_config_check_names_file_and_key(env: Env) -> None:
    bad = env.root / "bad.toml"
    bad.write_text("[sandbox]\ntimeout = \"forever\"\n")
    proc = env.cli("config", "check", str(bad))
    assert proc.returncode == 1
    assert str(bad) in proc.stderr and "sandbox.timeout" in proc.stderr
    good = env.root / "good.toml"
    good.write_text("[sandbox]\ntimeout = \"2m\"\n")
    assert env.cli("config", "check", str(good)).returncode == 0


def test_socket_flag_and_env_reach_the_daemon(env: Env, daemon: Daemon) -> None:
    other = {k: v for k, v in env.env.items() if not k.startswith("AIOS_PATHS")}
    assert env.cli("--socket", str(daemon.socket), "status", env={"AIOS_PATHS__RUNTIME_DIR": "/nonexistent"}).returncode == 0
    assert env.cli("status", env={"AIOS_SOCKET": str(daemon.socket), "AIOS_PATHS__RUNTIME_DIR": "/nonexistent"}).returncode == 0
    del other
