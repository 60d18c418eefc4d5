"""Who runs the jail, and what that identity can reach on the host file system.

bubblewrap resolves every mount source and target as the user that starts it; inside its user
namespace it holds no capability over files owned by unmapped users, so a path below a directory
the sandbox user cannot search makes bwrap fail. These helpers answer "can uid U search/write
this path?" from the mode bits and the POSIX access ACL (parsed from ``system.posix_acl_access``),
without switching identity in the daemon.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
import struct
from pathlib import Path

from attrs import frozen

from ..errors import SandboxError

# Tags of a POSIX ACL entry (linux/posix_acl_xattr.h).
_ACL_USER_OBJ = 0x01
_ACL_USER = 0x02
_ACL_GROUP_OBJ = 0x04
_ACL_GROUP = 0x08
_ACL_MASK = 0x10
_ACL_OTHER = 0x20
_ACL_XATTR = "system.posix_acl_access"


@frozen
class Identity:
    """The user bubblewrap (and so the jailed command) runs as."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    name: str
    switch: bool
    """True when the daemon is root and must drop to this user before starting bwrap."""

    @classmethod
    def for_daemon(cls, sandbox_user: str) -> Identity:
        """The sandbox user when the daemon runs as root, else the daemon's own user.

        Raises:
            SandboxError: the daemon is root and the sandbox user does not exist.
        """
        if os.geteuid() != 0:
            uid = os.getuid()
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            return cls(uid, os.getgid(), tuple(sorted({os.getgid(), *os.getgroups()})), name, False)
        try:
            entry = pwd.getpwnam(sandbox_user)
        except KeyError:
            raise SandboxError(
                f"the sandbox user {sandbox_user!r} does not exist; create it with "
                f"`useradd --system --no-create-home --shell /usr/sbin/nologin {sandbox_user}` "
                "(./dev setup does) or set sandbox.user",
                data={"user": sandbox_user},
            ) from None
        groups = {entry.pw_gid}
        return cls(entry.pw_uid, entry.pw_gid, tuple(sorted(groups)), entry.pw_name, True)

    @classmethod
    def for_uid(cls, uid: int, gid: int | None = None) -> Identity:
        """Another local user (a requester who is not the daemon's owner), with their groups.

        ``switch`` is true when the daemon must change identity to act as them (it is root).
        """
        try:
            entry = pwd.getpwuid(uid)
            name, primary = entry.pw_name, entry.pw_gid
            groups = {primary, *os.getgrouplist(name, primary)}
        except KeyError:
            name, primary, groups = str(uid), (gid if gid is not None else uid), set()
        if gid is not None:
            groups.add(gid)
        return cls(uid, primary, tuple(sorted(groups | {primary})), name, os.geteuid() != uid)


def _acl_entries(path: str) -> list[tuple[int, int, int]] | None:
    """(tag, perm, id) entries of the access ACL, or None when the file has none."""
    try:
        raw = os.getxattr(path, _ACL_XATTR, follow_symlinks=True)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.EOPNOTSUPP, errno.ENOTSUP):
            return None
        raise
    if len(raw) < 4:
        return None
    return [struct.unpack_from("<HHI", raw, off) for off in range(4, len(raw) - 7, 8)]


def allowed(path: str | Path, ident: Identity, want: int) -> bool:
    """Whether ``ident`` has the ``want`` bits (4 read, 2 write, 1 exec/search) on ``path``.

    Follows the kernel's order: owner, then named users (masked), then groups (masked), then
    other. Root (uid 0) is always allowed. A path that cannot be stat'ed is not allowed.
    """
    if ident.uid == 0:
        return True
    try:
        st = os.stat(path)
    except OSError:
        return False
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid == ident.uid:
        return (mode >> 6) & want == want
    entries = _acl_entries(str(path))
    groups = {ident.gid, *ident.groups}
    if entries is None:
        if st.st_gid in groups:
            return (mode >> 3) & want == want
        return mode & want == want
    mask = 7
    for tag, perm, _id in entries:
        if tag == _ACL_MASK:
            mask = perm
    for tag, perm, ent_id in entries:
        if tag == _ACL_USER and ent_id == ident.uid:
            return perm & mask & want == want
    group_match = False
    for tag, perm, ent_id in entries:
        if (tag == _ACL_GROUP_OBJ and st.st_gid in groups) or (
            tag == _ACL_GROUP and ent_id in groups
        ):
            group_match = True
            if perm & mask & want == want:
                return True
    if group_match:
        return False
    return any(tag == _ACL_OTHER and perm & want == want for tag, perm, _ in entries)


def reachable(path: str | Path, ident: Identity) -> bool:
    """Whether ``ident`` can search every directory above ``path`` (so a mount there works)."""
    p = Path(os.path.abspath(path))
    return all(allowed(parent, ident, 1) for parent in reversed(p.parents))
