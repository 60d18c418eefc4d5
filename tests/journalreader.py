"""Reading back what aios sends to the journal: systemd's native datagram format."""

from __future__ import annotations

import struct


def parse_native(data: bytes) -> dict[str, str]:
    """``KEY=value`` lines, or ``KEY``, a newline, a little-endian u64 length, the value, a newline."""
    out: dict[str, str] = {}
    while data:
        line, sep, rest = data.partition(b"\n")
        assert sep, data
        if b"=" in line:
            key, _, value = line.partition(b"=")
            out[key.decode()] = value.decode()
            data = rest
        else:
            (size,) = struct.unpack("<Q", rest[:8])
            out[line.decode()] = rest[8:8 + size].decode()
            assert rest[8 + size:9 + size] == b"\n"
            data = rest[8 + size + 1:]
    return out
