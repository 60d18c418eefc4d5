"""Reload when a config file changes on disk (``daemon.watch_config``).

inotify watches the *directory* of every file the config came from (system, user, ``--config``
file, rules file), so that an editor which saves by writing a new file and renaming it over the
old one is seen, and so is a file created where none was. Events are filtered by file name and
debounced: a burst of writes (an editor's save, a script writing line by line) is one reload,
:data:`DEBOUNCE_S` after the last event.

The inotify calls are those of the snapshot change watch (:mod:`aios.recovery._watch`).
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

# The libc binding and event names the snapshot change watch uses (one copy of each).
from aios.recovery._watch import (
    IN_ATTRIB,
    IN_CLOSE_WRITE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    _lib,
)

from ._services import Services, ServicesSlot

log = logging.getLogger("aios.daemon")

DEBOUNCE_S = 0.2
"""Quiet time after the last event before a reload starts."""

_EVENT = struct.Struct("iIII")
_DIR_MASK = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF
"""A file is read once its writer closed it (or it was renamed into place, removed, or had its
mode changed) — never on IN_MODIFY or IN_CREATE: a file still being written (truncated, written
line by line, created empty) is valid TOML that says something else than what is being written."""


def watch_enabled(services: Services) -> bool:
    """``daemon.watch_config``, whose default is on for a user daemon and off for the system one."""
    value = services.config.daemon.watch_config
    return (services.loaded.paths.scope != "system") if value is None else value


def watch_targets(files: list[str], services: Services) -> dict[str, set[str]]:
    """Directory -> names in it that matter: every file in force, and the system and user config
    files even when absent (creating one changes the config)."""
    from aios.config import system_config_file, user_config_file

    names: dict[str, set[str]] = {}
    wanted = [*files, str(system_config_file()), *([] if services.loaded.paths.scope == "system" else [str(user_config_file())])]
    for f in wanted:
        p = Path(f)
        names.setdefault(str(p.parent), set()).add(p.name)
    return names


class _Inotify:
    """One inotify instance over some directories; yields the names that changed in them."""

    def __init__(self, targets: dict[str, set[str]]) -> None:
        lib = _lib()
        self.fd = lib.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC) if lib is not None else -1
        self.names: dict[int, tuple[str, set[str]]] = {}
        if self.fd < 0 or lib is None:
            return
        for directory, names in targets.items():
            wd = lib.inotify_add_watch(self.fd, os.fsencode(directory), _DIR_MASK)
            if wd >= 0:
                self.names[wd] = (directory, names)
            else:
                log.info("config watch: cannot watch %s (missing or unreadable); its files are not watched", directory)

    async def changes(self) -> list[str]:
        """Wait for events; return the watched files they touched (may be empty)."""
        await trio.lowlevel.wait_readable(self.fd)
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out, offset = [], 0
        while offset + _EVENT.size <= len(data):
            wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
            raw = data[offset + _EVENT.size: offset + _EVENT.size + length].split(b"\0", 1)[0]
            offset += _EVENT.size + length
            directory, names = self.names.get(wd, ("", set()))
            name = os.fsdecode(raw)
            if name in names:
                out.append(os.path.join(directory, name))
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


async def watch_config(slot: ServicesSlot, files: Callable[[], list[str]], reload: Callable[[str], Awaitable[object]]) -> None:
    """Reload through ``reload`` when a watched file changes, while ``daemon.watch_config`` holds.

    ``files()`` gives the files of the config in force; the watch follows a reload that changes
    them (a new rules file) or turns the watch off.
    """
    while True:
        services, swapped = slot.current, slot.swapped
        if not watch_enabled(services):
            await swapped.wait()
            continue
        watch = _Inotify(watch_targets(files(), services))
        if watch.fd < 0:
            log.warning("config watch: inotify is not available; reload with SIGHUP or 'aios config reload'")
            await swapped.wait()
            continue
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_follow, watch, reload)
                await swapped.wait()
                nursery.cancel_scope.cancel()
        finally:
            watch.close()


async def _follow(watch: _Inotify, reload: Callable[[str], Awaitable[object]]) -> None:
    while True:
        touched = await watch.changes()
        if not touched:
            continue
        while True:  # debounce: wait until no event came for DEBOUNCE_S
            with trio.move_on_after(DEBOUNCE_S) as quiet:
                touched += await watch.changes()
            if quiet.cancelled_caught:
                break
        log.info("config watch: %s changed", ", ".join(sorted(set(touched))))
        # Shielded: the reload swaps the services, which restarts this watch; the swap must finish.
        with trio.CancelScope(shield=True):
            await reload("file watch")
