"""Collecting config errors, so that one load reports every problem at once.

A combined :class:`~aios.errors.ConfigError` keeps the house shape (``source`` and ``key`` of the
first problem, so callers that look at one keep working) and carries every problem in
``data["errors"]`` (``message``, ``source``, ``key``), which also crosses the JSON-RPC boundary.
Its message has one line per problem; the CLI prints each as its own ``aios:`` line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aios.errors import ConfigError


class Problems:
    """Collects config errors so that one load reports all of them.

    Usage: ``with problems.collect(): ...`` around each step that may raise, then
    :meth:`raise_if_any` once at the end.
    """

    def __init__(self) -> None:
        self.items: list[ConfigError] = []

    def add(self, exc: ConfigError) -> None:
        self.items.extend(split(exc))

    @contextmanager
    def collect(self) -> Iterator[None]:
        try:
            yield
        except ConfigError as exc:
            self.add(exc)

    def raise_if_any(self) -> None:
        if self.items:
            raise combine(self.items)


def combine(errors: list[ConfigError]) -> ConfigError:
    """One error for several: the message has one line per error, ``data["errors"]`` each one.

    ``source`` and ``key`` are those of the first error, so callers that look at one keep working.
    """
    if len(errors) == 1:
        return errors[0]
    combined = ConfigError(
        "\n".join(e.message for e in errors), source=errors[0].source, key=errors[0].key
    )
    combined.data["errors"] = [
        {"message": e.message, "source": e.source, "key": e.key} for e in errors
    ]
    return combined


def split(exc: ConfigError) -> list[ConfigError]:
    """The single errors inside ``exc`` (itself when it is one)."""
    parts = exc.data.get("errors")
    if not isinstance(parts, list):
        return [exc]
    return [ConfigError(p["message"], source=p["source"], key=p["key"]) for p in parts]
