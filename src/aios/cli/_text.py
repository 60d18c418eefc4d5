"""Text someone else chose, made safe to show a person who decides on it (no rich import)."""

from __future__ import annotations


def printable(text: object) -> str:
    """``text`` safe to show a person deciding on it: control and format characters (ESC, CR,
    backspace, bidi overrides, zero-width ones …) are shown as escapes, so text someone else
    chose cannot redraw what the terminal shows. Newlines become ``\\n``: a command is one line."""
    import unicodedata

    out = []
    for ch in str(text):
        if ch == "\t":
            out.append("    ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)
