"""``aios policy check`` wall time with no daemon (it judges in-process), beside
``python -c "import cyclopts"`` (the floor for a cyclopts CLI) in the same run.

Two figures: cold (no policy cache: every run parses rules.toml, checks the rules' examples
and loads the config in full) and warm (the cache written by the run before). The runs of the
three commands are interleaved, so a busy host slows all of them alike; CPU time (user +
system) is printed too, steadier than wall time on a shared machine.
Goal: warm at most 40 ms more than the cyclopts floor."""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, isolated_env, line, p50


def run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 5 if args.quick else 30
    with tempfile.TemporaryDirectory(prefix="aios-bench-") as tmp:
        root = Path(tmp)
        env = isolated_env(root)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cache = root / "cache"
        env["XDG_CACHE_HOME"] = str(cache)
        env.pop("AIOS_SECURITY__CACHE_DIR", None)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "src")],
                       check=False)
        ws = root / "workspace"
        check = [str(BIN / "aios"), "policy", "check", "--", "git status && rm -rf build"]
        check_json = [str(BIN / "aios"), "policy", "check", "--json", "--", "sudo rm -rf /"]
        floor_cmd = [sys.executable, "-c", "import cyclopts"]
        figures: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in ("floor", "cold", "warm", "json")}
        for i in range(n + 2):
            shutil.rmtree(cache, ignore_errors=True)
            cold = run(check, env, ws)
            warm = run(check, env, ws)
            warm_json = run(check_json, env, ws)
            floor = run(floor_cmd, env, ws)
            if i >= 2:  # the first rounds warm the OS page cache
                for k, (w, c) in (("floor", floor), ("cold", cold), ("warm", warm), ("json", warm_json)):
                    figures[k][0].append(w)
                    figures[k][1].append(c)
        assert not (root / "run" / "aios.sock").exists(), "policy check started a daemon"
    floor_w, floor_c = (p50(v) for v in figures["floor"])
    print(f"{n} runs each, no daemon running, cold = no policy cache, warm = the cache of the run before")
    line("aios policy check warm p50", p50(figures["warm"][0]), "ms", "python -c 'import cyclopts'", floor_w,
         goal="floor + 40 ms")
    line("aios policy check --json warm p50", p50(figures["json"][0]), "ms", "python -c 'import cyclopts'", floor_w,
         goal="floor + 40 ms")
    line("aios policy check cold p50", p50(figures["cold"][0]), "ms", "python -c 'import cyclopts'", floor_w)
    print(f"policy check over the floor: warm {p50(figures['warm'][0]) - floor_w:.1f} ms, "
          f"cold {p50(figures['cold'][0]) - floor_w:.1f} ms wall")
    line("aios policy check warm CPU p50", p50(figures["warm"][1]), "ms", "import cyclopts CPU", floor_c,
         goal="floor + 40 ms")
    line("aios policy check cold CPU p50", p50(figures["cold"][1]), "ms", "import cyclopts CPU", floor_c)


if __name__ == "__main__":
    main()
