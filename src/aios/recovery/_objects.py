"""Content-addressed file contents shared by every snapshot (``objects/ab/abcdef…``).

An object is written once, read-only, and never changed: a snapshot of an unchanged file costs
a manifest line, not a copy. Objects no manifest names are removed by :meth:`Objects.collect`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

CHUNK = 1024 * 1024


class Objects:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha: str) -> Path:
        return Path(f"{self.root}/{sha[:2]}/{sha}")

    def has(self, sha: str) -> bool:
        return self.path(sha).exists()

    def put_file(self, src: str) -> tuple[str, int]:
        """Store a file's content; returns its sha256 and the bytes newly written (0 when shared)."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        tmp = tmp_dir / f"{os.getpid()}-{os.urandom(6).hex()}"
        size = 0
        try:
            fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as f, open(tmp, "wb") as out:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            sha = h.hexdigest()
            final = self.path(sha)
            if final.exists():
                return sha, 0
            final.parent.mkdir(exist_ok=True)
            os.chmod(tmp, 0o400)
            os.replace(tmp, final)
            return sha, size
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes (a manifest); returns their sha256 and the bytes newly written."""
        sha = hashlib.sha256(data).hexdigest()
        final = self.path(sha)
        if final.exists():
            return sha, 0
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{sha}.{os.getpid()}")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o400)
        os.replace(tmp, final)
        return sha, len(data)

    def get_bytes(self, sha: str) -> bytes:
        return self.path(sha).read_bytes()

    def collect(self, referenced: Iterable[str]) -> int:
        """Delete objects nobody references; returns the bytes freed."""
        keep = set(referenced)
        freed = 0
        if not self.root.exists():
            return 0
        for sub in self.root.iterdir():
            if not sub.is_dir() or sub.name == "tmp":
                continue
            for obj in sub.iterdir():
                if obj.name not in keep:
                    try:
                        freed += obj.stat().st_size
                        obj.unlink()
                    except FileNotFoundError:
                        pass
        tmp = self.root / "tmp"
        if tmp.exists():
            for leftover in tmp.iterdir():
                leftover.unlink(missing_ok=True)
        return freed
