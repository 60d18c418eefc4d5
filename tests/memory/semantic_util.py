"""Helpers for the semantic-memory tests: open a store with the real model and wait for vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import trio

from aios.memory import MINILM_ID, AsyncMemory, MiniLM, Semantic


async def open_semantic(path: Path, *, loaders: dict[str, object] | None = None, preferred: str | None = MINILM_ID) -> AsyncMemory:
    """An AsyncMemory with semantic memory (the bundled model unless ``loaders`` says otherwise)."""
    semantic = Semantic(path, loaders or {MINILM_ID: MiniLM.load}, preferred)  # type: ignore[arg-type]
    return await AsyncMemory.open(path, semantic=semantic)


EMBED_TIMEOUT = 240.0  # the machine is shared by many test runs; the model is slow under load


async def wait_embedded(mem: AsyncMemory) -> None:
    """Wait (polling; the back-fill runs in its own thread) until every memory has a vector."""
    with trio.fail_after(EMBED_TIMEOUT):
        while True:
            progress = await mem.progress()
            assert progress is not None
            if progress.ready and progress.embedded >= progress.total:
                return
            await trio.sleep(0.1)


def rank_of(ids: Sequence[str], wanted: str) -> int | None:
    """1-based place of ``wanted`` in ``ids``, or None."""
    return ids.index(wanted) + 1 if wanted in ids else None
