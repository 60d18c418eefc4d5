"""Where the daemon's log goes, in which format (docs/operations.md, "Logs").

Under systemd the daemon's stderr is the journal, which adds the time, the unit and the pid
itself: lines go to stderr only, without a time, with a ``<N>`` syslog prefix so the journal
keeps each line's priority. Anywhere else the log is ``daemon.log`` in the state directory,
rotated by size (``daemon.log_max_bytes``, ``daemon.log_keep`` old files), one line per record:
``2026-01-01 10:00:00,000 aios-runtime[PID] LEVEL logger: message``; when stderr is a terminal
(``aios daemon run`` in the foreground) the same lines are shown there too.

"Under systemd" means what systemd documents: ``JOURNAL_STREAM`` names the device and inode of
the journal stream and stderr is that stream. ``INVOCATION_ID`` or ``JOURNAL_STREAM`` alone are
inherited by every shell of a desktop session (its terminal is a systemd unit), so a daemon
started from such a shell would otherwise log into a file nobody reads.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path

FILE_FORMAT = "%(asctime)s aios-runtime[%(process)d] %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "<%(syslog_priority)d>%(levelname)s %(name)s: %(message)s"

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

QUIET_LOGGERS = ("httpx", "httpcore")
"""Libraries that log every request at INFO: the embedded model's health polls would fill the
log. They log at WARNING and up unless the level is debug (httpx's request lines then show;
httpcore's connection details never do)."""


def journal_stderr(environ: dict[str, str] | None = None, fd: int = 2) -> bool:
    """Whether ``fd`` is the journal stream that ``JOURNAL_STREAM`` (``DEV:INODE``) names."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep or not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def _stderr_is_terminal() -> bool:
    try:
        return os.isatty(2)
    except OSError:
        return False


class _Priority(logging.Filter):
    """Adds ``syslog_priority`` (journald reads a ``<N>`` prefix as the line's priority)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.syslog_priority = _PRIORITY.get(record.levelno, 6)
        return True


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class _Safe(logging.Formatter):
    """Control characters other than newline and tab (ESC above all) are written as escapes:
    messages carry text others chose (provider errors, commands), and a person reads the log on
    a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), super().format(record))


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """A rotating file created 0600 whatever the umask: the log names commands and paths."""

    def _open(self) -> object:  # type: ignore[override]  # typeshed: TextIOWrapper
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def setup_logging(level: str, log_file: Path, *, max_bytes: int, keep: int, target: str = "auto") -> str:
    """Send the root logger's records where this daemon's log belongs; return where, for a notice.

    Args:
        level: debug, info, warning or error.
        log_file: the file used when stderr is not the journal.
        target: ``daemon.log_target``: "auto" (the journal when stderr is the journal, else the
            file), "file", or "stderr" (the file's format, time included: a container engine
            keeps the stream but does not always add the time).
        max_bytes: rotate the file when it would grow past this size.
        keep: how many rotated files to keep (``daemon.log.1`` … ``daemon.log.N``).
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    numeric = getattr(logging, level.upper())
    root.setLevel(numeric)
    where: str
    handler: logging.Handler
    if target == "auto" and journal_stderr():
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(_Priority())
        handler.setFormatter(_Safe(JOURNAL_FORMAT))
        where = "the journal (stderr)"
    elif target == "stderr":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Safe(FILE_FORMAT))
        where = "stderr"
    else:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handler = _PrivateRotatingFile(log_file, maxBytes=max_bytes, backupCount=keep, encoding="utf-8")
            where = str(log_file)
        except OSError as exc:
            # The daemon can still work; its stderr (daemon.out for a background start) gets the log.
            print(f"aios-runtime: cannot write the log {log_file}: {exc.strerror or exc}; logging to stderr",
                  file=sys.stderr)
            handler = logging.StreamHandler(sys.stderr)
            where = "stderr"
        handler.setFormatter(_Safe(FILE_FORMAT))
        if where != "stderr" and _stderr_is_terminal():
            # Someone runs it in the foreground ('aios daemon run'): show them the log as well.
            echo = logging.StreamHandler(sys.stderr)
            echo.setFormatter(_Safe(FILE_FORMAT))
            root.addHandler(echo)
    root.addHandler(handler)
    for name in QUIET_LOGGERS:
        quiet = logging.DEBUG if numeric <= logging.DEBUG and name == "httpx" else logging.WARNING
        logging.getLogger(name).setLevel(max(quiet, numeric))
    return where
