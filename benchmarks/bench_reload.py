"""Config reload: how long one ``config.reload`` takes, and what repeated reloads do to ``ping``.

Figures, all from one real daemon in this run:
- reload time (config.reload round trip, the mode toggled each time so every reload rebuilds),
  beside a ``status`` round trip on the same connection as its baseline;
- ping p50/p99 while another connection reloads back to back, beside ping p50/p99 with no reload.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from pathlib import Path

from _common import line, p50, percentile, running_daemon

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'


class Conn:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(str(path))
        self.buf = b""

    def call(self, method: str) -> dict[str, object]:
        self.sock.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}).encode() + b"\n")
        while b"\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        reply, _, self.buf = self.buf.partition(b"\n")
        out: dict[str, object] = json.loads(reply)
        return out

    def pings_us(self, n: int) -> list[float]:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.sock.sendall(PING)
            while b"\n" not in self.buf:
                self.buf += self.sock.recv(65536)
            _, _, self.buf = self.buf.partition(b"\n")
            times.append((time.perf_counter() - t0) * 1e6)
        return times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    reloads, pings = (10, 2000) if args.quick else (50, 20000)
    with running_daemon({"AIOS_DAEMON__WATCH_CONFIG": "false"}) as (sock, env):
        config = Path(env["AIOS_CONFIG"])
        c = Conn(sock)
        c.call("status")
        status_ms, reload_ms = [], []
        for i in range(reloads):
            config.write_text(f'[security]\nmode = "{"safe" if i % 2 else "paranoid"}"\n')
            t0 = time.perf_counter()
            reply = c.call("config.reload")
            reload_ms.append((time.perf_counter() - t0) * 1000)
            assert "error" not in reply and not reply["result"]["errors"], reply  # type: ignore[index]
            t0 = time.perf_counter()
            c.call("status")
            status_ms.append((time.perf_counter() - t0) * 1000)
        line("reload p50", p50(reload_ms), "ms", "status round trip p50", p50(status_ms))
        line("reload p99", percentile(reload_ms, 99), "ms", "status round trip p99", percentile(status_ms, 99))

        p = Conn(sock)
        p.pings_us(200)  # warm-up
        quiet = p.pings_us(pings)
        stop = threading.Event()
        done = [0]

        def reload_loop() -> None:
            r = Conn(sock)
            i = 0
            while not stop.is_set():
                config.write_text(f'[security]\nmode = "{"safe" if i % 2 else "paranoid"}"\n')
                r.call("config.reload")
                i += 1
            done[0] = i

        t = threading.Thread(target=reload_loop)
        t.start()
        try:
            busy = p.pings_us(pings)
        finally:
            stop.set()
            t.join()
        line("ping p50 during reloads", p50(busy), "us", "ping p50 without reloads", p50(quiet))
        line("ping p99 during reloads", percentile(busy, 99), "us", "ping p99 without reloads", percentile(quiet, 99))
        print(f"({done[0]} reloads ran during {pings} pings)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
