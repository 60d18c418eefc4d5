"""Streaming HTTP for providers: retries with backoff, and errors that say what to fix.

Every httpx import of aios lives in this package, so the HTTP library can change in one place.
A fresh client per stream: reusing one client for a second stream to llama-server failed with
"Server disconnected" in our measurements (shared/research/embedded-model.md).
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import ssl
import time
from collections.abc import AsyncGenerator
from typing import Any

import attrs
import httpx
import trio

from aios.errors import ProviderAuthError, ProviderError, ProviderHTTPError, ProviderTimeout

from ._sse import LineSplitter, LineTooLong, split_lines

MAX_ERROR_BODY = 600

MAX_WHOLE_BODY = 32 << 20
"""Bytes read of a body that is not an event stream (one JSON answer is far smaller)."""
MAX_ERROR_READ = 64 << 10
"""Bytes read of an error answer: enough for its message, never an endless page."""


async def _read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the (decoded) body, and whether there was more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False

_CONTEXT_OVERFLOW = re.compile(
    r"context[ _-]?(length|size|window)|maximum context|prompt is too long|too many tokens"
    r"|exceeds? the (available|maximum) context|reduce the length of the (messages|prompt)"
    # TGI's validation.rs: "`inputs` tokens + `max_new_tokens` must be <= N", "`inputs` must have less than N tokens"
    r"|`inputs` tokens \+ `max_new_tokens` must be|`inputs` must have less than \d+ tokens",
    re.IGNORECASE,
)
_NO_TOOLS = re.compile(
    r"(does not|doesn't) support tools|tools? (are|is) not supported"
    # vLLM without --enable-auto-tool-choice; llama.cpp without --jinja (a 500), or too old
    r"|tool choice requires --enable-auto-tool-choice|tools param requires --jinja|cannot use tools with stream",
    re.IGNORECASE,
)


_HTML = re.compile(r"</?(html|body|head|title|h1|center|p|hr|pre)\b", re.IGNORECASE)


def one_line(text: str, limit: int = MAX_ERROR_BODY) -> str:
    """``text`` on one line, tags of an HTML error page dropped, cut to ``limit`` characters."""
    if "<" in text and _HTML.search(text):
        text = re.sub(r"<title>.*?</title>", " ", text, flags=re.IGNORECASE | re.DOTALL)
        text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_detail(err: Any) -> str:
    """The human part of an error object, whatever shape the server gave it: OpenAI's and
    Anthropic's ``{"error": {"message"}}``, llama.cpp's ``{"code", "message", "type"}``, Ollama's
    ``{"error": "text"}``, FastAPI's ``{"detail": [...]}``."""
    if isinstance(err, dict):
        if err.get("error"):
            return error_detail(err["error"])
        for key in ("message", "detail", "msg", "type", "code"):
            if err.get(key):
                return error_detail(err[key])
        return one_line(json.dumps(err))
    if isinstance(err, list):
        return one_line("; ".join(error_detail(e) for e in err))
    return one_line(str(err))


def _server_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return one_line(text)
    return error_detail(data)


MAX_RETRY_WAIT = 30.0
"""A server that asks for a longer wait (a daily quota) gets an error at once, not a retry."""


def _retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait: ``retry-after-ms``, ``Retry-After`` in seconds or as an HTTP date (as
    asked, possibly over :data:`MAX_RETRY_WAIT`), or exponential backoff with jitter."""
    ms = response.headers.get("retry-after-ms")
    header = response.headers.get("retry-after")
    try:
        if ms:
            return max(0.0, float(ms) / 1000)
        if header:
            try:
                return max(0.0, float(header))
            except ValueError:
                when = email.utils.parsedate_to_datetime(header)
                return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        pass
    return min(20.0, 0.5 * 2.0**attempt) * (0.75 + random.random() / 2)


def status_error(status: int, body: bytes, *, provider: str, url: str, key_env: str | None) -> ProviderError:
    """The one-line error for an HTTP status, with the fix."""
    detail = _server_message(body)
    data = {"status": status, "provider": provider}
    if status in (401, 403) and _HTML.search(body.decode("utf-8", "replace")):
        return ProviderHTTPError(
            f"{status} from {url}: an HTML page, not the API's answer ({detail}); a proxy or "
            f"firewall in front of the server refused the request, or llm.providers.{provider}.base_url "
            "is not the API endpoint",
            data=data,
        )
    if status in (401, 403):
        where = f"${key_env}" if key_env else "the configured key"
        return ProviderAuthError(
            f"{status} from {url}: the key in {where} was refused ({detail}); set a valid key, "
            f"or change llm.providers.{provider}.api_key_env",
            data=data,
        )
    if status in (400, 413, 422) and _CONTEXT_OVERFLOW.search(detail):
        return ProviderHTTPError(
            f"{status} from {url}: the conversation is longer than the model's context ({detail}); "
            f"lower llm.context_budget or llm.providers.{provider}.max_tokens, or start a new chat",
            data=data,
        )
    if status in (400, 500) and _NO_TOOLS.search(detail):
        return ProviderHTTPError(
            f"{status} from {url}: {detail}; set llm.providers.{provider}.structured_output = true, "
            "or use a model or server with tool calls (llama-server --jinja; vLLM "
            "--enable-auto-tool-choice --tool-call-parser NAME)",
            data=data,
        )
    if status == 404:
        return ProviderHTTPError(
            f"404 from {url}: unknown model or wrong base_url ({detail}); check "
            f"llm.providers.{provider}.model and .base_url",
            data=data,
        )
    if status == 400 and "model" in detail.lower():
        return ProviderHTTPError(
            f"400 from {url}: {detail}; check llm.providers.{provider}.model",
            data=data,
        )
    if status == 429:
        return ProviderHTTPError(
            f"429 from {url}: rate limited or out of quota ({detail}); wait and try again, or raise "
            f"llm.providers.{provider}.max_retries",
            data=data,
        )
    return ProviderHTTPError(f"{status} from {url}: {detail}", data=data)


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
                        data, _more = await _read_at_most(response, MAX_ERROR_READ)
                        retryable = response.status_code == 429 or (
                            # a 500 saying the server lacks a flag says it again: not retried
                            response.status_code >= 500 and not _NO_TOOLS.search(_server_message(data))
                        )
                        if retryable and attempt < retries:
                            delay = _retry_after(response, attempt)
                            if delay > MAX_RETRY_WAIT:
                                err = status_error(response.status_code, data, provider=provider, url=url, key_env=key_env)
                                raise type(err)(f"{err} (the server asks to wait {delay:.0f} s; not retried)",
                                                data={**(err.data or {}), "retry_after_s": round(delay)})
                            attempt += 1
                            await trio.sleep(delay)
                            continue
                        raise status_error(response.status_code, data, provider=provider, url=url, key_env=key_env)
                    if 300 <= response.status_code < 400:
                        # Not followed: the request (and its key) would go to another address.
                        where = response.headers.get("location") or "another address"
                        raise ProviderError(
                            f"{url} redirects to {where} ({response.status_code}); point "
                            f"llm.providers.{provider}.base_url there (often https:// instead of http://)",
                            data={"provider": provider, "status": response.status_code},
                        )
                    ctype = response.headers.get("content-type", "").lower()
                    if ctype.startswith("text/html"):
                        raise ProviderError(
                            f"{url} answered with an HTML page, not a model stream; is "
                            f"llm.providers.{provider}.base_url the API endpoint (for OpenAI-compatible "
                            "servers usually ending in /v1)?",
                            data={"provider": provider},
                        )
                    if "event-stream" not in ctype:
                        # Not labelled as a stream: a server or proxy that ignored "stream" (one
                        # JSON answer or error object), JSON lines, or a stream labelled wrongly.
                        whole, more = await _read_at_most(response, MAX_WHOLE_BODY)
                        if more:
                            raise ProviderError(
                                f"{url} sent more than {MAX_WHOLE_BODY >> 20} MiB that is not an event "
                                f"stream, not a model reply; is llm.providers.{provider}.base_url right?",
                                data={"provider": provider},
                            )
                        raw = whole.decode("utf-8", "replace")
                        started = True
                        for line in whole_body_lines(raw, url, provider):
                            yield line
                        return
                    splitter = LineSplitter()
                    async for text in response.aiter_text():
                        try:
                            lines = splitter.feed(text)
                        except LineTooLong as exc:
                            raise ProviderError(
                                f"{url} sent {exc}, not a model stream; nothing of this reply was "
                                f"kept; is llm.providers.{provider}.base_url right?",
                                data={"provider": provider},
                            ) from None
                        for line in lines:
                            started = True
                            yield line
                    for line in splitter.close():
                        started = True
                        yield line
                    return
        except httpx.TimeoutException as exc:
            if started:
                raise ProviderTimeout(
                    f"{url} stopped sending for {read_timeout:g} s in the middle of a reply; nothing of "
                    f"this reply was kept; raise llm.providers.{provider}.timeout or check the server",
                    data={"provider": provider},
                ) from exc
            raise ProviderTimeout(
                f"{url} did not answer within {read_timeout:g} s; raise llm.providers.{provider}.timeout "
                "or check the server",
                data={"provider": provider},
            ) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            reason = str(exc) or type(exc).__name__
            if started:  # a reply cut mid-way is never retried: that would splice two replies
                raise ProviderError(
                    f"the stream from {url} was cut before it finished ({reason}); "
                    "nothing of this reply was kept",
                    data={"provider": provider},
                ) from exc
            if attempt < retries:
                attempt += 1
                await trio.sleep(min(10.0, 0.5 * 2.0**attempt))
                continue
            if isinstance(exc, httpx.ConnectError):
                raise ProviderError(
                    f"cannot reach {url}: {reason}; is the server running, and is "
                    f"llm.providers.{provider}.base_url right?",
                    data={"provider": provider},
                ) from exc
            raise ProviderError(
                f"{url} closed the connection without answering ({reason}); is the server running, "
                f"and is llm.providers.{provider}.base_url right?",
                data={"provider": provider},
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"{url}: {type(exc).__name__}: {one_line(str(exc))}", data={"provider": provider}) from exc


def whole_body_lines(raw: str, url: str, provider: str) -> list[str]:
    """A body that was not labelled ``text/event-stream``, as event-stream lines: one JSON
    answer becomes one event; an event stream is passed on as it is; two or more JSON lines
    (NDJSON) become one event each.

    Raises:
        ProviderError: the body is none of these.
    """
    try:
        whole = json.loads(raw)
    except (ValueError, RecursionError):
        pass
    else:
        return ["data: " + json.dumps(whole), ""]
    head = raw.lstrip("\ufeff \t\r\n")
    if head.startswith(("data:", "event:", ":", "error:", "id:", "retry:")):
        return split_lines(raw)
    lines = [line for line in split_lines(raw) if line.strip()]
    if len(lines) >= 2 and all(line.lstrip().startswith(("{", "[")) for line in lines):
        return [part for line in lines for part in ("data: " + line, "")]
    if not head:
        raise ProviderError(f"{url} answered with an empty body, not a model reply", data={"provider": provider})
    what = "a malformed JSON answer" if head.startswith(("{", "[")) else "something that is not a model reply"
    raise ProviderError(f"{url} sent {what}: {one_line(raw, 120)!r}", data={"provider": provider})


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
