"""Cosine nearest-neighbour search over vectors keyed by catalog ids (FAISS, exact or HNSW).

:class:`VectorIndex` is the one place that maps catalog ids to matrix rows; everything above it
speaks catalog ids only. Filters are applied inside the search (a FAISS id selector, or an exact
scan of the allowed rows when they are few), so a filtered query returns ``k`` results whenever
``k`` items pass the filter.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from tunescout.errors import InputError, UnknownIdError

HNSW_THRESHOLD = 200_000
# Recall@10 against exact search on the real MiniLM track vectors (scripts/benchmark.py):
# efConstruction 80 / efSearch 128 gave 0.88; 200 / 256 gives 0.97 at about 1.5 ms a query.
EF_CONSTRUCTION, EF_SEARCH = 200, 256
_EXACT_SCAN_LIMIT = 50_000
# One query at a time is 30x faster single-threaded on 2 cores than with OpenMP's thread start-up.
faiss.omp_set_num_threads(int(os.environ.get("TUNESCOUT_FAISS_THREADS", "1")))


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm as contiguous float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    # Rows already of unit length stay bit-identical, so reused vectors never drift between builds.
    norms = np.where(np.abs(norms - 1.0) < 1e-6, 1.0, np.maximum(norms, 1e-12))
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


class VectorIndex:
    """Inner-product search over L2-normalised vectors (cosine similarity), keyed by catalog ids.

    Args:
        ids: Catalog ids, one per row of ``vectors``; unique.
        vectors: ``(n, d)`` array; normalised here.
        method: ``"exact"``, ``"hnsw"`` or ``"auto"`` (HNSW from ``hnsw_threshold`` rows up).
        hnsw_threshold: Size at which ``auto`` switches to HNSW.
        hnsw_m: HNSW graph degree.
        ef_search: HNSW search breadth (recall against speed).

    Example:
        >>> idx = VectorIndex(["a", "b", "c"], [[1, 0], [0.9, 0.1], [0, 1]])
        >>> idx.similar(["a"], k=1)[0].tolist()
        ['b']
    """

    def __init__(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        method: str = "auto",
        hnsw_threshold: int = HNSW_THRESHOLD,
        hnsw_m: int = 32,
        ef_search: int = EF_SEARCH,
        index: faiss.Index | None = None,
    ) -> None:
        self.ids = np.asarray(ids, dtype=str)
        self._rows = pd.Index(self.ids)
        if not self._rows.is_unique:
            raise InputError("VectorIndex ids must be unique")
        if index is None:
            vectors = normalize(vectors)
            if method == "auto":
                method = "hnsw" if len(self.ids) >= hnsw_threshold else "exact"
            if method == "hnsw":
                index = faiss.IndexHNSWFlat(vectors.shape[1], hnsw_m, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = EF_CONSTRUCTION
            elif method == "exact":
                index = faiss.IndexFlatIP(vectors.shape[1])
            else:
                raise InputError(f"unknown index method {method!r}: use exact, hnsw or auto")
            index.add(vectors)
        self.index = index
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = ef_search
        if index.ntotal != len(self.ids):
            raise InputError(f"{index.ntotal} vectors for {len(self.ids)} ids")

    @property
    def method(self) -> str:
        return "hnsw" if isinstance(self.index, faiss.IndexHNSW) else "exact"

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def vectors(self) -> np.ndarray:
        """All vectors as a read-only view into the FAISS storage (no copy)."""
        flat = faiss.downcast_index(self.index.storage) if self.method == "hnsw" else self.index
        view = faiss.rev_swig_ptr(flat.get_xb(), self.index.ntotal * self.dim)
        view = view.reshape(self.index.ntotal, self.dim)
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._rows

    def rows(self, ids: Sequence[str], missing: str = "raise") -> np.ndarray:
        """Matrix rows of ``ids``; unknown ids raise, or are dropped with ``missing="drop"``."""
        rows = self._rows.get_indexer(list(ids))
        if (rows < 0).any():
            if missing != "drop":
                unknown = [i for i, r in zip(ids, rows, strict=True) if r < 0][:5]
                raise UnknownIdError(f"unknown ids: {unknown}")
            rows = rows[rows >= 0]
        return rows

    def align(self, mask: pd.Series | np.ndarray | None) -> np.ndarray | None:
        """A row mask for this index from a boolean Series keyed by catalog id (absent ids are
        excluded) or from an array already in row order."""
        if mask is None:
            return None
        if isinstance(mask, pd.Series):
            return mask.reindex(self.ids, fill_value=False).to_numpy(dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise InputError(f"mask has {mask.size} entries for an index of {len(self)} items")
        return mask

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        """The vectors of ``ids`` (raises :class:`UnknownIdError` for unknown ids)."""
        return self.vectors[self.rows(ids)]

    def mean_vector(self, ids: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """Normalised weighted mean of the vectors of ``ids`` (negative weights pull away)."""
        vecs = self.vectors_of(ids)
        w = np.ones(len(vecs)) if weights is None else np.asarray(weights, dtype=np.float64)
        return normalize((w[:, None] * vecs).sum(axis=0))

    def search(
        self, query: np.ndarray, k: int, mask: np.ndarray | pd.Series | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` ids by cosine to ``query`` among rows where ``mask`` is true.

        Returns:
            ``(ids, scores)``, best first; fewer than ``k`` only when fewer rows pass ``mask``.
        """
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")
        mask = self.align(mask)
        query = normalize(np.asarray(query).reshape(1, -1))
        allowed = len(self.ids) if mask is None else int(mask.sum())
        k = min(k, allowed)
        if k == 0:
            return np.array([], dtype=str), np.array([], dtype=np.float32)
        if mask is not None and allowed <= _EXACT_SCAN_LIMIT:
            return self._scan(query[0], k, np.flatnonzero(mask))
        params = None
        if mask is not None:
            bitmap = np.packbits(mask.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.index.hnsw.efSearch, k))
                if self.method == "hnsw"
                else faiss.SearchParameters(sel=selector)
            )
        elif self.method == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.index.hnsw.efSearch, k))
        scores, rows = self.index.search(query, k, params=params)
        found = rows[0] >= 0
        if found.sum() < k:  # HNSW can miss under a tight filter: scan exactly instead
            candidates = np.flatnonzero(mask) if mask is not None else np.arange(len(self.ids))
            return self._scan(query[0], k, candidates)
        return self.ids[rows[0]], scores[0]

    def _scan(self, query: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = self.vectors[rows] @ query
        top = np.argpartition(-scores, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
        top = top[np.argsort(-scores[top], kind="stable")]
        return self.ids[rows[top]], scores[top]

    def similar(
        self,
        ids: Sequence[str],
        k: int,
        weights: Sequence[float] | None = None,
        mask: np.ndarray | pd.Series | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest neighbours of the (weighted mean of the) vectors of ``ids``, excluding ``ids``."""
        query = self.mean_vector(ids, weights)
        own = self.rows(ids)
        mask = self.align(mask)
        if mask is None:
            ids_out, scores = self.search(query, k + len(own))
        else:
            mask = mask.copy()
            mask[own] = False
            ids_out, scores = self.search(query, k, mask)
        keep = ~np.isin(ids_out, self.ids[own])
        return ids_out[keep][:k], scores[keep][:k]

    def scores(self, query: np.ndarray, candidate_ids: Sequence[str]) -> np.ndarray:
        """Cosine of ``query`` to each candidate (NaN for ids this index does not hold)."""
        rows = self._rows.get_indexer(list(candidate_ids))
        out = np.full(len(rows), np.nan, dtype=np.float32)
        known = rows >= 0
        out[known] = self.vectors[rows[known]] @ normalize(query)
        return out

    def save(self, folder: Path, name: str) -> list[Path]:
        """Write ``<name>.faiss`` and ``<name>.ids.npy`` into ``folder``; returns the paths."""
        folder = Path(folder)
        index_path, ids_path = folder / f"{name}.faiss", folder / f"{name}.ids.npy"
        faiss.write_index(self.index, str(index_path))
        np.save(ids_path, self.ids, allow_pickle=False)
        return [index_path, ids_path]

    @classmethod
    def load(cls, folder: Path, name: str, ef_search: int = EF_SEARCH) -> VectorIndex:
        """Read what :meth:`save` wrote (no pickle: FAISS's own format and a unicode ``.npy``)."""
        folder = Path(folder)
        index = faiss.read_index(str(folder / f"{name}.faiss"))
        ids = np.load(folder / f"{name}.ids.npy", allow_pickle=False)
        return cls(ids, np.empty((0, 0)), index=index, ef_search=ef_search)
