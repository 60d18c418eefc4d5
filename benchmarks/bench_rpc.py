"""RPC ``ping`` round trip over one connection, beside two baselines measured in the same run:
a bare trio newline-echo server (the floor for the chosen framework) and a raw blocking-socket
ping-pong server (the floor for any server). Goal: at most 1.3x the trio floor."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import line, p50, percentile, running_daemon, wait_socket

TRIO_ECHO = r"""
import sys, trio
async def handle(stream):
    buf = b""
    async for data in stream:
        buf += data
        while b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            await stream.send_all(b'{"jsonrpc":"2.0","id":1,"result":"pong"}\n')
async def main(path):
    sock = trio.socket.socket(trio.socket.AF_UNIX)
    await sock.bind(path); sock.listen(128)
    await trio.serve_listeners(handle, [trio.SocketListener(sock)])
trio.run(main, sys.argv[1])
"""

RAW_PINGPONG = r"""
import socket, sys, threading
srv = socket.socket(socket.AF_UNIX); srv.bind(sys.argv[1]); srv.listen(128)
def serve(c):
    buf = b""
    while True:
        d = c.recv(65536)
        if not d: return
        buf += d
        while b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            c.sendall(b'{"jsonrpc":"2.0","id":1,"result":"pong"}\n')
while True:
    c, _ = srv.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

REQUEST = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'


def measure(path: Path, n: int) -> list[float]:
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    times = []
    buf = b""
    for i in range(n + 100):
        t0 = time.perf_counter()
        s.sendall(REQUEST)
        while b"\n" not in buf:
            buf += s.recv(65536)
        _, _, buf = buf.partition(b"\n")
        if i >= 100:  # warm-up
            times.append((time.perf_counter() - t0) * 1e6)
    s.close()
    return times


CLIENT_CPU, SERVER_CPU = 0, 1


def pin(pid: int, cpu: int) -> None:
    """Pin a process to one CPU (when the machine has it), so every server runs alike."""
    if cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(pid, {cpu})


class Server:
    """A baseline server in its own process, listening on a temporary socket."""

    def __init__(self, code: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="aios-bb", dir="/tmp")
        self.path = Path(self.dir) / "s.sock"
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(self.path)])
        pin(self.proc.pid, SERVER_CPU)
        wait_socket(self.path, self.proc)

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.kill()
        self.proc.wait()
        os.unlink(self.path)
        os.rmdir(self.dir)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds, per_round = (2, 300) if args.quick else (20, 1000)
    trio_server = Server(TRIO_ECHO)
    raw_server = Server(RAW_PINGPONG)
    results: dict[str, list[float]] = {"aios": [], "trio": [], "raw": []}
    ratios: list[float] = []
    try:
        with running_daemon(cpu=SERVER_CPU) as (sock, _env):
            pin(0, CLIENT_CPU)
            # Interleave rounds so that machine noise hits all three alike; the ratio of each
            # round's medians is noise-resistant, the median of those ratios is reported too.
            for _ in range(rounds):
                a = measure(sock, per_round)
                t = measure(trio_server.path, per_round)
                results["aios"] += a
                results["trio"] += t
                results["raw"] += measure(raw_server.path, per_round)
                ratios.append(p50(a) / p50(t))
    finally:
        trio_server.close()
        raw_server.close()
    aios, trio_floor, raw = results["aios"], results["trio"], results["raw"]
    print(f"ping round trip over one connection: {rounds} interleaved rounds x {per_round} calls, p50")
    line("aios ping p50", p50(aios), "us", "bare trio echo", p50(trio_floor), "at most 1.3x the trio floor")
    line("aios ping p50", p50(aios), "us", "raw blocking socket", p50(raw))
    print(f"median of per-round ratios aios/trio: {p50(ratios):.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"p99: aios {percentile(aios, 99):.1f} us, trio echo {percentile(trio_floor, 99):.1f} us, raw {percentile(raw, 99):.1f} us")


if __name__ == "__main__":
    main()
