"""Misbehaving tool plugins for the tests (found through the entry points beside this file)."""

from __future__ import annotations

import time
from typing import Any

import trio

SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


class Explode:
    name = "explode"
    description = "Raises."
    parameters = SCHEMA

    async def execute(self, args: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("kaboom")


class Hang:
    name = "hang"
    description = "Never returns."
    parameters = SCHEMA

    async def execute(self, args: dict[str, Any], context: Any) -> Any:
        await trio.sleep_forever()


class BlockThread:
    name = "block_thread"
    description = "Blocks a worker thread that no cancellation can reach."
    parameters = SCHEMA

    async def execute(self, args: dict[str, Any], context: Any) -> Any:
        await trio.to_thread.run_sync(time.sleep, 3600)  # abandon_on_cancel=False: uncancellable


class Garbage:
    name = "garbage"
    description = "Returns something that is not a result."
    parameters = SCHEMA

    async def execute(self, args: dict[str, Any], context: Any) -> Any:
        return 42


class NotATool:
    name = "bad schema"
    description = "Fails to register."
    parameters = {"type": "not-a-type"}  # noqa: RUF012

    async def execute(self, args: dict[str, Any], context: Any) -> Any:
        return "never"
