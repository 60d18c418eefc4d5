"""Rich output for people (imported only by commands that print tables)."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _piped_width() -> int:
    """COLUMNS when it is a positive number (a shell may export anything there), else 200."""
    text = os.environ.get("COLUMNS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else 200


# Piped output is not squeezed into 80 columns (rich's default without a terminal): tables are
# as wide as their content unless COLUMNS says otherwise.
out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else _piped_width())
err = Console(stderr=True, highlight=False)


def table(columns: list[str], rows: list[list[Any]], *, title: str | None = None) -> None:
    t = Table(title=title, show_edge=False, header_style="bold")
    for col in columns:
        if col == "id":  # ULIDs are copied into other commands: never fold them
            t.add_column(col, no_wrap=True, min_width=26)
        else:  # folds on a narrow terminal rather than hiding anything
            t.add_column(col, overflow="fold")
    for row in rows:
        # Cells are data (commands, paths, model text): rich must never read them as markup. A
        # Text cell is styled on purpose by its caller (who made its text safe with cell()).
        t.add_row(*[c if isinstance(c, Text) else Text(cell(c)) for c in row])
    out.print(t)


def cell(value: object) -> str:
    """A table cell with control characters shown as escapes (kept: its line breaks)."""
    from ._text import printable

    return "\n".join(printable(line) for line in str(value).split("\n"))


def short_time(iso: str) -> str:
    return iso.replace("T", " ")[:19] if isinstance(iso, str) else str(iso)


def is_tty() -> bool:
    return sys.stdout.isatty()

