"""Issue 19: a failed daemon start says why in its own words, once, and where the full log is —
not the last lines of older runs glued together with ' | '."""

from __future__ import annotations

from harness import Env

OLD_LOG = (
    "2026-01-01 10:00:00,000 aios-runtime[1] INFO aios 0.1.0 serving on /old/aios.sock (pid 1)\n"
    "aios-runtime: an old failure that is not this one\n"
    "2026-01-01 10:00:09,000 aios-runtime[1] INFO stopping: no new connections, 0 open\n"
)


def _check(env: Env, stderr: str, *, key: str) -> None:
    log = env.run_dir / "daemon.out"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert " | " not in line and "old failure" not in line and "serving on /old" not in line, line
    assert key in line and str(env.config_file) in line, line
    assert line.count(key) == 1, line
    assert f"full log: {log}" in line, line
    assert "Traceback" not in stderr


def test_daemon_start_shows_this_failure_and_the_log(env: Env) -> None:
    (env.run_dir / "daemon.out").write_text(OLD_LOG * 3)
    env.write_config('[daemon]\nmax_line = "huge"\n')
    proc = env.cli("daemon", "start")
    assert proc.returncode == 1
    _check(env, proc.stderr, key="daemon.max_line")


def test_autostart_shows_this_failure_and_the_log(env: Env) -> None:
    """The same through the on-demand start, with a different broken key and a log whose old
    lines end with a traceback of an earlier crash."""
    (env.run_dir / "daemon.out").write_text(OLD_LOG + "Traceback (most recent call last):\n  File \"x\", line 1\nRuntimeError: old crash\n")
    env.write_config('[sandbox]\ntimeout = "forever"\n')
    proc = env.cli("status", env={"AIOS_DAEMON__AUTOSTART": "true"})
    assert proc.returncode == 1
    assert "old crash" not in proc.stderr
    _check(env, proc.stderr, key="sandbox.timeout")
