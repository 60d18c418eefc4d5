"""Streaming HTTP for providers: retries with backoff, and errors that say what to fix.

Every httpx import of aios lives in this package, so the HTTP library can change in one place.
A fresh client per stream: reusing one client for a second stream to llama-server failed with
"Server disconnected" in our measurements (shared/research/embedded-model.md).
"""

from __future__ import annotations

import json
import random
import ssl
from collections.abc import AsyncGenerator
from typing import Any

import attrs
import httpx
import trio

from aios.errors import ProviderAuthError, ProviderError, ProviderHTTPError, ProviderTimeout

MAX_ERROR_BODY = 600


def _server_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")[:MAX_ERROR_BODY].strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or err)
    return str(err)


def _retry_after(response: httpx.Response, attempt: int) -> float:
    header = response.headers.get("retry-after")
    if header:
        try:
            return min(30.0, max(0.0, float(header)))
        except ValueError:
            pass
    return min(20.0, 0.5 * 2.0**attempt) * (0.75 + random.random() / 2)


def status_error(status: int, body: bytes, *, provider: str, url: str, key_env: str | None) -> ProviderError:
    """The one-line error for an HTTP status, with the fix."""
    detail = _server_message(body)
    if status in (401, 403):
        where = f"${key_env}" if key_env else "the configured key"
        return ProviderAuthError(
            f"{status} from {url}: the key in {where} was refused ({detail}); set a valid key, "
            f"or change llm.providers.{provider}.api_key_env",
            data={"status": status, "provider": provider},
        )
    if status == 404:
        return ProviderHTTPError(
            f"404 from {url}: unknown model or wrong base_url ({detail}); check "
            f"llm.providers.{provider}.model and .base_url",
            data={"status": status, "provider": provider},
        )
    if status == 400 and "model" in detail.lower():
        return ProviderHTTPError(
            f"400 from {url}: {detail}; check llm.providers.{provider}.model",
            data={"status": status, "provider": provider},
        )
    return ProviderHTTPError(f"{status} from {url}: {detail}", data={"status": status, "provider": provider})


_ssl_context: ssl.SSLContext | None = None


async def ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once: building it costs ~35 ms (loading the CA
    bundle), which a fresh client per request would pay on every model call."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = await trio.to_thread.run_sync(httpx.create_ssl_context)
    return _ssl_context


async def stream_lines(
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    provider: str,
    key_env: str | None,
    read_timeout: float,
    retries: int,
) -> AsyncGenerator[str, None]:
    """POST ``body`` and yield the response's lines; retry 429/5xx and connection failures.

    Retries happen only before the first line is yielded, so nothing is ever delivered twice.

    Raises:
        ProviderAuthError, ProviderHTTPError, ProviderTimeout, ProviderError
    """
    timeout = httpx.Timeout(connect=min(10.0, read_timeout), read=read_timeout, write=30.0, pool=10.0)
    attempt = 0
    started = False
    while True:
        try:
            async with httpx.AsyncClient(timeout=timeout, verify=await ssl_context()) as client:
                async with client.stream("POST", url, json=body, headers=headers) as response:
                    if response.status_code >= 400:
                        data = await response.aread()
                        if (response.status_code == 429 or response.status_code >= 500) and attempt < retries:
                            delay = _retry_after(response, attempt)
                            attempt += 1
                            await trio.sleep(delay)
                            continue
                        raise status_error(response.status_code, data, provider=provider, url=url, key_env=key_env)
                    async for line in response.aiter_lines():
                        started = True
                        yield line
                    return
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(
                f"{url} did not answer within {read_timeout:.0f} s; raise llm.providers.{provider}.timeout "
                "or check the server",
                data={"provider": provider},
            ) from exc
        except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
            if started:  # a reply cut mid-way is never retried: that would splice two replies
                raise ProviderError(
                    f"the stream from {url} was cut before it finished ({exc or type(exc).__name__}); "
                    "nothing of this reply was kept",
                    data={"provider": provider},
                ) from exc
            if attempt < retries:
                attempt += 1
                await trio.sleep(min(10.0, 0.5 * 2.0**attempt))
                continue
            raise ProviderError(
                f"cannot reach {url}: {exc or type(exc).__name__}; is the server running, and is "
                f"llm.providers.{provider}.base_url right?",
                data={"provider": provider},
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"{url}: {type(exc).__name__}: {exc}", data={"provider": provider}) from exc


def _strip_slash(url: str) -> str:
    return url.rstrip("/")


@attrs.define(kw_only=True)
class StreamingProvider:
    """What every HTTP provider is configured with (see :func:`aios.agent.make_provider`)."""

    kind: str = "openai"
    name: str
    base_url: str = attrs.field(converter=_strip_slash)
    model: str
    api_key: str | None
    key_env: str | None
    timeout: float
    retries: int
    max_tokens: int
    temperature: float
    structured: bool
