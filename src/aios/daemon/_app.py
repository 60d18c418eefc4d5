"""The daemon: its state and its nursery tree.

::

    Daemon.run (trio.run)
    └── supervisor nursery
        ├── signal watcher      SIGTERM/SIGINT -> stop, SIGHUP -> reload
        ├── scheduler           memory cleanup, hourly snapshots, retention
        ├── config watch        reload when a config file changes (daemon.watch_config)
        ├── watchdog            WATCHDOG=1 when systemd asks for it
        └── connections nursery
            ├── accept loop
            └── one task per connection ── one task per in-flight request
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
import time
from pathlib import Path

import attrs
import trio

from aios import __version__
from aios.config import LoadedConfig
from aios.memory import AsyncMemory, default_origin, from_config

from . import _systemd
from ._connection import Connection
from ._listen import (
    Authorizer,
    adopt_listener,
    bind_listener,
    peer_cred,
    prepare_runtime_dir,
    take_lock,
)
from ._methods_audit import open_trail
from ._methods_snapshot import finish_interrupted
from ._registry import Registry
from ._reload import Reloader, ReloadResult, StartArgs
from ._scheduler import run_scheduler
from ._services import Services, ServicesSlot, build_services
from ._watch import watch_config

log = logging.getLogger("aios.daemon")

STUCK_EXIT_S = 10.0
"""Seconds a stopping daemon waits for cancelled work that cannot be cancelled (a call stuck in
a worker thread, e.g. on a dead network mount) before it exits anyway."""


def _exit_if_stuck(socket: Path | None) -> threading.Timer:
    """Arm a timer that ends the process if the cancelled connections never finish."""

    def fire() -> None:
        log.error("stopping: work stuck in a thread did not end %.0f s after it was cancelled; exiting anyway", STUCK_EXIT_S)
        if socket is not None:
            try:
                socket.unlink()
            except OSError:
                pass
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(STUCK_EXIT_S, fire)
    timer.daemon = True
    timer.start()
    return timer


class Daemon:
    """State shared by every connection. Create with how to load the config, then ``await run()``.

    The config and everything built from it are one :class:`Services` value in :attr:`slot`,
    swapped whole by a reload; a request uses the one in force when it started.
    """

    def __init__(self, start: StartArgs, loaded: LoadedConfig, registry: Registry) -> None:
        self.start = start
        self.loaded = loaded
        """The config the daemon started with: the socket, scope and directories it uses until it stops."""
        self.registry = registry
        self.started_at = time.time()
        self.stopping = trio.Event()
        self.in_flight = 0
        self._drained = trio.Event()
        self.connections: set[Connection] = set()
        self.origin = default_origin()
        self._memory: AsyncMemory | None = None
        self._slot: ServicesSlot | None = None
        self._reloader: Reloader | None = None
        self._supervisor: trio.Nursery | None = None
        self._owned_socket: Path | None = None
        self._stuck_timer: threading.Timer | None = None

    @property
    def slot(self) -> ServicesSlot:
        assert self._slot is not None, "services are built before the first connection"
        return self._slot

    @property
    def reloader(self) -> Reloader:
        assert self._reloader is not None, "services are built before the first connection"
        return self._reloader

    @property
    def supervisor(self) -> trio.Nursery:
        """The supervisor nursery, for long-lived children (e.g. the embedded model server)."""
        assert self._supervisor is not None
        return self._supervisor

    def facts(self) -> dict[str, object]:
        """What ``status`` shows of the daemon itself."""
        return {"uptime_s": round(self.uptime_s, 3), "scope": self.loaded.paths.scope, "socket": str(self.loaded.paths.socket),
                "clients": len(self.connections), "config": self.reloader.state.to_json()}

    async def reload(self, trigger: str) -> ReloadResult:
        """Reload the config (see :mod:`aios.daemon._reload`)."""
        return await self.reloader.reload(trigger)

    @property
    def uptime_s(self) -> float:
        return time.time() - self.started_at

    def stop(self) -> None:
        self.stopping.set()
        if self.in_flight == 0:
            self._drained.set()

    def request_started(self) -> None:
        self.in_flight += 1

    def request_finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self.stopping.is_set():
            self._drained.set()

    async def run(self, *, task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until SIGTERM/SIGINT or the ``shutdown`` method; clean up; return."""
        paths = self.loaded.paths
        config = self.loaded.config
        cfg = config.daemon
        activated = _systemd.listen_fds()
        if not activated:
            prepare_runtime_dir(paths.socket.parent, cfg)
        lock_fd = None if activated else take_lock(paths.socket)
        self._owned_socket = None if activated else paths.socket
        listener: trio.SocketListener | None = None
        try:
            paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._memory = memory = await AsyncMemory.open(
                paths.memory_db,
                busy_timeout=float(config.memory.busy_timeout),
                readers=config.memory.readers,
                semantic=from_config(paths.memory_db, config.memory),
            )
            services: Services = await trio.to_thread.run_sync(
                lambda: build_services(self.loaded, memory=memory, origin=self.origin))
            services = attrs.evolve(services, audit=await open_trail(services))
            self._slot = ServicesSlot(services)
            self._reloader = Reloader(self._slot, self.start, self.loaded)
            await finish_interrupted(services)
            if activated:
                listener = adopt_listener(activated[0])
            else:
                listener = await bind_listener(paths.socket, cfg)
            await self._serve(listener, task_status)
        finally:
            with trio.CancelScope(shield=True):
                if listener is not None:
                    await listener.aclose()
                if not activated:
                    try:
                        paths.socket.unlink()
                    except FileNotFoundError:
                        pass
                if self._memory is not None:
                    with trio.move_on_after(5):
                        await self._memory.aclose()
                if lock_fd is not None:
                    os.close(lock_fd)
                if self._stuck_timer is not None:
                    self._stuck_timer.cancel()
            _systemd.sd_notify("STOPPING=1")

    async def _serve(
        self, listener: trio.SocketListener, task_status: trio.TaskStatus[Path]
    ) -> None:
        config = self.loaded.config
        authorizer = Authorizer(config.daemon)
        async with trio.open_nursery() as services:
            self._supervisor = services
            services.start_soon(self._watch_signals)
            services.start_soon(run_scheduler, self.slot)
            services.start_soon(watch_config, self.slot, lambda: self.reloader.state.files, self.reload)
            interval = _systemd.watchdog_interval() if config.daemon.watchdog else None
            if interval:
                services.start_soon(self._watchdog, interval)
            async with trio.open_nursery() as conns:
                conns.start_soon(self._accept_loop, listener, authorizer, conns)
                log.info("aios %s serving on %s (pid %d)", __version__, self.loaded.paths.socket, os.getpid())
                _systemd.sd_notify(f"READY=1\nSTATUS=serving on {self.loaded.paths.socket}\nMAINPID={os.getpid()}")
                task_status.started(self.loaded.paths.socket)
                # Start-up objects live for the daemon's life: keep the collector off them.
                gc.freeze()
                await self.stopping.wait()
                log.info("stopping: no new connections, %d open", len(self.connections))
                _systemd.sd_notify("STOPPING=1")
                await listener.aclose()
                with trio.move_on_after(float(self.slot.current.config.daemon.shutdown_grace)):
                    await self._drained.wait()
                conns.cancel_scope.cancel()
                self._stuck_timer = _exit_if_stuck(self._owned_socket)
            services.cancel_scope.cancel()

    async def _accept_loop(
        self, listener: trio.SocketListener, authorizer: Authorizer, conns: trio.Nursery
    ) -> None:
        while True:
            try:
                stream = await listener.accept()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            except OSError as exc:  # EMFILE and friends: back off, keep serving others
                log.warning("accept failed: %s", exc)
                await trio.sleep(0.1)
                continue
            conns.start_soon(self._serve_connection, stream, authorizer)

    async def _serve_connection(self, stream: trio.SocketStream, authorizer: Authorizer) -> None:
        from aios.protocol import PERMISSION_DENIED, ErrorResponse, encode

        peer = peer_cred(stream.socket)
        if not authorizer.allows(peer):
            log.warning("refused connection from uid %d gid %d pid %d", peer.uid, peer.gid, peer.pid)
            with trio.move_on_after(1):
                try:
                    await stream.send_all(
                        encode(
                            ErrorResponse(
                                None,
                                PERMISSION_DENIED,
                                f"permission denied: uid {peer.uid} may not use this daemon "
                                "(daemon.allowed_uids / daemon.allowed_gids)",
                            )
                        )
                    )
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
            await stream.aclose()
            return
        conn = Connection(self, stream, peer)
        self.connections.add(conn)
        try:
            await conn.serve()
        finally:
            self.connections.discard(conn)

    async def _watch_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                log.info("received %s", signal.Signals(signum).name)
                if signum == signal.SIGHUP:
                    self.supervisor.start_soon(self.reload, "SIGHUP")
                else:
                    self.stop()

    async def _watchdog(self, interval: float) -> None:
        while True:
            _systemd.sd_notify("WATCHDOG=1")
            await trio.sleep(interval / 2)
