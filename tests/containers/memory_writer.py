"""Write N memories through one aios daemon's socket, on one persistent connection.

Run by tests/containers/test_shared_data.py, on the host (in a mount namespace) or inside a
container (bind-mounted read-only), with only the standard library:

    python3 memory_writer.py SOCKET COUNT TAG

It connects and pings, prints ``{"ready": true}``, waits for one line on stdin (so that several
writers start at the same moment), sends COUNT ``memory.add`` requests one after another and
prints one JSON line: ``written`` (answers with an id), ``errors`` (the first few error
replies), ``start`` and ``end`` (wall-clock seconds, to show the writers overlapped).
"""

from __future__ import annotations

import json
import socket
import sys
import time


def main() -> int:
    path, count, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(60)
    sock.connect(path)
    stream = sock.makefile("rwb")

    def call(id: int, method: str, params: dict[str, object] | None = None) -> dict[str, object]:
        msg: dict[str, object] = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        stream.write(json.dumps(msg).encode() + b"\n")
        stream.flush()
        while True:
            line = stream.readline()
            if not line:
                raise ConnectionError("the daemon closed the connection")
            reply = json.loads(line)
            if reply.get("id") == id:  # skip notifications
                return reply  # type: ignore[no-any-return]

    assert call(0, "ping").get("result") == "pong"
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    written = 0
    errors: list[object] = []
    start = time.time()
    for i in range(1, count + 1):
        reply = call(i, "memory.add", {
            "type": "System",
            "content": f"{tag} shared write number {i} of {count}",
            "metadata": {"writer": tag, "n": i},
        })
        result = reply.get("result")
        if isinstance(result, dict) and result.get("id"):
            written += 1
        elif len(errors) < 5:
            errors.append(reply.get("error", reply))
    end = time.time()
    print(json.dumps({"written": written, "errors": errors, "start": start, "end": end}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
