"""``[tools]`` config section (owned by aios.tools)."""

from __future__ import annotations

from typing import Literal

from attrs import field, frozen

from ._types import Bytes, Seconds


@frozen
class GitToolConfig:
    """``[tools.git]``: the typed git tool."""

    allow_push: bool = False
    """Let the git tool push (a confirmed action: it sends data off the host)."""
    system_repo: str = "/etc"
    """The one repository outside the workspace the git tool works in when it is one (etckeeper's
    /etc; its secrets are left out of diff and show); empty: none."""


@frozen
class PackagesToolConfig:
    """``[tools.packages]``: the typed packages tool."""

    backend: Literal["auto", "apt", "dnf"] = "auto"
    """The package manager behind it: apt, dnf, or auto (the one whose package database this host
    keeps: dpkg's status file, else an rpm database; apt when both)."""


@frozen
class ToolsConfig:
    """``[tools]``: the tool registry."""

    disabled: list[str] = field(factory=list)
    """Tools (built-in or plugin) that are not offered."""
    plugins: bool = True
    """Load plugins from the ``aios.tools`` entry-point group."""
    plugin_timeout: Seconds = field(default=Seconds(60.0))
    """A plugin call that runs longer is cancelled and fails alone."""
    read_max: Bytes = field(default=Bytes(1024 * 1024))
    """Largest file the read tool returns (larger ones are cut with a marker)."""
    write_max: Bytes = field(default=Bytes(10 * 1024 * 1024))
    """Largest content the write tool accepts."""
    git: GitToolConfig = field(factory=GitToolConfig)
    """The typed git tool."""
    packages: PackagesToolConfig = field(factory=PackagesToolConfig)
    """The typed packages tool."""
    admin_timeout: Seconds = field(default=Seconds(900.0))
    """A typed admin tool's backend command (apt, dnf, systemctl, podman, git) that runs longer is killed."""
