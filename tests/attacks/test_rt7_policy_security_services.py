"""rt7: killing an intrusion-detection daemon is blocked; stopping its service (the services tool's argv) is only confirmed.

Normal mode blocks ``pkill falco`` / ``pkill wazuh-agentd`` / ``pkill osqueryd`` /
``pkill auditbeat`` (rule ``secoff.kill-guard``: "kills an audit, logging, firewall or
intrusion-detection daemon"), and the services tool's ``stop``/``disable`` is judged as the
``systemctl ACTION UNIT`` line it runs. Rule ``secoff.service-stop``, which blocks that line for
security services, lists a shorter set (firewalld, auditd, apparmor, fail2ban, rsyslog …): the
same daemons are stopped for good, with a confirmation, through ``systemctl`` and so through the
typed tool (``{"action": "stop", "unit": "falco"}``).

Judged by ``aios policy check`` (the daemon's policy in-process; the services tool itself needs
systemd as PID 1, see tests/containers/test_rt7_services_security.py). Two spellings per daemon:
``systemctl stop UNIT`` (the tool's stop) and ``systemctl disable UNIT`` (its disable).
"""

from __future__ import annotations

import pytest

from harness import Env

DAEMONS = {"falco": "falco.service", "wazuh-agentd": "wazuh-agent.service", "osqueryd": "osqueryd.service",
           "auditbeat": "auditbeat.service"}


def _decision(env: Env, line: str) -> str:
    proc = env.cli("policy", "check", "--", line)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()[0]


@pytest.mark.parametrize("action", ["stop", "disable"])
@pytest.mark.parametrize("process", sorted(DAEMONS))
def test_a_guard_daemon_kill_blocks_but_its_service_stop_is_confirmed(env: Env, process: str, action: str) -> None:
    assert _decision(env, f"pkill {process}") == "block"
    line = f"systemctl {action} {DAEMONS[process]}"
    assert _decision(env, line) == "block", f"{line!r} is not blocked in normal mode, while 'pkill {process}' is"
