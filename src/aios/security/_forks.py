"""Fork bombs that are not a function or a loop: fan-out through xargs and parallel.

``yes | xargs -P0 sh`` starts as many processes as it can for an input that never ends, and
``… | xargs -P0 sh -c 'sh & sh &'`` starts shells that each start more in the background. With
no limit on parallel jobs (``-P0``, ``--max-procs=0``, ``-j0``, ``--jobs 0``) either is a fork bomb
in normal mode; a bounded ``-P4`` or a finite list stays what its command is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._findings import Context, Finding
from ._names import base
from ._regex_cache import lazy
from ._words import SimpleCommand, Word

_JOBS = frozenset({"-P", "--max-procs", "-j", "--jobs"})
_BACKGROUND = lazy(r"(?:^|[^&>|<])&(?:\s|$|;|\))")
"""A ``&`` that sends a job to the background (not ``&&``, ``>&``, ``&>``, nor ``a=1&b=2``)."""
_ENDLESS = frozenset({"yes", "/dev/zero", "/dev/urandom", "/dev/random", "inf", "infinity"})
_FAN_OUT = frozenset({"xargs", "parallel"})
HUGE = 10_000
"""Input lines from ``seq`` beyond which an unbounded fan-out counts as endless."""


def endless_jobs(label: str, source: str, text: str, ctx: Context) -> None:
    """``yes 'sleep 1 &' | sh``: the shell starts one more background job for every line, forever."""
    if source == "yes" and _BACKGROUND.search(text):
        ctx.add(Finding("block", "proc.fork-bomb", f"{label} reads endless lines from yes that each start a "
                        "background job (a fork bomb)", frozenset({"dangerous"})))


def fan_out(name: str, values: Sequence[tuple[str, Word]], rest: Sequence[Word], cmd: SimpleCommand,
            ctx: Context) -> None:
    """Block ``name`` (xargs, parallel) run without a job limit on endless input, or running a
    command that itself starts background jobs or fans out again."""
    if not any(o in _JOBS and w.value.strip() in ("0", "0%") for o, w in values):
        return
    why = ""
    if _endless(cmd):
        why = "on input that never ends"
    elif any(_BACKGROUND.search(w.value) for w in rest if not w.dynamic):
        why = "running commands that start more in the background"
    elif any(base(w.value) in _FAN_OUT for w in rest if not w.dynamic):
        why = "running another fan-out"
    if why:
        ctx.add(Finding("block", "proc.fork-bomb", f"{name} starts jobs without a limit {why} (a fork bomb)",
                        frozenset({"dangerous"})))


def _endless(cmd: SimpleCommand) -> bool:
    """The pipe into the command comes from a producer that never stops (``yes``, ``cat
    /dev/zero``, ``seq inf``) or from a huge ``seq``."""
    st = cmd.stdin
    if st is None or st.kind != "pipe" or st.source is None or not st.source.words:
        return False
    words = [w.value for w in st.source.words if not w.dynamic]
    if not words:
        return False
    prog = base(words[0])
    if prog == "yes" or any(w in _ENDLESS for w in words[1:]):
        return True
    if prog == "seq":
        nums = [w for w in words[1:] if w.replace(".", "", 1).lstrip("-").isdigit()]
        return bool(nums) and float(nums[-1]) >= HUGE
    return False



_SELF = r"(?:\"?\$\{?(?:0|BASH_SOURCE(?:\[0\])?)\}?\"?|PATH)"


def runs_itself(text: str, path: str, written: str) -> bool:
    """Whether a script the line wrote starts itself again in the background or in a pipe
    (``bash $0 & bash $0 &``, ``$0 | $0``): every run starts more, a fork bomb."""
    me = _SELF.replace("PATH", "|".join(re.escape(p) for p in sorted({path, written})))
    run = r"(?:(?:^|[;&|(\n])\s*|\b(?:(?:ba|da|z|k)?sh|exec|nohup|setsid|source|\.)\s+)"
    rx = run + me + r"[^;&|\n]*(?:&(?![&>])|\|(?!\|))|(?:^|[^|])\|\s*" + run + "?" + me
    return re.search(rx, text) is not None
