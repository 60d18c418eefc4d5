"""Turning a :class:`ProviderChoice` into a provider object."""

from __future__ import annotations

from typing import Any

from ._openai import OpenAIProvider
from ._select import ProviderChoice


def make_provider(choice: ProviderChoice, *, base_url: str | None = None, api_key: str | None = None) -> Any:
    """The provider for ``choice``; ``base_url`` and ``api_key`` override the configured ones
    (the embedded server's private address and per-start key)."""
    cfg = choice.config
    kwargs: dict[str, Any] = {
        "name": choice.name,
        "base_url": base_url or cfg.base_url or "",
        "model": choice.model,
        "api_key": api_key or choice.api_key,
        "key_env": cfg.api_key_env,
        "timeout": float(cfg.timeout),
        "retries": cfg.max_retries,
        "max_tokens": cfg.max_tokens,
        "temperature": cfg.temperature,
        "structured": choice.structured,
    }
    if cfg.kind == "anthropic":
        from ._anthropic import AnthropicProvider

        return AnthropicProvider(**kwargs)
    return OpenAIProvider(kind="embedded" if cfg.kind == "embedded" else "openai", **kwargs)
