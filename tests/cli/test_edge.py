"""What leaves the CLI when something fails: one ``aios:`` line per problem and a contract code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import BIN, Env


@pytest.mark.parametrize(
    ("args", "fragment", "hint"),
    [
        (["nosuch"], 'Unknown command "nosuch"', "aios --help"),
        (["memory", "search", "x", "--limit", "many"], "--limit", "aios memory search --help"),
        (["memory", "get"], "requires an argument", "aios memory get --help"),
        (["snapshot", "--no-such-option"], "--no-such-option", "aios snapshot --help"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(env: Env, args: list[str], fragment: str, hint: str) -> None:
    proc = env.cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr  # was a boxed panel over three or more lines
    assert lines[0].startswith("aios: ") and fragment in lines[0] and f"(see {hint})" in lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize("args", [["config", "show", "--json"], ["config", "show"], ["--help"]])
def test_a_reader_that_went_away_is_not_a_traceback(env: Env, args: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `aios ... | head` after head has exited
    try:
        proc = subprocess.run([str(BIN / "aios"), *args], env=env.env, stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1)


def _raise(exc: BaseException) -> int:
    raise exc


def _guard(exc: BaseException, argv: list[str]) -> int:
    from aios.cli import _edge  # the real edge of the CLI, with a body that fails like a bug would

    return _edge.guard(lambda: _raise(exc), argv)


@pytest.mark.parametrize("exc", [RuntimeError("boom\nsecond line"), KeyError("missing")])
def test_a_bug_is_one_line_and_its_traceback_goes_to_the_log(
    exc: BaseException, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("AIOS_DEBUG", raising=False)
    code = _guard(exc, ["memory", "get", "X"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"aios: internal error ({type(exc).__name__}: ")
    log = tmp_path / "aios" / "cli-errors.log"
    assert str(log) in lines[0]
    text = log.read_text()
    assert "aios memory get X" in text and "Traceback (most recent call last)" in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_a_bug_with_an_unwritable_state_dir_still_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))  # aios/ cannot be made under a file
    code = _guard(ValueError("bad"), ["info"])
    line = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in line
    where = Path(line.split("the details are in ")[1].split(";")[0])
    try:
        assert where.name.startswith("aios-cli-error-") and "ValueError: bad" in where.read_text()
    finally:
        where.unlink()


@pytest.mark.parametrize(("exc", "code"), [(KeyboardInterrupt(), 130), (SystemExit(0), 0), (SystemExit(4), 4)])
def test_interrupts_and_exits_keep_their_codes(exc: BaseException, code: int) -> None:
    assert _guard(exc, []) == code
