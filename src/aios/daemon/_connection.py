"""One client connection: read lines, dispatch requests concurrently, write replies.

Cancellation: a client that goes away (full close, or a failed write) cancels its in-flight
requests, and with them any running turn or tool. A client that only half-closes (``socat``
after its input ends) still gets the answers to what it asked.
"""

from __future__ import annotations

import collections
import itertools
import logging
import select
import traceback
from typing import Any, Protocol, cast

import attrs
import trio

from aios.errors import INTERNAL_ERROR, AiosError, ClientError, LineTooLong
from aios.protocol import (
    ErrorResponse,
    LineBuffer,
    MessageError,
    Notification,
    Request,
    Response,
    encode,
    fastjson,
    parse_message,
)

from ._approvals import check_method
from ._listen import PeerCred
from ._registry import _NO_PARAMS, DaemonView, RequestContext
from ._services import ServicesSlot

log = logging.getLogger("aios.daemon")

MAX_IN_FLIGHT = 64
"""Requests of one connection served at once; later ones wait in its backlog."""
RECEIVE_SIZE = 65536
HANGUP_POLL_S = 0.1


class Server(DaemonView, Protocol):
    """What a connection uses of the daemon: its methods, its services, its request count."""

    @property
    def slot(self) -> ServicesSlot: ...

    def request_started(self) -> None: ...

    def request_finished(self) -> None: ...


@attrs.define(eq=False)
class _Pending:
    event: trio.Event = attrs.field(factory=trio.Event)
    reply: Response | ErrorResponse | None = None


class Connection:
    """Serves one accepted stream until the client leaves or the daemon stops."""

    def __init__(self, daemon: Server, stream: trio.SocketStream, peer: PeerCred) -> None:
        self.daemon = daemon
        self.stream = stream
        self.peer = peer
        self._buffer = LineBuffer(int(daemon.slot.current.config.daemon.max_line))
        self._sending = False
        self._send_waiters = trio.lowlevel.ParkingLot()
        self._in_flight = 0
        # Requests beyond MAX_IN_FLIGHT wait here while the reader goes on reading, so the
        # client's answers to our own requests (confirm) still get through. Bounded in bytes:
        # past daemon.max_line the reader waits (back-pressure) until a request finishes.
        self._backlog: collections.deque[tuple[Request, int]] = collections.deque()
        self._backlog_bytes = 0
        self._backlog_room = trio.lowlevel.ParkingLot()
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._scope: trio.CancelScope | None = None
        self._nursery: trio.Nursery | None = None
        self._unsent = b""

    async def serve(self) -> None:
        """Read and dispatch until EOF; then finish (or, on hangup, cancel) what is in flight."""
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                self._nursery = nursery
                await self._read_loop(nursery)
                if self._in_flight and not self._closed:
                    nursery.start_soon(self._watch_hangup, nursery.cancel_scope)
        finally:
            self._closed = True
            for pending in self._pending.values():
                pending.event.set()
            with trio.CancelScope(shield=True):
                await self.stream.aclose()

    async def _read_loop(self, nursery: trio.Nursery) -> None:
        while not self._closed:
            try:
                data = await self.stream.receive_some(RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._closed = True
                nursery.cancel_scope.cancel()
                return
            if not data:
                return
            try:
                lines = self._buffer.feed(data)
            except LineTooLong as exc:
                await self._send_message(
                    ErrorResponse(
                        None,
                        exc.code,
                        f"{exc.message} (daemon.max_line); the connection is closed",
                    )
                )
                self._closed = True
                nursery.cancel_scope.cancel()
                return
            for line in lines:
                if not await self._fast_path(line):
                    await self._dispatch_line(line, nursery)
            while self._backlog_bytes > self._buffer.max_line:
                await self._backlog_room.park()

    async def _fast_path(self, line: bytes) -> bool:
        """Serve an inline, parameterless request (``ping``, ``status``…) with the fewest steps:
        no message objects, no task, no params structuring. False when the line needs the
        general path (which also reports every kind of bad input)."""
        try:
            obj = fastjson.loads(line)
        except ValueError:
            return False
        if type(obj) is not dict or obj.get("jsonrpc") != "2.0":
            return False
        params = obj.get("params")
        if params is not None and (type(params) is not dict or params):
            return False
        name, rid = obj.get("method"), obj.get("id")
        if type(name) is not str or not (type(rid) is int or type(rid) is str):
            return False
        method = self.daemon.registry.inline_method(name)
        if method is None:
            return False
        try:
            services = self.daemon.slot.current
            check_method(name, self.peer, services.config.daemon.approver_gids)
            result = await method.handler(RequestContext(self.daemon, self, rid, self.peer, services), _NO_PARAMS)
            data = fastjson.dumps({"jsonrpc": "2.0", "id": rid, "result": result}) + b"\n"
        except AiosError as exc:
            data = encode(ErrorResponse.from_exception(rid, exc), fastjson.dumps)
        except Exception as exc:  # a bug in one handler fails that call alone
            log.error("method %s failed:\n%s", name, traceback.format_exc())
            data = encode(ErrorResponse(rid, INTERNAL_ERROR, f"internal error in {name}: {exc!r}"), fastjson.dumps)
        await self._send_bytes(data)
        return True

    async def _dispatch_line(self, line: bytes, nursery: trio.Nursery) -> None:
        try:
            message = parse_message(line, fastjson.loads)
        except MessageError as exc:
            await self._send_message(ErrorResponse(exc.id, exc.code, exc.message))
            return
        if isinstance(message, Request):
            if self.daemon.registry.is_inline(message.method):
                # Quick methods that never wait run in the reader task: no task switch.
                await self._send_message(await self._call(message))
                return
            self.daemon.request_started()
            if self._in_flight < MAX_IN_FLIGHT:
                self._in_flight += 1
                nursery.start_soon(self._handle_request, message)
            else:
                self._backlog.append((message, len(line)))
                self._backlog_bytes += len(line)
        elif isinstance(message, Notification):
            # Client notifications carry no reply; none are defined yet, so they are ignored.
            log.debug("ignored notification %s", message.method)
        else:
            key = str(message.id)
            pending = self._pending.get(key)
            if pending is not None:
                pending.reply = message
                pending.event.set()

    async def _handle_request(self, request: Request) -> None:
        try:
            reply = await self._call(request)
            await self._send_message(reply)
        finally:
            self._next_from_backlog()
            self.daemon.request_finished()

    def _next_from_backlog(self) -> None:
        """A request finished: hand its slot to the oldest waiting one (or drop them all when
        the connection is going away)."""
        nursery = self._nursery
        if not self._backlog:
            self._in_flight -= 1
            return
        if nursery is None or nursery.cancel_scope.cancel_called:
            self._in_flight -= 1
            for _ in self._backlog:
                self.daemon.request_finished()
            self._backlog.clear()
            self._backlog_bytes = 0
        else:
            request, size = self._backlog.popleft()
            self._backlog_bytes -= size
            nursery.start_soon(self._handle_request, request)
        if self._backlog_bytes <= self._buffer.max_line:
            self._backlog_room.unpark_all()

    async def _call(self, request: Request) -> Response | ErrorResponse:
        try:
            method, params = self.daemon.registry.resolve(request.method, request.params)
            # The services in force now serve this request to its end, whatever a reload swaps in.
            services = self.daemon.slot.current
            check_method(request.method, self.peer, services.config.daemon.approver_gids)
            # RequestContext.request_id predates fractional ids (any JSON number is one); no
            # handler reads it.
            ctx = RequestContext(self.daemon, self, cast("int | str", request.id), self.peer, services)
            result = await method.handler(ctx, params)
            return Response(request.id, result)
        except AiosError as exc:
            return ErrorResponse.from_exception(request.id, exc)
        except Exception as exc:  # a bug in one handler fails that call alone
            log.error("method %s failed:\n%s", request.method, traceback.format_exc())
            return ErrorResponse(
                request.id, INTERNAL_ERROR, f"internal error in {request.method}: {exc!r}"
            )

    async def _watch_hangup(self, scope: trio.CancelScope) -> None:
        """After EOF: cancel in-flight work if the peer closed fully (POLLHUP), not half."""
        poller = select.poll()
        poller.register(self.stream.socket.fileno(), select.POLLHUP)
        while self._in_flight:
            if poller.poll(0):
                log.debug("client %s hung up; cancelling its requests", self.peer.pid)
                self._closed = True
                scope.cancel()
                return
            await trio.sleep(HANGUP_POLL_S)

    async def _send_message(self, message: Any) -> bool:
        if self._closed and not isinstance(message, ErrorResponse):
            return False
        return await self._send_bytes(encode(message, fastjson.dumps))

    async def _send_bytes(self, data: bytes) -> bool:
        try:
            # A plain flag is the lock while nobody waits; the parking lot only on contention.
            while self._sending:
                await self._send_waiters.park()
            self._sending = True
            try:
                await self._write(data)
            finally:
                self._sending = False
                if self._send_waiters:
                    self._send_waiters.unpark()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            self._closed = True
            if self._scope is not None:
                self._scope.cancel()
            return False
        return True

    async def _write(self, data: bytes) -> None:
        """Write one message (and the rest of one cut short before it); hold the send lock.

        Cancellation: a message is never left half-written, which would glue the next message
        onto it and break the framing for the client. When the caller is cancelled (a confirm
        that timed out, a tool past its deadline) after part of the line went out, the rest is
        kept and written first by the next sender, or by a flush task when nobody sends.
        """
        owed = len(self._unsent)
        if owed:
            data = self._unsent + data
            self._unsent = b""
        view = memoryview(data)
        sock = self.stream.socket
        sent = 0
        try:
            while sent < len(view):
                # trio's send raises Cancelled only before a byte is written, so ``sent`` is exact.
                sent += await sock.send(view[sent:])
        except trio.Cancelled:
            if sent < owed:
                self._unsent = bytes(view[sent:owed])  # our own message never started: drop it
            elif sent > owed:
                self._unsent = bytes(view[sent:])
            nursery = self._nursery
            if self._unsent and nursery is not None and not nursery.cancel_scope.cancel_called:
                nursery.start_soon(self._send_bytes, b"")
            raise

    async def notify(self, method: str, params: dict[str, Any]) -> None:
        await self._send_message(Notification(method, params))

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        """Ask the client something and wait for the answer (callers bound the wait)."""
        key = f"aios-{next(self._ids)}"
        pending = _Pending()
        self._pending[key] = pending
        try:
            if not await self._send_message(Request(key, method, params)):
                raise ClientError(f"the client went away before answering {method}")
            await pending.event.wait()
        finally:
            self._pending.pop(key, None)
        reply = pending.reply
        if reply is None:
            raise ClientError(f"the client went away before answering {method}")
        if isinstance(reply, ErrorResponse):
            raise ClientError(f"the client answered {method} with an error: {reply.message}")
        return reply.result
