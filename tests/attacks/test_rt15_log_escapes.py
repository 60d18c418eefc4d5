"""rt15: the model's provider writes terminal escape sequences into daemon.log, and
``aios daemon logs`` prints them raw.

A provider's error text reaches the log through ``log.warning("chat turn failed: %s", exc)``;
``one_line`` folds whitespace but keeps control characters such as ESC. ``aios daemon logs``
copies the file's bytes to the terminal as they are (the audit commands pass text through
``printable`` first; this one does not). ``ESC[1A ESC[2K`` moves up and erases a line: the
person reading the log no longer sees the audit line of what the model just tried.
"""

from __future__ import annotations

from harness import Env
from llmserver import LLMServer, error, stream_error, text, tool_call

ERASE = "\x1b[1A\x1b[2K" * 3


def _logs_after(env: Env, replies: list[dict[str, object]]) -> str:
    with LLMServer() as srv:
        env.write_config(f'[llm]\ndefault_provider = "m"\n[llm.providers.m]\nkind = "openai"\n'
                         f'base_url = "{srv.base_url}"\nmodel = "m"\nmax_retries = 0\n')
        d = env.start_daemon()
        try:
            srv.script(replies)
            env.cli("chat", "--json", "clean up")
            proc = env.cli("daemon", "logs", "-n", "200")
            assert proc.returncode == 0, proc.stderr
            assert "audit: block bash 'rm -rf /'" in proc.stdout  # the blocked attempt was logged ...
            return proc.stdout
        finally:
            d.kill()


def test_a_mid_stream_error_erases_log_lines_on_the_readers_terminal(env: Env) -> None:
    out = _logs_after(env, [tool_call("bash", {"command": "rm -rf /"}), stream_error(text("x"), at=1, message=ERASE + "ok")])
    assert "\x1b" not in out, "... and the provider's escape sequences reach the terminal raw: " + repr(out[-400:])


def test_an_http_error_body_erases_log_lines_on_the_readers_terminal(env: Env) -> None:
    out = _logs_after(env, [tool_call("bash", {"command": "rm -rf /"}), error(400, {"error": {"message": ERASE + "ok"}})])
    assert "\x1b" not in out, "... and the provider's escape sequences reach the terminal raw: " + repr(out[-400:])
