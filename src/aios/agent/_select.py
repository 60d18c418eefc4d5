"""Which model answers: the configured provider, else an API key in the environment, else the
embedded model. The choice says why, so the CLI can tell the person."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from aios.config import LlmConfig, ProviderConfig
from aios.errors import ConfigError

from ._embedded import MODEL_NAME

OPENAI_DEFAULT = ("https://api.openai.com/v1", "gpt-4o-mini")
ANTHROPIC_DEFAULT = ("https://api.anthropic.com", "claude-3-5-haiku-latest")

EMBEDDED_NOTICE = (
    f"answers come from the embedded {MODEL_NAME}, a very small offline model for trying aios out: "
    "expect simple commands and clumsy answers. Configure a real model in "
    "~/.config/aios/config.toml ([llm] default_provider and [llm.providers.NAME], see "
    "docs/providers.md) or set OPENAI_API_KEY or ANTHROPIC_API_KEY."
)


@attrs.frozen
class ProviderChoice:
    """A provider to use, and why it was chosen."""

    name: str
    config: ProviderConfig
    reason: str
    api_key: str | None

    @property
    def structured(self) -> bool:
        if self.config.structured_output is not None:
            return self.config.structured_output
        return self.config.kind == "embedded"

    @property
    def model(self) -> str:
        return self.config.model or (MODEL_NAME if self.config.kind == "embedded" else "")

    @property
    def tools(self) -> list[str] | None:
        """Names of the tools to offer (None: all)."""
        if self.config.tools is not None:
            return list(self.config.tools)
        return ["bash"] if self.config.kind == "embedded" else None

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.config.kind,
            "model": self.model,
            "base_url": self.config.base_url,
            "structured_output": self.structured,
            "reason": self.reason,
        }


def select_provider(llm: LlmConfig, environ: Mapping[str, str] | None = None) -> ProviderChoice:
    """Pick the provider for a chat.

    Raises:
        ConfigError: ``default_provider`` names no section, or a key variable is empty.
    """
    env = os.environ if environ is None else environ
    if llm.default_provider is not None:
        if llm.default_provider not in llm.providers:
            known = ", ".join(sorted(llm.providers)) or "none"
            raise ConfigError(
                f"llm.default_provider = {llm.default_provider!r} names no [llm.providers.NAME] section (configured: {known})",
                key="llm.default_provider",
            )
        return _configured(llm.default_provider, llm.providers[llm.default_provider], env, "llm.default_provider")
    if len(llm.providers) == 1:
        (name, cfg), = llm.providers.items()
        return _configured(name, cfg, env, "the only configured provider")
    if len(llm.providers) > 1:
        raise ConfigError(
            f"several providers are configured ({', '.join(sorted(llm.providers))}); choose one with llm.default_provider",
            key="llm.default_provider",
        )
    if env.get("OPENAI_API_KEY"):
        url, model = OPENAI_DEFAULT
        cfg = ProviderConfig(kind="openai", base_url=url, model=model, api_key_env="OPENAI_API_KEY")
        return ProviderChoice("openai", cfg, "no provider configured; OPENAI_API_KEY is set", env["OPENAI_API_KEY"])
    if env.get("ANTHROPIC_API_KEY"):
        url, model = ANTHROPIC_DEFAULT
        cfg = ProviderConfig(kind="anthropic", base_url=url, model=model, api_key_env="ANTHROPIC_API_KEY")
        return ProviderChoice("anthropic", cfg, "no provider configured; ANTHROPIC_API_KEY is set", env["ANTHROPIC_API_KEY"])
    return ProviderChoice(
        "embedded", ProviderConfig(kind="embedded"), "no provider configured and no API key found", None
    )


def _configured(name: str, cfg: ProviderConfig, env: Mapping[str, str], why: str) -> ProviderChoice:
    key = None
    if cfg.api_key_env:
        key = env.get(cfg.api_key_env)
        if not key:
            raise ConfigError(
                f"llm.providers.{name}.api_key_env = {cfg.api_key_env!r}, but that variable is not set "
                "in the daemon's environment",
                key=f"llm.providers.{name}.api_key_env",
            )
    if cfg.kind != "embedded" and not cfg.base_url:
        raise ConfigError(f"llm.providers.{name}.base_url is required for kind {cfg.kind!r}", key=f"llm.providers.{name}.base_url")
    if cfg.kind != "embedded" and not cfg.model:
        raise ConfigError(f"llm.providers.{name}.model is required for kind {cfg.kind!r}", key=f"llm.providers.{name}.model")
    return ProviderChoice(name, cfg, why, key)


def named_provider(llm: LlmConfig, name: str, environ: Mapping[str, str] | None = None) -> ProviderChoice:
    """The provider of the section ``[llm.providers.NAME]`` (a specialist's own ``provider``).

    Raises:
        ConfigError: no such section, or its key variable is empty.
    """
    env = os.environ if environ is None else environ
    if name not in llm.providers:
        known = ", ".join(sorted(llm.providers)) or "none"
        raise ConfigError(f"no [llm.providers.{name}] section (configured: {known})", key=f"llm.providers.{name}")
    return _configured(name, llm.providers[name], env, f"chosen by the agent's provider = {name!r}")
