"""cron: tables installed with ``crontab``, and text written into cron's own files (run later, as root)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._args import split_args
from ._findings import Context, Finding
from ._names import ASSIGNMENT
from ._shells import STDIN_PATHS, pipe_text
from ._words import SimpleCommand, Word, literal

if TYPE_CHECKING:
    from ._judge import Judge


def crontab(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """``crontab FILE|-`` installs the table it reads: each job's command is judged, and an
    empty table (``crontab -r``, ``crontab /dev/null``, ``: | crontab -``) wipes every job."""
    a = split_args(args, frozenset({"-u"}))
    if "-r" in a.options:
        ctx.add(_cron_wipe(f"{name} -r removes the whole table"))
        return
    if a.options & {"-l", "-e", "-i", "-h", "--help", "-V"}:
        return
    source = a.operands[0] if a.operands else literal("-")
    text: str | None = None
    if source.value in ("/dev/null",):
        text = ""
    elif source.value in STDIN_PATHS:
        if any(r.op == "<" and r.target is not None and r.target.value == "/dev/null" for r in cmd.redirects):
            text = ""
        st = cmd.stdin
        if st is not None and not st.dynamic:
            if st.kind == "text":
                text = st.text
            elif st.source is not None and st.source.words and st.source.words[0].value in (":", "true"):
                text = ""
            else:
                text = pipe_text(judge, st.source, 0)
    if text is None:
        return
    if cron_jobs(judge, text, ctx, depth, origin=name) == 0:
        ctx.add(_cron_wipe(f"{name} installs an empty table"))


def cron_jobs(judge: Judge, text: str, ctx: Context, depth: int, *, origin: str, user_field: bool = False) -> int:
    """Judge each job of a cron table (``user_field``: /etc/crontab and /etc/cron.d carry a user
    before the command); returns how many jobs there are."""
    jobs = 0
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith("#") or ASSIGNMENT.match(line):
            continue
        fields = (1 if line.startswith("@") else 5) + (1 if user_field else 0)
        parts = line.split(None, fields)
        job = parts[-1] if len(parts) == fields + 1 else ""
        if job:
            jobs += 1
            judge.line(job.replace("%", "\n"), ctx, depth + 1, origin=origin)
    return jobs


def tee(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """tee writing known text into cron's files: the jobs are judged."""
    st = cmd.stdin
    if st is None or st.dynamic:
        return
    text = st.text if st.kind == "text" else pipe_text(judge, st.source, 0)
    if text is None:
        return
    for w in args:
        path = judge.paths.abspath(w.value, ctx.cwd) if not (w.dynamic or w.value.startswith("-")) else None
        if path is not None:
            scheduled_file(judge, path, text, ctx, depth)


def scheduled_file(judge: Judge, path: str, text: str, ctx: Context, depth: int, *, truncates: bool = False) -> None:
    """Text written into cron's own files runs later as root: judged now. Emptying a user's
    table in the spool (``: > /var/spool/cron/crontabs/root``) is ``crontab -r`` by another name."""
    if path == "/etc/crontab" or path.startswith("/etc/cron.d/"):
        cron_jobs(judge, text, ctx, depth, origin=path, user_field=True)
    elif path.startswith("/var/spool/cron/"):
        if cron_jobs(judge, text, ctx, depth, origin=path) == 0 and truncates and path not in ("/var/spool/cron/crontabs", "/var/spool/cron/atjobs"):
            ctx.add(_cron_wipe(f"writing an empty {path} removes that user's whole table"))
    elif re.match(r"/etc/cron\.(?:hourly|daily|weekly|monthly)/", path) or path.startswith("/etc/profile.d/"):
        judge.line(text, ctx, depth + 1, origin=path)


def _cron_wipe(what: str) -> Finding:
    return Finding("block", "sched.crontab-wipe", f"turning security off: {what}, wiping every scheduled job",
                   frozenset({"dangerous", "destructive", "system"}))
