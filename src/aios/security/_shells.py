"""Shells, interpreters and scripts: the text a line will run, followed and judged.

``bash -c TEXT``, ``python3 -c CODE``, a script written earlier in the same line, a program read
from a pipe or a here-document, ``eval``/``alias``/``trap``/``source``: what can be read is
judged like the line itself; what cannot (downloaded code, a pipe of unknown text) is ``dyn.*``.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from ._args import split_args
from ._findings import MAX_VALUES, Context, Finding, dynamic, hidden, remote_code
from ._forks import endless_jobs, runs_itself
from ._generalise import input_commands, secrets
from ._names import (
    DECODERS,
    DOWNLOADERS,
    URL,
    base,
    is_version_query,
    mentions_download,
    program,
    upstream,
)
from ._regex_cache import lazy
from ._rules_model import InterpreterSpec
from ._words import SimpleCommand, Word, literal, literal_output

if TYPE_CHECKING:
    from ._judge import Judge

STDIN_PATHS = frozenset({"-", "/dev/stdin", "/proc/self/fd/0", "/dev/fd/0"})
"""Names a program's script option gives for "read the program from standard input"."""


def remember(judge: Judge, target: Word, producer: SimpleCommand, ctx: Context, *, append: bool = False) -> None:
    """Note what a file written by this line will hold, in case the line runs it later."""
    if target.dynamic or len(target.values) != 1:
        return
    path = judge.paths.abspath(target.value, ctx.cwd)
    if path is None:
        return
    name = program(producer.words)
    text: str | None = None if name in DOWNLOADERS else pipe_text(judge, producer, 0)
    if text is None and name not in DOWNLOADERS:
        if producer.stdin is not None and producer.stdin.kind == "pipe" and name == "tee":
            src = producer.stdin.source
            sname = program(src.words) if src is not None else ""
            text = pipe_text(judge, src, 0)
            if text is None and sname not in DOWNLOADERS:
                return
        else:
            return
    if append and path in ctx.files and ctx.files[path] is not None and text is not None:
        text = (ctx.files[path] or "") + "\n" + text
    ctx.files[path] = text


def run_file(judge: Judge, word: Word, ctx: Context, depth: int, label: str, language: str | None) -> bool:
    """Judge a script this same line wrote (or downloaded); False if it did not."""
    if word.dynamic or not ctx.files:
        return False
    path = judge.paths.abspath(word.value, ctx.cwd)
    if path is None:
        return False
    # A key ending in "/" is a directory this line fills from the network (git clone, curl | tar x).
    text = ctx.files.get(path)
    if path not in ctx.files and not any(k.endswith("/") and path.startswith(k) for k in ctx.files):
        return False
    if text is None:
        ctx.add(remote_code("dyn.download-exec", f"{label} runs {word.text}, which this line downloads; what it does "
                         "is only known when it runs"))
    elif language is None:
        if runs_itself(text, path, word.value):
            ctx.add(Finding("block", "proc.fork-bomb", f"{label} {word.text} starts itself again in the background "
                            "or a pipe on every run (a fork bomb)", frozenset({"dangerous"})))
        judge.line(text, ctx, depth + 1, origin=f"{label} {word.text}")
    else:
        run_code(judge, language, text, label, ctx, depth)
    return True


def eval_(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """eval, alias and trap: their text is a line the shell runs."""
    if name == "eval":
        ctx.misses.append("eval")
        if any(w.dynamic for w in args):
            ctx.add(hidden("dyn.eval", "eval runs text that is only known when it runs"))
            ctx.misses.append("eval")
            return
        judge.line(" ".join(w.value for w in args), ctx, depth + 1, origin="eval")
        return
    if name == "alias":
        for w in args:
            alias, eq, body = w.value.partition("=")
            if eq and body:
                if w.dynamic:
                    ctx.add(hidden("dyn.alias", "alias defines text that is only known when it runs"))
                else:
                    ctx.aliases[alias] = body  # a later `alias args…` is judged as `body args…`
                    judge.line(body, ctx, depth + 1, origin="alias")
        return
    # trap 'cmd' SIGNALS
    real = [w for w in args if not w.value.startswith("-")]
    if real:
        if real[0].dynamic:
            ctx.add(hidden("dyn.trap", "trap runs text that is only known when it runs"))
        else:
            judge.line(real[0].value, ctx, depth + 1, origin="trap")


def source(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """``source FILE`` / ``. FILE``: a script this line wrote is judged, any other is read."""
    if not args:
        return
    w = args[0]
    if w.dynamic:
        ctx.add(_unseen("dyn.source", f"{name} runs a script that is only known when it runs ({w.text})", w,
                        hide=w.text.startswith("<(")))
        ctx.misses.append(f"{name} {w.text}")
        return
    if w.value in STDIN_PATHS:
        stdin_code(judge, cmd, ctx, depth, name, None)
        return
    ctx.misses.append(f"{name} {w.text}")
    if not run_file(judge, w, ctx, depth, name, None):
        judge.effect("read", w, ctx, name)


def shell(judge: Judge, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context, depth: int) -> None:
    """A shell: ``-c TEXT``, a script operand, or its program on standard input."""
    wants_code = reads_stdin = False
    i = 0
    n = len(args)
    while i < n:
        v = args[i].value
        if v == "--" or v == "-":
            i += 1
            break
        if len(v) > 1 and v[0] in "-+" and not args[i].dynamic:
            i += 1
            if v in judge.rules.shell_arg_options:
                if v in ("--rcfile", "--init-file") and i < n:
                    source(judge, name, args[i : i + 1], cmd, ctx, depth)  # a startup script: read and run
                i += 1
                continue
            if v.startswith("--"):
                continue
            if "c" in v[1:]:
                wants_code = True
            if "s" in v[1:]:
                reads_stdin = True
            continue
        break
    operands = args[i:]
    if wants_code or (name in ("pwsh",) and operands):
        if not operands:
            return
        code = operands[0]
        ctx.misses.append(f"{name} -c")
        if code.dynamic:
            ctx.add(_unseen("dyn.shell-code", f"{name} -c runs {code.text!r}, text only known when it runs", code))
            return
        argv = tuple(operands[1:]) or None  # `sh -c CODE NAME ARGS…`: $0 is NAME, $1… are ARGS
        for v in code.values[:MAX_VALUES]:
            judge.line(v, ctx, depth + 1, origin=f"{name} -c", argv=argv)
        return
    if operands and not reads_stdin:
        script = operands[0]
        ctx.misses.append(f"{name} {script.text}")
        if script.dynamic:
            ctx.add(_unseen("dyn.script", f"{name} runs a script only known when it runs ({script.text})", script,
                            hide=script.text.startswith("<(")))
        elif script.value in STDIN_PATHS - {"-"}:
            stdin_code(judge, cmd, ctx, depth, name, None)
        elif not run_file(judge, script, ctx, depth, name, None):
            judge.effect("read", script, ctx, name)
        return
    if not is_version_query(args):
        ctx.misses.append(name)
    if depth and cmd.stdin is None and not any(r.op == "<" and r.fd in (None, "0") for r in cmd.redirects) \
            and not (cmd in ctx.typed and program(cmd.words) in ("exec", "command", "builtin")):
        # `perl -e 'exec "/bin/sh"'`, `timeout 0 /bin/sh`: a shell another program starts, with no
        # script, runs whatever is typed into it (`exec bash` only replaces the line's own shell).
        ctx.add(dynamic("wrap.interactive-shell", f"{name} is started as an interactive shell; what it runs is only "
                        "known when it runs"))
    # `sh -i < /tmp/fifo | openssl s_client …`: commands from a file the line cannot show (a reverse shell
    # when the line also opens a network connection: see Judge.judge).
    ctx.pipe_shell |= cmd.stdin is None and any(r.op == "<" and r.fd in (None, "0") for r in cmd.redirects)
    stdin_code(judge, cmd, ctx, depth, name, None)


def stdin_code(judge: Judge, cmd: SimpleCommand, ctx: Context, depth: int, label: str, language: str | None) -> None:
    """Judge what a shell (language None) or interpreter reads as its program on stdin."""
    st = cmd.stdin
    if st is None:
        return
    text: str | None
    if st.kind == "text":
        text = st.text
        source = "a here-document"
    else:
        text = pipe_text(judge, st.source, 0)
        src_name = program(st.source.words) if st.source is not None else ""
        source = f"{src_name or 'a command'}"
        chain = upstream(st.source)
        if text is None:
            if chain & DOWNLOADERS:
                ctx.add(remote_code("dyn.download-exec", f"{label} runs code that {', '.join(sorted(chain & DOWNLOADERS))} "
                                    "downloads; what it does is only known when it runs"))
            elif chain & DECODERS:
                ctx.add(hidden("dyn.decoded-exec", f"{label} runs text that {', '.join(sorted(chain & DECODERS))} "
                               "decodes, which cannot be read from the line"))
            elif src_name in DOWNLOADERS:
                ctx.add(remote_code("dyn.download-exec", f"{label} runs code that {src_name} downloads; what it does "
                                 "is only known when it runs"))
            else:
                ctx.pipe_shell = True
                ctx.add(dynamic("dyn.pipe-exec", f"{label} runs what {source} writes into the pipe, which is only "
                                 "known when it runs"))
                if language is None and src_name == "echo" and st.source is not None:
                    # `echo "rm -rf /home $(tty)" | at now`: the part that can be read is still judged.
                    judge.line(" ".join(w.value for w in st.source.words[1:]), ctx, depth + 1, origin=f"{label} reading echo")
            return
    if text is None:
        return
    if language is None:
        endless_jobs(label, source, text, ctx)
        judge.line(text, ctx, depth + 1, origin=f"{label} reading {source}")
    else:
        run_code(judge, language, text, label, ctx, depth)


def pipe_text(judge: Judge, src: SimpleCommand | None, level: int) -> str | None:
    """The literal text a pipe producer writes (echo, printf, cat <<EOF, base64 -d of those)."""
    if src is None or not src.words or level > 4 or any(w.dynamic for w in src.words):
        return None
    name = base(src.words[0].value)
    args = [w.value for w in src.words[1:]]
    if name in ("echo", "printf"):
        return literal_output(src)
    if name == "yes":
        return "\n".join([" ".join(args) or "y"] * 3)  # the line, again and again: three stand for all
    if name in (":", "true") and src.stdin is None:
        return ""  # `: > file` writes nothing: the file ends empty
    if name == "cat" and not args and src.stdin is not None:
        if src.stdin.kind == "text":
            return src.stdin.text
        return pipe_text(judge, src.stdin.source, level + 1)
    upstream: str | None = None
    if src.stdin is not None:
        upstream = src.stdin.text if src.stdin.kind == "text" else pipe_text(judge, src.stdin.source, level + 1)
    if upstream is None:
        return None
    if name == "base64" and any(a in ("-d", "--decode", "-D", "-di", "-id") for a in args):
        try:
            return base64.b64decode("".join(upstream.split()), validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None
    if name == "xxd" and "-r" in args:
        try:
            return bytes.fromhex("".join(upstream.split())).decode("utf-8", "replace")
        except ValueError:
            return None
    if name == "rev":
        return "\n".join(line[::-1] for line in upstream.split("\n"))
    return None


def interp(judge: Judge, spec: InterpreterSpec, name: str, args: list[Word], cmd: SimpleCommand, ctx: Context,
           depth: int) -> None:
    """An interpreter (python, node, ``deno run -A -`` …): code from an option, a script, a module or stdin."""
    if name in ("deno", "bun") and args and args[0].value == "run":
        args = [w for w in args[1:] if w.value == "-" or not w.value.startswith("-")]
    code: Word | None = None
    module: Word | None = None
    inplace = False
    has_file_option = False
    programs: list[Word] = []
    i = 0
    n = len(args)
    while i < n and code is None and module is None:
        w = args[i]
        v = w.value
        if v == "--":
            i += 1
            break
        if not (v.startswith("-") and len(v) > 1):
            break
        i += 1
        if v.startswith("--"):
            o, eq, val = v.partition("=")
            if o in spec.code_options:
                code = literal(val) if eq else (args[i] if i < n else None)
                i += 0 if eq else 1
            elif o in spec.file_options:
                has_file_option = True
                programs.append(literal(val) if eq else (args[i] if i < n else literal("")))
                i += 0 if eq else 1
            elif o in spec.arg_options and not eq:
                i += 1
            continue
        if v in spec.arg_options or v in spec.file_options:
            if v in spec.file_options:
                has_file_option = True
                programs.append(args[i] if i < n else literal(""))
            i += 1
            continue
        if spec.module_option and v == spec.module_option:
            module = args[i] if i < n else None
            i += 1
            break
        letters = v[1:]
        for j, ch in enumerate(letters):
            o = "-" + ch
            tail = letters[j + 1 :]
            if o in spec.code_options:
                if tail:
                    code = literal(tail)
                elif i < n:
                    code = args[i]
                    i += 1
                break
            if o in spec.inplace_options:
                inplace = True
                if tail.startswith(".") or tail.startswith("~"):
                    break
                continue
            if spec.module_option and o == spec.module_option:
                module = literal(tail) if tail else (args[i] if i < n else None)
                i += 0 if tail else 1
                break
            if o in spec.arg_options or o in spec.file_options:
                if o in spec.file_options:
                    has_file_option = True
                    programs.append(literal(tail) if tail else (args[i] if i < n else literal("")))
                if not tail:
                    i += 1
                break
        if spec.language in ("perl", "ruby") and code is not None:
            # perl -e CODE -i FILES: keep reading options after the code.
            while i < n and args[i].value.startswith("-") and len(args[i].value) > 1:
                if args[i].value.lstrip("-").startswith("i"):
                    inplace = True
                i += 1
    rest = args[i:]
    for p in programs:
        # awk -f FILE, perl's -x … : a program file; "-" or /dev/stdin is the here-document or pipe.
        if p.value in STDIN_PATHS:
            stdin_code(judge, cmd, ctx, depth, name, spec.language)
        elif not run_file(judge, p, ctx, depth, name, spec.language):
            judge.effect("read", p, ctx, name)
    if module is not None:
        ctx.misses.append(f"{name} -m {module.text}")
        if module.dynamic:
            ctx.add(hidden("dyn.module", f"{name} -m runs a module only known when it runs"))
            return
        judge.argv([module, *rest], cmd, ctx, depth + 1)
        return
    if spec.program_operand and code is None and not has_file_option and rest:
        code, rest = rest[0], rest[1:]
    if code is not None:
        if not is_version_query(args):
            ctx.misses.append(f"{name} code")
        if code.dynamic:
            ctx.add(_unseen("dyn.interpreter-code", f"{name} runs code only known when it runs ({code.text})", code))
        else:
            run_code(judge, spec.language, code.value, name, ctx, depth)
            input_commands(judge, name, code.value, cmd, ctx, depth, args, rest, spec.language)
        for w in rest:
            judge.effect("read", w, ctx, name)  # (-i edits in place: it reads the file too)
            if inplace:
                judge.effect("modify", w, ctx, f"{name} -i")
        return
    a = split_args(args, spec.arg_options)
    if not judge.is_readonly(name, a, args):
        ctx.misses.append(name)
    judge.prefix(name, a, args, ctx)
    if rest:
        script = rest[0]
        url = next((w for w in rest[:3] if URL.match(w.value) and w.value.startswith(("http", "ftp"))), None)
        if url is not None:
            script = url
        if script.dynamic:
            ctx.add(_unseen("dyn.script", f"{name} runs a script only known when it runs ({script.text})", script,
                            hide=script.text.startswith("<(")))
        elif URL.match(script.value):
            ctx.add(remote_code("dyn.download-exec", f"{name} runs code from {script.value}, unseen before it runs"))
        elif script.value in STDIN_PATHS:
            stdin_code(judge, cmd, ctx, depth, name, spec.language)
        elif not run_file(judge, script, ctx, depth, name, spec.language):
            for w in rest:
                judge.effect("read", w, ctx, name)
        return
    if not has_file_option:
        stdin_code(judge, cmd, ctx, depth, name, spec.language)


def run_code(judge: Judge, language: str, text: str, label: str, ctx: Context, depth: int) -> None:
    """Judge what a piece of interpreter code does (``_interp.analyze``)."""
    # Imported here: its ~100 patterns cost a CLI start ~30 ms, and most lines hold no code.
    from ._interp import analyze

    if _FORK.search(text) and _ENDLESS.search(text) and not _STOPS.search(text):
        ctx.add(Finding("block", "proc.fork-bomb", f"{label} code forks in a loop that never ends (a fork bomb)",
                        frozenset({"dangerous"})))
    # A secret named anywhere in the code is read by it, whatever call names it (issue 14 §2).
    secrets(judge, label, [literal(text)], ctx)
    for it in analyze(language, text):
        what = f"{label} {it.what}".strip()
        if it.kind == "shell":
            judge.line(it.arg, ctx, depth + 1, origin=what)
        elif it.kind in ("delete", "write", "modify", "read"):
            judge.effect(it.kind, literal(it.arg, glob="glob" in it.what), ctx, what,
                         option=" (recursive)" if it.recursive else "",
                         recursive=it.recursive)
        elif it.kind == "reverse-shell":
            ctx.add(Finding("block", "interp.reverse-shell", f"{label} connects a socket to a shell (a reverse shell)",
                            frozenset({"dangerous"})))
        elif it.kind == "send":
            ctx.add(Finding("confirm", "net.send-code", f"sending data off the host: {label} code sends a request body "
                            f"({it.what})", frozenset({"system"})))
        elif it.kind == "download-exec":
            ctx.add(remote_code("interp.download-exec", f"{label} downloads code and runs it"))
        else:
            ctx.add(dynamic("interp.opaque", f"{label} code uses {it.what!r}, which the policy cannot follow"))


_FORK = lazy(r"\b(?:os\.fork|fork|forkpty|pcntl_fork|Process\.fork|child_process\.fork|spawn|Process|Thread)\b|"
                   r"\b(?:system|execute|popen|exec)\s*\(?\s*[\"'][^\"']*&\s*[\"']")
"""A fork, or a shell command sent to the background (``os.execute("sh &")``)."""
_ENDLESS = lazy(r"\bwhile\s*\(?\s*(?:1|true|True|!0|not\s+False|\$true)\s*\)?|\buntil\s*\(?\s*(?:0|false|False)\b|"
                      r"\bloop\s*(?:\{|do\b)|\biter\s*\(\s*int\s*,|\b(?:itertools\.)?count\s*\(\s*\)|"
                      r"\bfor\s*\(\s*;\s*;\s*\)|\bforever\b|\brepeat\b|\bcycle\s*\(|\bwhile\s*\(?\s*(?:\w+\.)?fork\b|"
                      r"\b\d+\.step\s*(?:\{|do\b)|Float::INFINITY")
"""Loops that never end: ``while 1``, ``loop { }``, ``iter(int, 1)``, ``for(;;)``."""
_STOPS = lazy(r"\b(?:wait|waitpid|exit|break|last)\b")


def _unseen(rule: str, reason: str, word: Word, *, hide: bool = True) -> Finding:
    """Text a shell or interpreter runs that the line does not show: fetched from the network
    (remote code), hidden (blocked), or a script path only known at run time (confirmed)."""
    if mentions_download(word.text):
        return remote_code(rule, reason)
    return hidden(rule, reason) if hide else dynamic(rule, reason)

