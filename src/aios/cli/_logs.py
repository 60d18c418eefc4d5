"""``aios daemon logs [-f] [-n N] [--system]``: the daemon's log, wherever it is.

A system daemon run by systemd logs to the journal: ``journalctl -u aios-runtime.service`` shows
it (with ``-f``/``-n`` passed on). Otherwise the log is ``<state_dir>/daemon.log`` of the scope
(``paths.log_file`` in ``aios info --json``), rotated by size; ``-f`` follows it across a
rotation (the file is renamed to ``daemon.log.1`` and a new one is started).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import deque
from pathlib import Path
from typing import IO, Annotated

from cyclopts import Parameter

from . import _context as ctx

POLL_S = 0.2
UNIT_FILES = (Path("/etc/systemd/system/aios-runtime.service"), Path("/lib/systemd/system/aios-runtime.service"))


def logs(
    *,
    follow: Annotated[bool, Parameter(name=["--follow", "-f"], help="Keep printing new lines as they are written (Ctrl-C stops).", negative=())] = False,
    lines: Annotated[int, Parameter(name=["--lines", "-n"], help="How many of the last lines to show first.")] = 50,
    system: Annotated[bool, Parameter(help="The system daemon's log (the journal when systemd runs it).", negative=())] = False,
) -> int:
    """Show the daemon's log: the last ``-n`` lines (default 50), then new ones with ``-f``.

    Exits 0, or 1 when there is no log to show (it says where it looked).
    """
    if lines < 0:
        return ctx.fail("--lines must be 0 or more", ctx.EXIT_USAGE)

    def body() -> int:
        journalctl = shutil.which("journalctl")
        if system and journalctl and any(f.exists() for f in UNIT_FILES):
            argv = [journalctl, "-u", "aios-runtime.service", "--no-pager", "-n", str(lines)]
            sys.stdout.flush()
            os.execv(journalctl, argv + (["-f"] if follow else []))
        from aios.config import load

        loaded = load(config_file=ctx.G.config, sets=ctx.G.sets, system=system or None)
        if loaded.config.daemon.log_target == "stderr":
            return ctx.fail("the daemon logs to its stderr (daemon.log_target = \"stderr\"): read it where that goes "
                            "('podman logs' for a container; daemon.out beside the socket for a background start)")
        path = loaded.paths.log_file
        try:
            f = open(path, "rb")  # kept open while following
        except FileNotFoundError:
            return ctx.fail(f"no daemon log at {path}: no daemon has logged there yet "
                            "(a daemon systemd runs logs to the journal: aios daemon logs --system)")
        except OSError as exc:
            return ctx.fail(f"cannot read {path}: {exc.strerror or exc}")
        with f:
            _write(b"".join(deque(f, maxlen=lines)) if lines else b"")
            if follow:
                try:
                    _follow(path, f)
                except KeyboardInterrupt:
                    return 0
        return 0

    return ctx.run(body)


def _write(data: bytes) -> None:
    """Print log bytes with control characters shown as escapes (a line may carry text a model
    provider or a command chose: it must not redraw the reader's terminal)."""
    from ._text import printable

    text = data.decode("utf-8", "replace")
    sys.stdout.write("\n".join(printable(line) for line in text.split("\n")))
    sys.stdout.flush()


def _follow(path: Path, f: IO[bytes]) -> None:
    """Print what is appended to ``path``; after a rotation, finish the old file, then the new one.

    A rotation renames the file away (the open ``f`` still reads it) and starts a new one at the
    same path: a different inode there, or a file shorter than what was read, means reopen.
    """
    while True:
        chunk = f.read()
        if chunk:
            _write(chunk)
            continue
        try:
            st = path.stat()
        except FileNotFoundError:  # between the rename and the new file
            time.sleep(POLL_S)
            continue
        mine = os.fstat(f.fileno())
        if (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino) or st.st_size < f.tell():
            _write(f.read())  # the old file's last lines
            f.close()
            f = open(path, "rb")  # the loop owns it until the next rotation
            continue
        time.sleep(POLL_S)
