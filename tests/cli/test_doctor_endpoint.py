"""Issue 15: ``aios doctor`` checks that the configured model endpoint answers, and says how to
fix it when it does not (a real HTTP server: tests/llmserver.py)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from harness import Env
from llmserver import LLMServer, error, text


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with LLMServer() as srv:
        yield srv


def _provider(env: Env, kind: str, base_url: str, extra: str = "") -> None:
    env.write_config(f'[llm]\ndefault_provider = "p"\n[llm.providers.p]\nkind = "{kind}"\n'
                     f'base_url = "{base_url}"\nmodel = "scripted"\n{extra}')


def _endpoint(env: Env) -> tuple[dict[str, Any], str]:
    """The doctor's "model endpoint" entry (--json), and its human report."""
    proc = env.cli("doctor", "--json", timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    entries = [e for e in json.loads(proc.stdout) if e["check"] == "model endpoint"]
    assert len(entries) == 1, proc.stdout
    human = env.cli("doctor", timeout=60).stdout
    return entries[0], human


def test_an_answering_openai_endpoint_passes(env: Env, llm: LLMServer) -> None:
    _provider(env, "openai", llm.base_url)
    entry, human = _endpoint(env)
    assert entry["ok"] is True and entry["fix"] is None, entry
    assert f"{llm.base_url}/models answers" in entry["detail"]
    assert "ok   model endpoint" in human
    assert llm.requests == []  # the free models list was enough: no model request was spent


def test_an_answering_anthropic_endpoint_passes(env: Env, llm: LLMServer) -> None:
    _provider(env, "anthropic", llm.root_url)
    entry, _ = _endpoint(env)
    assert entry["ok"] is True and f"{llm.root_url}/v1/models" in entry["detail"], entry


def test_a_server_error_fails_with_a_fix(env: Env, llm: LLMServer) -> None:
    llm.fail_models(error(500))
    _provider(env, "openai", llm.base_url)
    entry, human = _endpoint(env)
    assert entry["ok"] is False and "HTTP 500" in entry["detail"] and entry["fix"], entry
    assert "FAIL model endpoint" in human and "fix: " in human


def test_a_refused_connection_fails_with_a_fix(env: Env) -> None:
    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        _provider(env, "openai", f"http://127.0.0.1:{port}/v1")
        entry, _ = _endpoint(env)
    assert entry["ok"] is False and "nothing answers" in entry["detail"], entry
    assert "base_url" in entry["fix"]


def test_a_wrong_path_fails_and_names_base_url(env: Env, llm: LLMServer) -> None:
    _provider(env, "openai", f"{llm.root_url}/api")
    entry, _ = _endpoint(env)
    assert entry["ok"] is False and "404" in entry["detail"], entry
    assert "base_url" in entry["fix"] and "/v1" in entry["fix"]


def test_a_server_without_a_models_list_gets_a_one_token_request(env: Env, llm: LLMServer) -> None:
    llm.fail_models(error(404))
    llm.script([text("p")])
    _provider(env, "openai", llm.base_url)
    entry, _ = _endpoint(env)
    assert entry["ok"] is True and "1-token request" in entry["detail"], entry
    assert llm.requests[0].body["max_tokens"] == 1


def test_a_refused_key_says_which_variable(env: Env, llm: LLMServer) -> None:
    llm.fail_models(error(401))
    _provider(env, "openai", llm.base_url, 'api_key_env = "TEST_MODEL_KEY"\n')
    env.env["TEST_MODEL_KEY"] = "wrong"
    entry, _ = _endpoint(env)
    assert entry["ok"] is False and "$TEST_MODEL_KEY" in entry["detail"], entry


def test_the_embedded_model_is_checked_not_started(env: Env) -> None:
    env.write_config('[llm]\ndefault_provider = "e"\n[llm.providers.e]\nkind = "embedded"\n'
                     f'model_path = "{env.root / "absent.gguf"}"\n')
    entry, _ = _endpoint(env)
    assert entry["ok"] is False and "absent.gguf" in entry["detail"] and entry["fix"], entry


def test_the_installed_embedded_model_passes_without_a_server_running(env: Env) -> None:
    env.write_config('[llm]\ndefault_provider = "e"\n[llm.providers.e]\nkind = "embedded"\n')
    entry, _ = _endpoint(env)
    assert entry["ok"] is True and "not started" in entry["detail"], entry
