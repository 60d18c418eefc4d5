"""Method registry: names, typed params, handlers.

A method module defines handlers and a ``register(registry)`` function::

    @attrs.frozen
    class SearchParams:
        query: str
        limit: int = 20

    async def search(ctx: RequestContext, p: SearchParams) -> list[dict]:
        return [m.to_json() for m in await ctx.services.memory.search(p.query, limit=p.limit)]

    def register(reg: Registry) -> None:
        reg.add("memory.search", search, SearchParams, "Search memories (bm25).")

Params are structured with one cattrs converter (unknown keys forbidden); a structure error
becomes JSON-RPC -32602 naming the parameter. Handlers receive a :class:`RequestContext` that
can send notifications and server-to-client requests on the caller's connection.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import cattrs

from aios.errors import InvalidParams, MethodNotFound

from ._listen import PeerCred
from ._services import Services

if TYPE_CHECKING:
    import trio

    from ._reload import ReloadResult

Handler = Callable[["RequestContext", Any], Awaitable[Any]]

_params = cattrs.Converter(forbid_extra_keys=True)


def _strict(v: Any, t: type) -> Any:
    if t is bool and not isinstance(v, bool):
        raise ValueError("expected true or false")
    if t is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise ValueError("expected an integer")
    if t is int and not -(2**63) <= v < 2**63:
        raise ValueError("out of range (a 64-bit integer)")
    if t is float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError("expected a number")
        return float(v)
    if t is str and not isinstance(v, str):
        raise ValueError("expected a string")
    if t is str and "\x00" in v:
        raise ValueError("must not contain a NUL character (no path, command or name can)")
    return v


for _t in (bool, int, float, str):
    _params.register_structure_hook(_t, _strict)


def _is_union(t: Any) -> bool:
    return typing.get_origin(t) in (typing.Union, types.UnionType)


def _union_hook(t: Any) -> Callable[[Any, Any], Any]:
    members = typing.get_args(t)

    def structure(value: Any, _: Any) -> Any:
        if value is None:
            if type(None) in members:
                return None
            raise ValueError("must not be null")
        problems = []
        for member in members:
            if member is type(None):
                continue
            if typing.get_origin(member) is list and not isinstance(value, list):
                continue
            try:
                return _params.structure(value, member)
            except (ValueError, TypeError, cattrs.BaseValidationError) as exc:
                problems.append(str(exc))
        names = " or ".join(getattr(m, "__name__", str(m)) for m in members if m is not type(None))
        raise ValueError(f"expected {names}")

    return structure


_params.register_structure_hook_factory(_is_union, _union_hook)


@attrs.frozen
class NoParams:
    """For methods that take no parameters."""


_NO_PARAMS = NoParams()


class DaemonView(Protocol):
    """What handlers use of the daemon itself; its config and parts are ``ctx.services``."""

    @property
    def registry(self) -> Registry: ...

    @property
    def supervisor(self) -> trio.Nursery:
        """For long-lived children (the embedded model server)."""
        ...

    def facts(self) -> dict[str, Any]:
        """``uptime_s``, ``scope``, ``socket``, ``clients`` and ``config`` (its state), for ``status``."""
        ...

    def stop(self) -> None: ...

    @property
    def stopping(self) -> trio.Event:
        """Set when the daemon begins to stop (long-running streams end then)."""
        ...

    async def reload(self, trigger: str) -> ReloadResult: ...


class Caller(Protocol):
    """The caller's end of a connection, as a handler uses it."""

    async def notify(self, method: str, params: dict[str, Any]) -> None: ...

    async def request(self, method: str, params: dict[str, Any]) -> Any: ...


@attrs.define
class RequestContext:
    """What a handler knows about the call it serves."""

    daemon: DaemonView
    conn: Caller
    request_id: int | str | None
    peer: PeerCred
    services: Services
    """The services in force when the request started; a reload does not change them under it."""

    async def notify(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification to the caller (streaming). Never raises on a gone client."""
        await self.conn.notify(method, params)

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        """Send a request to the caller and wait for its answer (callers set a timeout).

        Raises:
            ClientError: the client answered with an error or went away.
        """
        return await self.conn.request(method, params)


@attrs.frozen
class Method:
    name: str
    handler: Handler
    params: type
    summary: str
    inline: bool = False
    """Never waits on anything: served in the connection's reader task, without a task switch."""


class Registry:
    """All methods the daemon serves."""

    def __init__(self) -> None:
        self._methods: dict[str, Method] = {}

    def add(
        self,
        name: str,
        handler: Handler,
        params: type = NoParams,
        summary: str = "",
        *,
        inline: bool = False,
    ) -> None:
        if name in self._methods:
            raise ValueError(f"method {name!r} registered twice")
        self._methods[name] = Method(name, handler, params, summary, inline)

    def inline_method(self, name: str) -> Method | None:
        """The method if it is served inline and takes no params (the fast path), else None."""
        method = self._methods.get(name)
        return method if method is not None and method.inline and method.params is NoParams else None

    def is_inline(self, name: str) -> bool:
        method = self._methods.get(name)
        return method is not None and method.inline

    def names(self) -> list[str]:
        return sorted(self._methods)

    def describe(self) -> list[dict[str, str]]:
        return [{"method": m.name, "summary": m.summary} for _, m in sorted(self._methods.items())]

    def resolve(self, name: str, raw: dict[str, Any]) -> tuple[Method, Any]:
        """Find a method and structure its params.

        Raises:
            MethodNotFound, InvalidParams
        """
        method = self._methods.get(name)
        if method is None:
            raise MethodNotFound(f"method not found: {name!r}", data={"methods": self.names()})
        if method.params is NoParams and not raw:
            return method, _NO_PARAMS
        try:
            params: Any = _params.structure(raw, method.params)
        except cattrs.BaseValidationError as exc:
            problems = cattrs.transform_error(exc, path="params")
            raise InvalidParams(
                f"invalid params for {name}: " + "; ".join(problems),
                data={"problems": problems},
            ) from exc
        except (TypeError, ValueError) as exc:
            raise InvalidParams(f"invalid params for {name}: {exc}") from exc
        return method, params
