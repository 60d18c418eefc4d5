"""What opening beneath a descriptor costs the file tools, beside a plain open in the same run.

The baseline is what the tools did before: ``realpath`` then ``open`` by name (read), and a
temporary file written beside the target then ``os.replace`` (write). The figures are the
tools' own functions, in the daemon's worker-thread form: openat2, the component walk that
kernels without openat2 use, and (as root) acting as another user in the thread. The path is
four directories deep in a workspace.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import tempfile
from pathlib import Path

from _common import line, p50, percentile, timed

from aios.sandbox import Identity
from aios.tools._files import read_file
from aios.tools._fs import Opener, locate
from aios.tools._ident import acting_as
from aios.tools._write import write_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    reps = 200 if ap.parse_args().quick else 5000
    root = Path(tempfile.mkdtemp(prefix="aios-bf", dir="/tmp"))
    root.chmod(0o755)
    try:
        ws = root / "ws"
        deep = ws / "a" / "b" / "c" / "d"
        deep.mkdir(parents=True)
        for p in (ws, *deep.relative_to(ws).parents, deep):
            (ws / p).chmod(0o777)
        target = deep / "notes.txt"
        target.write_text("x" * 4096)
        target.chmod(0o666)
        t = locate(str(target.relative_to(ws)), ws)
        fast, walk = Opener(), Opener(use_openat2=False)

        def old_read() -> None:
            with open(os.path.realpath(target), "rb") as f:
                f.read(65537)

        def old_write() -> None:
            tmp = target.with_name(f".{target.name}.tmp")
            with open(tmp, "wb") as f:
                f.write(b"y" * 4096)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)

        base_r = timed(old_read, reps)
        base_w = timed(old_write, max(reps // 10, 20))
        figures = [
            ("read, openat2", timed(lambda: read_file(t, 0, 65536, fast), reps), base_r, "read"),
            ("read, walk", timed(lambda: read_file(t, 0, 65536, walk), reps), base_r, "read"),
            ("write, openat2", timed(lambda: write_file(t, b"y" * 4096, append=False, opener=fast), max(reps // 10, 20)), base_w, "write"),
            ("write, walk", timed(lambda: write_file(t, b"y" * 4096, append=False, opener=walk), max(reps // 10, 20)), base_w, "write"),
        ]
        if os.geteuid() == 0:
            try:
                other = Identity.for_uid(pwd.getpwnam("aios-sandbox").pw_uid)
            except KeyError:
                other = Identity.for_uid(65534)

            def as_other() -> None:
                with acting_as(other):
                    read_file(t, 0, 65536, fast)

            figures.append(("read, openat2, as another user", timed(as_other, reps), base_r, "read"))
        for name, values, base, what in figures:
            line(f"file tool {name} p50", p50(values), "ms", f"resolve-then-open {what}", p50(base))
            line(f"file tool {name} p99", percentile(values, 99), "ms", f"resolve-then-open {what}", percentile(base, 99))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
