"""Memory records: the four types, a memory, a search hit."""

from __future__ import annotations

import enum
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

import attrs


class MemoryType(enum.StrEnum):
    """What a memory records."""

    COMMAND = "Command"
    CHAT = "Chat"
    SYSTEM = "System"
    SNAPSHOT = "Snapshot"

    @classmethod
    def parse(cls, text: str | MemoryType) -> MemoryType:
        """Read a type from user input, case-insensitively ("command", "Command").

        Raises:
            ValueError: listing the four types.
        """
        if isinstance(text, MemoryType):
            return text
        for member in cls:
            if member.value.lower() == str(text).strip().lower():
                return member
        raise ValueError(
            f"unknown memory type {text!r}; use one of Command, Chat, System, Snapshot"
        )


def iso(ts: float) -> str:
    """Unix time as ISO-8601 UTC with milliseconds and a ``Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@attrs.frozen
class Memory:
    """One record in the shared memory."""

    id: str
    type: MemoryType
    content: str
    metadata: dict[str, Any]
    created_at: float
    origin: str

    @property
    def created_iso(self) -> str:
        return iso(self.created_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "content": self.content,
            "metadata": self.metadata,
            "created_at": iso(self.created_at),
            "origin": self.origin,
        }


@attrs.frozen
class SearchHit:
    """A memory that matched a query, with a highlighted snippet and why it matched.

    ``score`` is the ranking key: bm25 (lower is better) from :meth:`MemoryStore.search`, the
    fused reciprocal-rank score (higher is better) from :meth:`AsyncMemory.search`.
    ``fts_rank`` and ``vec_rank`` are the 1-based places on the keyword and vector lists (None:
    not on that list); ``bm25`` and ``cosine`` are the raw scores of each side.
    """

    memory: Memory
    snippet: str
    score: float
    fts_rank: int | None = None
    vec_rank: int | None = None
    bm25: float | None = None
    cosine: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.memory.to_json(),
            "snippet": self.snippet,
            "score": self.score,
            "fts_rank": self.fts_rank,
            "vec_rank": self.vec_rank,
            "bm25": self.bm25,
            "cosine": self.cosine,
        }


def default_origin() -> str:
    """Who writes records: ``$AIOS_ORIGIN``, else the host name (a container's own inside one)."""
    return os.environ.get("AIOS_ORIGIN") or socket.gethostname()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """Turn "2h", "30m", "7d", "1w", "2026-11-01" or an ISO time into unix time.

    Raises:
        ValueError: saying which forms are accepted.
    """
    now = time.time() if now is None else now
    t = text.strip().lower()
    if t and t[:-1].replace(".", "", 1).isdigit() and t[-1] in _UNITS:
        return now - float(t[:-1]) * _UNITS[t[-1]]
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time; use a age such as 30m, 2h, 7d, 1w, or a date such as "
            "2026-11-01 or 2026-11-01T12:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
