"""The command and path policy: parses shell, judges every simple command, explains itself.

::

    protected = daemon_files(state_dir=paths.state_dir, runtime_dir=paths.runtime_dir, socket=paths.socket,
                             config_files=loaded.files, rules_file=config.security.rules_file, home=Path.home())
    policy = Policy(config.security, workspace=paths.workspace, protected_paths=[Path(p) for p in protected])
    policy.check_command("sudo rm -rf /").action        # "block"
    policy.check_path("read", "~/.ssh/id_ed25519").rule  # "path.secret-ssh"
    run_cases(policy, load_cases(Path("cases.jsonl")), "normal").met   # aios policy test

See docs/security.md for the modes, what each blocks, the rules file format and where to change what.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._admin import Kind, admin_decision
from ._cachedir import CacheDir, configured_cache_dir, default_cache_dir, digest, source_stamp
from ._daemon_files import daemon_files
from ._decision import Action, Decision, PathOp
from ._engine import Policy
from ._plugin import plugin_decision

if TYPE_CHECKING:
    from ._cases import Case, Report, load_cases, run_cases


def __getattr__(name: str) -> Any:
    # `aios policy test` alone needs the expectation files: `policy check` skips their classes.
    if name in ("Case", "Report", "load_cases", "run_cases"):
        from . import _cases

        return getattr(_cases, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Action", "CacheDir", "Case", "Decision", "Kind", "PathOp", "Policy", "Report", "admin_decision",
    "configured_cache_dir", "daemon_files", "default_cache_dir", "digest", "load_cases", "plugin_decision", "run_cases",
    "source_stamp",
]
