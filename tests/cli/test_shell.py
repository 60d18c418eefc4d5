"""``aios shell`` on a real pseudo-terminal: slash commands, a turn, Ctrl-C cancelling a turn."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from harness import BIN, Daemon, Env
from llmserver import LLMServer, text, tool_call


class Term:
    """A process on a pty, read until a pattern shows up."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, env={**env, "TERM": "dumb"}, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self.seen = ""

    def expect(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen; got:\n{self.seen[-2000:]}")
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    self.seen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    break
        return self.seen

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with LLMServer() as srv:
        yield srv


@pytest.fixture
def shell_daemon(env: Env, llm: LLMServer) -> Iterator[Daemon]:
    conf = env.outside() / "etc-like" / "app.conf"
    conf.parent.mkdir()
    conf.write_text("original\n")
    env.write_config(
        f'[llm]\ndefault_provider = "s"\n[llm.providers.s]\nkind = "openai"\nbase_url = "{llm.base_url}"\nmodel = "m"\n'
        f'[recovery]\npaths = ["{conf.parent}"]\npackages = false\n'
    )
    d = env.start_daemon()
    try:
        yield d
    finally:
        d.kill()


def test_shell_turns_slash_commands_and_ctrl_c(env: Env, shell_daemon: Daemon, llm: LLMServer) -> None:
    marker = f"aios-shell-cancel-{os.getpid()}"
    llm.script([text("Hello from the model."), tool_call("bash", {"command": f"exec -a {marker} sleep 300"}), text("never")])
    t = Term([str(BIN / "aios"), "shell"], env.env)
    try:
        t.expect("aios> ")
        t.send("/help\n")
        t.expect("/mode")
        t.send("/mode safe\n")
        t.expect("mode: safe")
        t.send("/mode normal\n")
        t.expect("mode: normal")
        t.send("say \\\nhello\n")  # a continued line is one message
        t.expect("Hello from the model.")
        assert llm.requests[0].body["messages"][-1]["content"] == "say \nhello"
        t.expect("aios> ")
        t.send("sleep for a while\n")
        deadline = time.monotonic() + 20
        while subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "the tool never started"
            time.sleep(0.05)
        os.killpg(t.proc.pid, signal.SIGINT)  # Ctrl-C at the terminal
        t.expect("(cancelled)")
        t.expect("aios> ")
        deadline = time.monotonic() + 10
        while subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0:
            assert time.monotonic() < deadline, "Ctrl-C left the tool running"
            time.sleep(0.05)
        t.send("/history\n")
        t.expect("you: say")
        conf = env.outside() / "etc-like" / "app.conf"
        t.send("/snapshot before the edit\n")
        t.expect(" taken (")
        import re

        snap_id = re.findall(r"snapshot (\w+) taken", t.seen)[-1]
        conf.write_text("edited\n")
        t.send(f"/restore {snap_id}\n")
        t.expect("changes)? [y/N] ")
        t.send("y\n")
        t.expect("restored ")
        assert conf.read_text() == "original\n"
        t.send("/exit\n")
        assert t.proc.wait(10) == 0
    finally:
        t.close()
