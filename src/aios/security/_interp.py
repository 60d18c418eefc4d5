"""Plain intent in interpreter one-liners (``python -c``, ``perl -e``, ``node -e`` …).

This is not a parser for six languages. It finds the calls whose meaning is plain when their
argument is a string literal (``shutil.rmtree('/')``, ``os.system("rm -rf ~")``,
``fs.rmSync('/etc', {recursive: true})``) so the engine can judge them like the shell
equivalent, and it notices calls of the same kind whose argument it cannot read
(``shutil.rmtree(p)``) and anything else that can touch the system (``exec``, sockets,
``ctypes``), which the engine treats as at least "confirm". Code that uses none of that
(``print(sum(range(10)))``, ``perl -ne 'print if /x/'``) is left alone.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
from collections.abc import Callable

from attrs import frozen

from ._parse import DYN

# A string literal in a C-like language; prefix letters cover Python's r/b/f/u.
_S = r"""(?:[rRbBuUfF]{0,2}(?:'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"))"""
_SB = r"""(?:[rRbBuUfF]{0,2}(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"))"""
_LIT_RE = re.compile(_S)


@frozen
class Intent:
    """Something a one-liner plainly does.

    Attributes:
        kind: ``shell`` (arg is a shell line), ``delete``, ``write``, ``modify``, ``read``
            (arg is a path, :data:`DYN` when not a literal), ``download-exec`` or ``opaque``.
        arg: the shell line or path.
        recursive: a recursive delete (rmtree, rm_rf, rmSync with recursive).
        what: the call, for the reason shown to the person (``shutil.rmtree``).
    """

    kind: str
    arg: str = ""
    recursive: bool = False
    what: str = ""


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def _lits(text: str) -> list[str]:
    out = []
    for m in _LIT_RE.finditer(text):
        a, b = m.group(1), m.group(2)
        out.append(_unescape(a if a is not None else b or ""))
    return out


@frozen
class _Pat:
    regex: re.Pattern[str]
    kind: str
    what: str
    recursive: bool = False
    call: re.Pattern[str] | None = None
    """The same call with any argument; a match not covered by ``regex`` is unresolved."""
    build: Callable[[re.Match[str]], list[str]] | None = None


def _p(call: str, kind: str, what: str, *, recursive: bool = False, after: str = r"\(\s*") -> _Pat:
    # A call must look like one: a parenthesis, or (perl, ruby) an argument right after the name.
    follows = r"\s*\(" if after.startswith(r"\(") else r"(?:\s*\(|\s+[\"'$@\w])"
    return _Pat(re.compile(call + after + _S), kind, what, recursive, re.compile(call + follows))


def _first(m: re.Match[str]) -> list[str]:
    g = [x for x in m.groups() if x is not None]
    return [_unescape(g[0])] if g else []


def _argv_list(m: re.Match[str]) -> list[str]:
    return [shlex.join(_lits(m.group("list")))]


def _cmd_plus_list(m: re.Match[str]) -> list[str]:
    head = _first(m)
    rest = _lits(m.group("list") or "") if m.groupdict().get("list") else []
    return [shlex.join(head + rest) if rest else head[0]] if head else []


_LIST = r"(?P<list>" + _SB + r"(?:\s*,\s*" + _SB + r")+)"
"""Two or more string literals separated by commas: the argv of a list-form call."""


def _spawn_list(m: re.Match[str]) -> list[str]:
    return [shlex.join(_lits(m.group("list"))[1:])]  # spawnlp(mode, FILE, ARGV0, ARGS…): the file is repeated


def _open_mode(m: re.Match[str]) -> list[str]:
    return _first(m)


_PY: tuple[_Pat, ...] = (
    _p(r"(?:\bos\.|\bposix\.|\)\s*\.\s*|\b)(?:system|popen)", "shell", "os.system"),
    _p(r"\bsubprocess\.\w+", "shell", "subprocess"),
    _Pat(re.compile(r"\bsubprocess\.\w+\(\s*\[(?P<list>[^\]]*)\]"), "shell", "subprocess", build=_argv_list),
    _Pat(re.compile(r"\bos\.exec\w*\(\s*" + _SB + r"\s*,\s*\[(?P<list>[^\]]*)\]"), "shell", "os.exec", build=_argv_list),
    _p(r"\bpty\.spawn", "shell", "pty.spawn"),
    _Pat(re.compile(r"\bpty\.spawn\(\s*\[(?P<list>[^\]]*)\]"), "shell", "pty.spawn", build=_argv_list),
    _Pat(re.compile(r"\bos\.spawnl\w*\(\s*[\w.]+\s*,\s*" + _LIST), "shell", "os.spawnl", build=_spawn_list),
    _Pat(re.compile(r"\bos\.exec\w*\(\s*" + _LIST), "shell", "os.exec", build=_spawn_list),
    _p(r"\bcommands\.get\w*", "shell", "commands.getoutput"),
    _p(r"\b(?:shutil\.)?rmtree", "delete", "shutil.rmtree", recursive=True),
    _p(r"\bos\.(?:remove|unlink|rmdir|removedirs)", "delete", "os.remove"),
    _p(r"\bos\.(?:makedirs|mkdir|mkfifo|symlink|link)", "write", "os.makedirs"),
    _Pat(re.compile(r"\bPath\(\s*" + _S + r"\s*\)\s*\.\s*(?:unlink|rmdir)\s*\("), "delete", "Path.unlink"),
    _Pat(re.compile(r"\bopen\(\s*" + _S + r"\s*,\s*(?:mode\s*=\s*)?[rRbB]{0,2}['\"][^'\"]*[wax+][^'\"]*['\"]"), "write", "open", call=re.compile(r"\bopen\s*\(")),
    _Pat(re.compile(r"\bopen\(\s*" + _S + r"\s*(?:,\s*(?:mode\s*=\s*)?['\"][rbt]*['\"]\s*)?\)"), "read", "open"),
    _Pat(re.compile(r"\bPath\(\s*" + _S + r"\s*\)\s*\.\s*(?:write_text|write_bytes|touch|mkdir|symlink_to|hardlink_to)\s*\("), "write", "Path.write_text"),
    _Pat(re.compile(r"\bPath\(\s*" + _S + r"\s*\)\s*\.\s*(?:read_text|read_bytes|open)\s*\(\s*\)"), "read", "Path.read_text"),
    _Pat(re.compile(r"\bshutil\.(?:copy\w*|move)\(\s*" + _SB + r"\s*,\s*" + _S), "write", "shutil.copy", call=re.compile(r"\bshutil\.(?:copy\w*|move)\s*\(")),
    _p(r"\bos\.(?:chmod|chown|lchown|truncate)", "modify", "os.chmod"),
    _Pat(re.compile(r"\bPath\(\s*" + _S + r"\s*\)\s*\.\s*chmod\s*\("), "modify", "Path.chmod"),
)
_PY_RISKY = re.compile(
    r"\b(?:exec|eval|compile|__import__|getattr|setattr|delattr|globals|breakpoint)\s*\("
    r"|\b(?:importlib|ctypes|cffi|pickle|marshal|socket|pty|subprocess|ftplib|smtplib|"
    r"telnetlib|paramiko|multiprocessing|asyncio\.create_subprocess\w*|signal)\s*\."
    r"|\bshutil\.(?!which|disk_usage|get_terminal_size)\w+"
    r"|\bos\.(?!path\b|getcwd|environ|getenv|cpu_count|getpid|getppid|getuid|geteuid|getgid|getegid|getlogin|"
    r"uname|sep\b|linesep|name\b|listdir|scandir|stat|lstat|access|get_terminal_size|urandom|walk|getloadavg|"
    r"times|devnull|curdir|pardir|fspath|fsencode|fsdecode|pathsep|extsep|altsep|getgroups|sysconf|confstr|"
    r"isatty|strerror|get_exec_path|major|minor)\w+"
    r"|\bopen\s*\(|\.\s*(?:write_text|write_bytes|unlink|rmdir|chmod|touch|mkdir|rename|symlink_to|"
    r"hardlink_to|rmtree)\s*\("
    r"|__builtins__|__subclasses__|__globals__|\bsys\.modules"
)
_PY_NET = re.compile(r"\b(?:urllib|urlopen|urlretrieve|requests|httpx|http\.client|socket|wget)\b")
_ANY_NET = re.compile(r"https?://|ftp://|\b(?:LWP|HTTP::Tiny|Net::HTTP|get\s*\(|getstore|file_get_contents|curl_exec|"
                      r"fopen\s*\(\s*['\"]https?|open-uri|Net::HTTP|URI\.open|fetch\s*\(|https?\.get|axios|"
                      r"socket\.http|http\.request|download\.file|url\s*\(|readLines\s*\(\s*['\"]https?)")
"""Code in any language that fetches from the network."""
_ANY_EXEC = re.compile(r"\b(?:eval|exec|system|popen|spawn\w*|passthru|shell_exec|instance_eval|class_eval|"
                       r"loadstring|load|dofile|source|Function|vm\.run\w*)\s*\(?|`")
"""… and runs what it fetched (eval, exec, system, load …)."""
_SENDS = re.compile(r"\burlopen\s*\([^)]*\bdata\s*=|\b(?:requests|httpx|session|axios|got)\.(?:post|put|patch)\s*\(|"
                    r"\.request\s*\(\s*['\"](?:POST|PUT|PATCH)|\bmethod\s*[:=]\s*['\"](?:POST|PUT|PATCH)|"
                    r"\bNet::HTTP\.post|->\s*(?:post|put)\s*\(|\bsmtplib\.SMTP|\bsendmail\s*\(")
"""Code that sends a request body to another machine (issue 14: confirmed like ``curl -d``)."""
_PY_EXEC = re.compile(r"\b(?:exec|eval|compile|system|popen|subprocess|spawn\w*|execv\w*)\b")

_PERL: tuple[_Pat, ...] = (
    _p(r"\b(?:system|exec)", "shell", "system", after=r"\s*\(?\s*"),
    _Pat(re.compile(r"\b(?:system|exec)\s*\(?\s*" + _LIST), "shell", "system", build=_argv_list),
    _Pat(re.compile(r"`([^`]*)`"), "shell", "backticks", build=lambda m: [m.group(1)]),
    _Pat(re.compile(r"\bqx\s*(?:\{([^}]*)\}|\(([^)]*)\)|/([^/]*)/|\[([^\]]*)\]|\|([^|]*)\|)"), "shell", "qx"),
    _p(r"\b(?:rmtree|remove_tree)", "delete", "File::Path::rmtree", recursive=True, after=r"\s*\(?\s*"),
    _p(r"\b(?:unlink|rmdir)", "delete", "unlink", after=r"\s*\(?\s*"),
    _Pat(re.compile(r"\bunlink\s*\(?\s*(?:glob\s*\(\s*" + _S + r"|<([^<>]+)>)"), "delete", "unlink glob",
         build=lambda m: [next(g for g in m.groups() if g is not None)]),
    _Pat(re.compile(r"\bopen\s*\(?\s*(?:my\s+)?[$\w]+\s*,\s*['\"]\+?(?:>>?|\+<)['\"]\s*,\s*" + _S), "write", "open"),
    _Pat(re.compile(r"\bopen\s*\(?\s*(?:my\s+)?[$\w]+\s*,\s*['\"]\+?>>?\s*([^'\"|]+)['\"]"), "write", "open"),
    _Pat(re.compile(r"\bopen\s*\(?\s*(?:my\s+)?[$\w]+\s*,\s*['\"]<?\s*([^'\"|<>]+)['\"]\s*\)"), "read", "open"),
    _p(r"\b(?:chmod|chown)\s*\(?\s*[\d\-$\w]+\s*,", "modify", "chmod", after=r"\s*"),
)
_PERL_RISKY = re.compile(
    r"\b(?:system|exec|unlink|rmdir|rmtree|remove_tree|open|sysopen|rename|chmod|chown|kill|fork|socket|"
    r"syscall|eval|truncate|symlink|link|mkdir|utime|require|do|qx)\b|`|\b(?:LWP|HTTP|IO::Socket|Net|File::Path)\b"
)

_RUBY: tuple[_Pat, ...] = (
    _p(r"\b(?:system|exec|spawn)", "shell", "system", after=r"\s*\(?\s*"),
    _Pat(re.compile(r"\b(?:system|exec|spawn|IO\.popen|Open3\.\w+)\s*\(?\s*\[?\s*" + _LIST), "shell", "system",
         build=_argv_list),
    _Pat(re.compile(r"`([^`]*)`"), "shell", "backticks", build=lambda m: [m.group(1)]),
    _Pat(re.compile(r"%x\s*(?:\(([^)]*)\)|\{([^}]*)\}|\[([^\]]*)\])"), "shell", "%x"),
    _p(r"\b(?:IO\.popen|Open3\.\w+)", "shell", "IO.popen", after=r"\s*\(?\s*"),
    _p(r"\bFileUtils\.(?:rm_rf|rm_r|remove_dir|remove_entry|remove_entry_secure|rmtree)", "delete", "FileUtils.rm_rf", recursive=True, after=r"\s*\(?\s*"),
    _p(r"\bFileUtils\.(?:rm|rm_f|remove|rmdir)", "delete", "FileUtils.rm", after=r"\s*\(?\s*"),
    _p(r"\b(?:File|Dir)\.(?:delete|unlink|rmdir)", "delete", "File.delete", after=r"\s*\(?\s*"),
    _p(r"\bFile\.(?:write|binwrite)", "write", "File.write", after=r"\s*\(?\s*"),
    _Pat(re.compile(r"\bFile\.open\s*\(?\s*" + _S + r"\s*,\s*['\"][^'\"]*[wa+][^'\"]*['\"]"), "write", "File.open"),
    _p(r"\bFile\.(?:read|readlines|foreach|binread)", "read", "File.read", after=r"\s*\(?\s*"),
    _p(r"\bFileUtils\.(?:chmod|chown|chmod_R|chown_R)\s*\(?\s*[^,]+,", "modify", "FileUtils.chmod", after=r"\s*"),
)
_RUBY_RISKY = re.compile(
    r"\b(?:system|exec|spawn|fork|eval|instance_eval|class_eval|module_eval|send|public_send|syscall|"
    r"load|open)\b|`|%x|\brequire\s*\(?\s*['\"](?!(?:fileutils|json|set|date|time|yaml|pp|securerandom|digest|csv|erb|"
    r"optparse|pathname|English|benchmark|bigdecimal|logger|stringio|tempfile|tmpdir|etc)['\"])|\b(?:FileUtils|Kernel|Process|Open3|Socket|TCPSocket|UDPSocket|Net|URI)\b"
    r"|\b(?:File|Dir|IO)\.(?!exist\?|basename|dirname|extname|join|expand_path|file\?|directory\?|size|mtime|pwd|"
    r"home|glob|entries|children|read|readlines|foreach|stat)\w+"
)

_NODE: tuple[_Pat, ...] = (
    _Pat(re.compile(r"\b(?:execSync|exec|execFileSync|execFile|spawnSync|spawn)\s*\(\s*" + _S + r"(?:\s*,\s*\[(?P<list>[^\]]*)\])?"),
         "shell", "child_process", call=re.compile(r"\b(?:execSync|exec|execFileSync|execFile|spawnSync|spawn)\s*\("),
         build=_cmd_plus_list),
    _p(r"\b(?:rmSync|rm|rimraf|rimrafSync|removeSync|remove|emptyDirSync|rmdirSync|rmdir)", "delete", "fs.rmSync", recursive=True),
    _p(r"\b(?:unlinkSync|unlink)", "delete", "fs.unlinkSync"),
    _p(r"\b(?:writeFileSync|writeFile|appendFileSync|appendFile|createWriteStream|truncateSync|outputFileSync|mkdirSync|symlinkSync)", "write", "fs.writeFileSync"),
    _Pat(re.compile(r"\b(?:copyFileSync|copyFile|renameSync|rename|cpSync)\s*\(\s*" + _SB + r"\s*,\s*" + _S), "write", "fs.copyFileSync",
         call=re.compile(r"\b(?:copyFileSync|copyFile|renameSync|rename|cpSync)\s*\(")),
    _p(r"\b(?:readFileSync|readFile|createReadStream)", "read", "fs.readFileSync"),
    _p(r"\b(?:chmodSync|chownSync|chmod|chown)", "modify", "fs.chmodSync"),
)
_NODE_RISKY = re.compile(
    r"\b(?:child_process|execSync|execFileSync|spawnSync|eval|Function|vm|dlopen|binding|"
    r"dgram|tls|Deno|Bun|writeFileSync|unlinkSync|rmSync|rmdirSync)\b"
    r"|\b(?:http|https|net)\s*\.\s*(?:request|get|connect|createConnection)"
    r"|\brequire\s*\(\s*['\"](?!\.{1,2}/[^'\"]*\.json['\"])(?!(?:node:)?(?:os|path|util|url|crypto|assert|events|querystring|buffer|zlib|"
    r"readline|fs|fs/promises|string_decoder|punycode|perf_hooks|timers)['\"])"
    r"|\bimport\s*\(|\bprocess\s*\.\s*(?:kill|binding|dlopen|setuid|setgid|chdir)"
)

_PHP: tuple[_Pat, ...] = (
    _p(r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec)", "shell", "shell_exec"),
    _Pat(re.compile(r"`([^`]*)`"), "shell", "backticks", build=lambda m: [m.group(1)]),
    _p(r"\b(?:unlink|rmdir)", "delete", "unlink"),
    _p(r"\b(?:file_put_contents|touch|mkdir)", "write", "file_put_contents"),
    _Pat(re.compile(r"\bfopen\s*\(\s*" + _S + r"\s*,\s*['\"][^'\"]*[wax+]"), "write", "fopen"),
    _p(r"\b(?:file_get_contents|readfile|file|fopen)", "read", "file_get_contents"),
    _p(r"\b(?:chmod|chown|chgrp)", "modify", "chmod"),
)
_PHP_RISKY = re.compile(
    r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|eval|assert|create_function|include|"
    r"require|include_once|require_once|curl_\w+|fsockopen|stream_socket_\w+|mail|chmod|chown|rename|copy|"
    r"symlink|link|mkdir|touch|putenv|dl|ini_set|call_user_func\w*|unlink|rmdir|file_put_contents|fopen|fwrite)\s*\(|`"
)

_LUA: tuple[_Pat, ...] = (
    _p(r"\b(?:os\.execute|io\.popen)", "shell", "os.execute", after=r"\s*\(?\s*"),
    _p(r"\bos\.remove", "delete", "os.remove", after=r"\s*\(?\s*"),
    _Pat(re.compile(r"\bio\.open\s*\(\s*" + _S + r"\s*,\s*['\"][^'\"]*[wa+]"), "write", "io.open"),
)
_LUA_RISKY = re.compile(r"\b(?:os\.execute|io\.popen|os\.remove|os\.rename|io\.open|loadstring|load|dofile|require|debug)\b")

_R: tuple[_Pat, ...] = (
    _p(r"\b(?:system|system2|shell)", "shell", "system"),
    _p(r"\bunlink", "delete", "unlink", recursive=True),
    _p(r"\bfile\.remove", "delete", "file.remove"),
)
_R_RISKY = re.compile(
    r"\b(?:system|system2|shell|unlink|file\.remove|file\.rename|writeLines|write|sink|download\.file|source|eval|"
    r"parse|Sys\.chmod|file\.copy|dir\.create|file\.create|saveRDS|save|url|socketConnection)\s*\("
)

_TCL: tuple[_Pat, ...] = (
    _Pat(re.compile(r"\b(?:exec|spawn)\s+([^\]\n;]+)"), "shell", "exec", build=lambda m: [m.group(1)]),
    _Pat(re.compile(r"\bfile\s+delete\s+(?:-force\s+)?(?:--\s+)?(\S+)"), "delete", "file delete", recursive=True,
         build=lambda m: [m.group(1).strip("\"{}")]),
)
_TCL_RISKY = re.compile(r"\b(?:exec|spawn|open|socket|eval|file\s+(?:delete|rename|copy|mkdir|attributes)|source|load)\b")

_AWK_STR = r'"((?:[^"\\]|\\.)*)"'
_AWK_SHELL = r'"(?:/usr)?(?:/bin/)?(?:ba|da|z|k|a)?sh(?:\s+-\w+)*"'
_AWK: tuple[_Pat, ...] = (
    # print "CMD" | "sh": the printed text is the command line.
    _Pat(re.compile(r"\bprint[f]?\s*\(?\s*" + _AWK_STR + r"\s*\)?\s*\|\s*" + _AWK_SHELL), "shell", "print | sh"),
    _Pat(re.compile(r"\|\s*" + _AWK_SHELL), "opaque", "print | sh", build=lambda m: [""]),
    _Pat(re.compile(r"\bsystem\s*\(\s*" + _AWK_STR + r"\s*\)"), "shell", "system", call=re.compile(r"\bsystem\s*\(")),
    _Pat(re.compile(_AWK_STR + r"\s*\|\s*getline"), "shell", "getline", call=re.compile(r"\|\s*getline")),
    _Pat(re.compile(r"\bprint[f]?\b[^;}\n]*?\|\s*" + _AWK_STR), "shell", "print |", call=re.compile(r"\bprint[f]?\b[^;}\n]*?\|")),
    _Pat(re.compile(r"\bprint[f]?\b[^;}\n]*?>>?\s*" + _AWK_STR), "write", "print >", call=re.compile(r"\bprint[f]?\b[^;}\n]*?>")),
)
_AWK_RISKY = re.compile(r"\bsystem\s*\(|\|\s*getline|\|&|\bprint[f]?\b[^;}\n]*?[|>]")

_LANGS: dict[str, tuple[tuple[_Pat, ...], re.Pattern[str]]] = {
    "python": (_PY, _PY_RISKY),
    "perl": (_PERL, _PERL_RISKY),
    "ruby": (_RUBY, _RUBY_RISKY),
    "node": (_NODE, _NODE_RISKY),
    "php": (_PHP, _PHP_RISKY),
    "lua": (_LUA, _LUA_RISKY),
    "r": (_R, _R_RISKY),
    "tcl": (_TCL, _TCL_RISKY),
    "awk": (_AWK, _AWK_RISKY),
}


_HOME_EXPR = re.compile(
    r"""os\.path\.expanduser\(\s*(['"])~([^'"]*)\1\s*\)|Path\.home\(\)|os\.(?:environ\[\s*['"]HOME['"]\s*\]|getenv\(\s*['"]HOME['"]\s*\))"""
    r"""|process\.env\.HOME|os\.homedir\(\)|ENV\[\s*['"]HOME['"]\s*\]|Dir\.home|\$ENV\{\s*['"]?HOME['"]?\s*\}"""
)
_SOCKET = re.compile(r"\b(?:socket|Socket|TCPSocket|fsockopen|fdopen|net\.connect|net\.Socket|createConnection|IO::Socket|/dev/tcp/)"
                     r"|/inet[46]?/(?:tcp|udp)/|\brequire\s*\(?\s*['\"]net['\"]")
# A shell, or a command read at run time (a variable, not a literal) handed to popen/exec/system
# or awk's `cmd |& getline`: with a socket in the same code, commands come from the network.
_SHELL_HANDOFF = re.compile(r"\bdup2\b|pty\.spawn|['\"`](?:/bin/)?(?:ba|z|da)?sh(?:\s+-i)?(?:\s*\d*[<>]&?\s*[\d%$][^'\"`]*)?['\"`]|cmd\.exe|\bexec\s*\(\s*['\"]/bin"
                            r"|\b(?:popen|execute|system|exec|execSync|spawn|spawnSync|passthru|shell_exec)\s*\(\s*[A-Za-z_]"
                            r"|\b[A-Za-z_]\w*\s*\|&\s*getline|`#\{|\b(?:system|exec)\s*\$|STDIN->fdopen|open\s*\(?\s*STDIN\s*,")


def _home_literals(code: str) -> str:
    def repl(m: re.Match[str]) -> str:
        rest = m.group(2) if m.group(2) is not None else ""
        return f"'~{rest}'"

    return _HOME_EXPR.sub(repl, code)


_QUOTE_OP = re.compile(r"(?<![\w$@%&])(?:qq?|%[qQ]?)\s*(?:\(([^()]*)\)|\{([^{}]*)\}|\[([^\[\]]*)\]|<([^<>]*)>|/([^/]*)/)")
"""perl ``q(…)``/``qq{…}`` and ruby ``%q(…)``/``%Q[…]``/``%(…)``: quoted strings by another spelling."""


_WORDS_OP = re.compile(r"%[wW]\s*(?:\(([^()]*)\)|\{([^{}]*)\}|\[([^\[\]]*)\])")
"""ruby ``%w[rm -rf /]``: an array of words."""


def _as_literal(m: re.Match[str]) -> str:
    text = next(g for g in m.groups() if g is not None)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_B64_LITERAL = re.compile(r"\b(?:base64\.)?b64decode\(\s*[bBuU]?['\"]([A-Za-z0-9+/=\s]+)['\"]\s*\)(?:\.decode\(\s*(?:['\"][\w-]+['\"])?\s*\))?")
"""``base64.b64decode('cm0gLXJmIC8=')``: a literal decoded where it stands, so the call that uses it reads it."""


def _decoded(m: re.Match[str]) -> str:
    try:
        text = base64.b64decode("".join(m.group(1).split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return m.group(0)
    return repr(text)


def _py_unalias(code: str) -> str:
    """``import subprocess as s`` / ``from os import system as run``: calls spelled through an
    alias are rewritten to the full name, so ``s.call([...])`` reads as ``subprocess.call([...])``."""
    code = re.sub(r"\b__import__\(\s*['\"]([\w.]+)['\"]\s*\)", r"\1", code)  # __import__("os").system(…)
    for mod, alias in re.findall(r"\bimport\s+([\w.]+)\s+as\s+(\w+)", code):
        code = re.sub(rf"(?<![\w.]){re.escape(alias)}\s*\.", f"{mod}.", code)
    for mod, name, alias in re.findall(r"\bfrom\s+([\w.]+)\s+import\s+(\w+)\s+as\s+(\w+)", code):
        code = re.sub(rf"(?<![\w.]){re.escape(alias)}\s*\(", f"{mod}.{name}(", code)
    return code


def _awk_text(code: str) -> str:
    """awk's calls and pipes are never inside a string: ``print "system(x)"`` is text (blanked)."""
    return re.sub(r'"(?:[^"\\\n]|\\.)*"', lambda m: '"' + " " * (len(m.group()) - 2) + '"', code)


def analyze(language: str, code: str) -> list[Intent]:
    """The plain intents of ``code``; unknown languages give one ``opaque`` intent."""
    table = _LANGS.get(language)
    if table is None:
        return [Intent("opaque", what=language)]
    pats, risky = table
    out: list[Intent] = []
    if _SOCKET.search(code) and _SHELL_HANDOFF.search(code):
        out.append(Intent("reverse-shell", what="socket handed to a shell"))
    code = _home_literals(code)
    if language == "ruby":
        code = _WORDS_OP.sub(lambda m: "[" + ", ".join(f'"{w}"' for w in next(
            g for g in m.groups() if g is not None).split()) + "]", code)
    if language in ("perl", "ruby"):
        code = _QUOTE_OP.sub(_as_literal, code)
    if language == "python":
        code = _B64_LITERAL.sub(_decoded, _py_unalias(code))
    masked = list(code)
    covered: list[tuple[int, int]] = []
    for pat in pats:
        for m in pat.regex.finditer(code):
            args = pat.build(m) if pat.build is not None else _first(m)
            rec = pat.recursive
            if pat.what == "fs.rmSync":
                rec = "recursive" in code or "rimraf" in m.group(0) or "remove" in m.group(0)
            for a in args:
                out.append(Intent(pat.kind, a, rec, pat.what))
            covered.append((m.start(), m.end()))
            for i in range(m.start(), m.end()):
                masked[i] = " "
    # Calls of the same kind whose argument is not a literal: the target is unknown.
    for pat in pats:
        if pat.call is None:
            continue
        for m in pat.call.finditer(_awk_text(code) if language == "awk" else code):
            if any(s <= m.start() < e for s, e in covered):
                continue
            kind = "opaque" if pat.kind == "shell" else pat.kind
            out.append(Intent(kind, DYN, pat.recursive, pat.what))
            covered.append((m.start(), m.end()))
            for i in range(m.start(), m.end()):
                masked[i] = " "
    rest = "".join(masked)
    if language == "awk":
        rest = _awk_text(rest)
    sends = _SENDS.search(code)
    if sends:
        out.append(Intent("send", what=sends.group(0).strip()))
    if (language == "python" and _PY_NET.search(code) and _PY_EXEC.search(code)) or (
            _ANY_NET.search(code) and _ANY_EXEC.search(code)):
        out.append(Intent("download-exec", what="download and run"))
    elif risky.search(rest):
        out.append(Intent("opaque", what=risky.search(rest).group(0).strip()))  # type: ignore[union-attr]
    return out
