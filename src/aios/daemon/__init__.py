"""The aios daemon: trio server, connections, method dispatch, scheduler, signals.

Entry point ``aios-runtime`` -> :func:`main`.
"""

from ._app import Daemon
from ._main import build_registry, main
from ._registry import NoParams, Registry, RequestContext

__all__ = ["Daemon", "NoParams", "Registry", "RequestContext", "build_registry", "main"]
