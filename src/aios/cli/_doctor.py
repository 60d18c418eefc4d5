"""``aios doctor``: why something cannot work on this host, and what to change."""

from __future__ import annotations

import os
import pwd
from typing import TYPE_CHECKING, Any

from . import _context as ctx
from ._status import JsonFlag

if TYPE_CHECKING:
    from aios.config import DaemonConfig


def _check(name: str, ok: bool, detail: str, fix: str | None = None) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail, "fix": None if ok else fix}


def _checks() -> list[dict[str, Any]]:
    from aios.config import load

    loaded = load(config_file=ctx.G.config, sets=ctx.G.sets)
    cfg = loaded.config
    out: list[dict[str, Any]] = []
    from aios.sandbox import probe

    st = probe(cfg.sandbox)
    out.append(_check(
        "sandbox", st.usable,
        f"bubblewrap {st.version or '?'} at {st.bwrap}" + ("" if st.usable else f": {st.reason}") if st.bwrap else (st.reason or "bubblewrap not found"),
        st.fix,
    ))
    if st.usable:
        out.append(_check("seccomp", st.seccomp, "filter loaded in every jail" if st.seccomp else (st.reason or "no seccomp filter"),
                          "install libseccomp2 and the pyseccomp package (./dev setup does both)"))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(cfg.sandbox.user)
            out.append(_check("sandbox user", True, f"{cfg.sandbox.user} exists"))
        except KeyError:
            out.append(_check("sandbox user", False, f"no user {cfg.sandbox.user!r}: a root daemon runs jailed commands as it",
                              f"useradd --system --no-create-home --shell /usr/sbin/nologin {cfg.sandbox.user}"))
    try:
        from aios.agent import probe_endpoint, select_provider

        choice = select_provider(cfg.llm)
        out.append(_check("model provider", True, f"{choice.name} ({choice.config.kind}, {choice.model or '?'}): {choice.reason}"))
        endpoint = probe_endpoint(choice)
        out.append(_check("model endpoint", endpoint.ok, endpoint.detail, endpoint.fix))
    except Exception as exc:  # every failure here is something to fix, said in one line
        out.append(_check("model provider", False, str(exc), "see docs/providers.md"))
    from aios.tools import admin_tools_report

    usable = admin_tools_report(cfg.tools)
    out.append(_check("admin tools", True, "; ".join(f"{name}: {what}" for name, what in usable.items())))
    out.extend(_trust(cfg.daemon))
    sock = loaded.paths.socket
    try:
        from aios.client import Client

        with Client.connect(sock, timeout=2.0) as c:
            status = c.call("status")
        out.append(_check("daemon", True, f"pid {status['pid']} on {sock}, mode {status['mode']}"))
    except Exception as exc:
        out.append(_check("daemon", False, f"nothing answers on {sock} ({exc})", "aios daemon start"))
    return out


def _who(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _group(gid: int) -> str:
    import grp

    try:
        g = grp.getgrgid(gid)
    except KeyError:
        return f"gid {gid} (no such group)"
    members = ", ".join(g.gr_mem) or "none"
    return f"{g.gr_name} (gid {gid}; listed members: {members})"


def _trust(cfg: DaemonConfig) -> list[dict[str, Any]]:
    """Who is effectively trusted with what, on this configuration (docs/security.md)."""
    owner = 0 if cfg.system else os.geteuid()
    approvers = [_who(owner)] + (["root"] if owner != 0 else []) + [f"members of {_group(g)}" for g in cfg.approver_gids]
    allowed = [_who(u) for u in cfg.allowed_uids if u not in (owner, 0)]
    allowed += [f"members of {_group(g)}" for g in cfg.allowed_gids]
    if cfg.system:
        allowed.append(f"members of the socket group {cfg.socket_group!r}")
    out = [
        _check("trusted", True, f"{'; '.join(approvers)}: as trusted as the daemon's user "
               f"({'root' if owner == 0 else _who(owner)}) for what they type or approve; others' escalations wait for them"),
        _check("other users", True,
               (f"{'; '.join(allowed)}: may connect; they get no more than they could do alone (their jail never "
                f"runs as the daemon, file tools use their permissions, 'trusted' mode is 'normal' for them) and "
                f"their confirmations wait for an approver "
                f"(daemon.approval_timeout {float(cfg.approval_timeout):.0f} s)") if allowed
               else "nobody else may connect (daemon.allowed_uids / allowed_gids are empty)"),
    ]
    return out


def doctor(*, json: JsonFlag = False) -> int:
    """Check the sandbox, the sandbox user, the model provider and whether its endpoint answers
    (3 s), and the daemon; say what to fix,
    and who is trusted with what (the owner and approvers; other users allowed on the socket).

    Exits 0 when every check passes, 1 otherwise.
    """

    def body() -> int:
        results = _checks()
        if json:
            ctx.print_json(results)
        else:
            for r in results:
                mark = "ok  " if r["ok"] else "FAIL"
                print(f"{mark} {r['check']:<15} {r['detail']}")
                if r["fix"]:
                    print(f"     {'':<15} fix: {r['fix']}")
        failed = [r["check"] for r in results if not r["ok"]]
        if failed:  # the contract: a failure ends in one line on stderr
            return ctx.fail(f"{len(failed)} check(s) failed: {', '.join(failed)}; see each one's fix in the report")
        return 0

    return ctx.run(body)
