"""Every CLI command, fed broken input, fails with ``aios: ...`` lines and a contract exit code.

The commands are enumerated from the cyclopts app (``aios.cli.app``), so a command added later
is covered without touching this file. Each one is run as the real ``aios`` program in an
isolated environment, with its positional arguments filled with values that name nothing
(a malformed id, a well-formed id that does not exist, a directory where a file is expected),
under each broken condition below: no daemon (autostart off), broken config files, bad ``--set``
values with a missing ``--config`` file, sockets and runtime directories at impossible paths,
and a running daemon whose model endpoint is dead, with bad option values and a COLUMNS that is
not a number. The check: no Python traceback on stdout
or stderr, an exit code from the contract (0 ok, 1 error, 2 usage, 3 daemon unreachable;
``aios run`` may also exit with its command's code), and a failure ends in an ``aios:`` line.
"""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import typing
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from aios.cli import app
from harness import Env, connect, rpc

Words = tuple[str, ...]

MALFORMED_ID = "no-such-thing"
MISSING_ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
# Commands whose exit code is another program's (the jailed command): any code, no traceback.
OWN_CODES = {("run",)}
# These start a daemon when nothing stops them; they are run only where starting must fail.
STARTS_DAEMON = {("daemon", "run"), ("daemon", "start")}
CONTRACT = {0, 1, 2, 3}

BROKEN_CONFIG = (
    '[security]\nmode = "lax"\nmod = 1\n'  # two problems in one table
    "[recovery]\nmax_snapshots = 0\n"
    "[nosuchsection]\nx = 1\n"
)
DEAD_MODEL = (
    '[llm]\ndefault_provider = "dead"\n'
    '[llm.providers.dead]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
    'max_retries = 0\ntimeout = "5s"\n'
)


def _commands(parent: Any = app, prefix: Words = ()) -> Iterator[tuple[Words, Callable[..., Any] | None]]:
    """(words, function) for every command; groups without a default have no function."""
    for name, sub in parent.resolved_commands().items():
        if name.startswith("-"):  # --help, --version
            continue
        words = (*prefix, name)
        yield words, sub.default_command
        yield from _commands(sub, words)


COMMANDS = sorted(_commands(), key=lambda c: c[0])


def _params(fn: Callable[..., Any]) -> list[tuple[inspect.Parameter, Any]]:
    hints = typing.get_type_hints(fn)
    return [(p, hints.get(p.name)) for p in inspect.signature(fn).parameters.values()]


def _is_number(tp: Any) -> bool:
    return tp in (int, float) or any(a in (int, float) for a in typing.get_args(tp))


def _argv(words: Words, fn: Callable[..., Any] | None, value: str, root: Path, bad_options: bool) -> list[str]:
    """The command line: positionals set to ``value``; with ``bad_options``, every option too
    (numbers -1, everything else a path that does not exist; cyclopts' own conversion errors
    are covered by test_edge.py)."""
    argv = list(words)
    if fn is None:
        return argv
    tail: list[str] = []
    for p, tp in _params(fn):
        if p.name == "root":  # never the real /: a root file system without /etc/passwd
            argv += ["--root", str(root)]
        elif p.kind is p.VAR_POSITIONAL:  # a command line, after --
            tail = ["--", value]
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            argv.append(value)
        elif bad_options and p.kind is p.KEYWORD_ONLY and tp is not bool:
            flag = "--" + p.name.replace("_", "-")
            if _is_number(tp):
                argv += [flag, "-1"]
            else:
                argv += [flag, "/no/such/path"]
    return argv + tail


def _problems(words: Words, argv: list[str], proc: subprocess.CompletedProcess[str] | None) -> list[str]:
    shown = " ".join(["aios", *argv])
    if proc is None:
        return [f"{shown}: did not finish within the time limit"]
    out = []
    for stream, text in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        if "Traceback (most recent call last)" in text or 'File "/' in text:
            out.append(f"{shown}: traceback on {stream}:\n{text[-1500:]}")
    if "aios: internal error" in proc.stderr:  # the edge caught a bug: fix its cause
        out.append(f"{shown}: {proc.stderr.strip()}")
    if words in OWN_CODES:
        return out
    if proc.returncode not in CONTRACT:
        out.append(f"{shown}: exit {proc.returncode}, not in the contract; stderr: {proc.stderr[-500:]}")
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        if not lines or not lines[-1].startswith(("aios: ", "aios-runtime: ")):  # daemon run is the daemon
            out.append(f"{shown}: exit {proc.returncode} without an 'aios: ...' line last; stderr: {proc.stderr[-500:]}")
    return out


def _run_all(
    env: Env,
    prefix: list[str],
    *,
    extra_env: dict[str, str] | None = None,
    bad_options: bool = False,
    skip: frozenset[Words] | set[Words] = frozenset(),
    values: tuple[str, ...] = (MALFORMED_ID,),
) -> list[str]:
    """Run every command with its positionals set to each of ``values``."""
    root = env.root / "emptyroot"
    root.mkdir(exist_ok=True)
    jobs: dict[tuple[str, ...], Words] = {}
    for words, fn in COMMANDS:
        if words not in skip:
            for value in values:
                jobs[(*prefix, *_argv(words, fn, value, root, bad_options))] = words

    def one(job: tuple[tuple[str, ...], Words]) -> list[str]:
        argv, words = job
        try:
            proc = env.cli(*argv, env=extra_env, timeout=90)
        except subprocess.TimeoutExpired:
            return _problems(words, list(argv), None)
        return _problems(words, list(argv), proc)

    with ThreadPoolExecutor(3) as pool:  # independent commands; three at a time on 2 cores
        results = list(pool.map(one, jobs.items()))
    return [p for r in results for p in r]


def _assert_none(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} commands leak a traceback or break the contract:\n\n" + "\n\n".join(problems)


def test_every_command_is_enumerated() -> None:
    names = {w for w, _fn in COMMANDS}
    # A few known ones, so that a broken enumeration cannot pass the tests below vacuously.
    assert {("status",), ("memory", "get"), ("daemon", "install"), ("restore",), ("policy", "revoke")} <= names


def test_no_daemon_and_autostart_off(env: Env) -> None:
    # A directory where a file or an id is expected, too.
    _assert_none(_run_all(env, [], skip=STARTS_DAEMON, values=(MALFORMED_ID, str(env.workspace))))


def test_broken_config_files(env: Env) -> None:
    env.write_config(BROKEN_CONFIG)
    env.system_config.write_bytes(b'[security]\nmode = "\xff"\n')  # not UTF-8 (TOML syntax: test_layers)
    _assert_none(_run_all(env, [], extra_env={"AIOS_DAEMON__AUTOSTART": "true"}))


def test_bad_set_values_and_a_missing_config_file(env: Env) -> None:
    flags = ["--config", str(env.root / "absent.toml"), "--set", "security.mode=bogus", "--set", "nokey", "--set", "daemon.max_line=lots"]
    _assert_none(_run_all(env, flags))


def test_impossible_socket_and_runtime_paths(env: Env) -> None:
    blocker = env.root / "a-file"
    blocker.write_text("not a directory")
    _assert_none(_run_all(env, ["--socket", str(blocker / "aios.sock")], extra_env={"AIOS_DAEMON__AUTOSTART": "true"}))
    _assert_none(_run_all(env, [], extra_env={"AIOS_PATHS__RUNTIME_DIR": str(blocker), "AIOS_DAEMON__AUTOSTART": "true"}))


def test_running_daemon_bad_ids_and_bad_options(env: Env) -> None:
    env.write_config(DEAD_MODEL + f'[recovery]\npaths = ["{env.workspace}"]\n')
    daemon = env.start_daemon()
    stop = {("daemon", "stop")}
    ends_it = {*stop, ("daemon", "restart")}  # restart replaces the shared daemon: tests/cli/test_restart.py
    try:
        # COLUMNS is whatever the shell exported; tables must not trip over it.
        _assert_none(_run_all(env, [], skip=ends_it, values=(MALFORMED_ID, MISSING_ULID), extra_env={"COLUMNS": "wide"}))
        _assert_none(_run_all(env, [], bad_options=True, skip=ends_it))
        # Last, as it ends the daemon the others share.
        _assert_none(_run_all(env, [], skip={w for w, _fn in COMMANDS} - stop))
    finally:
        daemon.kill()


@pytest.fixture(autouse=True)
def _no_daemon_left_behind(env: Env) -> Iterator[None]:
    """A command that started a daemon despite everything is stopped (and fails the test)."""
    yield
    for sock in env.root.rglob("*.sock"):
        try:
            with connect(sock, timeout=2) as s:
                pid = rpc(s, "status")["pid"]
        except Exception:  # nothing answers there: as it should be
            continue
        os.kill(pid, signal.SIGKILL)
        pytest.fail(f"a daemon (pid {pid}) was left running on {sock}")
