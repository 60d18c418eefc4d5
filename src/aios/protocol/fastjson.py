"""The daemon's JSON codec (public: ``aios.protocol.fastjson``): orjson (several times faster than the standard library).

Only the daemon imports this module: orjson costs about 25 ms to import, which the CLI's
start-up budget cannot afford, so clients keep the standard library's json.
"""

from __future__ import annotations

from typing import Any

import orjson

from ._messages import _default


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def dumps(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, default=_default)
