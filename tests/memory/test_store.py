"""The memory store: add/get/search/filters, any query text, cleanup, migrations, concurrency."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import apsw
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from aios.config import MemoryRetention, Seconds, TypeRetention
from aios.errors import MemoryStoreError
from aios.memory import SCHEMA_VERSION, AsyncMemory, MemoryStore, MemoryType, parse_since


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    s = MemoryStore.open(tmp_path / "memory.db")
    yield s
    s.close()


def test_add_get_and_json_shape(store: MemoryStore) -> None:
    m = store.add("command", "apt-get upgrade finished", {"exit_code": 0}, origin="web1")
    assert m.type is MemoryType.COMMAND
    got = store.get(m.id)
    assert got == m
    data = got.to_json()
    assert data["created_at"].endswith("Z") and data["origin"] == "web1"
    assert store.get("not-a-ulid") is None
    assert store.get("01ARZ3NDEKTSV4RRFFQ69G5FAV") is None


def test_search_ranks_and_highlights(store: MemoryStore) -> None:
    store.add("chat", "the weather is nice")
    a = store.add("command", "restart nginx; nginx config test passed; nginx reloaded")
    b = store.add("command", "installed nginx")
    hits = store.search("nginx")
    assert [h.memory.id for h in hits] == [a.id, b.id]
    assert "\x02nginx\x03" in hits[0].snippet
    assert hits[0].score <= hits[1].score
    assert store.search("nginx weather") == []
    assert {h.memory.id for h in store.search("nginx weather", any_word=True)} == {a.id, b.id, store.search("weather")[0].memory.id}


def test_filters_by_type_time_and_origin(store: MemoryStore) -> None:
    old = store.add("system", "backup ran", created_at=time.time() - 3 * 86400, origin="a")
    new = store.add("chat", "backup question", origin="b")
    assert [h.memory.id for h in store.search("backup", types=[MemoryType.SYSTEM])] == [old.id]
    assert [h.memory.id for h in store.search("backup", since=parse_since("1d"))] == [new.id]
    assert [h.memory.id for h in store.search("backup", until=parse_since("2d"))] == [old.id]
    assert [h.memory.id for h in store.search("backup", origin="b")] == [new.id]
    assert [m.id for m in store.recent(limit=5)] == [new.id, old.id]
    assert [m.id for m in store.recent(origin="a")] == [old.id]


def test_window_bounds_ranking_to_newest_matches(store: MemoryStore) -> None:
    best_but_old = store.add("system", "disk disk disk disk disk")
    store.add_many([("system", f"disk entry {i}", None) for i in range(50)])
    ids = [h.memory.id for h in store.search("disk", window=10, limit=100)]
    assert len(ids) == 10 and best_but_old.id not in ids
    assert store.search("disk", window=1000, limit=1)[0].memory.id == best_but_old.id


QUERIES = ['"unbalanced', "*", "-", "-x", "NEAR(", "NEAR(a b, 2)", "a AND OR NOT", "(((", ")",
           "日本語", "🙂", "col:on", "content:x", "^", "/var/log", "", "   ", "''", '""', "a*b", "**",
           "rm -rf /", "x OR", "NOT", "{a}", "[x]", "a+b", "%", "\\", "\x00", "a\nb", "é"]


@pytest.mark.parametrize("query", QUERIES)
def test_any_query_is_valid(store: MemoryStore, query: str) -> None:
    store.add("system", "rm -rf / was blocked; col on; 日本語 テキスト; a*b")
    store.search(query)
    store.search(query, any_word=True)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzzed_queries_never_raise(tmp_path_factory: pytest.TempPathFactory, query: str) -> None:
    s = _fuzz_store(tmp_path_factory)
    s.search(query)


_FUZZ: dict[str, MemoryStore] = {}


def _fuzz_store(factory: pytest.TempPathFactory) -> MemoryStore:
    if "s" not in _FUZZ:
        _FUZZ["s"] = MemoryStore.open(factory.mktemp("fuzz") / "m.db")
        _FUZZ["s"].add("system", "some text to match against: nginx, disk, 日本")
    return _FUZZ["s"]


def test_update_metadata_merges(store: MemoryStore) -> None:
    m = store.add("command", "rm -rf ./build", {"exit_code": 0})
    assert store.update_metadata(m.id, {"snapshot_id": "S"}).metadata == {"exit_code": 0, "snapshot_id": "S"}
    with pytest.raises(MemoryStoreError, match="no memory"):
        store.update_metadata("nope", {})


def test_cleanup_by_age_and_count_keeps_protected(store: MemoryStore) -> None:
    now = time.time()
    for i in range(10):
        store.add("command", f"cmd {i}", created_at=now - i * 3600)
    old = store.add("chat", "ancient", created_at=now - 400 * 86400)
    snap_keep = store.add("snapshot", "snapshot exists", created_at=now - 1000 * 86400)
    snap_gone = store.add("snapshot", "snapshot deleted", created_at=now - 1000 * 86400)
    retention = MemoryRetention(
        command=TypeRetention(None, 4),
        chat=TypeRetention(Seconds(365 * 86400.0), None),
        system=TypeRetention(None, None),
        snapshot=TypeRetention(Seconds(30 * 86400.0), None),
    )
    deleted = store.cleanup(retention, now=now, keep_ids={snap_keep.id})
    assert deleted == {"Command": 6, "Chat": 1, "System": 0, "Snapshot": 1}
    assert store.counts() == {"Command": 4, "Chat": 0, "System": 0, "Snapshot": 1}
    assert store.get(old.id) is None and store.get(snap_gone.id) is None
    assert store.get(snap_keep.id) is not None
    assert store.fts_count() == 5 and store.integrity_check() == []


def test_migrates_a_version_1_database(tmp_path: Path) -> None:
    from aios.memory._schema import V1

    path = tmp_path / "old.db"
    conn = apsw.Connection(str(path))
    conn.execute(V1)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO memories (id, memory_type, content, metadata, created_at) VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'System', 'from an old version', '{}', 1.0)")
    conn.close()
    s = MemoryStore.open(path)
    (version,) = s._conn.execute("PRAGMA user_version").fetchone()
    assert version == SCHEMA_VERSION
    old = s.get("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert old is not None and old.origin == ""
    assert s.search("old version")[0].memory.id == old.id
    s.add("system", "new row", origin="here")
    assert s.counts()["System"] == 2


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(MemoryStoreError, match=str(path)):
        MemoryStore.open(path)


def test_parse_since() -> None:
    now = 1_000_000.0
    assert parse_since("2h", now) == now - 7200
    assert parse_since("30m", now) == now - 1800
    assert parse_since("1w", now) == now - 7 * 86400
    assert parse_since("2026-11-01") > 0
    with pytest.raises(ValueError, match="not a time"):
        parse_since("yesterday-ish")


def _writer(path: str, n: int, origin: str, start: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    s = MemoryStore.open(Path(path), busy_timeout=30)
    start.wait()
    for i in range(n):
        s.add("command", f"{origin} write {i}", {"i": i}, origin=origin)
    s.close()


def test_two_processes_times_5000_inserts_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    MemoryStore.open(path).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(str(path), 5000, name, start)) for name in ("alpha", "beta")]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    s = MemoryStore.open(path)
    assert s.counts()["Command"] == 10_000
    assert s.fts_count() == 10_000
    assert len(s.search("alpha", limit=10)) == 10
    assert s.integrity_check() == []


async def test_async_memory_serves_many_tasks(tmp_path: Path) -> None:
    mem = await AsyncMemory.open(tmp_path / "memory.db", readers=3)
    try:
        async with trio.open_nursery() as n:
            for i in range(40):
                n.start_soon(mem.add, "system", f"event number {i} about disks")
                n.start_soon(mem.search, "disks")
        assert (await mem.counts())["System"] == 40
        assert len(await mem.search("disks", limit=100)) == 40
        m = (await mem.recent(limit=1))[0]
        assert (await mem.get(m.id)) == m
    finally:
        await mem.aclose()
