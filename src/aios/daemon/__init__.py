"""The aios daemon: trio server, connections, method dispatch, scheduler, signals.

Entry point ``aios-runtime`` -> :func:`main`.
"""

from typing import TYPE_CHECKING, Any

from ._main import build_registry, main
from ._registry import NoParams, Registry, RequestContext

if TYPE_CHECKING:
    from ._app import Daemon

__all__ = ["Daemon", "NoParams", "Registry", "RequestContext", "build_registry", "main"]


def __getattr__(name: str) -> Any:
    # Daemon imports the whole server; ``python -m aios.daemon`` must clean its import path first.
    if name == "Daemon":
        from ._app import Daemon

        return Daemon
    raise AttributeError(name)
