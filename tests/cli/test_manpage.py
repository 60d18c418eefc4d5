"""aios(1): generated from the CLI definition, rendered by man, found by ``man aios``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import BIN, Env


def _write(env: Env, man_dir: Path) -> Path:
    proc = subprocess.run([sys.executable, "-m", "aios.cli._manpage", str(man_dir)], env=env.env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    page = man_dir / "man1" / "aios.1"
    assert proc.stdout.strip() == f"wrote {page}"
    return page


def _man(env: Env, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["man", *args], env={**env.env, "MANWIDTH": "200", "MANPAGER": "cat", "PAGER": "cat", **extra},
                          capture_output=True, text=True, timeout=60)


def test_man_renders_every_command_and_option(env: Env) -> None:
    from aios.cli import app

    page = _write(env, env.root / "man")
    proc = _man(env, "--warnings", "-l", str(page))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # groff found nothing to warn about
    text = proc.stdout
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES"):
        assert f"\n{section}\n" in text, section

    def walk(parent: Any, words: tuple[str, ...]) -> None:
        for name, sub in parent.resolved_commands().items():
            if name.startswith("-"):
                continue
            assert f"aios {' '.join((*words, name))} " in text, (*words, name)
            if sub.default_command is not None:
                for arg in sub.assemble_argument_collection():
                    if arg.show and arg.name.startswith("--") and arg.field_info.kind.name == "KEYWORD_ONLY":
                        assert arg.name in text, ((*words, name), arg.name)
            walk(sub, (*words, name))

    walk(app, ())
    assert "3 daemon unreachable" in text and "--no-autostart" in text


def test_man_aios_finds_the_page_next_to_the_command(env: Env) -> None:
    venv = env.root / "venv"  # the layout of .venv: bin/aios and share/man/man1/aios.1
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "aios").symlink_to(BIN / "aios")
    page = _write(env, venv / "share" / "man")
    without_manpath = {k: v for k, v in env.env.items() if k != "MANPATH"}
    proc = subprocess.run(["man", "-w", "aios"], env={**without_manpath, "PATH": f"{venv / 'bin'}:/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(page)
    # Not on PATH: the documented MANPATH (a trailing ':' keeps the system pages).
    proc = subprocess.run(["man", "-w", "aios"], env={**without_manpath, "PATH": "/usr/bin:/bin", "MANPATH": f"{venv / 'share' / 'man'}:"},
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == str(page), proc.stderr


def test_dev_setup_installed_the_current_page() -> None:
    from aios.cli._manpage import render

    page = BIN.parent / "share" / "man" / "man1" / "aios.1"
    assert page.is_file(), "./dev setup writes the manual page; run it again"
    assert page.read_text() == render(), "the installed aios(1) is older than the CLI: run ./dev setup"


def test_unwritable_place_is_one_line(env: Env) -> None:
    blocker = env.root / "a-file"
    blocker.write_text("")
    proc = subprocess.run([sys.executable, "-m", "aios.cli._manpage", str(blocker)], env=env.env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("aios: cannot write")
