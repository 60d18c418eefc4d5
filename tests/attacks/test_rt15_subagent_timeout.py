"""rt15: a sub-agent whose task times out leaves its running command unrecorded: no client needed.

``agent._delegate.run_tasks`` runs each delegated task under ``move_on_after(agents.NAME.timeout)``.
When the limit hits while the sub-agent's bash call runs, the call is cancelled; the command has
already acted, and the audit record (written after the command, ``_tooling.tool_context.record``)
never is. The model alone decides this: it only has to run something that outlasts its task.
"""

from __future__ import annotations

import os
import time
from typing import Any

from harness import Env
from llmserver import LLMServer, text, tool_call


def test_a_sub_agents_command_cut_by_its_timeout_leaves_no_record(env: Env) -> None:
    marker = env.workspace / f"rt15-subagent-{os.getpid()}"
    command = f"touch {marker}; sleep 30"
    with LLMServer() as main, LLMServer() as worker:
        providers = "\n".join(
            f'[llm.providers.{name}]\nkind = "openai"\nbase_url = "{srv.base_url}"\nmodel = "m-{name}"\nmax_retries = 0\n'
            for name, srv in (("main", main), ("a1", worker)))
        env.write_config(f'[llm]\ndefault_provider = "main"\n{providers}\n'
                         '[agents.a1]\ndescription = "Worker a1: runs shell commands."\nprovider = "a1"\ntimeout = "3s"\n')
        d = env.start_daemon()
        try:
            worker.script([tool_call("bash", {"command": command}), text("a1 done.")])
            main.script([tool_call("delegate", {"tasks": [{"agent": "a1", "task": "touch the marker"}]}), text("Done.")])
            proc = env.cli("chat", "--json", "do it")
            assert proc.returncode == 0, proc.stderr + d.log()
            assert marker.exists(), "the sub-agent's command ran"
            time.sleep(1.0)
            records: list[dict[str, Any]] = env.cli_json("audit")
            assert any(r["subject"] == command for r in records), \
                f"the sub-agent's command ran but left no audit record: {[r['subject'] for r in records]}"
        finally:
            marker.unlink(missing_ok=True)
            d.kill()
