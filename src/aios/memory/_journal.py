"""Copying audit records to the systemd journal with its native protocol (no dependency).

The journal reads one datagram per entry on ``/run/systemd/journal/socket``: ``KEY=value``
lines, or, for a value holding a newline, ``KEY``, a newline, the value's length as 64-bit
little-endian, the value and a newline (systemd's ``journal-native`` protocol). Where there is
no journal (a container, a test), nothing is sent and nothing fails.
"""

from __future__ import annotations

import logging
import re
import socket
import struct
from typing import Any

log = logging.getLogger("aios.audit")

DEFAULT_SOCKET = "/run/systemd/journal/socket"
PRIORITY = {"block": 4, "confirm": 5, "allow": 6}
"""warning, notice, info; a ``prune`` record (no decision) is a notice."""
MAX_VALUE = 8192
"""A longer field is cut: the journal is a copy, the database holds the whole record."""

_BAD_KEY = re.compile(r"[^A-Z0-9_]")


def encode(fields: dict[str, str]) -> bytes:
    """One journal entry as a native-protocol datagram."""
    out = bytearray()
    for key, value in fields.items():
        data = value.encode("utf-8", "replace")
        if b"\n" in data:
            out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key.encode() + b"=" + data + b"\n"
    return bytes(out)


def entry(record: dict[str, Any]) -> dict[str, str]:
    """The journal fields of an audit record: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, AIOS_*."""
    decision = record.get("decision")
    fields = {
        "MESSAGE": summary(record),
        "PRIORITY": str(PRIORITY.get(str(decision), 5)),
        "SYSLOG_IDENTIFIER": "aios",
    }
    for key, value in sorted(record.items()):
        if value is None or isinstance(value, dict | list):
            continue
        name = "AIOS_" + _BAD_KEY.sub("_", key.upper())
        fields[name] = (str(value).lower() if isinstance(value, bool) else str(value))[:MAX_VALUE]
    return fields


def summary(record: dict[str, Any]) -> str:
    """One line: decision, tool, subject, rule, requester (also the INFO log line)."""
    if record.get("kind") == "prune":
        return f"audit: {record.get('reason')}"
    who = f"uid {record.get('requester_uid')}"
    if record.get("agent"):
        who += f" agent {record['agent']}"
    approval = ""
    if record.get("decision") == "confirm":
        how = record.get("approved_how")
        if record.get("approved"):
            by = f" by uid {record['approver_uid']}" if record.get("approver_uid") is not None else ""
            approval = f" approved{by} ({how})" + (f" on {record['approver_tty']}" if record.get("approver_tty") else "")
        else:
            approval = f" not approved ({how})"
        if record.get("grant_id"):
            approval += f" grant {record['grant_id']}"
    return (f"audit: {record.get('decision')} {record.get('tool')} {str(record.get('subject'))[:500]!r} "
            f"rule {record.get('rule')} requester {who}{approval}")


class Journal:
    """A datagram socket to the journal, or nothing when its socket is absent."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._sock: socket.socket | None = None

    def send(self, record: dict[str, Any]) -> bool:
        """Send one record; False (and a debug line) when there is no journal or it refuses."""
        if not self.path:
            return False
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                sock.setblocking(False)  # a full journal queue drops the copy, never stalls a call
                self._sock = sock
            self._sock.sendto(encode(entry(record)), self.path)
        except OSError as exc:
            log.debug("audit record %s not sent to the journal at %s: %s", record.get("seq"), self.path, exc)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
