"""Services figures where systemd is PID 1: an aios daemon inside a Podman container.

On the host (:func:`measure`): the systemd test image ($AIOS_SYSTEMD_IMAGE, default
localhost/aios-systemd-test:latest: the project's image plus Debian's systemd,
built as tests/containers/test_admin_tools.py builds it, ``--pull=never``, when missing) runs with
``--systemd=always`` and ``/lib/systemd/systemd`` as PID 1; this checkout's ``src/aios`` is mounted
read-only over the image's installed copy, so the daemon measured is the code being worked on.
Once systemd is up, an aios daemon is started in it as the tests start one, and a unit that wrote
300 journal lines is running. Then this file runs *inside* the container (``--inside``) and times,
in one process, each services read action through the daemon beside the systemctl/journalctl line
the daemon recorded for it, run directly — no ``podman exec`` in either figure. The container is
removed afterwards, also on Ctrl-C or a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _admin_calls import Case, Tools, direct, interleaved, warm
from _admin_podman import IMAGE, REPO, container, image_problem, podman

from aios.client import Client

SYSTEMD_IMAGE = os.environ.get("AIOS_SYSTEMD_IMAGE", "localhost/aios-systemd-test:latest")
SITE = "/opt/aios/venv/lib/python3.11/site-packages/aios"
HERE = Path(__file__).resolve().parent
UNIT = "aios-bench"
BOOT = ("for i in $(seq 150); do s=$(systemctl is-system-running 2>/dev/null); "
        "case $s in running|degraded) exit 0;; esac; sleep 0.2; done; echo \"systemd is $s\"; exit 1")
DAEMON = ("nohup aios-runtime >/var/log/aios.log 2>&1 & "
          "for i in $(seq 150); do aios status >/dev/null 2>&1 && exit 0; sleep 0.2; done; tail -3 /var/log/aios.log; exit 1")
SERVICE = (f"printf '[Service]\\nExecStart=/bin/sh -c \"seq 1 300; exec sleep infinity\"\\n' > /etc/systemd/system/{UNIT}.service"
           f" && systemctl daemon-reload && systemctl start {UNIT}"
           f" && for i in $(seq 50); do journalctl -u {UNIT} -o cat --no-pager | grep -qx 300 && exit 0; sleep 0.2; done;"
           " echo 'the unit wrote no journal lines'; exit 1")


def service_cases(tools: Tools, unit: str, about_logs: str = "") -> list[Case]:
    """services list, status and logs of ``unit``, each beside the command line the daemon
    recorded for it (used inside the container, and by bench_admin.py where systemd is PID 1)."""
    cases: list[Case] = []
    for name, args in (("services list", {"action": "list"}), (f"services status {unit}", {"action": "status", "unit": unit}),
                       (f"services logs {unit}{about_logs}", {"action": "logs", "unit": unit})):
        cases.append(Case(name, tools.caller("services", args), direct(tools.recorded_argv("services", args))))
    return cases


# -- on the host --------------------------------------------------------------------------------------
def systemd_image(build: bool) -> tuple[str | None, str]:
    """(the image, "") or (None, why it cannot be had); builds it when missing if ``build``."""
    if image_problem(SYSTEMD_IMAGE) is None:
        return SYSTEMD_IMAGE, ""
    why = image_problem(IMAGE)
    if why is not None:
        return None, why
    if not build:
        return None, f"{SYSTEMD_IMAGE} is not built and --quick does not build it (a full run does, from {IMAGE})"
    with tempfile.TemporaryDirectory(prefix="aios-bsd") as ctx:
        (Path(ctx) / "Containerfile").write_text(
            f"FROM {IMAGE}\nRUN apt-get update && apt-get install -y --no-install-recommends systemd systemd-sysv"
            " && rm -rf /var/lib/apt/lists/*\n")
        proc = podman("build", "-q", "--pull=never", "-t", SYSTEMD_IMAGE, ctx, check=False, timeout=1200)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()
        return None, f"building {SYSTEMD_IMAGE} failed: {tail[-1] if tail else proc.returncode}"
    return SYSTEMD_IMAGE, ""


def measure(reps: int, *, build: bool = True) -> tuple[list[dict[str, Any]], str]:
    """([{name, tool, direct}] in ms, a note) or ([], one line saying why there are no figures).

    Raises:
        RuntimeError: the container, systemd, the daemon or the measurement failed (the container
            is removed first).
    """
    image, why = systemd_image(build)
    if image is None:
        return [], why
    start = time.monotonic()
    mounts = ["-v", f"{REPO / 'src' / 'aios'}:{SITE}:ro", "-v", f"{HERE}:/bench:ro"]
    with container(image, ["--systemd=always", "--network", "none", "--entrypoint", "/lib/systemd/systemd", *mounts],
                   prefix="aios-bench-systemd") as name:
        for step, script in (("systemd did not come up", BOOT), ("the daemon did not start", DAEMON),
                             ("the journal unit did not start", SERVICE)):
            proc = podman("exec", name, "sh", "-c", script, check=False, timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"{step}: {(proc.stdout + proc.stderr).strip()[-300:]}")
        ready = time.monotonic() - start
        proc = podman("exec", name, "/opt/aios/venv/bin/python", "/bench/_admin_systemd.py", "--inside", "--reps", str(reps),
                      check=False, timeout=1200)
        if proc.returncode != 0:
            raise RuntimeError(f"the measurement in the container failed: {proc.stderr.strip()[-500:]}")
    lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    code = next((ln["aios"] for ln in lines if "aios" in ln), "")
    if not code.startswith(SITE + "/"):
        raise RuntimeError(f"the daemon in the container runs {code or 'unknown code'}, not this checkout mounted at {SITE}")
    results = [ln for ln in lines if "name" in ln]
    return results, f"this checkout's src/aios mounted over the image's; container, systemd and daemon up in {ready:.1f} s"


# -- inside the container -------------------------------------------------------------------------------
def inside(reps: int) -> None:
    """Each case through the daemon beside its recorded command line; one JSON line each."""
    import aios

    print(json.dumps({"aios": aios.__file__}), flush=True)  # the host checks it is the mounted checkout
    client = Client.connect(Path("/run/aios/aios.sock"), timeout=300)
    tools = Tools(client)
    for name, via_tool, own, _ in service_cases(tools, UNIT, " (100 of its 300 journal lines)"):
        warm(name, via_tool, own)
        t, b = interleaved(via_tool, own, reps)
        print(json.dumps({"name": name, "tool": t, "direct": b}), flush=True)
    client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description="run inside the systemd container by bench_admin.py")
    ap.add_argument("--inside", action="store_true", required=True)
    ap.add_argument("--reps", type=int, default=15)
    inside(ap.parse_args().reps)


if __name__ == "__main__":
    sys.exit(main())
