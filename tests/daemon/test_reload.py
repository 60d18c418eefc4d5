"""Issue 15, hot reload: a real daemon reloads its config on config.reload, SIGHUP and a file change.

Each trigger must make a new mode, a new rules file and a new provider take effect; an invalid
config changes nothing and is reported; a request in flight keeps the config it started with.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import BIN, Daemon, Env, connect, rpc
from llmserver import LLMServer, text

RULES = 'version = 1\n\n[[rule]]\nid = "site.deploy"\nmatch = ["deploy"]\naction = "block"\n'


@pytest.fixture
def llm1() -> Iterator[LLMServer]:
    with LLMServer() as srv:
        yield srv


@pytest.fixture
def llm2() -> Iterator[LLMServer]:
    with LLMServer() as srv:
        yield srv


def config(llm: LLMServer, *, mode: str = "normal", rules: str | None = None, watch: bool = False, extra: str = "") -> str:
    rules_line = f'rules_file = "{rules}"\n' if rules else ""
    return (f'[daemon]\nwatch_config = {"true" if watch else "false"}\n'
            f'[security]\nmode = "{mode}"\n{rules_line}'
            f'[llm]\ndefault_provider = "p"\n[llm.providers.p]\nkind = "openai"\nbase_url = "{llm.base_url}"\n'
            f'model = "m-{llm.port}"\nmax_retries = 0\n{extra}')


def call(env: Env, method: str, params: dict[str, Any] | None = None) -> Any:
    with connect(env.socket) as s:
        return rpc(s, method, params)


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("the daemon did not reload in time")


def reloads(d: Daemon) -> int:
    return d.log().count("config reloaded (")


def trigger(kind: str, env: Env, d: Daemon) -> None:
    """Make the daemon reload, and return once the reload is done."""
    before = call(env, "status")["config"]["loaded_at"]
    if kind == "method":
        proc = env.cli("config", "reload")
        assert proc.returncode == 0, proc.stderr
    elif kind == "sighup":
        d.proc.send_signal(signal.SIGHUP)
    # "watch": the write that preceded this call is the trigger.
    wait_for(lambda: call(env, "status")["config"]["loaded_at"] != before)


@pytest.mark.parametrize("kind", ["method", "sighup", "watch"])
def test_mode_rules_file_and_provider_take_effect(env: Env, llm1: LLMServer, llm2: LLMServer, kind: str) -> None:
    watch = kind == "watch"
    env.write_config(config(llm1, watch=watch))
    d = env.start_daemon()
    try:
        assert call(env, "status")["mode"] == "normal"
        assert call(env, "policy.check", {"command": "deploy --prod"})["decision"] != "block"
        llm1.script([text("from one")])
        assert env.cli_json("chat", "hi")["provider"] == "p" and llm1.requests
        rules = env.root / "rules.toml"
        rules.write_text(RULES)
        env.write_config(config(llm2, mode="paranoid", rules=str(rules), watch=watch))
        trigger(kind, env, d)
        status = call(env, "status")
        assert status["mode"] == "paranoid" and status["config"]["state"] == "ok"
        decision = call(env, "policy.check", {"command": "deploy --prod"})
        assert (decision["decision"], decision["rule"]) == ("block", "site.deploy")
        llm2.script([text("from two")])
        answer = env.cli_json("chat", "hi")
        assert answer["text"] == "from two" and answer["model"] == f"m-{llm2.port}"
        assert len(llm1.requests) == 1
        assert d.proc.poll() is None  # SIGHUP reloads; it never stops the daemon
    finally:
        d.kill()


def test_reload_reply_names_changed_sections_and_what_needs_a_restart(env: Env, llm1: LLMServer) -> None:
    env.write_config(config(llm1))
    d = env.start_daemon()
    try:
        env.write_config(config(llm1, mode="safe") + f'[paths]\nsocket = "{env.root}/other.sock"\n')
        reply = call(env, "config.reload")
        assert reply["errors"] == [] and reply["pinned"] == []
        assert "security" in reply["changed"] and "paths.socket" in reply["needs_restart"]
        # The socket stays where it is: the daemon still answers there, and nothing else moved.
        assert call(env, "status")["mode"] == "safe"
        assert call(env, "status")["socket"] == str(env.socket)
        assert not (env.root / "other.sock").exists()
        # The CLI reads the same file and would look for the new socket: point it at the old one.
        human = env.cli("config", "reload", env={"AIOS_SOCKET": str(env.socket)})
        assert human.returncode == 0 and "paths.socket" in human.stdout, human.stderr
    finally:
        d.kill()


def test_an_invalid_config_changes_nothing_and_is_reported(env: Env, llm1: LLMServer) -> None:
    env.write_config(config(llm1, mode="paranoid"))
    d = env.start_daemon()
    try:
        # Two problems in one file, one in the system file: all three are reported at once.
        env.write_config(config(llm1, mode="lax") + "[sandbox]\nno_such_key = 1\n")
        env.system_config.write_text("[memory]\nreaders = 0\n")
        proc = env.cli("config", "reload")
        assert proc.returncode == 1
        lines = [line for line in proc.stderr.splitlines() if line.startswith("aios: ")]
        assert any(str(env.config_file) in line and "security.mode" in line for line in lines), proc.stderr
        assert any(str(env.config_file) in line and "sandbox.no_such_key" in line for line in lines), proc.stderr
        assert any(str(env.system_config) in line and "memory.readers" in line for line in lines), proc.stderr
        reply = call(env, "config.reload")
        assert len(reply["errors"]) == 3 and reply["changed"] == []
        assert {e["key"] for e in reply["errors"]} == {"security.mode", "sandbox.no_such_key", "memory.readers"}
        status = call(env, "status")
        assert status["mode"] == "paranoid"
        assert status["config"]["state"] == "error" and "security.mode" in status["config"]["error"]
        shown = env.cli("status")
        assert shown.returncode == 1 and "config    error" in shown.stdout and "sandbox.no_such_key" in shown.stdout
        assert shown.stderr.startswith("aios: config: error: ") and "Traceback" not in shown.stderr
        # A good file clears the error.
        env.system_config.unlink()
        env.write_config(config(llm1, mode="safe"))
        assert env.cli("config", "reload").returncode == 0
        status = call(env, "status")
        assert status["mode"] == "safe" and status["config"]["state"] == "ok" and status["config"]["error"] is None
    finally:
        d.kill()


def test_a_broken_rules_file_fails_the_reload(env: Env, llm1: LLMServer) -> None:
    """The rules file is compiled before the swap: a bad one keeps the old policy."""
    env.write_config(config(llm1))
    d = env.start_daemon()
    try:
        rules = env.root / "rules.toml"
        rules.write_text(RULES.replace('action = "block"', 'action = "block"\nexamples = [{ cmd = "deploy", decision = "allow" }]'))
        env.write_config(config(llm1, mode="safe", rules=str(rules)))
        reply = call(env, "config.reload")
        assert reply["errors"] and str(rules) in reply["errors"][0]["message"]
        assert call(env, "status")["mode"] == "normal"
    finally:
        d.kill()


def test_a_chat_in_flight_finishes_with_the_provider_it_started_with(env: Env, llm1: LLMServer, llm2: LLMServer) -> None:
    env.write_config(config(llm1))
    d = env.start_daemon()
    try:
        # The first model streams its answer slowly (20 pieces, 0.5 s apart): the reload lands mid-stream.
        llm1.script([text("an answer from the first provider", chunks=20, delay=0.5)])
        chat = subprocess.Popen([str(BIN / "aios"), "chat", "--json", "hi"], env=env.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: len(llm1.requests) == 1)
        env.write_config(config(llm2, mode="safe"))
        reply = call(env, "config.reload")
        assert reply["errors"] == [] and "llm" in reply["changed"]
        assert chat.poll() is None, "the turn ended before the reload: the test proves nothing"
        out, err = chat.communicate(timeout=60)
        assert chat.returncode == 0, err
        result = json.loads(out)
        assert result["text"] == "an answer from the first provider" and result["model"] == f"m-{llm1.port}"
        turn = call(env, "memory.search", {"query": "", "type": "Chat"})[0]
        assert turn["metadata"]["mode"] == "normal"  # the mode it started with, too
        llm2.script([text("second")])
        assert env.cli_json("chat", "again")["model"] == f"m-{llm2.port}"
        assert not llm2.requests[0].body["messages"][-1]["content"].startswith("an answer")
    finally:
        d.kill()


def test_a_burst_of_writes_is_one_reload(env: Env, llm1: LLMServer) -> None:
    env.write_config(config(llm1, watch=True))
    d = env.start_daemon()
    try:
        for i in range(20):
            env.write_config(config(llm1, mode="safe" if i % 2 else "paranoid", watch=True))
        wait_for(lambda: reloads(d) >= 1)
        wait_for(lambda: call(env, "status")["mode"] == "safe")
        time.sleep(1.0)  # any second reload would have started by now (debounce is 0.2 s)
        assert reloads(d) == 1, d.log()
    finally:
        d.kill()


def test_an_editor_that_saves_by_rename_is_seen(env: Env, llm1: LLMServer) -> None:
    """vim and most editors write a new file and rename it over the old one: the watch is on the
    directory, so the new file is seen (a watch on the old inode would never fire again)."""
    env.write_config(config(llm1, watch=True))
    d = env.start_daemon()
    try:
        for mode in ("safe", "paranoid"):
            tmp = env.root / ".config.toml.swp"
            tmp.write_text(config(llm1, mode=mode, watch=True))
            tmp.rename(env.config_file)
            wait_for(lambda mode=mode: call(env, "status")["mode"] == mode)  # type: ignore[misc]
    finally:
        d.kill()


def test_the_scheduler_takes_new_intervals(env: Env, llm1: LLMServer) -> None:
    """Automatic snapshots off (interval 0) at start; a reload sets a 1 s interval and they start,
    without a restart; another reload turns them off again."""
    tree = env.root / "tree"
    tree.mkdir()
    (tree / "f").write_text("x")
    recovery = f'[recovery]\npaths = ["{tree}"]\npackages = false\n'
    env.write_config(config(llm1, extra=recovery + "interval = 0\n"))
    d = env.start_daemon()
    try:
        def hourly() -> int:
            return len(call(env, "snapshot.list", {"trigger": "hourly"}))

        assert hourly() == 0
        env.write_config(config(llm1, extra=recovery + 'interval = "1s"\n'))
        assert call(env, "config.reload")["changed"] == ["recovery"]
        wait_for(lambda: hourly() >= 2)
        env.write_config(config(llm1, extra=recovery + "interval = 0\n"))
        assert call(env, "config.reload")["errors"] == []
        settled = hourly()
        time.sleep(2.5)  # two of the old intervals: a snapshot job still running on it would show
        assert hourly() <= settled + 1  # one may have been running when the reload landed
    finally:
        d.kill()


@pytest.mark.parametrize("kind", ["method", "watch"])
def test_an_edit_of_the_rules_file_alone_takes_effect(env: Env, llm1: LLMServer, kind: str) -> None:
    """The rules file is one of the files the daemon watches; its new contents count as a change."""
    rules = env.root / "rules.toml"
    rules.write_text(RULES.replace('"block"', '"confirm"'))
    env.write_config(config(llm1, rules=str(rules), watch=kind == "watch"))
    d = env.start_daemon()
    try:
        assert call(env, "policy.check", {"command": "deploy"})["decision"] == "confirm"
        rules.write_text(RULES)
        if kind == "method":
            assert call(env, "config.reload")["changed"] == ["security"]
        wait_for(lambda: call(env, "policy.check", {"command": "deploy"})["decision"] == "block")
    finally:
        d.kill()
