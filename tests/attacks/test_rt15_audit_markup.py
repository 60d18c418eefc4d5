"""rt15: text in a command or path is read as rich markup by the ``aios audit`` table.

``aios audit`` renders the subject through ``_render.table`` (a rich ``Table`` on a console with
markup on). ``printable`` escapes control characters but not ``[...]``, so whoever chose the
command line (the model, a jailed command's file names, another uid) decides what the person
reading the trail sees: a ``[tag]`` vanishes from the line (the part of the command that mattered
can be written as a tag), and a stray closing tag such as ``[/x]`` makes the whole table fail.
"""

from __future__ import annotations

from harness import Daemon, Env
from llmserver import LLMServer, text, tool_call


def test_a_blocked_attempt_hides_its_payload_from_the_audit_table(env: Env, daemon: Daemon) -> None:
    # The policy blocks it (dyn.eval), but the person reviewing blocked attempts reads
    #   eval "$(echo  | tr -d '[]')"   -- the "[rm -rf ~/work]" it tried to run is gone.
    command = "eval \"$(echo [rm -rf ~/work] | tr -d '[]')\""
    assert env.cli("run", "--yes", "--", command).returncode == 126
    [record] = [r for r in env.cli_json("audit") if r["subject"] == command]
    assert record["decision"] == "block"
    table = env.cli("audit", "--decision", "block")
    assert table.returncode == 0, table.stderr
    assert "rm -rf ~/work" in table.stdout, f"the audit table hides what was attempted:\n{table.stdout}"


def test_a_command_chosen_by_the_model_breaks_the_audit_table(env: Env) -> None:
    command = "echo build done [/b]"
    with LLMServer() as srv:
        env.write_config(f'[llm]\ndefault_provider = "m"\n[llm.providers.m]\nkind = "openai"\n'
                         f'base_url = "{srv.base_url}"\nmodel = "m"\nmax_retries = 1\n')
        d = env.start_daemon()
        try:
            srv.script([tool_call("bash", {"command": command}), text("done")])
            chat = env.cli("chat", "--json", "build it")
            assert chat.returncode == 0, chat.stderr
            assert any(r["subject"] == command for r in env.cli_json("audit"))
            table = env.cli("audit")
            assert table.returncode == 0, f"aios audit fails on a record the model chose:\n{table.stderr}"
            assert command in table.stdout, table.stdout
        finally:
            d.kill()
