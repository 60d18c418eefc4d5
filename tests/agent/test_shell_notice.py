"""``aios shell`` with the embedded model: the model's long notice is shown once per shell."""

from __future__ import annotations

import pytest

from harness import Env


@pytest.mark.slow
def test_the_embedded_notice_is_shown_once_per_shell(env: Env) -> None:
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        env.env.pop(key, None)
    d = env.start_daemon()
    try:
        # Two turns, the second in a new session (/new): the daemon sends the notice for each
        # session's first turn; the shell shows it once.
        proc = env.cli("shell", input="How full is the disk?\n/new\nWhat is the hostname?\n", timeout=600)
        assert proc.returncode == 0, proc.stderr + d.log()
        lines = proc.stderr.splitlines()
        turns = [ln for ln in lines if ln.startswith("— ") or ln.startswith("aios: ")]
        assert len(turns) == 2, proc.stderr  # both turns reached the model (answered or failed)
        assert sum(ln.startswith("note: answers come from the embedded") for ln in lines) == 1, proc.stderr
    finally:
        d.kill()
