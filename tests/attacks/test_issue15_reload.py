"""Issue 15 attacks, part 2: hot reload as an attack surface.

Written from the issue's text, not from the implementation. A reload is all-or-nothing, cannot
loosen a pin from the system config, is refused to any uid other than the owner, and a broken file
leaves the last good (stricter) configuration running. Each is tried through every trigger the
issue names: ``aios config reload``, the ``config.reload`` method, SIGHUP and the file watch
(``daemon.watch_config``).

The harmless observable: ``security.dangerous_patterns`` blocking a unique word, so ``aios run --
echo WORD`` exits 126 while the pattern is in force and would print WORD once a looser config got
in; and ``security.mode`` as ``aios status --json`` shows it.
"""

from __future__ import annotations

import os
import pwd
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from issue15_assume import (
    config_error_shown,
    daemon_logs,
    new_lines,
    pin_named,
    status_mode,
    status_text,
    wait_until,
)
from issue15_util import as_other, marker, open_socket

from harness import Daemon, Env, RPCError, connect, rpc

WORD = "issue15blockedword"
TRIGGERS = ["cli", "method", "sighup", "watch"]


def config(*, mode: str = "normal", pattern: bool = True, watch: bool = False, extra: str = "") -> str:
    patterns = f'["{WORD}"]' if pattern else "[]"
    return f'[daemon]\nwatch_config = {"true" if watch else "false"}\n{extra}\n[security]\nmode = "{mode}"\ndangerous_patterns = {patterns}\n'


def write_atomically(path: Path, text: str) -> None:
    """As an editor saves: a new file renamed over the old one."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def blocked(env: Env) -> bool:
    proc = env.cli("run", "--", f"echo {WORD}")
    if proc.returncode == 126:
        return True
    assert WORD in proc.stdout, (proc.returncode, proc.stdout, proc.stderr)
    return False


def trigger(env: Env, d: Daemon, how: str) -> str:
    """Make the daemon reload the way ``how`` says; the text it answered (CLI and method only)."""
    if how == "cli":
        proc = env.cli("config", "reload")
        return f"exit={proc.returncode}\n{proc.stdout}{proc.stderr}"
    if how == "method":
        with connect(env.socket, timeout=60) as s:
            try:
                return "ok " + repr(rpc(s, "config.reload"))
            except RPCError as exc:
                return f"error {exc.code} {exc.error}"
    if how == "sighup":
        os.kill(d.proc.pid, signal.SIGHUP)
    return ""  # "watch": writing the file was the trigger


@pytest.fixture
def running(env: Env, request: pytest.FixtureRequest) -> Iterator[Daemon]:
    how = request.node.callspec.params["how"]
    env.write_config(config(watch=how == "watch"))
    d = env.start_daemon()
    try:
        assert blocked(env)
        yield d
    finally:
        d.kill()


# --- 2a. a broken file leaves the old, stricter config running ----------------------------------


BROKEN = {
    "toml-syntax": lambda watch: config(pattern=False, watch=watch) + "[security\nmode = \n",
    "bad-value": lambda watch: config(pattern=False, watch=watch) + '[sandbox]\ntimeout = "forever"\n',
    "unknown-key": lambda watch: config(pattern=False, watch=watch) + "[sandbox]\nno_such_key_issue15 = 1\n",
    "section-wrong-type": lambda watch: "security = 5\n",
}


@pytest.mark.parametrize("how", TRIGGERS)
@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_file_keeps_the_old_config(env: Env, running: Daemon, how: str, kind: str) -> None:
    text = BROKEN[kind](how == "watch")
    write_atomically(env.config_file, text)
    said = trigger(env, running, how)
    wait_until(lambda: config_error_shown(env), what="aios status showing config: error")
    assert blocked(env), f"a broken file ({kind}) dropped the running pattern"
    assert status_mode(env) == "normal"
    if how == "cli":
        assert said.startswith("exit=1"), said
        assert str(env.config_file) in said, said
    if how == "method":  # a JSON-RPC error, or a reply that names the file
        assert said.startswith("error") or str(env.config_file) in said, said
    again = env.cli("config", "reload")
    assert again.returncode == 1 and str(env.config_file) in again.stdout + again.stderr
    # A good file afterwards is taken, and the error goes away.
    write_atomically(env.config_file, config(mode="safe", watch=how == "watch"))
    trigger(env, running, how)
    wait_until(lambda: status_mode(env) == "safe", what="the good reload")
    assert not config_error_shown(env), status_text(env)


def test_every_error_is_reported_at_once_naming_file_and_key(env: Env) -> None:
    env.write_config(config())
    d = env.start_daemon()
    try:
        write_atomically(env.config_file, config(pattern=False) + '[sandbox]\ntimeout = "forever"\nmax_processes = "many"\n')
        proc = env.cli("config", "reload")
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1, out
        assert "sandbox.timeout" in out and "sandbox.max_processes" in out and str(env.config_file) in out
        assert "Traceback" not in out
        assert blocked(env)
    finally:
        d.kill()


# --- 2b. half a reload is no reload: a valid change beside an invalid one changes nothing -------


@pytest.mark.parametrize("how", TRIGGERS)
def test_valid_loosening_beside_an_invalid_key_changes_nothing(env: Env, running: Daemon, how: str) -> None:
    write_atomically(env.config_file, config(mode="trusted", pattern=False, watch=how == "watch") + "[memory]\nissue15_bogus = true\n")
    trigger(env, running, how)
    wait_until(lambda: config_error_shown(env), what="aios status showing config: error")
    assert status_mode(env) == "normal", "the valid half of a broken file was applied"
    assert blocked(env)
    target = marker(env)
    try:
        assert env.cli("run", "--", f"touch {target}").returncode == 126
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


@pytest.mark.parametrize("broken", ["rules-file", "system-config"])
def test_valid_user_change_with_another_file_broken_changes_nothing(env: Env, broken: str) -> None:
    """Two files: the user config loosens validly, another file the daemon read breaks."""
    rules = env.root / "rules.toml"
    rules.write_text("")
    env.system_config.write_text("")
    env.write_config(config().replace("[security]\n", f'[security]\nrules_file = "{rules}"\n'))
    d = env.start_daemon()
    try:
        assert blocked(env)
        write_atomically(env.config_file, config(mode="trusted", pattern=False).replace("[security]\n", f'[security]\nrules_file = "{rules}"\n'))
        if broken == "rules-file":
            write_atomically(rules, "[[rule\nthis is not toml\n")
        else:
            write_atomically(env.system_config, "[pin.security\n")
        proc = env.cli("config", "reload")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        # The CLI may stop at its own reading of the files: ask the daemon directly too.
        trigger(env, d, "method")
        trigger(env, d, "sighup")
        wait_until(lambda: config_error_shown(env), what="aios status showing config: error")
        assert status_mode(env) == "normal"
        assert blocked(env)
    finally:
        d.kill()


# --- 2c. a reload never loosens a pin from the system config, and says so ----------------------


@pytest.mark.parametrize("how", TRIGGERS)
def test_reload_cannot_loosen_a_pinned_mode(env: Env, how: str) -> None:
    env.system_config.write_text('[pin.security]\nmode = "normal"\n')
    env.write_config(config(watch=how == "watch"))
    d = env.start_daemon()
    try:
        logs, shown = daemon_logs(env), status_text(env)  # only what is said after the attempt counts
        write_atomically(env.config_file, config(mode="trusted", watch=how == "watch"))
        said = trigger(env, d, how)

        def told() -> bool:
            assert status_mode(env) != "trusted", "a reload loosened a pinned mode"
            return pin_named(said + new_lines(shown, status_text(env)) + new_lines(logs, daemon_logs(env)))

        wait_until(told, what="the daemon saying the pin refused the reload")
        assert_still_normal(env)
    finally:
        d.kill()


@pytest.mark.parametrize("how", ["cli", "sighup"])
def test_reload_cannot_drop_a_pinned_pattern(env: Env, how: str) -> None:
    env.system_config.write_text(f'[pin.security]\ndangerous_patterns = ["{WORD}"]\n')
    env.write_config(config(pattern=False))
    d = env.start_daemon()
    try:
        assert blocked(env)
        # Ways to drop it, each beside a harmless new require_confirm word that shows the reload was
        # taken (no mode change: safe mode confirms every command, which would hide the block).
        for i, patterns in enumerate(("[]", '["^$never-matches"]', '["other"]')):
            mark = f"issue15reloadmark{i}"
            text = config(pattern=False).replace("= []", f"= {patterns}") + f'require_confirm = ["{mark}"]\n'
            write_atomically(env.config_file, text)
            trigger(env, d, how)
            wait_until(lambda mark=mark: env.cli("run", "--", f"echo {mark}").returncode == 126, what=f"reload {i} taken")
            assert blocked(env), f"a reload dropped a pinned pattern with dangerous_patterns = {patterns}"
    finally:
        d.kill()


def assert_still_normal(env: Env) -> None:
    assert status_mode(env) == "normal"
    target = marker(env)
    try:
        proc = env.cli("run", "--", f"touch {target}")
        assert proc.returncode == 126 and not target.exists()
    finally:
        target.unlink(missing_ok=True)


# --- 2d. one call's overrides never ride along with a reload ------------------------------------


@pytest.mark.parametrize("spelling", ["set", "env", "config"])
def test_reload_request_carries_no_one_off_override(env: Env, spelling: str) -> None:
    env.write_config(config())
    d = env.start_daemon()
    try:
        if spelling == "set":
            proc = env.cli("--set", "security.mode=trusted", "--set", "security.dangerous_patterns=[]", "config", "reload")
        elif spelling == "env":
            proc = env.cli("config", "reload", env={"AIOS_SECURITY__MODE": "trusted", "AIOS_SECURITY__DANGEROUS_PATTERNS": "[]"})
        else:
            f = env.root / "one-off.toml"
            f.write_text('[security]\nmode = "trusted"\ndangerous_patterns = []\n')
            proc = env.cli("--config", str(f), "config", "reload")
        del proc  # exit code is the implementation's choice; what counts is the daemon's state
        assert_still_normal(env)
        assert blocked(env)
    finally:
        d.kill()


# --- 2e. only the owner reloads ----------------------------------------------------------------


@pytest.mark.parametrize("params", [None, {}, "path", "config"], ids=["no-params", "empty", "path-param", "config-param"])
def test_another_uid_cannot_reload(env: Env, other_user: pwd.struct_passwd, params: object) -> None:
    allowed = f"allowed_uids = [{other_user.pw_uid}]"
    env.write_config(config(extra=allowed))
    d = env.start_daemon()
    try:
        open_socket(env)
        # The owner's next config is on disk but not loaded yet: a reload by anyone would show.
        write_atomically(env.config_file, config(mode="safe", pattern=False, extra=allowed))
        evil = Path("/tmp") / f"issue15-evil-{os.getpid()}.toml"
        evil.write_text('[security]\nmode = "trusted"\ndangerous_patterns = []\n')
        try:
            evil.chmod(0o644)
            if isinstance(params, str):
                params = {params: str(evil), "file": str(evil)}
            reply = as_other(env, other_user, "config.reload", params)
        finally:
            evil.unlink(missing_ok=True)
        assert '"error"' in reply or reply.startswith(("closed", "refused")), f"another uid reloaded: {reply}"
        assert status_mode(env) == "normal"
        assert blocked(env)
    finally:
        d.kill()


# --- 2f. a symlinked config file swapped to another target ---------------------------------------


@pytest.mark.parametrize("how", ["cli", "watch"])
def test_symlinked_config_swapped_to_a_broken_then_a_pinned_target(env: Env, how: str) -> None:
    watch = how == "watch"
    env.system_config.write_text('[pin.security]\nmode = "normal"\n')
    first, broken, looser, stricter = (env.root / f"{n}.toml" for n in ("first", "broken", "looser", "stricter"))
    first.write_text(config(watch=watch))
    broken.write_text(config(pattern=False, watch=watch) + "[sandbox\n")
    looser.write_text(config(mode="trusted", pattern=False, watch=watch))
    stricter.write_text(config(mode="paranoid", watch=watch))
    os.symlink(first, env.config_file)
    d = env.start_daemon()

    def swap(to: Path) -> None:
        tmp = env.root / "config.toml.swap"
        os.symlink(to, tmp)
        os.replace(tmp, env.config_file)

    try:
        assert blocked(env)
        swap(broken)
        trigger(env, d, how)
        wait_until(lambda: config_error_shown(env), what="the broken target reported")
        assert blocked(env) and status_mode(env) == "normal"
        logs, shown = daemon_logs(env), status_text(env)
        swap(looser)
        said = trigger(env, d, how)
        wait_until(lambda: pin_named(said + new_lines(shown, status_text(env)) + new_lines(logs, daemon_logs(env))), what="the pin named")
        assert_still_normal(env)
        assert blocked(env)
        swap(stricter)  # the swap itself is seen: a watch on the old target's inode would miss it
        trigger(env, d, how)
        wait_until(lambda: status_mode(env) == "paranoid", what="the stricter target taken")
    finally:
        d.kill()
