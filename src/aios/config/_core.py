"""Config sections owned by the core: daemon, paths, memory."""

from __future__ import annotations

from attrs import field, frozen, validators

from ._types import Bytes, Seconds


@frozen
class DaemonConfig:
    """``[daemon]``: the daemon process and its socket."""

    system: bool = False
    """Run as the system daemon (/etc/aios, /var/lib/aios, /run/aios) instead of the user one."""
    socket_group: str = "aios"
    """Group that owns the system socket (mode 0660). Unused by a user daemon (mode 0600)."""
    allowed_uids: list[int] = field(factory=list)
    """Extra uids allowed to connect, beside the daemon's own uid (and root)."""
    allowed_gids: list[int] = field(factory=list)
    """Gids whose members may connect (the socket group is added for a system daemon)."""
    approver_gids: list[int] = field(factory=list)
    """Gids whose members may approve other users' pending requests (besides the owner and root)."""
    approval_timeout: Seconds = field(default=Seconds(300.0))
    """How long another user's request waits for an approver; no decision in time is a denial."""
    autostart: bool = True
    """Client commands start a user daemon on demand when none answers."""
    max_line: Bytes = field(default=Bytes(1024 * 1024), validator=validators.ge(Bytes(1024)))
    """Longest protocol line accepted; longer ones get an error and the connection is closed."""
    shutdown_grace: Seconds = field(default=Seconds(5.0))
    """How long in-flight requests may run after SIGTERM before they are cancelled."""
    watchdog: bool = True
    """Send WATCHDOG=1 pings when systemd sets WATCHDOG_USEC."""
    log_level: str = field(
        default="info", validator=validators.in_(["debug", "info", "warning", "error"])
    )
    """debug, info, warning or error; where the log goes: docs/operations.md."""
    log_target: str = field(default="auto", validator=validators.in_(["auto", "file", "stderr"]))
    """auto: the journal when stderr is the journal, else <state_dir>/daemon.log; file; stderr
    (with the time: containers, whose stderr the engine keeps)."""
    log_max_bytes: Bytes = field(default=Bytes(5 * 1024 * 1024), validator=validators.ge(Bytes(64 * 1024)))
    """The log file (<state_dir>/daemon.log) is rotated when it would grow past this size."""
    log_keep: int = field(default=3, validator=validators.ge(1))
    """Rotated log files kept (daemon.log.1 … daemon.log.N); older ones are deleted."""
    watch_config: bool | None = None
    """Reload when a config file changes on disk (inotify); None: on for a user daemon, off for
    the system one (which reloads on SIGHUP, ``systemctl reload aios-runtime``)."""


@frozen
class PathsConfig:
    """``[paths]``: every location can be moved (tests move all of them)."""

    state_dir: str | None = None
    """memory.db and snapshots/. Default: $XDG_STATE_HOME/aios (user) or /var/lib/aios (system)."""
    runtime_dir: str | None = None
    """The socket's directory. Default: $XDG_RUNTIME_DIR/aios, /tmp/aios-$UID, or /run/aios."""
    socket: str | None = None
    """The socket path itself. Default: <runtime_dir>/aios.sock."""
    workspace: str | None = None
    """Default writable directory for tools. Default: ~/aios-workspace."""


@frozen
class TypeRetention:
    """Cleanup limits for one memory type; None means no limit."""

    max_age: Seconds | None = None
    max_count: int | None = field(default=None, validator=validators.optional(validators.ge(0)))


@frozen
class MemoryRetention:
    """``[memory.retention.<type>]``: cleanup per memory type."""

    command: TypeRetention = field(factory=lambda: TypeRetention(Seconds(90 * 86400.0), 200_000))
    chat: TypeRetention = field(factory=lambda: TypeRetention(Seconds(365 * 86400.0), 100_000))
    system: TypeRetention = field(factory=lambda: TypeRetention(Seconds(30 * 86400.0), 50_000))
    snapshot: TypeRetention = field(factory=lambda: TypeRetention(None, None))


@frozen
class MemoryConfig:
    """``[memory]``: the one shared SQLite database."""

    busy_timeout: Seconds = field(default=Seconds(10.0))
    """How long a writer waits for another process's lock before failing."""
    cleanup_interval: Seconds = field(default=Seconds(3600.0))
    """How often the scheduler applies the retention limits."""
    retention: MemoryRetention = field(factory=MemoryRetention)
    audit_days: int = field(default=365, validator=validators.ge(0))
    """Audit records older than this many days are pruned (with a record saying so); 0 keeps all."""
    audit_journal: str = "/run/systemd/journal/socket"
    """The journal's native socket; each audit record is copied there when it exists ("" = never)."""
    search_window: int = field(default=200, validator=validators.ge(10))
    """Matches considered for ranking, newest first: bounds search time on very common words."""
    recall_limit: int = field(default=5, validator=validators.ge(0))
    """Memories recalled into a turn (as an untrusted-data message before the request; docs/providers.md)."""
    readers: int = field(default=4, validator=validators.ge(1))
    """Read connections in the daemon's pool."""
    embedder: str = field(default="local", validator=validators.in_(["local", "http", "off"]))
    """Semantic search: "local" (the bundled all-MiniLM-L6-v2), "http" (embed_url) or "off"."""
    embed_url: str | None = None
    """An OpenAI-compatible endpoint ending in /v1 (POST /v1/embeddings), for embedder = "http"."""
    embed_model: str = ""
    """The model name sent to embed_url."""
    embed_api_key_env: str | None = None
    """Environment variable holding the endpoint's API key, if it needs one."""
    fts_weight: float = field(default=1.0, validator=validators.ge(0.0))
    """Weight of the keyword side in hybrid search (reciprocal rank fusion)."""
    vec_weight: float = field(default=1.0, validator=validators.ge(0.0))
    """Weight of the vector side in hybrid search."""
    min_similarity: float = field(default=0.15, validator=[validators.ge(-1.0), validators.le(1.0)])
    """Cosine below which the vector side leaves a memory out (0.15 kept every relevant memory of
    the evaluation set and dropped 84% of the unrelated ones)."""
