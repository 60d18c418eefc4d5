"""Semantic memory through real daemons and the real CLI: modes, notices, the table, status, reindex,
and two daemons (two containers) on one store."""

from __future__ import annotations

import json
import time
from typing import Any

from aios.memory import MemoryStore
from harness import Daemon, Env, connect, make_env, remove_env, rpc
from llmserver import LLMServer


def _call(daemon: Daemon, method: str, params: dict[str, Any] | None = None) -> Any:
    with connect(daemon.socket) as s:
        return rpc(s, method, params or {})


def _wait_embedded(daemon: Daemon, total: int, timeout: float = 240.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        progress: dict[str, Any] = _call(daemon, "memory.progress")
        if progress["ready"] and progress["embedded"] >= total:
            return progress
        assert time.monotonic() < deadline, (progress, daemon.log())
        time.sleep(0.2)


def test_modes_table_and_status_through_the_cli(env: Env, daemon: Daemon) -> None:
    disk = _call(daemon, "memory.add", {"content": "no space left on device while writing /var/log/syslog"})
    cmd = _call(daemon, "memory.add", {"content": "systemctl restart nginx", "type": "Command",
                                       "metadata": {"decision": "confirm", "approved": True, "exit_code": 1}})
    blocked = _call(daemon, "memory.add", {"content": "rm -rf /srv/www", "type": "Command",
                                           "metadata": {"decision": "block", "exit_code": 126}})
    _wait_embedded(daemon, 3)

    hits = env.cli_json("memory", "search", "the disk is full", "--mode", "semantic")
    assert hits[0]["id"] == disk["id"] and hits[0]["vec_rank"] == 1 and hits[0]["fts_rank"] is None
    assert hits[0]["mode"] == "semantic" and hits[0]["cosine"] > 0.3
    # The default is hybrid once vectors are ready; keyword stays what it was.
    assert env.cli_json("memory", "search", "nginx")[0]["mode"] == "hybrid"
    keyword = env.cli_json("memory", "search", "nginx", "--mode", "keyword")
    assert [h["id"] for h in keyword] == [cmd["id"]] and keyword[0]["vec_rank"] is None

    table = env.cli("memory", "search", "restart nginx", "--mode", "hybrid")
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if cmd["id"] in line)
    assert "words #1 + meaning #1" in row and "confirm (approved), exit 1" in row
    table = env.cli("memory", "search", "rm -rf /srv/www", "--mode", "keyword")
    row = next(line for line in table.stdout.splitlines() if blocked["id"] in line)
    assert "block, exit 126" in row and "words #1" in row

    bad = env.cli("memory", "search", "x", "--mode", "fuzzy")
    assert bad.returncode == 2 and "keyword, semantic, hybrid or auto" in bad.stderr and "Traceback" not in bad.stderr

    status = env.cli_json("status")
    assert status["embedding"]["embedded"] == 3 and status["embedding"]["total"] == 3
    human = env.cli("status")
    assert "embedded  3 / 3 (all-MiniLM-L6-v2-int8)" in human.stdout, human.stdout

    again = env.cli_json("memory", "reindex", "--no-wait")
    assert again["model"] == "all-MiniLM-L6-v2-int8" and again["total"] == 3
    done = env.cli("memory", "reindex")
    assert done.returncode == 0 and "embedded 3 / 3" in done.stdout
    nope = env.cli("memory", "reindex", "--model", "no-such-model")
    assert nope.returncode == 1 and "unknown embedding model" in nope.stderr and "Traceback" not in nope.stderr


def test_a_store_whose_model_is_missing_searches_by_keyword_and_says_so(env: Env) -> None:
    # Another container switched the shared store to a model this daemon does not have.
    store = MemoryStore.open(env.state / "memory.db")
    try:
        store.vectors.set_setting("embedding_model", "http:elsewhere")
        store.add("system", "no space left on device while writing /var/log/syslog")
    finally:
        store.close()
    daemon = env.start_daemon()
    try:
        proc = env.cli("memory", "search", "space left")
        assert proc.returncode == 0 and "no space left" in proc.stdout
        assert "http:elsewhere" in proc.stderr and "searched by keyword" in proc.stderr
        hits = env.cli_json("memory", "search", "space left", "--mode", "semantic")
        assert hits[0]["mode"] == "keyword" and hits[0]["vec_rank"] is None
        assert "http:elsewhere" in env.cli("status").stdout
    finally:
        daemon.kill()


def test_two_daemons_on_one_store_see_each_others_vectors(env: Env) -> None:
    first = env.start_daemon()
    other_env = make_env()
    try:
        # Same state directory (the shared memory.db), own socket: a second container.
        second = env.start_daemon(env={"AIOS_PATHS__RUNTIME_DIR": str(other_env.run_dir), "AIOS_ORIGIN": "container-b"})
        try:
            _wait_embedded(second, 0)
            added = _call(first, "memory.add", {"content": "kernel OOM killer terminated java after it used all memory"})
            _wait_embedded(first, 1)
            _wait_embedded(second, 1)
            hits = _call(second, "memory.search", {"query": "a process was killed for lack of RAM", "mode": "semantic"})
            assert [h["id"] for h in hits] == [added["id"]] and hits[0]["vec_rank"] == 1
            from_b = _call(second, "memory.add", {"content": "certbot renewed the TLS certificate for the mail server"})
            _wait_embedded(first, 2)
            hits = _call(first, "memory.search", {"query": "https certificate renewal", "mode": "semantic"})
            assert hits[0]["id"] == from_b["id"] and hits[0]["origin"] == "container-b"
            store = MemoryStore.open(env.state / "memory.db", readonly=True)
            try:
                assert store.vectors.counts("all-MiniLM-L6-v2-int8") == (2, 2)  # one vector each
            finally:
                store.close()
        finally:
            second.kill()
    finally:
        first.kill()
        remove_env(other_env)


def test_search_json_is_still_a_list_for_default_callers(env: Env, daemon: Daemon) -> None:
    _call(daemon, "memory.add", {"content": "restored /srv/www from a snapshot"})
    hits = _call(daemon, "memory.search", {"query": "restore"})
    assert isinstance(hits, list) and hits[0]["content"].startswith("restored")
    assert {"score", "fts_rank", "vec_rank", "bm25", "cosine", "mode"} <= set(hits[0])
    json.dumps(hits)


def test_the_table_shows_a_command_records_decision_and_exit_code(env: Env, daemon: Daemon) -> None:
    ran = _call(daemon, "memory.add", {"content": "apt-get install htop", "type": "Command",
                                       "metadata": {"decision": "allow", "exit_code": 0}})
    denied = _call(daemon, "memory.add", {"content": "apt-get remove openssh-server", "type": "Command",
                                          "metadata": {"decision": "confirm", "approved": False, "exit_code": 126}})
    note = _call(daemon, "memory.add", {"content": "apt-get mirror changed", "metadata": {"exit_code": 3}})
    table = env.cli("memory", "search", "apt-get")
    assert table.returncode == 0, table.stderr
    rows = {mid: next(line for line in table.stdout.splitlines() if mid in line) for mid in (ran["id"], denied["id"], note["id"])}
    assert "allow, exit 0" in rows[ran["id"]]
    assert "confirm (denied), exit 126" in rows[denied["id"]]
    assert "exit" not in rows[note["id"]]  # only Command records have a decision and exit code


def test_a_configured_embeddings_endpoint(env: Env) -> None:
    with LLMServer() as srv:
        env.write_config(f'[memory]\nembedder = "http"\nembed_url = "{srv.base_url}"\nembed_model = "hashed-words"\n')
        daemon = env.start_daemon()
        try:
            added = _call(daemon, "memory.add", {"content": "rotated the nginx access log"})
            _call(daemon, "memory.add", {"content": "something else entirely"})
            progress = _wait_embedded(daemon, 2)
            assert progress["model"] == "http:hashed-words"
            hits = _call(daemon, "memory.search", {"query": "rotated the nginx access log", "mode": "semantic"})
            assert hits[0]["id"] == added["id"] and hits[0]["cosine"] > 0.99
            assert all(r.path == "/v1/embeddings" and r.body["model"] == "hashed-words" for r in srv.requests)
        finally:
            daemon.kill()


def test_an_incomplete_endpoint_config_is_one_line(env: Env) -> None:
    env.write_config('[memory]\nembedder = "http"\n')
    daemon = env.start_daemon(wait=False)
    try:
        assert daemon.proc.wait(60) == 1
        log = daemon.log()
        assert "memory.embedder = \"http\" needs memory.embed_url" in log and "Traceback" not in log
    finally:
        daemon.kill()
