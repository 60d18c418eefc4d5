"""``aios status`` wall time with the daemon running, beside ``python -c "import cyclopts"`` (the
floor for a cyclopts CLI) and bare ``python -c pass``, in the same run. Goal: at most 25 ms more
than the cyclopts floor."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from _common import BIN, line, p50, running_daemon


def timed(argv: list[str], env: dict[str, str], n: int) -> list[float]:
    out = []
    for i in range(n + 2):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
        if i >= 2:
            out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 5 if args.quick else 30
    with running_daemon() as (_sock, env):
        # Start-up is measured as users get it: with bytecode caches (a shell that sets
        # PYTHONDONTWRITEBYTECODE would make every run compile aios from source).
        env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "src")], check=False)
        status = timed([str(BIN / "aios"), "status"], env, n)
        status_json = timed([str(BIN / "aios"), "status", "--json"], env, n)
        floor = timed([sys.executable, "-c", "import cyclopts"], env, n)
        bare = timed([sys.executable, "-c", "pass"], env, n)
        imports = subprocess.run(
            [sys.executable, "-X", "importtime", str(BIN / "aios"), "status"], env=env,
            capture_output=True, text=True,
        ).stderr
    loaded = {ln.rsplit("|", 1)[1].strip() for ln in imports.splitlines() if ln.startswith("import time:") and "|" in ln}
    heavy = [m for m in ("trio", "httpx", "apsw", "rich", "cattrs") if m in loaded]
    print(f"wall time over {n} runs (p50)")
    line("aios status", p50(status), "ms", "python -c 'import cyclopts'", p50(floor), "at most 25 ms more than the cyclopts floor")
    line("aios status --json", p50(status_json), "ms", "python -c 'import cyclopts'", p50(floor))
    line("aios status", p50(status), "ms", "python -c pass", p50(bare))
    print(f"aios status - cyclopts floor: {p50(status) - p50(floor):+.1f} ms")
    print(f"heavy modules imported by 'aios status': {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
