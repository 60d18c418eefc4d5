"""docs/config.md is generated from the models; it must match them."""

from __future__ import annotations

import subprocess
import sys

from harness import REPO


def test_config_reference_is_up_to_date() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-config-doc.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
