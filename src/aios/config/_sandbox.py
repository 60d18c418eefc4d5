"""``[sandbox]`` config section (owned by aios.sandbox)."""

from __future__ import annotations

from attrs import field, frozen, validators

from ._types import Bytes, Seconds


@frozen
class SandboxConfig:
    """``[sandbox]``: the bubblewrap jail and per-command limits."""

    bwrap: str = "bwrap"
    """The bubblewrap binary (name looked up on PATH, or an absolute path)."""
    user: str = "aios-sandbox"
    """Unprivileged user that jailed commands run as when the daemon runs as root."""
    timeout: Seconds = field(default=Seconds(120.0))
    """Wall-clock limit per command; the whole process group is killed after it."""
    output_limit: Bytes = field(default=Bytes(64 * 1024))
    """Bytes kept per stream (stdout, stderr); the rest is dropped with a marker."""
    memory_limit: Bytes = field(default=Bytes(2 * 1024**3))
    """RLIMIT_AS per command."""
    max_processes: int = field(default=512, validator=validators.ge(1))
    """RLIMIT_NPROC per command (per sandbox user)."""
    max_file_size: Bytes = field(default=Bytes(1024**3))
    """RLIMIT_FSIZE per command."""
    network: bool | None = None
    """Network in the jail; None follows the mode (normal: on; safe, paranoid: off)."""
    hidden_paths: list[str] = field(
        factory=lambda: ["~/.ssh", "~/.gnupg", "~/.aws", "~/.config/gcloud", "~/.kube", "~/.docker",
                         "~/.netrc", "~/.git-credentials", "~/.pgpass", "~/.vault-token", "~/.config/gh",
                         "~/.azure", "~/.password-store", "~/.local/share/keyrings"]
    )
    """Credentials hidden inside the jail (the same set the policy treats as secrets for every
    account): a directory becomes an empty read-only tmpfs, a file reads as empty (/dev/null)."""
    extra_ro_binds: list[str] = field(factory=list)
    extra_binds: list[str] = field(factory=list)
