"""rt15: the config watch loads a file that is still being written, and runs on it.

The watch reloads 0.2 s after the last inotify event of any kind (``_watch._follow``), and
IN_MODIFY is one of them: a writer that truncates the file and writes it over more than 0.2 s
(``generate > config.toml``, a config tool, an editor that saves in place) makes the daemon load
the empty or half-written file. Both are valid TOML, so the reload "succeeds": a paranoid daemon
runs requests in the default normal mode until the writer finishes. "A reload is all-or-nothing:
the new config is loaded and validated completely" holds for one read, not for a file that is
not finished.
"""

from __future__ import annotations

import time

from harness import Env, connect, rpc

PARANOID = '[daemon]\nwatch_config = true\n[security]\nmode = "paranoid"\n'


def _mode(env: Env) -> str:
    with connect(env.socket) as s:
        return str(rpc(s, "status")["mode"])


def _modes_while(env: Env, write: object) -> set[str]:
    """The modes ``status`` shows while ``write`` (a generator) writes the config step by step."""
    seen = {_mode(env)}
    for _ in write:  # type: ignore[attr-defined]
        deadline = time.monotonic() + 1.5  # the writer is slow; the daemon reloads meanwhile
        while time.monotonic() < deadline:
            seen.add(_mode(env))
            time.sleep(0.05)
    time.sleep(1.0)
    seen.add(_mode(env))
    return seen


def test_a_truncated_config_being_rewritten_is_loaded(env: Env) -> None:
    env.write_config(PARANOID)
    d = env.start_daemon()
    try:
        def rewrite():  # type: ignore[no-untyped-def]
            with open(env.config_file, "w") as f:  # truncates: IN_MODIFY
                f.flush()
                yield
                f.write(PARANOID)  # the same content, written a moment later
            yield

        seen = _modes_while(env, rewrite())
        assert seen == {"paranoid"}, f"while its config was rewritten (same content) the daemon ran in {seen}"
    finally:
        d.kill()


def test_a_config_written_line_by_line_is_loaded_half_way(env: Env) -> None:
    env.write_config(PARANOID)
    d = env.start_daemon()
    try:
        def rewrite():  # type: ignore[no-untyped-def]
            with open(env.config_file, "w") as f:
                for line in PARANOID.splitlines(keepends=True):
                    f.write(line)
                    f.flush()
                    yield

        seen = _modes_while(env, rewrite())
        assert seen == {"paranoid"}, f"while its config was written line by line the daemon ran in {seen}"
    finally:
        d.kill()
