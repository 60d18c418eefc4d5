"""Fixtures of the agent tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from llmserver import LLMServer


@pytest.fixture
def servers() -> Iterator[dict[str, LLMServer]]:
    """Scripted model servers: the main agent's and one per worker (a1, a2, a3)."""
    with ExitStack() as stack:
        yield {name: stack.enter_context(LLMServer()) for name in ("main", "a1", "a2", "a3")}
