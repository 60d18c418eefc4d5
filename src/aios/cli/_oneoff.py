"""What one CLI call's ``--config FILE`` and ``--set KEY=VALUE`` change, and who honours it.

One-off flags belong to the call (docs/operations.md, "One-off flags"). The call honours the keys
that say how to reach a daemon (the socket, the scope, ``daemon.autostart``) and sends a one-off
``security.mode`` as the request's mode where the command has one; everything else is the
running daemon's business, so the call names it on stderr instead of pretending.
"""

from __future__ import annotations

from pathlib import Path

CALL_KEYS = frozenset({"paths.socket", "paths.runtime_dir", "daemon.system", "daemon.autostart"})
"""Keys the call itself honours: where the daemon is, and whether to start one."""

MODE_KEY = "security.mode"

_SOCKET_KEYS = ("paths.socket", "paths.runtime_dir", "daemon.system")


class OneOff:
    """The keys set by this call's own flags, with the values the call needs.

    Attributes:
        keys: dotted keys the flags set, sorted.
        socket: the socket they select, when they move it.
        mode: a one-off ``security.mode``.
        autostart: a one-off ``daemon.autostart``; False also when the flags select the system
            daemon (``daemon.system = true``), which is never started on demand.
    """

    __slots__ = ("autostart", "keys", "mode", "socket")

    def __init__(
        self,
        keys: tuple[str, ...] = (),
        *,
        socket: Path | None = None,
        mode: str | None = None,
        autostart: bool | None = None,
    ) -> None:
        self.keys = keys
        self.socket = socket
        self.mode = mode
        self.autostart = autostart

    @classmethod
    def load(cls, config_file: str | None, sets: list[str]) -> OneOff:
        """Load the config with the flags (full loader) and keep what came from them.

        Raises:
            ConfigError: a flag or a file is invalid (every problem at once).
        """
        from aios.config import load

        loaded = load(config_file=config_file, sets=sets)
        ours = {f"flag --set {s}" for s in sets}
        if config_file:
            ours.add(str(Path(config_file)))
        keys = tuple(sorted(".".join(k) for k, source in loaded.provenance.items() if source in ours))
        cfg = loaded.config
        return cls(
            keys,
            socket=loaded.paths.socket if any(k in keys for k in _SOCKET_KEYS) else None,
            mode=cfg.security.mode if MODE_KEY in keys else None,
            autostart=False if cfg.daemon.system and "daemon.system" in keys
            else cfg.daemon.autostart if "daemon.autostart" in keys else None,
        )

    def ignored(self, *, mode_sent: bool) -> list[str]:
        """The keys a call that talks to a daemon cannot honour (``mode_sent``: it sends a mode)."""
        honoured = CALL_KEYS | ({MODE_KEY} if mode_sent else set())
        return [k for k in self.keys if k not in honoured]
