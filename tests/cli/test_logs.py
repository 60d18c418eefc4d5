"""Issue 15, logs: where the daemon logs, in which format, rotation, and ``aios daemon logs``."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time

from harness import BIN, Daemon, Env, connect
from llmserver import LLMServer, text

FILE_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} aios-runtime\[(\d+)\] (DEBUG|INFO|WARNING|ERROR) [\w.]+: ")


def _notify(daemon: Daemon, method: str, count: int = 1) -> None:
    """Client notifications: the daemon logs each at DEBUG ("ignored notification METHOD")."""
    with connect(daemon.socket) as s:
        for _ in range(count):
            s.sendall(b'{"jsonrpc": "2.0", "method": "%s"}\n' % method.encode())
        s.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n')
        s.recv(4096)  # answered after the notifications before it were handled


def test_daemon_logs_to_the_state_dir_in_the_documented_format(env: Env, daemon: Daemon) -> None:
    log = env.state / "daemon.log"
    lines = log.read_text().splitlines()
    serving = [ln for ln in lines if "serving on" in ln]
    assert serving and FILE_LINE.match(serving[0]), lines
    assert FILE_LINE.match(serving[0]).group(1) == str(daemon.proc.pid)  # type: ignore[union-attr]
    assert log.stat().st_mode & 0o077 == 0, oct(log.stat().st_mode)  # it names commands and paths
    stderr = (env.root / "daemon.log").read_text()
    assert "serving on" not in stderr, stderr  # stderr keeps only what comes before the log


def test_aios_daemon_logs_shows_the_last_lines(env: Env, daemon: Daemon) -> None:
    log = env.state / "daemon.log"
    before = len(log.read_text().splitlines())
    proc = env.cli("daemon", "logs", "-n", "1")
    assert proc.returncode == 0, proc.stderr
    # The daemon may log meanwhile (its embedding thread, this very connection): the line shown
    # is the last one at some moment of the call.
    after = log.read_text().splitlines()
    shown = proc.stdout.splitlines()
    assert len(shown) == 1 and shown[0] in after[max(0, before - 1):], (shown, after[before - 1:])
    everything = env.cli("daemon", "logs")
    assert "serving on" in everything.stdout


def test_aios_daemon_logs_without_a_log_says_where_it_looked(env: Env) -> None:
    proc = env.cli("daemon", "logs")
    assert proc.returncode == 1
    assert proc.stderr.startswith("aios: no daemon log at ") and str(env.state / "daemon.log") in proc.stderr


def test_under_systemd_the_log_goes_to_stderr_without_time(env: Env) -> None:
    """JOURNAL_STREAM names stderr (as systemd sets it): the journal adds time and unit, and a
    ``<N>`` prefix keeps each line's priority."""
    out = env.root / "journal-stream"
    with open(out, "ab") as log:
        st = os.fstat(log.fileno())
        proc = subprocess.Popen([str(BIN / "aios-runtime")], env={**env.env, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    daemon = Daemon(env, proc)
    try:
        daemon.wait_ready()
        text = out.read_text()
        serving = [ln for ln in text.splitlines() if "serving on" in ln]
        assert serving == [serving[0]] and re.match(r"^<6>INFO aios\.daemon: aios \S+ serving on ", serving[0]), text
        assert not (env.state / "daemon.log").exists()
    finally:
        daemon.stop()


def test_an_inherited_journal_stream_that_is_not_stderr_means_the_file(env: Env) -> None:
    """A shell in a desktop session inherits JOURNAL_STREAM from its terminal's unit; a daemon
    started from it must not log into a stream it is not writing to."""
    other = env.root / "not-stderr"
    other.write_text("")
    st = os.stat(other)
    daemon = env.start_daemon(env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}", "INVOCATION_ID": "0" * 32})
    try:
        assert "serving on" in (env.state / "daemon.log").read_text()
    finally:
        daemon.stop()


def test_rotation_by_size_keeps_n_files(env: Env) -> None:
    env.write_config("[daemon]\nlog_max_bytes = \"64KiB\"\nlog_keep = 2\nlog_level = \"debug\"\n")
    env.state.mkdir(parents=True, exist_ok=True)
    (env.state / "daemon.log.2").write_text("oldest\n")
    daemon = env.start_daemon()
    try:
        for i in range(24):  # about three files' worth: the oldest kept one is replaced
            _notify(daemon, f"bulk-{i}-" + "x" * 8000)
        _notify(daemon, "the-last-one")
        log = env.state / "daemon.log"
        names = sorted(p.name for p in env.state.glob("daemon.log*"))
        assert names == ["daemon.log", "daemon.log.1", "daemon.log.2"], names
        assert "oldest" not in (env.state / "daemon.log.2").read_text()
        for p in env.state.glob("daemon.log*"):
            assert p.stat().st_size <= 64 * 1024 + 9000, (p, p.stat().st_size)
        assert "the-last-one" in log.read_text()
    finally:
        daemon.stop()


def test_model_requests_are_not_logged_at_info(env: Env) -> None:
    """httpx logs every request at INFO (the embedded model's health polls: ten a second while
    it starts); at the default level none of that reaches the log, at debug it does."""
    with LLMServer() as llm:
        llm.script([text("fine")])
        env.write_config(f'[llm]\ndefault_provider = "s"\n[llm.providers.s]\nkind = "openai"\n'
                         f'base_url = "{llm.base_url}"\nmodel = "m"\n')
        daemon = env.start_daemon()
        try:
            assert env.cli("chat", "hello").returncode == 0
            assert "fine" not in daemon.log() and "serving on" in daemon.log()
            assert "HTTP Request" not in daemon.log() and "/chat/completions" not in daemon.log()
        finally:
            daemon.stop()
        env.write_config(env.config_file.read_text() + '[daemon]\nlog_level = "debug"\n')
        llm.script([text("fine")])
        daemon = env.start_daemon()
        try:
            assert env.cli("chat", "hello").returncode == 0
            assert "/chat/completions" in daemon.log()
        finally:
            daemon.stop()


def test_follow_continues_across_a_rotation(env: Env) -> None:
    env.write_config("[daemon]\nlog_max_bytes = \"64KiB\"\nlog_keep = 1\nlog_level = \"debug\"\n")
    daemon = env.start_daemon()
    follower = subprocess.Popen([str(BIN / "aios"), "daemon", "logs", "-f", "-n", "0"], env=env.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in follower.stdout], daemon=True).start()  # type: ignore[union-attr]

    def wait_for(word: str) -> list[str]:
        seen = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                ln = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(ln)
            if word in ln:
                return seen
        raise AssertionError(f"{word!r} never shown; got {seen[-3:]} {follower.poll()}")

    try:
        _notify(daemon, "marker-before")
        wait_for("marker-before")
        for i in range(10):
            _notify(daemon, f"bulk-{i}-" + "y" * 8000)
        _notify(daemon, "marker-after")
        seen = wait_for("marker-after")
        assert (env.state / "daemon.log.1").exists()  # it did rotate meanwhile
        shown = [i for i in range(10) if any(f"bulk-{i}-" in ln for ln in seen)]
        assert shown == list(range(10)), shown  # nothing lost at the rotation
    finally:
        follower.terminate()
        follower.wait(10)
        daemon.stop()


def test_a_foreground_daemon_on_a_terminal_shows_its_log_there_too(env: Env) -> None:
    """'aios daemon run' at a terminal: the log goes to the file and is shown on the terminal."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN / "aios"), "daemon", "run"], env=env.env,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    daemon = Daemon(env, proc)
    try:
        daemon.wait_ready()
        import select

        shown = b""
        deadline = time.monotonic() + 30
        while b"serving on" not in shown and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                shown += os.read(master, 4096)
        serving = [ln.strip() for ln in shown.decode(errors="replace").splitlines() if "serving on" in ln]
        assert serving and FILE_LINE.match(serving[0]), shown
        assert "serving on" in (env.state / "daemon.log").read_text()
    finally:
        daemon.stop()
        os.close(master)


def test_log_target_stderr_keeps_the_time_and_writes_no_file(env: Env) -> None:
    """A container's daemon (the image sets AIOS_DAEMON__LOG_TARGET=stderr): several daemons
    may share its state directory, so none of them writes daemon.log there."""
    daemon = env.start_daemon(env={"AIOS_DAEMON__LOG_TARGET": "stderr"})
    try:
        serving = [ln for ln in (env.root / "daemon.log").read_text().splitlines() if "serving on" in ln]
        assert serving and FILE_LINE.match(serving[0]), serving
        assert not (env.state / "daemon.log").exists()
        proc = env.cli("daemon", "logs", env={"AIOS_DAEMON__LOG_TARGET": "stderr"})
        assert proc.returncode == 1 and "podman logs" in proc.stderr, proc.stderr
    finally:
        daemon.stop()


def test_log_target_file_wins_over_the_journal(env: Env) -> None:
    out = env.root / "journal-stream"
    with open(out, "ab") as log:
        st = os.fstat(log.fileno())
        proc = subprocess.Popen([str(BIN / "aios-runtime"), "--set", 'daemon.log_target="file"'],
                                env={**env.env, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    daemon = Daemon(env, proc)
    try:
        daemon.wait_ready()
        assert "serving on" in (env.state / "daemon.log").read_text()
        assert "serving on" not in out.read_text()
    finally:
        daemon.stop()
