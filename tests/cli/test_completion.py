"""``aios completion``: scripts generated from the CLI itself, loaded by a real bash."""

from __future__ import annotations

import os
import subprocess

import pytest

from harness import BIN, Env


def _bash(env: Env, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, timeout=60,
                          env={**env.env, "PATH": f"{BIN}:{os.environ['PATH']}", **extra})


def _complete(words: list[str]) -> str:
    """Shell code that asks the loaded completion function for the last of ``words``."""
    quoted = " ".join(f"'{w}'" for w in words)
    return f'COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; _aios; echo "${{COMPREPLY[@]}}"'


def test_bash_loads_the_script(env: Env) -> None:
    proc = _bash(env, "source <(aios completion bash); complete -p aios")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "complete -F _aios aios"


def test_every_command_is_completed(env: Env) -> None:
    from aios.cli import app

    top = {name for name in app.resolved_commands() if not name.startswith("-")}
    proc = _bash(env, "source <(aios completion bash); " + _complete(["aios", ""]))
    assert top <= set(proc.stdout.split()), proc.stdout
    for words, expected in ((["aios", "mem"], "memory"), (["aios", "memory", "s"], "search"),
                            (["aios", "completion", ""], "bash zsh fish"), (["aios", "memory", "search", "--t"], "--type")):
        proc = _bash(env, "source <(aios completion bash); " + _complete(words))
        assert proc.stdout.strip() == expected, (words, proc.stdout, proc.stderr)


def test_zsh_and_fish_scripts(env: Env) -> None:
    zsh = env.cli("completion", "zsh")
    assert zsh.returncode == 0 and zsh.stdout.startswith("#compdef aios\n")
    fish = env.cli("completion", "fish")
    assert fish.returncode == 0 and "complete -c aios" in fish.stdout and "memory" in fish.stdout


@pytest.mark.parametrize("xdg", [True, False])
def test_install_writes_where_each_shell_looks(env: Env, xdg: bool) -> None:
    data = env.root / "xdg-data"
    extra = {"XDG_DATA_HOME": str(data)} if xdg else {}
    base_data = data if xdg else env.home / ".local" / "share"
    expected = {
        "bash": base_data / "bash-completion" / "completions" / "aios",
        "zsh": base_data / "zsh" / "site-functions" / "_aios",
        "fish": env.root / "xdg-config" / "fish" / "completions" / "aios.fish",
    }
    for shell, path in expected.items():
        proc = env.cli("completion", shell, "--install", env=extra)
        assert proc.returncode == 0, proc.stderr
        assert f"wrote {path}" in proc.stdout
        assert path.read_text() == env.cli("completion", shell).stdout
    assert "fpath=(" in env.cli("completion", "zsh", "--install", env=extra).stdout
    proc = _bash(env, f"source {expected['bash']}; complete -p aios")
    assert proc.stdout.strip() == "complete -F _aios aios"


@pytest.mark.parametrize("args", [["completion", "tcsh"], ["completion"]])
def test_bad_shell_is_a_usage_error(env: Env, args: list[str]) -> None:
    proc = env.cli(*args)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("aios: ")


def test_install_into_an_unwritable_place_is_one_line(env: Env) -> None:
    blocker = env.root / "a-file"
    blocker.write_text("")
    proc = env.cli("completion", "bash", "--install", env={"XDG_DATA_HOME": str(blocker)})
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and f"cannot write {blocker}/bash-completion" in proc.stderr
