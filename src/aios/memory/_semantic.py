"""Semantic memory in the daemon: the embedding back-fill thread and the vector side of a search.

One model per store: the first daemon writes its model id into ``memory_settings``; every daemon
on the store embeds with that model or, when it cannot load it, searches by keyword and says so.
``aios memory reindex --model M`` switches the store to another model that this daemon has; the
back-fill then replaces every vector (a model change re-embeds; spaces are never mixed).

The back-fill runs in its own thread, newest memories first, in small batches, with its own
connection, and rests as long as each batch took (at most half of one core). Not ``nice 19``:
on a saturated machine a niced thread starved inside onnxruntime for longer than the daemon's
shutdown allows, and a thread still inside onnxruntime when the interpreter exits aborts the
process. New memories get their vector a moment after they are written (queued, not in the
memory's transaction, so a slow model never holds the write lock); old ones are back-filled.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from aios.errors import ConfigError, MemoryStoreError

from ._index import VectorIndex, rerank
from ._store import MemoryStore
from ._vectable import MODEL_KEY

if TYPE_CHECKING:
    from aios.config import MemoryConfig

    from ._embed import Embedder

BATCH = 16
QUERY_CACHE = 256  # embedded query texts kept: recall and people repeat queries
SCAN = 2000  # codes taken by Hamming distance (step 1 of _index's search)
KEEP = 200  # of those, the best by the asymmetric score, read from SQLite and re-ranked exactly
SEARCH_THREADS = 2  # vector sides of concurrent searches (the model's session runs them in parallel)
IDLE_POLL = 2.0  # seconds between looks for other processes' new memories when idle
RECOUNT_EVERY = 30.0  # seconds between checks for deleted vectors (cleanup in any process)


@attrs.frozen
class Progress:
    """How far the store's model has got: ``embedded`` of ``total`` memories."""

    model: str | None
    embedded: int
    total: int
    ready: bool
    notice: str | None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


class Semantic:
    """Embedders, the in-RAM index and the back-fill thread of one daemon. Create, then :meth:`start`."""

    def __init__(self, path: Path, loaders: dict[str, Callable[[], Embedder]], preferred: str | None, *, busy_timeout: float = 10.0) -> None:
        self.path = path
        self._loaders = loaders
        self._preferred = preferred
        self._busy_timeout = busy_timeout
        self._embedders: dict[str, Embedder] = {}
        self._load_errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._index: VectorIndex | None = None
        self._model: str | None = None
        self._notice: str | None = "semantic search is starting (loading the embedding model)"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_recount = 0.0
        self._idle_at: tuple[str, int] | None = None  # (model, data_version) when nothing was left
        # Per model: every memory up to this rowid had a vector when a full pass ended. New
        # memories get larger rowids, so later passes only look above it (a full pass reads
        # every memory: ~1 s at 1M rows).
        self._covered: dict[str, int] = {}
        self._pass_top = 0
        self._pass_version = -1
        self._last_count = 0.0
        self._queries: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._pool: ThreadPoolExecutor | None = None  # created at the first hybrid search

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aios-embed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 8.0) -> None:
        """Stop the back-fill thread (blocking; it finishes its current batch or model load).

        The timeout stays under the daemon's stuck-work limit (10 s).
        """
        self._stop.set()
        self._wake.set()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)  # a search already handed over finishes (a few ms)
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """New memories were written: look for work now instead of at the next poll."""
        self._wake.set()

    @property
    def available(self) -> list[str]:
        """Model ids this daemon can embed with (loaded, or not yet tried)."""
        return [m for m in self._loaders if m not in self._load_errors]

    @property
    def notice(self) -> str | None:
        """Why vector search is off or incomplete right now; None when all is well."""
        return self._notice

    def ready(self) -> VectorIndex | None:
        """The index and embedder are loaded for the store's model: vector search can run."""
        with self._lock:
            return self._index if self._index is not None and self._model in self._embedders else None

    # -- the back-fill thread -------------------------------------------------------------

    def _run(self) -> None:
        try:
            store = MemoryStore.open(self.path, busy_timeout=self._busy_timeout)
        except MemoryStoreError as exc:
            self._notice = f"semantic search is off: {exc}"
            return
        try:
            below: int | None = None
            last_model: str | None = None
            while not self._stop.is_set():
                try:
                    model = self._select(store)
                    if model is None:
                        self._wait(IDLE_POLL * 5)
                        continue
                    if model != last_model:
                        below, last_model = None, model  # a pass of another model's cursor is no pass of this one
                    started = time.monotonic()
                    below = self._step(store, model, below)
                    if below is None:
                        self._wait(IDLE_POLL)
                    else:
                        self._stop.wait(max(0.01, time.monotonic() - started))  # rest as long as we worked
                except MemoryStoreError as exc:
                    self._notice = f"semantic search is degraded: {exc}"
                    self._wait(IDLE_POLL * 5)
        finally:
            store.close()

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _embedder(self, model: str) -> Embedder | None:
        if model in self._embedders:
            return self._embedders[model]
        if model in self._load_errors or model not in self._loaders:
            return None
        try:
            embedder = self._loaders[model]()
        except MemoryStoreError as exc:
            self._load_errors[model] = str(exc)
            return None
        self._embedders[model] = embedder
        return embedder

    def _select(self, store: MemoryStore) -> str | None:
        """The store's model (set to ours when unset), loaded; None when this daemon cannot."""
        model = store.vectors.setting(MODEL_KEY)
        if model is None and self._preferred is not None:
            model = store.vectors.set_setting(MODEL_KEY, self._preferred, only_if_unset=True)
        if model is None:
            self._notice = "semantic search is off: no embedding model is configured (memory.embedder)"
            return None
        embedder = self._embedder(model)
        if embedder is None:
            why = self._load_errors.get(model, "this daemon has no such model configured")
            self._notice = f"semantic search is off: the store embeds with {model}: {why}"
            with self._lock:
                self._index, self._model = None, None
            return None
        if self._model != model or self._index is None:
            self._covered.pop(model, None)  # switched (maybe by another daemon): look at everything
            self._idle_at = None
            index = VectorIndex(model, embedder.dim)
            index.refresh(store.vectors)
            with self._lock:
                self._index, self._model = index, model
            self._last_count = 0.0
            self._update_notice(store, model)
        return model

    def _step(self, store: MemoryStore, model: str, below: int | None) -> int | None:
        """Embed one batch below rowid ``below``; return where to go on, or None when done."""
        embedder = self._embedders[model]
        index = self._index
        assert index is not None
        self._recount(store, index)
        if below is None:
            # The version is read once, before the pass looks at the top rowid: a memory written
            # while the pass runs (above its top, so the pass does not see it) changes the version
            # and so starts another pass. Reading it at the last step instead let such a memory
            # wait for the next unrelated write.
            version = store.vectors.data_version()
            if self._idle_at == (model, version):
                return None  # nobody wrote since the last pass found nothing to do
            self._pass_version = version
            self._pass_top = store.vectors.top_rowid()
        batch = store.vectors.missing(model, below, BATCH, above=self._covered.get(model, 0))
        if not batch:
            self._covered[model] = max(self._covered.get(model, 0), self._pass_top)
            self._idle_at = (model, self._pass_version)
            self._update_notice(store, model, force=True)
            index.refresh(store.vectors)
            return None
        vectors = embedder.embed([content for _rowid, content in batch])
        store.vectors.put(model, [(rowid, vectors[i]) for i, (rowid, _c) in enumerate(batch)])
        index.refresh(store.vectors)
        self._update_notice(store, model)
        return batch[-1][0]

    def _update_notice(self, store: MemoryStore, model: str, *, force: bool = False) -> None:
        """Say how far the back-fill is (counting costs ~50 ms at 1M: at most every 5 s)."""
        now = time.monotonic()
        if not force and now - self._last_count < 5.0:
            return
        self._last_count = now
        done, total = store.vectors.counts(model)
        self._notice = None if done >= total else f"semantic search covers {done:,} of {total:,} memories (embedding the rest)"

    def _recount(self, store: MemoryStore, index: VectorIndex) -> None:
        """Rebuild the index when vectors were deleted (cleanup, here or in another process)."""
        now = time.monotonic()
        if now - self._last_recount < RECOUNT_EVERY:
            return
        self._last_recount = now
        done, _total = store.vectors.counts(index.model)
        if done < len(index):
            fresh = VectorIndex(index.model, index.dim)
            fresh.refresh(store.vectors)
            with self._lock:
                if self._index is index:
                    self._index = fresh

    # -- used by searches (worker threads) ------------------------------------------------

    def switch(self, store: MemoryStore, model: str) -> None:
        """Make ``model`` the store's model (every daemon on the store follows).

        Raises:
            MemoryStoreError: this daemon cannot load ``model``.
        """
        if model not in self._loaders:
            raise MemoryStoreError(f"unknown embedding model {model!r}; this daemon has: {', '.join(self._loaders) or 'none'}")
        if self._embedder(model) is None:
            raise MemoryStoreError(f"cannot load the embedding model {model}: {self._load_errors.get(model)}")
        store.vectors.set_setting(MODEL_KEY, model)
        self._covered.pop(model, None)  # its old vectors may be gone: look at every memory again
        self.wake()

    def progress(self, store: MemoryStore) -> Progress:
        model = store.vectors.setting(MODEL_KEY)
        done, total = store.vectors.counts(model) if model else (0, store.vectors.counts("")[1])
        return Progress(model, done, total, self.ready() is not None, self._notice)

    def _query_vector(self, model: str, query: str) -> Any:
        key = (model, query)
        with self._lock:
            found = self._queries.get(key)
            if found is not None:
                self._queries.move_to_end(key)
                return found
        vector = self._embedders[model].embed([query])[0]
        with self._lock:
            self._queries[key] = vector
            while len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector

    def begin(self, store: MemoryStore, query: str, limit: int, *, filtered: bool = False, parallel: bool = False) -> Future[Any] | None:
        """Start the vector side of a search: embed ``query``, scan the codes, keep the best few.

        Returns None when vector search is not ready. With ``parallel`` it runs on a worker thread
        (the model, faiss and SQLite release the GIL), so a hybrid search's keyword side runs
        meanwhile; :meth:`finish` waits for it. The store's connection is used here (to read other
        daemons' new vectors) and in :meth:`finish`, never by the worker.
        """
        index = self.ready()
        if index is None:
            return None
        index.refresh(store.vectors)  # another daemon's new vectors
        # Filters are applied when reading the vectors, after the cut: a filtered search scans 4x
        # and keeps 10x (8,000 and 2,000), so a filter that passes 1% of memories still leaves ~20.
        scan = max(SCAN, 80 * limit) * (4 if filtered else 1)
        keep = max(KEEP, 10 * limit) * (10 if filtered else 1)

        def work() -> tuple[VectorIndex, Any, list[int]]:
            vector = self._query_vector(index.model, query)
            return index, vector, index.candidates(vector, scan, keep)

        pool = self._workers() if parallel else None
        if pool is not None:
            try:
                return pool.submit(work)
            except RuntimeError:  # stop() shut the pool down meanwhile: run in line
                pass
        done: Future[Any] = Future()
        try:
            done.set_result(work())
        except Exception as exc:  # raised again by finish, like a worker's
            done.set_exception(exc)
        return done

    def _workers(self) -> ThreadPoolExecutor | None:
        with self._lock:
            if self._pool is None and not self._stop.is_set():
                self._pool = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="aios-vector-search")
            return self._pool

    def finish(self, store: MemoryStore, job: Future[Any], limit: int, where: str = "", args: Sequence[Any] = ()) -> list[tuple[int, float]]:
        """(rowid, cosine) of the best ``limit`` memories of a :meth:`begin` that pass the filter.

        Raises:
            MemoryStoreError: the model could not embed the query.
        """
        index, vector, rowids = job.result()
        # In rowid order: the reads then walk the table's B-tree forwards.
        found, blobs = store.vectors.fetch(index.model, sorted(rowids), where, args)
        return rerank(vector, found, blobs, index.dim, limit)

    def vector_search(self, store: MemoryStore, query: str, limit: int, where: str = "", args: Sequence[Any] = ()) -> list[tuple[int, float]]:
        """(rowid, cosine) of the memories nearest to ``query`` that pass the filter, best first."""
        job = self.begin(store, query, limit, filtered=bool(where))
        return [] if job is None else self.finish(store, job, limit, where, args)


def from_config(path: Path, cfg: MemoryConfig) -> Semantic | None:
    """The daemon's semantic memory as ``[memory]`` configures it (None when ``embedder = "off"``).

    The local model is always offered (so a store switched to it by another daemon still works);
    the configured one is what a new store starts with.

    Raises:
        ConfigError: ``embedder = "http"`` without ``embed_url`` or ``embed_model``.
    """
    from ._embed import MINILM_ID, HttpEmbedder, MiniLM

    if cfg.embedder == "off":
        return None
    loaders: dict[str, Callable[[], Embedder]] = {MINILM_ID: MiniLM.load}
    preferred = MINILM_ID
    if cfg.embedder == "http":
        if not cfg.embed_url or not cfg.embed_model:
            missing = "memory.embed_url" if not cfg.embed_url else "memory.embed_model"
            raise ConfigError(f'memory.embedder = "http" needs {missing}', key=missing)
        key = os.environ.get(cfg.embed_api_key_env) if cfg.embed_api_key_env else None
        http = HttpEmbedder(cfg.embed_url, cfg.embed_model, api_key=key)
        loaders[http.model_id] = lambda: http
        preferred = http.model_id
    return Semantic(path, loaders, preferred, busy_timeout=float(cfg.busy_timeout))
