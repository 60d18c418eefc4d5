"""Names the judge treats specially, word shapes, and small helpers shared by its modules."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._regex_cache import lazy
from ._rules_model import CommandSpec
from ._words import SimpleCommand, Word

ASSIGNMENT = lazy(r"^[A-Za-z_][A-Za-z0-9_]*=")
REMOTE = lazy(r"^(?:[\w.+-]+@)?[\w.-]+:(?!//)")
"""``host:path`` and ``user@host:path`` (scp, rsync): not a local path."""
URL = lazy(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
DOWNLOADERS = frozenset({"curl", "wget", "ftpget", "xh", "curlie", "fetch", "aria2c", "http", "https", "nc", "ncat", "socat", "ftp", "tftp",
                         "lwp-request", "GET", "scp", "rsync", "sftp", "lynx", "links", "elinks", "w3m", "axel",
                         "httpie", "wcurl", "pget", "lwp-download", "lwp-mirror"})
"""Programs whose output (or written file) is text from the network."""
DECODERS = frozenset({"base64", "base32", "basenc", "xxd", "od", "rev", "tr", "openssl", "gpg", "gunzip", "zcat", "gzip",
                      "bzcat", "bunzip2", "xzcat", "unxz", "zstdcat", "uudecode", "rot13", "caesar", "iconv", "printf",
                      "jq", "gojq", "jaq", "yq"})
"""Programs that turn text into other text: a shell reading their output runs what the line hides
(jq/yq: ``jq -n '@sh "rm -rf /"' | sh`` builds the command inside its own program)."""
RAW_NET = frozenset({"nc", "ncat", "netcat", "nc.traditional", "nc.openbsd", "telnet", "cryptcat", "sbd"})
INJECT_VARS = frozenset({"LD_PRELOAD", "LD_AUDIT", "BASH_ENV", "ENV", "PROMPT_COMMAND", "GIT_SSH_COMMAND", "LD_LIBRARY_PATH",
                         "GIT_SSH", "GIT_PROXY_COMMAND", "GIT_EXTERNAL_DIFF", "GIT_PAGER", "GIT_EDITOR",
                         "GIT_SEQUENCE_EDITOR", "GIT_ASKPASS", "SSH_ASKPASS", "SUDO_ASKPASS", "PAGER", "MANPAGER",
                         "SYSTEMD_PAGER", "EDITOR", "VISUAL", "LESSOPEN", "LESSCLOSE", "BROWSER", "RSYNC_RSH",
                         "RSYNC_CONNECT_PROG", "TAR_OPTIONS"})
"""Variables whose value the shell or a program runs as code (judged like that code)."""
DEFAULT_SPEC = CommandSpec(name="")
"""What a program without a ``[command.X]`` entry is: no options take values."""


def select(operands: list[Word], sel: str) -> list[Word]:
    """The operands an effect's ``operands`` selector names (``last``, ``after-first`` …)."""
    if sel == "all":
        return operands
    if sel == "last":
        return operands[-1:] if len(operands) >= 2 else []
    if sel == "all-but-last":
        return operands[:-1] if len(operands) >= 2 else []
    if sel == "first":
        return operands[:1]
    if sel in ("after-first", "after-script"):
        return operands[1:]
    return []


def opens_to_others(mode: str) -> bool:
    """A chmod mode that gives "others" read or write access (777, o+r, a+w, +r)."""
    if re.fullmatch(r"[0-7]{3,4}", mode):
        return int(mode[-1]) & 6 != 0
    return any(re.fullmatch(r"[ao]*[+=][rwxXst]*[rw][rwxXst]*", part) for part in mode.split(","))


def base(name: str) -> str:
    """The program name of a path (``/usr/bin/rm`` → ``rm``)."""
    return name.rstrip("/").rsplit("/", 1)[-1] if "/" in name.rstrip("/") else name


MULTI_CALL = frozenset({"busybox", "toybox", "busybox.static", "busybox-static"})
"""Multi-call binaries: ``busybox APPLET …`` is APPLET, wherever a program is named."""


def program(words: Sequence[Word]) -> str:
    """The program a command's words run: ``busybox wget …`` runs wget, ``/bin/sh`` runs sh."""
    name = base(words[0].value) if words else ""
    if name in MULTI_CALL and len(words) > 1 and not words[1].value.startswith("-"):
        return base(words[1].value)
    return name


def is_version_query(args: Sequence[Word]) -> bool:
    """``--version``/``--help`` alone: asks the program about itself."""
    return len(args) == 1 and args[0].value in ("--version", "-V", "--help", "-h")


def fmt(template: str, cmd: str, hit: str, *, target: str = "", option: str = "", cls: str = "") -> str:
    """A rule's reason with ``{cmd}``, ``{option}``, ``{target}``, ``{class}`` filled in."""
    try:
        text = template.format(cmd=cmd, option=option or hit, target=target, **{"class": cls})
    except (KeyError, IndexError, ValueError):
        text = template
    return re.sub(r"  +", " ", text).strip()


_DOWNLOAD_WORD = lazy(r"(?:^|[\s;|&(`'\"])(?:\S*/)?(?:" + "|".join(re.escape(d) for d in sorted(DOWNLOADERS)) + r")(?=\s|$)")


def mentions_download(text: str) -> bool:
    """Whether shell text runs a downloader (``$(curl -s URL)``, ``<(wget -qO- URL)``)."""
    return bool(_DOWNLOAD_WORD.search(text)) or "://" in text


def upstream(src: SimpleCommand | None) -> set[str]:
    """The program names of a pipe's producers, nearest first (``curl … | gunzip | sh``)."""
    names: set[str] = set()
    for _ in range(8):
        if src is None or not src.words:
            break
        names.add(program(src.words))
        src = src.stdin.source if src.stdin is not None and src.stdin.kind == "pipe" else None
    return names

DATA_READERS = frozenset({"tee", "cat", "grep", "egrep", "fgrep", "rg", "sort", "uniq", "wc", "head", "tail", "less",
                          "more", "tr", "cut", "base64", "xxd", "od", "hexdump", "gzip", "xz", "zstd", "bzip2",
                          "sponge", "nl", "column", "jq", "yq", "diff", "cmp", "md5sum", "sha256sum", "tac", "rev",
                          "paste", "fold", "fmt", "iconv", "dd", "pv", "mail", "sendmail", "logger", "git"})
"""Programs whose stdin is data, not a script with shell escapes (``echo '!x' | tee notes``)."""
