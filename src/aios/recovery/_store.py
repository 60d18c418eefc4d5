"""The snapshot store: ``<state>/snapshots/<ULID>/`` (metadata.json, manifest.json, memory.db,
packages.txt) plus the shared ``objects/`` directory.

A snapshot is built under ``.tmp-<ULID>`` and renamed into place when complete, so a crash never
leaves a half snapshot that looks whole (:meth:`SnapshotStore.cleanup_incomplete` removes the
leftovers at start-up). Writers take an ``fcntl`` lock on ``.lock``, so two daemons (two
containers sharing the volume) never write at once. Retention never deletes a manual snapshot.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import logging
import os
import shutil
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ulid import ULID

from aios.config import Paths
from aios.errors import RecoveryError, SnapshotNotFound

from ._extras import backup_sqlite, installed_packages, restore_sqlite
from ._info import RestoreReport, SnapshotInfo, info_of
from ._journal import journal_path, recover
from ._manifest import (
    Change,
    Entry,
    Progress,
    Scan,
    check_entries,
    compare,
    dumps,
    loads,
    scan,
    under,
)
from ._objects import Objects, hash_fd
from ._restore import Restorer, remove_top
from ._safepath import parents_exist, real_root
from ._seal import check_trust, seal, verifies
from ._targets import restore_tops
from ._watch import ChangeWatch

log = logging.getLogger("aios.recovery")

TRIGGERS = ("manual", "hourly", "pre-exec", "pre-restore")

def default_paths(paths: Paths, euid: int) -> list[Path]:
    """What a snapshot captures when ``recovery.paths`` is not set: the aios config directory,
    and /etc for a root daemon."""
    out = [paths.config_dir]
    if euid == 0:
        out.append(Path("/etc"))
    return out

def _cache_of(entries: builtins.list[Entry]) -> dict[str, Entry]:
    """A manifest as the scan's cache: path -> entry, for entries that carry their stat key."""
    return {e["path"]: e for e in entries if "_key" in e}


class SnapshotStore:
    """Args:
        root: the store directory (may be shared with other containers: untrusted).
        origin: this daemon's name in the snapshots it takes.
        key: the key that seals this origin's metadata (see :mod:`aios.recovery._seal`),
            kept outside the store; None: a key for this object's lifetime only.
    """

    def __init__(self, root: Path, *, origin: str, key: bytes | None = None) -> None:
        self.root = root
        self.origin = origin
        self._key = key or os.urandom(32)
        self.objects = Objects(root / "objects")
        # The newest manifest this store read or wrote, by its hash: an hourly snapshot in a
        # long-lived daemon scans against it without reading and parsing it again.
        self._recent: tuple[str, builtins.list[Entry], dict[str, Entry], builtins.list[str]] | None = None
        # Skips the stat scan of a tree in which nothing happened since the last one (inotify).
        self._watch = ChangeWatch()

    # -- locking and layout -------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _dir(self, id: str) -> Path:
        try:
            ULID.from_str(id)
        except ValueError as exc:
            raise SnapshotNotFound(f"{id!r} is not a snapshot id (ids are ULIDs; 'aios snapshots' lists them)", data={"id": id}) from exc
        d = self.root / id
        if not (d / "metadata.json").is_file():
            raise SnapshotNotFound(f"no snapshot {id} ('aios snapshots' lists them)", data={"id": id})
        return d

    def _manifest(self, id: str) -> builtins.list[Entry]:
        """Snapshot ``id``'s manifest, its object checked against its name and every entry
        checked (see :func:`aios.recovery._manifest.check_entries`)."""
        meta = json.loads((self._dir(id) / "metadata.json").read_text(encoding="utf-8"))
        try:
            raw = zlib.decompress(self.objects.get_bytes(meta["manifest"]))
        except (OSError, KeyError, zlib.error, RecoveryError) as exc:
            raise RecoveryError(f"snapshot {id} is damaged: its manifest cannot be read ({exc})", data={"id": id}) from exc
        try:
            return check_entries(loads(raw), f"snapshot {id}")
        except ValueError as exc:
            raise RecoveryError(f"snapshot {id} is damaged: its manifest is not JSON ({exc})", data={"id": id}) from exc

    # -- create ---------------------------------------------------------------------------
    def create(
        self,
        paths: Sequence[Path],
        *,
        trigger: str,
        description: str = "",
        memory_db: Path | None = None,
        packages: bool = True,
        progress: Progress | None = None,
        link: dict[str, Any] | None = None,
    ) -> SnapshotInfo:
        """Capture ``paths`` (and a consistent copy of ``memory_db``) as a new snapshot."""
        if trigger not in TRIGGERS:
            raise RecoveryError(f"unknown snapshot trigger {trigger!r}")
        with self._locked():
            sid = str(ULID())
            tmp = self.root / f".tmp-{sid}"
            tmp.mkdir(mode=0o700)
            try:
                written = disk = 0

                def store_file(fd: int) -> str:
                    nonlocal written, disk
                    sha, new, used = self.objects.put_file(fd)
                    written += new
                    disk += used
                    return sha

                roots = [Path(real_root(p)) for p in paths]
                absent = [str(r) for r in roots if not os.path.lexists(r)]
                # The store itself and the live memory database never go in as files: a tree
                # that holds them (a command's target such as /var/lib) is captured without them,
                # and a restore leaves them alone (memory comes back through SQLite's backup API).
                excluded = self._own_files(memory_db)
                previous, previous_sha, cache = self._previous([str(r) for r in roots])
                watch_key = (tuple(map(str, roots)), previous_sha)
                recent = self._recent
                if recent is not None and recent[0] == previous_sha and self._watch.unchanged(watch_key):
                    # No change reported since this store's last full scan of these roots.
                    scanned = Scan(entries=recent[1], skipped=list(recent[3]))
                    how = "unchanged (change watch)"
                    if progress is not None:
                        progress(len(scanned.entries), len(scanned.entries), "")
                else:
                    self._watch.begin()
                    scanned = scan(roots, store_file, cache=cache, progress=progress, watch=self._watch.add, leave_out=excluded)
                    how = "full"
                if previous_sha is not None and scanned.entries == previous:
                    manifest_sha = previous_sha  # nothing changed: the same manifest object
                else:
                    # The manifest is an object too: content-addressed, stored once.
                    manifest_sha, new, used = self.objects.put_bytes(zlib.compress(dumps(scanned.entries), 1))
                    written += new
                    disk += used
                    cache = _cache_of(scanned.entries)
                has_memory = False
                if memory_db is not None and memory_db.exists():
                    written += backup_sqlite(memory_db, tmp / "memory.db")
                    has_memory = True
                pkg_count = None
                if packages:
                    listing = installed_packages()
                    if listing is not None:
                        (tmp / "packages.txt").write_text(listing, encoding="utf-8")
                        pkg_count = listing.count("\n")
                meta = {
                    "id": sid, "created_at": time.time(), "trigger": trigger, "description": description,
                    "size_bytes": written, "origin": self.origin, "paths": [str(r) for r in roots],
                    "files": sum(1 for e in scanned.entries if e["type"] == "file"),
                    "logical_bytes": sum(e.get("size", 0) for e in scanned.entries),
                    "memory": has_memory, "packages": pkg_count, "link": link, "skipped": scanned.skipped,
                    "manifest": manifest_sha, "scan": how, "absent": absent,
                    "excluded": sorted(x for x in excluded if any(x.startswith(str(r).rstrip("/") + "/") for r in roots)),
                }
                meta["seal"] = seal(self._key, meta)
                (tmp / "metadata.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
                # What this snapshot made the store take on disk: its new objects, and its own
                # directory with everything in it (metadata.json measured as written once).
                meta["disk_bytes"] = disk + sum(p.lstat().st_blocks * 512 for p in (tmp, *tmp.iterdir()))
                (tmp / "metadata.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
                os.rename(tmp, self.root / sid)
                self._recent = (manifest_sha, scanned.entries, cache, scanned.skipped)
                if how == "full":
                    self._watch.commit((watch_key[0], manifest_sha))
            except BaseException:
                self._watch.close()  # whatever it saw is no longer tied to a stored manifest
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return info_of(meta)

    def _own_files(self, memory_db: Path | None) -> frozenset[str]:
        out = {real_root(self.root)}
        if memory_db is not None:
            db = real_root(memory_db)
            out.update(db + suffix for suffix in ("", "-wal", "-shm", "-journal"))
        return frozenset(out)

    def _previous(self, roots: builtins.list[str]) -> tuple[builtins.list[Entry], str | None, dict[str, Entry]]:
        """The entries, manifest hash and scan cache of this origin's newest snapshot of the
        same roots (else of its newest one): a pre-exec snapshot of a command's targets in
        between must not make the next hourly snapshot read every file again.

        Only this origin's, as sealed: another container's files may share paths and even inode
        numbers, and a manifest planted under this origin's name would lend its hashes.
        """
        names = sorted((d.name for d in self.root.iterdir() if not d.name.startswith(".") and d.name != "objects"), reverse=True)
        chosen: tuple[str, str | None] | None = None
        for name in names:
            try:
                meta = json.loads((self.root / name / "metadata.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(meta, dict) or meta.get("origin") != self.origin or not verifies(self._key, meta):
                continue  # a forged manifest's cached hashes would be sealed into the next one
            if chosen is None:
                chosen = (name, meta.get("manifest"))
            if meta.get("paths") == roots:
                chosen = (name, meta.get("manifest"))
                break
        if chosen is None:
            return [], None, {}
        name, sha = chosen
        if self._recent is not None and sha is not None and self._recent[0] == sha:
            return self._recent[1], sha, self._recent[2]
        try:
            entries = self._manifest(name)
        except (OSError, ValueError, RecoveryError):
            return [], None, {}
        return entries, sha, _cache_of(entries)

    # -- read -----------------------------------------------------------------------------
    def list(self, *, origin: str | None = None, trigger: str | None = None) -> builtins.list[SnapshotInfo]:
        """Complete snapshots, newest first."""
        out: builtins.list[SnapshotInfo] = []
        if not self.root.exists():
            return out
        for d in self.root.iterdir():
            if d.name.startswith(".") or d.name == "objects":
                continue
            try:
                meta = json.loads((d / "metadata.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            info = info_of(meta)
            if (origin is None or info.origin == origin) and (trigger is None or info.trigger == trigger):
                out.append(info)
        out.sort(key=lambda i: i.id, reverse=True)
        return out

    def get(self, id: str) -> SnapshotInfo:
        d = self._dir(id)
        return info_of(json.loads((d / "metadata.json").read_text(encoding="utf-8")))

    def _meta(self, id: str) -> dict[str, Any]:
        meta = json.loads((self._dir(id) / "metadata.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise RecoveryError(f"snapshot {id} is damaged: its metadata.json is not an object", data={"id": id})
        return meta

    def trusted(self, id: str) -> bool:
        """Whether snapshot ``id`` is one this origin took, its metadata as this origin sealed
        it (not edited in the store since)."""
        try:
            meta = self._meta(id)
        except (OSError, ValueError, RecoveryError):
            return False
        return meta.get("origin") == self.origin and verifies(self._key, meta)

    def live_entries(self, paths: Sequence[str]) -> builtins.list[Entry]:
        """The live state of ``paths`` described like a manifest (contents hashed, not stored).

        Raises:
            RecoveryError: a parent of a path is now a symlink (it is not followed).
        """
        present = [Path(p) for p in paths if parents_exist(p)]
        return scan(present, hash_fd).entries

    def diff(self, id: str, id2: str | None = None) -> builtins.list[Change]:
        """Changes from snapshot ``id`` to ``id2`` (default: the live files)."""
        old = self._manifest(id)
        if id2 is not None:
            new = self._manifest(id2)
        else:
            new = self.live_entries(self.get(id).paths)
        return compare(old, new)

    # -- restore --------------------------------------------------------------------------
    def restore(
        self,
        id: str,
        *,
        paths: Sequence[Path] | None = None,
        dry_run: bool = False,
        memory_db: Path | None = None,
        progress: Progress | None = None,
    ) -> RestoreReport:
        """Put ``paths`` (default: every path of the snapshot) back as the snapshot holds them.

        A requested path is taken at its real location (parents' symlinks resolved), which
        must lie in one of the snapshot's paths; the restore itself then never follows a
        symlink on the way there (see :mod:`aios.recovery._restore`). A path equal to
        ``memory_db`` restores the memory database through SQLite's backup API.
        """
        info = self.get(id)
        check_trust(self._key, self.origin, self._meta(id), paths is not None)
        entries = self._manifest(id)
        tops, unread, want_memory = restore_tops(info, paths, memory_db)
        changes: builtins.list[Change] = []
        for top in tops:
            changes += compare(self.live_entries([top]), under(entries, top))
        if dry_run:
            return RestoreReport(id, True, changes, [], unread)
        with self._locked():
            keep = frozenset(info.skipped) | frozenset(info.excluded) | self._own_files(memory_db)
            restored, skipped = self._put_back(id, entries, tops, keep, progress)
            skipped = unread + skipped
            if want_memory and memory_db is not None:
                restore_sqlite(self._dir(id) / "memory.db", memory_db)
                restored.append({"path": str(memory_db), "how": "sqlite-backup"})
        return RestoreReport(id, False, changes, restored, skipped)

    def targets(self, id: str, paths: Sequence[Path] | None = None, memory_db: Path | None = None) -> builtins.list[Path]:
        """The paths a restore of ``id`` would write, at their real place (memory.db included
        when asked for); raises as :meth:`restore` would for paths it refuses."""
        info = self.get(id)
        check_trust(self._key, self.origin, self._meta(id), paths is not None)
        tops, _, want_memory = restore_tops(info, paths, memory_db)
        return [Path(t) for t in tops] + ([memory_db] if want_memory and memory_db is not None else [])

    def _put_back(
        self,
        id: str,
        entries: builtins.list[Entry],
        tops: builtins.list[str],
        keep: frozenset[str],
        progress: Progress | None,
    ) -> tuple[builtins.list[dict[str, str]], builtins.list[str]]:
        """The restore proper, journaled: the journal names the snapshot and paths first, then
        each directory before anything is staged in it, so that :meth:`cleanup_incomplete`
        can remove the staged leftovers and finish the restore after a crash."""
        restored: builtins.list[dict[str, str]] = []
        journal = journal_path(self.root, self.origin)
        with open(journal, "w", encoding="utf-8") as j:

            def note(record: dict[str, Any]) -> None:
                j.write(json.dumps(record) + "\n")
                j.flush()

            note({"restore": id, "origin": self.origin, "paths": tops, "pid": os.getpid()})
            restorer = Restorer(self.objects, entries, lambda d: note({"dir": d}), keep)
            try:
                for i, top in enumerate(tops, 1):
                    sub = under(entries, top)
                    if sub:
                        restored.append({"path": top, "how": restorer.put_back(sub, top)})
                    else:  # it did not exist when the snapshot was taken
                        remove_top(top)
                        restored.append({"path": top, "how": "removed"})
                    if progress is not None:
                        progress(i, len(tops), top)
            finally:
                restorer.close()
        journal.unlink()
        return restored, restorer.skipped

    # -- delete and retention -----------------------------------------------------------
    def delete(self, id: str) -> None:
        d = self._dir(id)
        with self._locked():
            shutil.rmtree(d)
            self._collect()

    def _collect(self) -> int:
        referenced: set[str] = set()
        for info in self.list():
            try:
                meta = json.loads((self.root / info.id / "metadata.json").read_text(encoding="utf-8"))
                referenced.add(meta["manifest"])
                referenced.update(e["sha"] for e in self._manifest(info.id) if "sha" in e)
            except (OSError, ValueError, KeyError, RecoveryError):
                continue
        return self.objects.collect(referenced)

    def apply_retention(self, max_hourly: int, max_pre_exec: int) -> builtins.list[str]:
        """Delete the oldest automatic snapshots beyond the limits; never a manual one."""
        removed: builtins.list[str] = []
        with self._locked():
            snaps = self.list()
            hourly = [s for s in snaps if s.trigger == "hourly"]
            pre = [s for s in snaps if s.trigger in ("pre-exec", "pre-restore")]
            for s in hourly[max_hourly:] + pre[max_pre_exec:]:
                shutil.rmtree(self.root / s.id, ignore_errors=True)
                removed.append(s.id)
            if removed:
                self._collect()
        return removed

    def _sealed_paths(self, id: str) -> builtins.list[str] | None:
        try:
            return self.get(id).paths if self.trusted(id) else None
        except RecoveryError:
            return None

    def cleanup_incomplete(self) -> builtins.list[str]:
        """Remove what a crash left: half-built snapshots and staged restore entries; then
        finish an interrupted restore. Returns the ids of the removed snapshots."""
        removed: builtins.list[str] = []
        if not self.root.exists():
            return removed
        pending: tuple[str, builtins.list[str]] | None = None
        with self._locked():
            for d in self.root.iterdir():
                if d.name.startswith(".tmp-"):
                    shutil.rmtree(d, ignore_errors=True)
                    removed.append(d.name[5:])
            journal = journal_path(self.root, self.origin)
            if journal.exists():
                pending = recover(journal.read_text(encoding="utf-8", errors="replace"), self.origin, self._sealed_paths)
                journal.unlink()
        if pending is not None:
            # Entries are swapped one by one: finish the job so that each path is wholly the
            # snapshot's again (the pre-restore snapshot still holds what was there before).
            try:
                self.restore(pending[0], paths=[Path(p) for p in pending[1]])
                log.warning("finished restoring snapshot %s, interrupted by a crash", pending[0])
            except (OSError, RecoveryError) as exc:
                log.error("could not finish the interrupted restore of %s: %s", pending[0], exc)
        return removed
