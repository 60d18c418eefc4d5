"""rt7: the packages tool removes the firewall package with a confirmation where normal mode must block.

Issue 18: "the security classes of the policy issue (firewall, audit, SELinux/AppArmor services
**and packages**, kernel modules) are blocked in normal mode here too". ``admin_decision`` judges
only the command line (``apt-get … remove NAMES``), and no rule looks at which packages a
removal takes away, so every spelling below is ``confirm`` — a tired "y" removes the firewall.
The plan (``apt-get -s``) already says what goes; the decision never reads it.

iptables is installed on every host ``./dev setup`` prepares (podman depends on it). Nothing is
removed here: no ``--yes`` and no terminal, so a ``confirm`` is denied; the test reads the
decision from the result.

Spelling 1: ``remove iptables`` (the package by name).
Spelling 2: ``remove libnftnl11`` (a library iptables depends on: apt removes iptables with it).
Spelling 3: ``upgrade`` of ``iptables-`` (apt-get's trailing minus means "remove", also after
``install --only-upgrade``): an "upgrade" whose plan removes the firewall.
Spelling 4: ``upgrade`` of ``libnftnl11-``: the same through a dependency. (Branch dnf7 names
every package a plan removes in the command line of ``install``/``remove``, which the policy then
blocks, but not in that of ``upgrade NAMES``: this spelling still gets through there.)

``aios policy check 'apt-get remove auditd'`` / ``'apt-get remove apparmor'`` say ``confirm``
too; they are not installed here, so apt would plan nothing and the tool stops before deciding.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness import Daemon, Env

CALLS: dict[str, dict[str, Any]] = {
    "by-name": {"action": "remove", "names": ["iptables"]},
    "through-a-dependency": {"action": "remove", "names": ["libnftnl11"]},
    "upgrade-with-a-minus": {"action": "upgrade", "names": ["iptables-"]},
    "upgrade-with-a-dependency-minus": {"action": "upgrade", "names": ["libnftnl11-"]},
}


@pytest.mark.parametrize("spelling", sorted(CALLS))
def test_removing_the_firewall_package_is_only_confirmed(env: Env, daemon: Daemon, spelling: str) -> None:
    proc = env.cli("tools", "call", "packages", json.dumps(CALLS[spelling]), "--json", timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    meta = json.loads(proc.stdout)["metadata"]
    removed = [p["name"] for p in (meta.get("plan") or {}).get("packages", []) if p["op"] == "remove"]
    assert "iptables" in removed, f"apt no longer plans to remove iptables here: {meta.get('plan')}"
    assert meta["decision"] == "block", (
        f"a plan that removes the firewall package (iptables) was decided {meta['decision']!r} in normal mode: {meta['reason']}"
    )
