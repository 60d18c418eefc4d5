"""The git tool's read actions never run a program a workspace repository names, on the host.

A workspace repository is hostile input: the model and jailed commands wrote its ``.git/config``,
its attributes and its hooks. Each test plants one class of program-running setting, in two
different spellings, each program touching its own marker file in a directory the jail cannot
write (the harness's /srv temporary directory). Then status, diff, log, show and branch run
through the daemon and no marker may exist: a program that ran in the jail could not write there,
one that ran as the daemon on the host would have.

``test_safe_settings_alone_do_not_stop_filters`` shows why the tool keeps the jail for these
reads: git run on the host with every ``-c`` setting the tool adds still runs a repository's
filter drivers (``git diff``), named both from ``.gitattributes`` and from ``.git/info/attributes``
through an included config file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from aios.tools._git import SAFE
from harness import Daemon, Env

READS = ({"action": "status"}, {"action": "diff"}, {"action": "log"}, {"action": "show"}, {"action": "branch"})


def _git(ws: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "safe.directory=*", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(ws), *args],
                   capture_output=True, check=True)


def _script(path: Path, marker: Path) -> str:
    path.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    path.chmod(0o755)
    return str(path)


def _plant(kind: str, repo: Path, out: Path) -> None:
    """Plant both spellings of ``kind``; every program touches out/ran-<spelling>."""
    cfg = repo / ".git" / "config"
    info = repo / ".git" / "info"
    info.mkdir(exist_ok=True)
    text = ""
    if kind == "fsmonitor":
        text = f'[core]\n\tfsmonitor = "touch {out}/ran-fsmonitor-cmd"\n'
        (out / "inc").write_text(f"[core]\n\tfsmonitor = {_script(out / 'fsmon.sh', out / 'ran-fsmonitor-script')}\n")
        text += f"[include]\n\tpath = {out}/inc\n"
    elif kind == "filters":
        (repo / ".gitattributes").write_text("*.txt filter=e\n")
        (info / "attributes").write_text("*.dat filter=f\n")
        text = (f'[filter "e"]\n\tclean = "touch {out}/ran-clean; cat"\n\tsmudge = "touch {out}/ran-smudge; cat"\n'
                f'[filter "f"]\n\tprocess = "touch {out}/ran-process"\n\tclean = "touch {out}/ran-clean2; cat"\n')
    elif kind == "diff-programs":
        (repo / ".gitattributes").write_text("*.txt diff=e\n")
        (info / "attributes").write_text("*.dat diff=g\n")
        text = (f'[diff]\n\texternal = "touch {out}/ran-external"\n'
                f'[diff "e"]\n\ttextconv = "touch {out}/ran-textconv; cat"\n'
                f'[diff "g"]\n\tcommand = "touch {out}/ran-diffcommand"\n')
    elif kind == "pagers":
        text = (f'[core]\n\tpager = "touch {out}/ran-core-pager; cat"\n'
                f'[pager]\n\tstatus = "touch {out}/ran-pager-status; cat"\n\tlog = "touch {out}/ran-pager-log; cat"\n'
                f'\tdiff = "touch {out}/ran-pager-diff; cat"\n\tshow = "touch {out}/ran-pager-show; cat"\n'
                f'\tbranch = "touch {out}/ran-pager-branch; cat"\n')
    elif kind == "includes":
        (repo / ".gitattributes").write_text("*.txt filter=i\n")
        (out / "inc1").write_text(f'[filter "i"]\n\tclean = "touch {out}/ran-include-path; cat"\n')
        (out / "inc2").write_text(f'[core]\n\tpager = "touch {out}/ran-includeif; cat"\n'
                                  f'\tfsmonitor = "touch {out}/ran-includeif-fsmonitor"\n')
        text = f'[include]\n\tpath = {out}/inc1\n[includeIf "gitdir:/"]\n\tpath = {out}/inc2\n'
    elif kind == "hooks":
        hooks = out / "hooks"
        hooks.mkdir()
        for name in ("post-index-change", "post-checkout", "reference-transaction"):
            _script(hooks / name, out / f"ran-hookspath-{name}")
            _script(repo / ".git" / "hooks" / name, out / f"ran-githooks-{name}")
        text = f"[core]\n\thooksPath = {hooks}\n"
    elif kind == "signing-credentials-transport":
        text = (f'[log]\n\tshowSignature = true\n[gpg]\n\tprogram = "touch {out}/ran-gpg"\n\tformat = ssh\n'
                f'[gpg "ssh"]\n\tprogram = "touch {out}/ran-gpg-ssh"\n'
                f'[credential]\n\thelper = "!touch {out}/ran-credential"\n'
                f'[core]\n\tsshCommand = "touch {out}/ran-ssh"\n\tgitProxy = "touch {out}/ran-proxy"\n'
                f'\talternateRefsCommand = "touch {out}/ran-alternate-refs"\n'
                f'[uploadpack]\n\tpackObjectsHook = "touch {out}/ran-packobjects"\n')
    with cfg.open("a") as f:
        f.write(text)


@pytest.fixture
def dirty_repo(env: Env, daemon: Daemon) -> Path:
    """A jail-made repository with a committed a.txt and b.dat, both then changed."""
    proc = env.cli("run", "--", "git init -q -b main && git -c safe.directory='*' -c user.name=t -c user.email=t@t commit -q --allow-empty -m first")
    assert proc.returncode == 0, proc.stderr
    ws = env.workspace
    (ws / "a.txt").write_text("one\n")
    (ws / "b.dat").write_text("one\n")
    _git(ws, "add", "a.txt", "b.dat")
    _git(ws, "commit", "-q", "-m", "files")  # before anything is planted: host git is safe here
    (ws / "a.txt").write_text("two\n")
    (ws / "b.dat").write_text("two\n")
    return ws


def _reads(env: Env, path: str | None = None) -> None:
    for args in READS:
        full = {**args, **({"path": path} if path else {})}
        proc = env.cli("tools", "call", "git", json.dumps(full), "--json", timeout=300)
        assert "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("kind", ["fsmonitor", "filters", "diff-programs", "pagers", "includes", "hooks",
                                  "signing-credentials-transport"])
def test_git_reads_never_run_a_program_the_repository_names(env: Env, daemon: Daemon, dirty_repo: Path, kind: str) -> None:
    out = env.outside()
    _plant(kind, dirty_repo, out)
    _reads(env)
    assert sorted(p.name for p in out.glob("ran-*")) == []


def test_git_reads_through_a_dot_git_file_pointing_elsewhere_run_nothing(env: Env, daemon: Daemon, dirty_repo: Path) -> None:
    """A workspace ``.git`` that is a file (``gitdir: …``) naming a repository outside, whose
    config names programs; spelled with an absolute and with a relative gitdir."""
    out = env.outside()
    for name in ("abs", "rel"):
        evil = out / f"evil-{name}.git"
        shutil.copytree(dirty_repo / ".git", evil)
        with (evil / "config").open("a") as f:
            f.write(f'[core]\n\tfsmonitor = "touch {out}/ran-{name}-fsmonitor"\n\tpager = "touch {out}/ran-{name}-pager; cat"\n'
                    f'[filter "e"]\n\tclean = "touch {out}/ran-{name}-clean; cat"\n')
        (evil / "info").mkdir(exist_ok=True)
        (evil / "info" / "attributes").write_text("* filter=e\n")
        sub = dirty_repo / f"sub-{name}"
        sub.mkdir()
        (sub / "a.txt").write_text("changed\n")
        gitdir = str(evil) if name == "abs" else os.path.relpath(evil, sub)
        (sub / ".git").write_text(f"gitdir: {gitdir}\n")
        _reads(env, f"sub-{name}")
    assert sorted(p.name for p in out.glob("ran-*")) == []


def test_safe_settings_alone_do_not_stop_filters() -> None:
    """Why reads stay in the jail: on the host, SAFE does not switch filter drivers off.

    Runs real git as this test's user on a throwaway repository in a temporary directory; the
    filters only touch marker files there.
    """
    root = Path(tempfile.mkdtemp(prefix="aios-gitsafe-"))
    try:
        repo, out = root / "r", root / "m"
        out.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        (repo / "a.txt").write_text("one\n")
        (repo / "b.dat").write_text("one\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "a")
        (out / "inc").write_text(f'[filter "f"]\n\tclean = "touch {out}/ran-info-attributes; cat"\n')
        with (repo / ".git" / "config").open("a") as f:
            f.write(f'[filter "e"]\n\tclean = "touch {out}/ran-gitattributes; cat"\n[include]\n\tpath = {out}/inc\n')
        (repo / ".gitattributes").write_text("*.txt filter=e\n")
        (repo / ".git" / "info" / "attributes").write_text("*.dat filter=f\n")
        (repo / "a.txt").write_text("two\n")
        (repo / "b.dat").write_text("two\n")
        subprocess.run(["git", *SAFE, "-C", str(repo), "diff", "--no-ext-diff", "--no-textconv"], capture_output=True, check=False)
        assert sorted(p.name for p in out.glob("ran-*")) == ["ran-gitattributes", "ran-info-attributes"]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_program_a_read_runs_cannot_change_the_workspace(env: Env, daemon: Daemon, dirty_repo: Path) -> None:
    """Reads run in a jail whose workspace is read-only: a filter driver the repository names
    (which git runs even with every setting the tool adds) may run there, but can neither plant a
    file nor change or empty a tracked one. Spelled as a clean filter from .gitattributes writing
    relative to the repository, and as a process/clean filter from .git/info/attributes, through an
    included config file, writing by absolute path and truncating a tracked file."""
    ws = dirty_repo
    (ws / ".gitattributes").write_text("*.txt filter=e\n")
    (ws / ".git" / "info").mkdir(exist_ok=True)
    (ws / ".git" / "info" / "attributes").write_text("*.dat filter=f\n")
    (ws / ".git" / "inc").write_text(f'[filter "f"]\n\tprocess = "sh -c \'echo x > {ws}/planted-abs; : > {ws}/a.txt\'"\n'
                             f'\tclean = "sh -c \'mkdir -p {ws}/deep/er; echo x > {ws}/deep/er/planted; : > {ws}/a.txt; cat\'"\n')
    with (ws / ".git" / "config").open("a") as f:
        f.write('[filter "e"]\n\tclean = "sh -c \'echo x > planted-rel; echo x >> a.txt; cat\'"\n'
                "[include]\n\tpath = inc\n")
    before = sorted(str(p.relative_to(ws)) for p in ws.rglob("*") if ".git" not in p.parts)
    for action in ("status", "diff"):
        proc = env.cli("tools", "call", "git", json.dumps({"action": action}), "--json", timeout=300)
        assert "Traceback" not in proc.stderr, proc.stderr
    after = sorted(str(p.relative_to(ws)) for p in ws.rglob("*") if ".git" not in p.parts)
    assert after == before
    assert (ws / "a.txt").read_text() == "two\n"
