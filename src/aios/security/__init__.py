"""The command and path policy: parses shell, judges every simple command, explains itself.

::

    policy = Policy(config.security, workspace=paths.workspace,
                    protected_paths=[paths.state_dir, paths.runtime_dir])
    policy.check_command("sudo rm -rf /").action        # "block"
    policy.check_path("read", "~/.ssh/id_ed25519").rule  # "path.secret-ssh"

See docs/security.md for the modes and the rules file format.
"""

from __future__ import annotations

from ._cases import Case, Report, load_cases, run_cases
from ._daemon_files import daemon_files
from ._decision import Action, Decision, PathOp
from ._engine import Policy
from ._plugin import plugin_decision

__all__ = [
    "Action", "Case", "Decision", "PathOp", "Policy", "Report", "daemon_files", "load_cases", "plugin_decision",
    "run_cases",
]
