"""The keyword index stems words (porter over unicode61); identifiers still match as typed."""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from aios.memory import SCHEMA_VERSION, MemoryStore
from aios.memory._schema import V1, V2


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    s = MemoryStore.open(tmp_path / "memory.db")
    yield s
    s.close()


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("restore", "the backup was restored from last night's snapshot"),
        ("restored", "how to restore a snapshot"),
        ("restoring", "restores run every hour"),
        ("failed mounts", "the NFS mount failed at boot"),
        ("connection refused", "connections were refusing on port 5432"),
    ],
)
def test_a_word_finds_its_other_forms(store: MemoryStore, query: str, text: str) -> None:
    m = store.add("system", text)
    hits = store.search(query)
    assert [h.memory.id for h in hits] == [m.id]
    assert "\x02" in hits[0].snippet  # the stemmed match is highlighted too


def test_identifiers_as_typed_come_first(store: MemoryStore) -> None:
    # "resolved conf" and "resolv.conf" stem alike; the memory with the identifier as typed wins
    # even when the other one is a better bm25 match (shorter, newer, both words twice).
    exact = store.add("system", "nameserver line in /etc/resolv.conf was wrong after the network change today")
    store.add("system", "resolved conf resolved conf")
    assert store.search("resolv.conf")[0].memory.id == exact.id
    exact2 = store.add("system", "journald.conf has SystemMaxUse=200M and other settings and more words here")
    store.add("system", "SystemMaxUses SystemMaxUses")
    assert store.search("SystemMaxUse")[0].memory.id == exact2.id
    exact3 = store.add("system", "open() failed with ENOSPC while the service wrote its state file to disk")
    store.add("system", "enospcs enospcs")
    assert store.search("ENOSPC")[0].memory.id == exact3.id


def test_migration_rebuilds_the_index_with_stemming(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = apsw.Connection(str(path))
    conn.execute(V1)
    conn.execute(V2)
    conn.execute("PRAGMA user_version = 2")
    conn.execute(
        "INSERT INTO memories (id, memory_type, content, metadata, created_at, origin)"
        " VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'System', 'the database was restored', '{}', 1.0, 'old')"
    )
    assert conn.execute("SELECT count(*) FROM memories_fts WHERE memories_fts MATCH 'restore'").fetchone() == (0,)
    conn.close()
    s = MemoryStore.open(path)
    try:
        (version,) = s._conn.execute("PRAGMA user_version").fetchone()
        assert version == SCHEMA_VERSION
        assert [h.memory.id for h in s.search("restore")] == ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]
        assert s.integrity_check() == [] and s.fts_count() == 1
        new = s.add("system", "restoring the index again")
        assert {h.memory.id for h in s.search("restores")} == {"01ARZ3NDEKTSV4RRFFQ69G5FAV", new.id}
    finally:
        s.close()
