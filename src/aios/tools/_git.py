"""The ``git`` tool: status, diff, log, show, branch, commit (and push when allowed).

A repository in the workspace was written by the model and by jailed commands, so its
``.git/config`` may name programs (``core.fsmonitor``, filter and diff drivers, hooks): every git
call on it runs **inside the jail**, never as the daemon on the host. ``/etc`` (when it is a
repository, as etckeeper makes it) is root's own and read on the host with every program-running
setting switched off; committing there is a confirmed system change with a snapshot of the
repository.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any, ClassVar

import trio

from ._admin import AdminError, AdminTool, Change, action_schema
from ._base import ToolContext
from ._gitindex import flagged

REV = r"^[A-Za-z0-9_][A-Za-z0-9._/^~@{}-]{0,199}$"
REL_PATH = r"^[^-/].{0,4095}$"
"""Relative, and never an option (no lookaheads: llama.cpp turns patterns into grammars)."""
SAFE = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "core.pager=cat",
        "-c", "core.sshCommand=false", "-c", "protocol.ext.allow=never", "-c", "color.ui=false",
        "-c", "safe.directory=*")
"""Settings that keep git from running programs a repository's config names."""
SEP = "\x1f"
IN_JAIL = ("-c", "core.attributesFile=/dev/null", "-c", "core.excludesFile=/dev/null")
"""In the jail HOME is the workspace: a jailed command can write "global" git config, attributes
and ignore files there (no walk undoes them: they are not repository metadata). They are off for
the tool's git, with ``GIT_CONFIG_GLOBAL=/dev/null``."""
UNFLAG = r"""
cd -- "$1" || exit 128
shift
g() { @GIT@ "$@"; }
if g ls-files -v -z 2>/dev/null | grep -qz '^[a-zS] '; then
  i="${TMPDIR:-/tmp}/aios-index.$$"
  if cp -- "$(g rev-parse --git-path index)" "$i"; then
    export GIT_INDEX_FILE="$i"
    g ls-files -v -z | grep -z '^[a-zS] ' | cut -z -c3- |
      while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done > "$i.files"
    # one flag per update-index run: given both, it applies only the last
    for flag in --no-assume-unchanged --no-skip-worktree; do
      xargs -0 -r @GIT@ update-index "$flag" -- < "$i.files" || exit 128
    done
  fi
fi
g "$@"
"""
"""Status and diff in the workspace, honestly: a tracked file flagged ``assume-unchanged`` or
``skip-worktree`` (index bits a jailed command can set, which no walk undoes) is not looked at by
git, so a rewritten one would be reported clean. The flags are cleared for the files that exist,
in a copy of the index in the jail's private TMPDIR (the workspace is read-only there), and git
then compares them like any other file. Only when the index has such flags, or the daemon cannot
tell (:mod:`aios.tools._gitindex`)."""


class GitTool(AdminTool):
    name = "git"
    description = (
        "Git in the workspace (or /etc when it is a repository): status, diff, log, show, branch "
        "(read), commit (a message and optional paths; confirmed outside the workspace), push "
        "(only when tools.git.allow_push is on). Prefer this over 'bash git …'."
    )
    parameters: ClassVar[dict[str, Any]] = action_schema(
        ["status", "diff", "log", "show", "branch", "commit", "push"],
        {
            "path": {"type": "string", "minLength": 1, "maxLength": 4096,
                     "description": "The repository: the workspace (default), a directory in it, or /etc."},
            "message": {"type": "string", "minLength": 1, "maxLength": 10000, "description": "Commit message."},
            "paths": {"type": "array", "items": {"type": "string", "pattern": REL_PATH}, "maxItems": 1000,
                      "description": "Files (relative to the repository) to limit diff/log or to commit."},
            "rev": {"type": "string", "pattern": REV, "description": "Revision for show (default HEAD)."},
            "lines": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "Log entries (default 20)."},
        },
        essential=("message", "paths"),
    )
    read_actions = frozenset({"status", "diff", "log", "show", "branch"})
    change_actions = frozenset({"commit", "push"})

    def problem(self) -> str | None:
        from ._host import which

        return None if which("git") else "git is not installed on this host"

    # Where and how git runs ----------------------------------------------------------------------
    def _repo(self, args: dict[str, Any], ctx: ToolContext) -> tuple[Path, bool]:
        """(repository directory, is_in_workspace). Raises AdminError for anything else."""
        raw = args.get("path")
        ws = Path(os.path.realpath(ctx.workspace))
        path = Path(os.path.realpath(ws / raw if raw and not os.path.isabs(raw) else raw or ws))
        if path == ws or ws in path.parents:
            if not path.is_dir():
                raise AdminError(f"{path} is not a directory")
            return path, True
        system = ctx.config.tools.git.system_repo
        if system and path == Path(os.path.realpath(system)) and (path / ".git").is_dir():
            return path, False
        raise AdminError(f"the git tool works in the workspace ({ws}) or in {system or '/etc'} when it is a repository, not in {path}")

    def _argv(self, repo: Path, *words: str) -> list[str]:
        """The command line as judged and shown (the settings in SAFE are added when it runs)."""
        return ["git", "-C", str(repo), *words]

    async def _git(self, repo: Path, in_ws: bool, words: list[str], ctx: ToolContext, *,
                   write: bool = False, unflag: bool = False) -> tuple[int, str, str]:
        """Run git; in the workspace in the jail, read-only unless ``write`` (commit, add): a read
        cannot change the workspace, even when the repository's config makes git run a program,
        and costs no walk of the workspace around it. ``unflag``: see :data:`UNFLAG`."""
        opts = [*SAFE, *(() if write else ("--no-optional-locks",))]
        if in_ws:
            opts += IN_JAIL
            if unflag:
                script = UNFLAG.replace("@GIT@", shlex.join(["git", *opts]))
                argv = ["bash", "-c", script, "aios-git", str(repo), *words]
            else:
                argv = ["git", *opts, "-C", str(repo), *words]
            res = await ctx.jail.run(argv, profile="jail", timeout=self.timeout(ctx), readonly=not write,
                                     env={"GIT_CONFIG_GLOBAL": "/dev/null"})
            return res.exit_code, res.stdout, res.stderr
        argv = ["git", *opts, "-C", str(repo), *words]
        host = await self.host(ctx, argv)
        return host.exit_code, host.stdout, host.stderr

    async def _ok(self, repo: Path, in_ws: bool, words: list[str], ctx: ToolContext, *, unflag: bool = False) -> str:
        code, out, err = await self._git(repo, in_ws, words, ctx, unflag=unflag)
        if code != 0:
            tail = (err or out).strip().splitlines()
            raise AdminError(f"git {words[0]} failed (exit {code}): {tail[-1] if tail else 'no output'}")
        return out

    # Read actions ------------------------------------------------------------------------------
    def _read_words(self, action: str, args: dict[str, Any]) -> list[str]:
        paths = ["--", *args["paths"]] if args.get("paths") else []
        if action == "status":
            return ["status", "--porcelain=v1", "--branch", "--untracked-files=all", *paths]
        if action == "diff":
            return ["diff", "--no-ext-diff", "--no-textconv", "--no-renames", "--stat", "--patch", *paths]
        if action == "log":
            fmt = SEP.join(("%H", "%an", "%aI", "%s"))
            return ["log", "--no-show-signature", f"-n{int(args.get('lines') or 20)}", f"--format={fmt}", *paths]
        if action == "show":
            # --no-renames: a moved file shows as a deletion and an addition, both names listed
            # (a rename lists only the new name, and the exclusion of secrets goes by name)
            return ["show", "--no-ext-diff", "--no-textconv", "--no-show-signature", "--no-renames", "--stat",
                    "--patch", args.get("rev") or "HEAD", *(paths or ["--"])]  # "--": a file named like the rev
        return ["branch", "--list", f"--format=%(HEAD){SEP}%(refname:short)"]

    def read_argv(self, action: str, args: dict[str, Any], ctx: ToolContext) -> list[str]:
        repo, _ = self._repo(args, ctx)
        return self._argv(repo, *self._read_words(action, args))

    async def read(self, action: str, args: dict[str, Any], ctx: ToolContext) -> tuple[str, Any]:
        repo, in_ws = self._repo(args, ctx)
        words, hidden = self._read_words(action, args), []
        if not in_ws and action in ("diff", "show"):
            hidden = await self._secrets_in(repo, action, args, ctx)
            if hidden:
                words = [*words, *([] if "--" in words else ["--"]), *([] if args.get("paths") else ["."]),
                         *(f":(exclude,literal){h}" for h in hidden)]
        unflag = in_ws and action in ("status", "diff") and await trio.to_thread.run_sync(flagged, repo) is not False
        out = await self._ok(repo, in_ws, words, ctx, unflag=unflag)
        if hidden:
            out = f"(left out, secrets the policy does not let this request read: {', '.join(hidden)})\n" + out
        data: Any
        if action == "status":
            lines = out.splitlines()
            branch = lines[0][3:] if lines and lines[0].startswith("## ") else None
            files = [{"status": ln[:2], "path": ln[3:]} for ln in lines[1:] if len(ln) > 3]
            data = {"repository": str(repo), "branch": branch, "files": files, "clean": not files}
            text = f"{repo}: branch {branch}\n" + ("\n".join(f"{f['status']} {f['path']}" for f in files) or "nothing to commit, working tree clean")
            return text, data
        if action == "log":
            data = [dict(zip(("commit", "author", "date", "subject"), ln.split(SEP), strict=False)) for ln in out.splitlines() if ln]
            return "\n".join(f"{d['commit'][:12]} {d.get('date', '')} {d.get('subject', '')}" for d in data) or "no commits", data
        if action == "branch":
            rows = [ln.split(SEP, 1) for ln in out.splitlines() if SEP in ln]
            data = {"current": next((b for h, b in rows if h == "*"), None), "branches": [b for _, b in rows]}
            return "\n".join(f"{'*' if h == '*' else ' '} {b}" for h, b in rows) or "no branches", data
        return out or "(no changes)", {"repository": str(repo), "text": out}

    async def _secrets_in(self, repo: Path, action: str, args: dict[str, Any], ctx: ToolContext) -> list[str]:
        """Files of a diff or show outside the workspace (an etckeeper /etc) whose reading the
        policy would not allow as it stands (``shadow``, host keys…): their contents are left out,
        as ``cat /etc/shadow`` or ``git show HEAD:shadow`` would be refused."""
        paths = ["--", *args["paths"]] if args.get("paths") else []
        names = (["diff", "--name-only", "--no-renames", "-z", *paths] if action == "diff"
                 else ["show", "--name-only", "--no-renames", "-z", "--format=", args.get("rev") or "HEAD", *paths])
        out = await self._ok(repo, False, names, ctx)
        hidden = []
        for name in sorted({n for n in out.split("\0") if n}):
            if ctx.policy.check_path("read", str(repo / name), mode=ctx.mode).action != "allow":
                hidden.append(name)
        return hidden

    # Changing actions ------------------------------------------------------------------------------
    async def prepare(self, action: str, args: dict[str, Any], ctx: ToolContext) -> Change:
        repo, in_ws = self._repo(args, ctx)
        if action == "push":
            if not ctx.config.tools.git.allow_push:
                raise AdminError("push is off: set tools.git.allow_push = true to let the git tool push")
            branch, url, ref = await self._destination(repo, in_ws, ctx)
            plan: dict[str, Any] = {"repository": str(repo), "push": branch, "to": url, "ref": ref}
            # The destination and the refspec are written out: a plain `git push` would follow
            # repository settings a jailed command may have written since (remote.*.mirror deletes
            # every other remote branch, remote.*.push, push.default), not what the person confirmed.
            argv = self._argv(repo, "push", "--no-verify", "--", url, f"refs/heads/{branch}:{ref}")
            return Change(tuple(argv), plan, f"push branch {branch} of {repo} to {url} ({ref})",
                          kind="send", state={"repo": str(repo), "in_ws": in_ws})
        message = args.get("message")
        if not message:
            raise AdminError("the commit action needs 'message'")
        paths: list[str] = args.get("paths") or []
        files = await self._to_commit(repo, in_ws, paths, ctx)
        if not files:
            raise AdminError("nothing to commit" + (" in the given paths" if paths else " (no staged changes; name 'paths' to commit them)"))
        head = (await self._git(repo, in_ws, ["rev-parse", "--verify", "-q", "HEAD"], ctx))[1].strip()
        plan = {"repository": str(repo), "files": files, "message": message, "parent": head or None}
        text = f"commit {len(files)} file(s) in {repo}: " + ", ".join(files[:20]) + (" …" if len(files) > 20 else "")
        # Exactly the files shown: with 'paths', each planned file by its literal name (not the
        # pathspecs, which would also take files written while the person reads the plan)
        named = [f":(literal){f}" for f in files] if paths else []
        argv = self._argv(repo, "commit", "--no-verify", "-m", message, *(["--", *named] if named else []))
        return Change(tuple(argv), plan, text, targets=() if in_ws else (str(repo / ".git"),),
                      kind="workspace" if in_ws else "system",
                      state={"repo": str(repo), "in_ws": in_ws, "head": head, "paths": paths, "named": named})

    async def _to_commit(self, repo: Path, in_ws: bool, paths: list[str], ctx: ToolContext) -> list[str]:
        """The files a commit takes: those changed under ``paths`` when given, else those staged."""
        out = await self._ok(repo, in_ws, ["status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all",
                                           "--", *paths], ctx)
        entries = [e for e in out.split("\0") if len(e) > 3]
        return [e[3:] for e in entries if paths or e[0] not in " ?"]

    async def _destination(self, repo: Path, in_ws: bool, ctx: ToolContext) -> tuple[str, str, str]:
        """(branch, push URL, remote ref) of the current branch's upstream, as git resolves them
        now (pushurl, url.*.insteadOf/pushInsteadOf applied), so the confirmation names them."""
        branch = (await self._git(repo, in_ws, ["symbolic-ref", "--short", "-q", "HEAD"], ctx))[1].strip()
        if not branch:
            raise AdminError("HEAD is not on a branch: nothing to push")
        remote = (await self._git(repo, in_ws, ["config", "--get", f"branch.{branch}.remote"], ctx))[1].strip() or "origin"
        if remote == "." or "/" in remote or ":" in remote:
            raise AdminError(f"branch {branch}'s upstream is {remote!r}, not a named remote: push it by hand")
        url = (await self._ok(repo, in_ws, ["remote", "get-url", "--push", remote], ctx)).strip()
        again = (await self._ok(repo, in_ws, ["ls-remote", "--get-url", url], ctx)).strip()
        if not url or again != url:
            # git would rewrite the written-out URL once more (another url.*.insteadOf rule)
            raise AdminError(f"the push URL {url!r} of remote {remote!r} is rewritten again by the repository's "
                             f"url.*.insteadOf settings (to {again!r}): push it by hand")
        ref = (await self._git(repo, in_ws, ["config", "--get", f"branch.{branch}.merge"], ctx))[1].strip() or f"refs/heads/{branch}"
        if not ref.startswith("refs/heads/") or any(c in ref for c in " ~^:?*[\\"):
            raise AdminError(f"branch {branch}'s upstream ref {ref!r} is not a branch: push it by hand")
        return branch, url, ref

    async def apply(self, change: Change, ctx: ToolContext) -> tuple[bool, str]:
        repo, in_ws = Path(change.state["repo"]), bool(change.state["in_ws"])
        words = list(change.argv[3:])
        if words[0] == "commit":
            # What the person confirmed is the plan's file list: anything written or staged since
            # (a build still running, another session's command) stops the commit.
            now = await self._to_commit(repo, in_ws, change.state.get("paths") or [], ctx)
            if now != change.plan["files"]:
                extra = sorted(set(now) - set(change.plan["files"])) or sorted(set(change.plan["files"]) - set(now))
                return False, ("the repository changed since the plan was confirmed (" + ", ".join(extra[:10]) +
                               "): nothing was committed; ask again to see the new plan")
            named = change.state.get("named") or []
            if named:
                code, out, err = await self._git(repo, in_ws, ["add", "--", *named], ctx, write=True)
                if code != 0:
                    return False, (err or out).strip()
            who = await self._git(repo, in_ws, ["config", "user.email"], ctx)
            if who[0] != 0 or not who[1].strip():
                words = ["-c", "user.name=aios", "-c", "user.email=aios@localhost", *words]
        code, out, err = await self._git(repo, in_ws, words, ctx, write=True)
        return code == 0, (out + err).strip()

    async def verify(self, change: Change, ctx: ToolContext) -> list[str]:
        repo, in_ws = Path(change.state["repo"]), bool(change.state["in_ws"])
        if "push" in change.plan:
            return []
        head = (await self._git(repo, in_ws, ["rev-parse", "--verify", "-q", "HEAD"], ctx))[1].strip()
        if not head or head == change.state.get("head"):
            return ["no new commit was made"]
        took = await self._ok(repo, in_ws, ["show", "--name-only", "--no-renames", "-z", "--format=", "HEAD"], ctx)
        unplanned = sorted({f for f in took.split("\0") if f} - set(change.plan["files"]))
        return [f"the commit also took files the plan did not list: {', '.join(unplanned[:20])}"] if unplanned else []
