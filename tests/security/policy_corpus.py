"""The corpora of command lines with expected decisions (shared by the tests and the benchmark)."""

from __future__ import annotations

from pathlib import Path

from attrs import frozen

HERE = Path(__file__).resolve().parent
HOME = Path("/home/u")
WORKSPACE = HOME / "proj"
PROTECTED = (HOME / ".local/state/aios", Path("/run/user/1000/aios"))
EXPECTS = ("allow", "confirm", "block", "flag")


@frozen
class Case:
    expect: str
    command: str
    reason: str
    line: int

    def ok(self, action: str) -> bool:
        if self.expect == "flag":
            return action in ("confirm", "block")
        return action == self.expect


def load(name: str) -> list[Case]:
    """``EXPECT :: COMMAND :: REASON`` lines; ``⏎`` in COMMAND is a newline; ``#`` starts a comment line."""
    cases = []
    for n, raw in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split(" :: ")
        if len(parts) < 3 or parts[0] not in EXPECTS:
            raise ValueError(f"{name}:{n}: expected 'EXPECT :: COMMAND :: REASON', got {raw!r}")
        cases.append(Case(parts[0], " :: ".join(parts[1:-1]).replace("⏎", "\n"), parts[-1], n))
    return cases
