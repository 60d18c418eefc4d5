"""Remembered approvals, in the only two forms aios allows.

- *session*: "this exact command, for the rest of this session" — the person answered ``s`` to a
  confirmation. Kept in the daemon's memory only; gone when the daemon stops.
- *prefix*: an explicit prefix rule the person typed (``aios policy grant -- git push``): commands
  that start with these words are allowed instead of confirmed. Stored in
  ``<state_dir>/grants.json``. A prefix grant never overrides a block, and never applies in
  paranoid mode.

Never "this program, everywhere, forever": a grant names its words exactly, and single-word
grants of shells, interpreters and privilege wrappers are refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from ulid import ULID

from aios.errors import InvalidParams

TOO_BROAD = frozenset(
    "sh bash dash zsh ksh fish busybox env sudo doas su pkexec eval exec command xargs nohup nice timeout "
    "python python3 perl ruby node php lua rm dd mkfs chmod chown find".split()
)


class GrantStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.session: list[dict[str, Any]] = []

    def _load(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except ValueError:
            return []  # a damaged file grants nothing
        return [g for g in data if isinstance(g, dict) and isinstance(g.get("prefix"), list)]

    def _save(self, grants: list[dict[str, Any]]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(grants, indent=1), encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def _locked(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def prefixes(self) -> list[tuple[str, ...]]:
        return [tuple(g["prefix"]) for g in self._load()]

    def add_prefix(self, words: list[str], *, uid: int, note: str = "") -> dict[str, Any]:
        words = [w for w in words if w]
        if not words:
            raise InvalidParams("a prefix grant needs at least one word")
        if len(words) == 1 and os.path.basename(words[0]) in TOO_BROAD:
            raise InvalidParams(
                f"refusing to grant {words[0]!r} on its own: that would allow anything it runs; "
                "grant a longer prefix (e.g. 'git push', 'systemctl restart nginx')"
            )
        grant = {"id": str(ULID()), "kind": "prefix", "prefix": words, "by_uid": uid, "at": time.time(), "note": note}
        fd = self._locked()
        try:
            grants = self._load()
            grants.append(grant)
            self._save(grants)
        finally:
            os.close(fd)
        return grant

    def note_session(self, *, session: str | None, tool: str, command: str, uid: int) -> None:
        self.session.append({"id": str(ULID()), "kind": "session", "session": session, "tool": tool,
                             "command": command, "by_uid": uid, "at": time.time()})

    def list(self) -> list[dict[str, Any]]:
        return [*self._load(), *self.session]

    def revoke(self, grant_id: str, session_grants: dict[str, set[str]]) -> dict[str, Any]:
        fd = self._locked()
        try:
            grants = self._load()
            keep = [g for g in grants if g.get("id") != grant_id]
            if len(keep) != len(grants):
                self._save(keep)
                return next(g for g in grants if g.get("id") == grant_id)
        finally:
            os.close(fd)
        for g in self.session:
            if g["id"] == grant_id:
                self.session.remove(g)
                session_grants.get(g["session"] or "", set()).discard(f"{g['tool']}\0{g['command']}")
                return g
        raise InvalidParams(f"no grant {grant_id} ('aios policy grants' lists them)")
