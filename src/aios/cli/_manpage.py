"""The manual page aios(1), generated from the cyclopts app that parses the command line.

``./dev setup`` runs ``python -m aios.cli._manpage DIR`` to write ``DIR/man1/aios.1``
(``.venv/share/man``, which ``man`` searches for a ``.venv/bin`` on ``PATH``), so the page lists
exactly the commands, arguments and options of the installed ``aios``, with their help texts.
The page is plain roff (the ``man`` macros) and carries no date, so it is reproducible.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DESCRIPTION = """\
aios lets a language model manage this machine, safely: every action the model (or a person,
with aios run) asks for goes through a policy check, a confirmation when the policy asks for
one, a snapshot before anything that changes the system, a bubblewrap jail, and a record in the
shared memory. The daemon, aios-runtime, does the work; this command talks to it over a Unix
socket.

Every command that prints data takes --json: one JSON document on stdout, progress and warnings
on stderr. A failure is one line on stderr, starting with "aios:", that says what to fix."""

ENVIRONMENT = [
    ("AIOS_CONFIG", "The user config file (default $XDG_CONFIG_HOME/aios/config.toml)."),
    ("AIOS_SYSTEM_CONFIG", "The system config file (default /etc/aios/config.toml)."),
    ("AIOS_SOCKET", "The daemon socket a client talks to."),
    ("AIOS_SECTION__KEY", "Any config key, e.g. AIOS_SECURITY__MODE=paranoid (double underscores between levels)."),
    ("AIOS_ORIGIN", "The host or container name written into records and snapshots (default: the hostname)."),
    ("AIOS_DEBUG", "When set, an internal error also prints its traceback on stderr."),
    ("COLUMNS", "Width of tables when the output is not a terminal (default 200)."),
]

FILES = [
    ("/etc/aios/config.toml", "System config; may pin security settings ([pin.security])."),
    ("$XDG_CONFIG_HOME/aios/config.toml", "User config."),
    ("$XDG_STATE_HOME/aios/", "State of a user daemon: memory.db, snapshots/; also cli-errors.log, the tracebacks of internal errors."),
    ("$XDG_RUNTIME_DIR/aios/aios.sock", "Socket of a user daemon; /run/aios/aios.sock for the system daemon."),
    ("/var/lib/aios/", "State of the system daemon."),
]


def _esc(text: str) -> str:
    """Text as roff reads it literally: backslashes, hyphens, and dots or quotes starting a line."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in out.splitlines())


def _paragraphs(text: str) -> str:
    """Help text (markdown-ish) as roff paragraphs: blank lines separate them."""
    blocks = [" ".join(b.split()) for b in text.strip().replace("`", "").split("\n\n") if b.strip()]
    return "\n.PP\n".join(_esc(b) for b in blocks)


def _commands(app: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, sub in app.resolved_commands().items():
        if name.startswith("-") or not sub.show:
            continue
        yield (*prefix, name), sub
        yield from _commands(sub, (*prefix, name))


def _arguments(sub: Any) -> list[Any]:
    return [a for a in sub.assemble_argument_collection(parse_docstring=True) if a.show]


def _metavar(arg: Any) -> str:
    return str(arg.name).lstrip("-").upper().replace("-", "_")


def _synopsis(words: tuple[str, ...], args: list[Any]) -> str:
    parts = [f"\\fBaios {_esc(' '.join(words))}\\fR"]
    if any(not _positional(a) for a in args):
        parts.append("[\\fIOPTIONS\\fR]")
    for a in args:
        if a.field_info.kind is inspect.Parameter.VAR_POSITIONAL:
            parts.append(f"[\\fB\\-\\-\\fR] \\fI{_metavar(a)}\\fR...")
        elif _positional(a):
            meta = f"\\fI{_metavar(a)}\\fR"
            parts.append(meta if a.required else f"[{meta}]")
    return " ".join(parts)


def _positional(arg: Any) -> bool:
    return arg.field_info.kind in (
        inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)


def _option(arg: Any) -> list[str]:
    names = ", ".join(f"\\fB{_esc(n)}\\fR" for n in arg.names)
    if _positional(arg):
        names = f"\\fI{_metavar(arg)}\\fR"
    elif not arg.is_flag():
        names += f" \\fI{_metavar(arg)}\\fR"
    help_text = arg.parameter.help or ""
    default = arg.field_info.default
    if not _positional(arg) and not arg.is_flag() and default not in (None, inspect.Parameter.empty, "", [], ()):
        help_text += f" Default: {default}."
    return [".TP", names, _esc(" ".join(help_text.split())) if help_text else ""]


def _description(sub: Any) -> str:
    doc = inspect.getdoc(sub.default_command) if sub.default_command is not None else None
    return doc or sub.help or ""


def render() -> str:
    """The whole page, as roff."""
    from aios import __version__

    from ._app import EXIT_CODES, app

    intro, _sep, _rest = (app.help or "").partition("\n\n")
    lines = [
        '.\\" Generated by aios.cli._manpage from the command-line definition; do not edit.',
        f'.TH AIOS 1 "" "aios {__version__}" "User Commands"',
        ".SH NAME",
        "aios \\- " + _esc(intro.removeprefix("aios: ").rstrip(".")),
        ".SH SYNOPSIS",
        "\\fBaios\\fR [\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGUMENTS\\fR]",
        ".SH DESCRIPTION",
        _paragraphs(DESCRIPTION),
        ".PP",
        "Every command takes \\fB\\-\\-help\\fR. Commands that talk to the daemon start a user daemon "
        "when none answers, unless \\fB\\-\\-no\\-autostart\\fR or daemon.autostart = false.",
        ".SH GLOBAL OPTIONS",
        "They come before the command.",
    ]
    for arg in _arguments(app.meta):
        lines += _option(arg)
    lines.append(".SH COMMANDS")
    for words, sub in _commands(app):
        args = _arguments(sub) if sub.default_command is not None else []
        lines += [".SS", _synopsis(words, args) if sub.default_command is not None else f"\\fBaios {_esc(' '.join(words))}\\fR \\fICOMMAND\\fR"]
        lines.append(_paragraphs(_description(sub)))
        for arg in args:
            lines += _option(arg)
    lines += [".SH EXIT STATUS", _paragraphs(EXIT_CODES.removeprefix("Exit codes: "))]
    lines.append(".SH ENVIRONMENT")
    for name, what in ENVIRONMENT:
        lines += [".TP", f"\\fB{_esc(name)}\\fR", _esc(what)]
    lines.append(".SH FILES")
    for name, what in FILES:
        lines += [".TP", f"\\fI{_esc(name)}\\fR", _esc(what)]
    lines += [".SH SEE ALSO", "\\fBaios\\-runtime\\fR \\-\\-help; docs/ in the aios sources (config.md, security.md, protocol.md)."]
    return "\n".join(line for line in lines if line != "") + "\n"


def install(man_dir: Path) -> Path:
    """Write ``man_dir/man1/aios.1``; return its path."""
    target = man_dir / "man1" / "aios.1"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render())
    return target


def main(argv: list[str] | None = None) -> int:
    """``python -m aios.cli._manpage [MAN_DIR]``: write the page there, or print it."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stdout.write(render())
        return 0
    try:
        print(f"wrote {install(Path(args[0]))}")
    except OSError as exc:
        print(f"aios: cannot write the manual page under {args[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
