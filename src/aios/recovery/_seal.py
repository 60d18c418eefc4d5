"""A trusted record of the snapshots a store took, kept outside the (possibly shared) store.

``metadata.json`` lives in the snapshot store, which other containers may write: whoever edits
it could make a restore write paths the snapshot never held. Each snapshot's metadata is
therefore sealed with an HMAC under a key only this daemon holds (a file outside the store,
see :func:`load_key`); a store without a key makes one per process, so its seals hold only
for the snapshots it took itself. A snapshot whose seal does not verify is treated as another
daemon's: it is restored only where the caller allows (see :meth:`SnapshotStore.restore`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from pathlib import Path
from typing import Any

from aios.errors import RecoveryError

log = logging.getLogger("aios.recovery")

KEY_BYTES = 32
SEALED = ("id", "origin", "trigger", "manifest", "paths", "skipped", "excluded", "absent", "memory")
"""The metadata a seal covers: everything a restore decides by."""


def seal(key: bytes, meta: dict[str, Any]) -> str:
    """The HMAC-SHA256 of the fields in :data:`SEALED`, in hex."""
    body = json.dumps({k: meta.get(k) for k in SEALED}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def verifies(key: bytes, meta: dict[str, Any]) -> bool:
    """Whether ``meta`` carries a seal made with ``key`` over its present contents."""
    got = meta.get("seal")
    return isinstance(got, str) and hmac.compare_digest(seal(key, meta), got)


def load_key(path: Path) -> bytes | None:
    """The sealing key in ``path`` (created, mode 0600, when absent); None when it can be
    neither read nor made (a read-only config directory): the caller then seals per process.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(2):
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            try:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            except FileExistsError:
                continue  # another process made it first: read theirs
            except OSError as exc:
                log.warning("cannot create the snapshot sealing key %s (%s): seals hold for this run only", path, exc)
                return None
            try:
                key = os.urandom(KEY_BYTES)
                os.write(fd, key)
                os.fsync(fd)
                return key
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("cannot read the snapshot sealing key %s (%s): seals hold for this run only", path, exc)
            return None
        try:
            key = os.read(fd, 4096)
        finally:
            os.close(fd)
        if len(key) >= KEY_BYTES:
            return key
        log.warning("the snapshot sealing key %s is too short: seals hold for this run only", path)
        return None
    return None


def check_trust(key: bytes, origin: str, meta: dict[str, Any], paths_named: bool) -> None:
    """Refuse a restore that an edited metadata.json could widen.

    Raises:
        RecoveryError: the snapshot claims ``origin`` and carries a seal that does not verify
            (edited since), or it is not sealed by ``origin`` and no paths were named (its own
            list of paths is then only the store's word).
    """
    if meta.get("origin") == origin and verifies(key, meta):
        return
    sid = str(meta.get("id"))
    if meta.get("origin") == origin and "seal" in meta:
        raise RecoveryError(
            f"snapshot {sid}: its metadata.json no longer matches the seal this daemon made when it took it "
            "(edited in the store?); not restoring"
        )
    if not paths_named:
        raise RecoveryError(
            f"snapshot {sid} is not sealed by this daemon (taken by {meta.get('origin') or 'another daemon'}, or before "
            "seals existed): name the paths to restore"
        )
