"""rt7: a firewall package installed as a dependency is confirmed where the same package by name is blocked.

Branch dnf7's rule ``secoff.security-package`` blocks installing, removing or replacing a
firewall, audit, MAC or logging package in normal mode (``apt-get install ufw``: block), and its
packages tool writes every package a plan *removes* into the command line the policy judges. A
package the plan *installs* as a dependency is not written there: ``install gufw`` installs ufw,
``install firewall-applet`` installs firewalld (which Debian starts at once, taking over the
host's nftables rules), both ``confirm``. On main neither spelling, nor the package by name, is
blocked.

Nothing is installed: no ``--yes`` and no terminal, so a ``confirm`` is denied; the test reads
the decision from the result (the plan comes from ``apt-get -s``).
"""

from __future__ import annotations

import json

import pytest

from harness import Daemon, Env

CALLS = {
    "by-name": ("firewalld", "firewalld"),
    "gufw-pulls-ufw": ("gufw", "ufw"),
    "applet-pulls-firewalld": ("firewall-applet", "firewalld"),
}


@pytest.mark.parametrize("spelling", sorted(CALLS))
def test_installing_a_firewall_package_through_a_dependency_is_only_confirmed(env: Env, daemon: Daemon, spelling: str) -> None:
    name, security = CALLS[spelling]
    proc = env.cli("tools", "call", "packages", json.dumps({"action": "install", "names": [name]}), "--json", timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    meta = json.loads(proc.stdout)["metadata"]
    installed = [p["name"] for p in (meta.get("plan") or {}).get("packages", []) if p["op"] == "install"]
    assert security in installed, f"apt no longer plans to install {security} with {name}: {meta.get('plan')}"
    assert meta["decision"] == "block", (
        f"a plan that installs the firewall package {security} was decided {meta['decision']!r} in normal mode: {meta['reason']}"
    )
