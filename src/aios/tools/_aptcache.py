"""apt's binary package cache for the ``packages`` tool, where the host's apt config turns it off.

apt keeps every package index in ``pkgcache.bin``/``srcpkgcache.bin`` and reuses them while the
index files and dpkg's status are unchanged. Container-born hosts (Docker's Debian images,
``/etc/apt/apt.conf.d/docker-clean``) set ``Dir::Cache::pkgcache ""``: every ``apt-get -s`` and
``apt-cache show`` then re-reads all of ``/var/lib/apt/lists`` (1-3 s here, before apt even
starts planning). On such a host the tool points those two settings at a directory of its own in
the daemon's state directory; apt itself still checks that the cache matches the index files and
the status file, and rebuilds it when they changed.

The directory must be the daemon's alone (apt running as root maps the file: a cache another user
could write is a way into root), so it is used only when it is a real directory owned by the
daemon's user and writable by no one else; otherwise apt runs as before, without a cache. It is
only for apt run as the daemon itself, never as another local user (they could not read it, and
must not share what root's apt wrote).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ._host import run_host

KEYS = (("P", "Dir::Cache::pkgcache", "pkgcache.bin"), ("S", "Dir::Cache::srcpkgcache", "srcpkgcache.bin"))
APT_CONF = ("/etc/apt/apt.conf", "/etc/apt/apt.conf.d")

_disabled: dict[tuple[object, ...], tuple[str, ...]] = {}
"""Per apt configuration (see :func:`_stamp`): the cache settings it leaves empty."""


def _stamp() -> tuple[object, ...]:
    """What apt's configuration is now: the files' names and change times, and APT_CONFIG."""
    out: list[object] = [os.environ.get("APT_CONFIG")]
    for path in APT_CONF:
        try:
            out.append((path, os.stat(path).st_mtime_ns))
            if os.path.isdir(path):
                with os.scandir(path) as it:
                    out += sorted((e.name, e.stat().st_mtime_ns) for e in it)
        except OSError:
            out.append((path, None))
    return tuple(out)


async def _disabled_keys() -> tuple[str, ...]:
    """The cache settings (``Dir::Cache::…``) the host's apt configuration leaves empty."""
    stamp = _stamp()
    if stamp not in _disabled:
        words = [w for _var, key, _f in KEYS for w in (_var, key)]
        res = await run_host(["apt-config", "shell", *words])
        values = dict(ln.split("=", 1) for ln in res.stdout.splitlines() if "=" in ln)
        # apt-config prints nothing for a key it does not know and VAR='' for an empty one
        _disabled.clear()
        _disabled[stamp] = tuple(key for var, key, _f in KEYS if res.ok and values.get(var) == "''")
    return _disabled[stamp]


def _private_dir(state_dir: Path) -> Path | None:
    """``state_dir/apt-cache``, made (mode 0700) when missing; None unless it is a real directory
    (not a link) that only we can write, in a state directory that exists."""
    path = state_dir / "apt-cache"
    try:
        if not state_dir.is_dir():
            return None
        path.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    ours = stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022
    return path if ours else None


async def cache_options(state_dir: Path) -> list[str]:
    """``-o`` options giving apt a binary cache in ``state_dir`` where its config turns it off.

    Returns [] when the host's apt keeps its own cache, or when the directory is not safe to use.
    """
    keys = await _disabled_keys()
    where = _private_dir(state_dir) if keys else None
    if where is None:
        return []
    files = {key: name for _v, key, name in KEYS}
    return [w for key in keys for w in ("-o", f"{key}={where / files[key]}")]
