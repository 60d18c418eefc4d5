"""The embedded model server answers only requests with its per-start key (issue 13, D).

Normal-mode jails share the host's network, so llama-server on 127.0.0.1 was open to every
jailed command (and every local user): free use of the daemon's model, and a way to feed it text.
Each start now gets a random key that the provider sends; the real llama-server is started.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trio

from aios.agent import EmbeddedServer, Message, ProviderChoice, TextDelta, make_provider
from aios.config import ProviderConfig, SandboxConfig
from aios.sandbox import Jail

BODY = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})

# The same request from inside a jail, spelled three ways: no key, a wrong bearer key, a wrong
# X-Api-Key header (llama-server reads both), and the legacy /completion endpoint.
PROBES = {
    "no key": ["-X", "POST", "-d", BODY, "{base}/v1/chat/completions"],
    "wrong bearer": ["-X", "POST", "-H", "Authorization: Bearer guessed", "-d", BODY, "{base}/v1/chat/completions"],
    "wrong x-api-key": ["-X", "POST", "-H", "X-Api-Key: guessed", "-d", BODY, "{base}/v1/chat/completions"],
    "legacy endpoint": ["-X", "POST", "-d", '{"prompt": "hi", "n_predict": 1}', "{base}/completion"],
    "model list": ["{base}/v1/models"],
}


@pytest.fixture
def dirs() -> Iterator[tuple[Path, Path]]:
    ws = Path(tempfile.mkdtemp(prefix="aios-ws", dir="/tmp"))
    state = Path(tempfile.mkdtemp(prefix="aios-state"))
    try:
        yield ws, state
    finally:
        shutil.rmtree(ws, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _curl(base: str, probe: list[str]) -> list[str]:
    return ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
            *[a.replace("{base}", base) for a in probe]]  # fmt: skip


@pytest.mark.slow
async def test_embedded_server_refuses_requests_without_its_key(dirs: tuple[Path, Path]) -> None:
    ws, state = dirs
    config = ProviderConfig(kind="embedded")
    server = EmbeddedServer(config, state / "embedded-model.log")
    async with trio.open_nursery() as nursery:
        base_url = await server.ensure_started(nursery)
        key = server.api_key
        assert key and len(key) >= 32
        parts = urlsplit(base_url)
        base = f"{parts.scheme}://{parts.netloc}"
        jail = Jail(SandboxConfig(), mode="normal", workspace=ws)
        for name, probe in PROBES.items():
            r = await jail.run(_curl(base, probe))
            assert r.stdout == "401", (name, r.stdout, r.stderr)
        # Control: the network path from the jail works, and the key opens it.
        health = await jail.run(_curl(base, ["{base}/health"]))
        assert health.stdout == "200", health.stderr
        keyed = await jail.run(_curl(base, ["-H", f"Authorization: Bearer {key}", *PROBES["no key"]]))
        assert keyed.stdout == "200", keyed.stderr
        # The provider sends the key: a real reply through make_provider.
        provider = make_provider(ProviderChoice("embedded", config, "test", None), base_url=base_url, api_key=key)
        text = ""
        async for event in provider.stream([Message("user", "Say hello.")], [], force_answer=True):
            if isinstance(event, TextDelta):
                text += event.text
        assert text.strip()
        # The key is not on the server's command line (which every local user can read).
        assert server._process is not None
        assert key.encode() not in _cmdline(server._process.pid)
        nursery.cancel_scope.cancel()
    assert server.api_key is None
