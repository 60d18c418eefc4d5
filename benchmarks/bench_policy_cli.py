"""``aios policy check`` wall time with no daemon (it judges in-process), beside
``python -c "import cyclopts"`` (the floor for a cyclopts CLI) in the same run.
Goal: at most 40 ms more than the cyclopts floor."""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, isolated_env, line, p50

CPU: dict[str, list[float]] = {}
"""CPU milliseconds (user + system) of each run, per command: steadier than wall time on a busy host."""


def timed(argv: list[str], env: dict[str, str], n: int, cwd: Path) -> list[float]:
    out = []
    cpu = CPU.setdefault(" ".join(argv), [])
    for i in range(n + 2):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i >= 2:
            out.append((time.perf_counter() - t0) * 1000)
            cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 5 if args.quick else 30
    with tempfile.TemporaryDirectory(prefix="aios-bench-") as tmp:
        root = Path(tmp)
        env = isolated_env(root)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "src")],
                       check=False)
        ws = root / "workspace"
        check = timed([str(BIN / "aios"), "policy", "check", "--", "git status && rm -rf build"], env, n, ws)
        check_json = timed([str(BIN / "aios"), "policy", "check", "--json", "--", "sudo rm -rf /"], env, n, ws)
        floor = timed([sys.executable, "-c", "import cyclopts"], env, n, ws)
        assert not (root / "run" / "aios.sock").exists(), "policy check started a daemon"
    print(f"{n} runs each, no daemon running")
    line("aios policy check p50", p50(check), "ms", "python -c 'import cyclopts'", p50(floor), goal="floor + 40 ms")
    line("aios policy check --json p50", p50(check_json), "ms", "python -c 'import cyclopts'", p50(floor),
         goal="floor + 40 ms")
    print(f"policy check over the floor: {p50(check) - p50(floor):.1f} ms wall")
    cpu = list(CPU.values())
    line("aios policy check CPU p50", p50(cpu[0]), "ms", "import cyclopts CPU", p50(cpu[-1]), goal="floor + 40 ms")


if __name__ == "__main__":
    main()
