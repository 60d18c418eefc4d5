"""GNU sed scripts: which commands run programs (``e``, ``s///e``), write (``w``) or read (``r``)."""

from __future__ import annotations

from ._regex_cache import lazy

SED_ADDR = lazy(r"""(?:\d+(?:~\d+)?|\$|/(?:[^/\\\n]|\\.)*/[IM]*|\\(.)(?:(?!\1)[^\\\n]|\\.)*\1[IM]*)""")


def sed_actions(script: str) -> list[tuple[str, str]]:
    """What a GNU sed script does besides editing text: ``("exec", CMD)`` for ``e CMD`` (CMD empty:
    the pattern space is run, as with ``s///e``), ``("write", FILE)`` for ``w``/``W`` and the
    ``w`` flag of ``s``, ``("read", FILE)`` for ``r``/``R``."""
    out: list[tuple[str, str]] = []
    i = 0
    n = len(script)

    def rest_of_line(j: int) -> tuple[str, int]:
        k = script.find("\n", j)
        k = n if k == -1 else k
        return script[j:k].strip(), k

    while i < n:
        c = script[i]
        if c in " \t\n;{}!":
            i += 1
            continue
        # addresses: N, $, /re/, \cREc, first~step, ranges and +N/~N
        m = SED_ADDR.match(script, i)
        if m is not None and m.end() > i:
            i = m.end()
            while i < n and script[i] in " \t,+~0123456789":
                i += 1
            if i < n and script[i] in "/\\$":
                m2 = SED_ADDR.match(script, i)
                if m2 is not None and m2.end() > i:
                    i = m2.end()
            continue
        i += 1
        if c == "#" or c == ":":
            i = rest_of_line(i)[1]
        elif c in "aic":
            i = rest_of_line(i)[1]
        elif c in "wWrR":
            arg, i = rest_of_line(i)
            if arg:
                out.append(("write" if c in "wW" else "read", arg))
        elif c == "e":
            arg, i = rest_of_line(i)
            out.append(("exec", arg))
        elif c in "btTvlqQLz":
            while i < n and script[i] not in ";\n}":
                i += 1
        elif c in "sy":
            if i >= n:
                break
            delim = script[i]
            i += 1
            for _ in range(2):
                while i < n and script[i] != delim:
                    i += 2 if script[i] == "\\" else 1
                i += 1
            if c == "s":
                while i < n and script[i] not in ";\n}":
                    f = script[i]
                    if f == "e":
                        out.append(("exec", ""))
                    elif f == "w":
                        arg, i = rest_of_line(i + 1)
                        if arg:
                            out.append(("write", arg))
                        break
                    i += 1
    return out
