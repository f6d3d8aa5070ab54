"""Cosine nearest-neighbour search over vectors keyed by catalog ids (FAISS exact, IVF or HNSW).

:class:`VectorIndex` is the one place that maps catalog ids to matrix rows; everything above it
speaks catalog ids only. Filters are applied inside the search (a FAISS id selector, or an exact
scan of the allowed rows when they are few), so a filtered query returns ``k`` results whenever
``k`` items pass the filter.

Longer than the usual 400 lines on purpose: the four FAISS layouts (exact, HNSW, IVF over 8-bit
codes, IVF-PQ re-ranked from float16 copies) differ in how rows are read back, searched under a
mask and saved, and keeping them in the one class that maps ids to rows keeps that mapping in one
place.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from tunescout import config
from tunescout.errors import InputError, UnknownIdError
from tunescout.indexes.topk import top_k

APPROXIMATE_FROM = 200_000  # where "auto" leaves exact search for the approximate index (IVF)
# Recall@10 against exact search on the real MiniLM track vectors (scripts/benchmark.py):
# efConstruction 80 / efSearch 128 gave 0.88; 200 / 256 gives 0.97 at about 1.5 ms a query.
EF_CONSTRUCTION, EF_SEARCH = 200, 256
# IVF over 8-bit codes: a quarter of float32's memory and a build of about a minute where HNSW
# takes tens of minutes at 1M x 384 on two cores. Mood queries sit far from the documents they
# match, so recall needs many probes; finer lists need a smaller share of them. At 1M sampled MiniLM
# vectors, recall@10 against exact search (on two threads, one query):
#   1,000 lists: 0.962 / 0.968 probing 200 / 250, 4.7 / 5.8 ms
#   4,000 lists: 0.976 probing 400 (10%), 3.9 ms (8-bit codes cap it: fp16 codes reach 0.99)
# So about 4 sqrt(n) lists (at least 39 vectors each) and a tenth of them (at least 32) probed.
LISTS_PER_SQRT, NPROBE_MIN, NPROBE_SHARE = 4, 32, 0.1
# IVF over product-quantised codes (IVF-PQ) from PQ_FROM rows up, for vectors of at least
# PQ_MIN_DIM dims: a code of at most PQ_MAX_BYTES bytes (one byte per PQ_SUBVECTOR dims; 48 bytes
# for MiniLM's 384, 32 for ALS's 128) plus FAISS's 8-byte list id (no direct map: rows are read
# back from the float16 copies), 56 resident bytes a vector where 8-bit IVF holds 400 for MiniLM.
# PQ codes alone rank MiniLM neighbours poorly, so IVF-PQ proposes RERANK_FACTOR * k candidates
# (at least RERANK_MIN), re-scored exactly from float16 copies of the vectors (``<name>.f16.npy``,
# recorded and verified in the build manifest like every file) memory-mapped from disk: a query
# pages in only the rows it reads. Where the switch sits, and the recall, bytes and query time on
# either side of it, are in docs/SCALING.md (scripts/benchmark.py --spark).
PQ_FROM = 2_000_000
PQ_MIN_DIM, PQ_MAX_BYTES, PQ_SUBVECTOR = 64, 48, 4
RERANK_FACTOR, RERANK_MIN = 10, 1000
IVF_THREADS = config.ivf_threads()
_IVF_TRAIN_PER_LIST = 64
_EXACT_SCAN_LIMIT = 50_000
# One query at a time is 30x faster single-threaded on 2 cores than with OpenMP's thread start-up.
_THREADS = config.faiss_threads()
faiss.omp_set_num_threads(_THREADS)


_INVERTED = ("ivf", "ivfpq")


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm as contiguous float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    # Rows already of unit length stay bit-identical, so reused vectors never drift between builds.
    norms = np.where(np.abs(norms - 1.0) < 1e-6, 1.0, np.maximum(norms, 1e-12))
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


class _Owned:
    """Exposes a FAISS buffer to numpy while holding the index that owns it, so a view of the
    vectors stays valid after the :class:`VectorIndex` is gone."""

    def __init__(self, array: np.ndarray, owner: faiss.Index) -> None:
        self.__array_interface__ = array.__array_interface__
        self.owner = owner


class Keys:
    """Ids in row order and their id -> row lookup, built on first use (it costs about 125 MB
    per million ids) and shareable between indexes over the same ids."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    @functools.cached_property
    def lookup(self) -> pd.Index:
        return pd.Index(self.array)


def share_ids(indexes: Sequence[VectorIndex]) -> None:
    """Let indexes over the same ids in the same order hold one copy of them."""
    for i, index in enumerate(indexes):
        any(index.share_ids_with(earlier) for earlier in indexes[:i])


def _ivf(vectors: np.ndarray) -> faiss.Index:
    """A trained ``IVF<4 sqrt n>,SQ8`` inner-product index (vectors not added yet)."""
    n, dim = vectors.shape
    nlist = max(1, min(int(round(LISTS_PER_SQRT * np.sqrt(n))), n // 39))
    index = faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    index.by_residual = False  # codes are the vectors themselves: better recall here
    sample = np.random.default_rng(0).permutation(n)[: nlist * _IVF_TRAIN_PER_LIST]
    index.train(vectors[np.sort(sample)])
    return index


def pq_bytes(dim: int) -> int:
    """Bytes of one IVF-PQ code for ``dim`` dims: one 8-bit sub-quantiser per
    :data:`PQ_SUBVECTOR` dims, at most :data:`PQ_MAX_BYTES`, and a divisor of ``dim``."""
    m = max(1, min(PQ_MAX_BYTES, dim // PQ_SUBVECTOR))
    while dim % m:
        m -= 1
    return m


def _ivfpq(vectors: np.ndarray) -> faiss.Index:
    """A trained ``IVF<4 sqrt n>,PQ<m>`` inner-product index over residuals, vectors added."""
    n, dim = vectors.shape
    nlist = max(1, min(int(round(LISTS_PER_SQRT * np.sqrt(n))), n // 39))
    index = faiss.index_factory(dim, f"IVF{nlist},PQ{pq_bytes(dim)}", faiss.METRIC_INNER_PRODUCT)
    # The factory asks for polysemous training (Hamming filtering we never use): minutes at 12k.
    index.do_polysemous_training = False
    sample = np.random.default_rng(0).permutation(n)[: max(nlist * _IVF_TRAIN_PER_LIST, 65_536)]
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))  # a build, not a query: all cores
    try:
        index.train(vectors[np.sort(sample)])
        index.add(vectors)
    finally:
        faiss.omp_set_num_threads(_THREADS)
    return index


def bytes_per_vector(index: faiss.Index) -> float:
    """Resident memory a stored vector costs in ``index``: its code, plus for IVF the list's 8-byte
    id and any 8-byte direct-map entry (the trained quantisers are shared and not counted; IVF-PQ's
    float16 re-ranking copies, ``2 * dim`` bytes, stay on disk)."""
    if isinstance(index, faiss.IndexIVF):
        mapped = index.direct_map.type != faiss.DirectMap.NoMap
        return float(index.code_size + 8 + 8 * mapped)
    if isinstance(index, faiss.IndexHNSW):
        return float(4 * index.d + 4 * index.hnsw.nb_neighbors(0))  # level-0 links, int32
    return float(4 * index.d)


class VectorIndex:
    """Inner-product search over L2-normalised vectors (cosine similarity), keyed by catalog ids.

    Args:
        ids: Catalog ids, one per row of ``vectors``; unique.
        vectors: ``(n, d)`` array; normalised here.
        method: ``"exact"``, ``"hnsw"``, ``"ivf"`` (inverted lists over 8-bit codes), ``"ivfpq"``
            (inverted lists over product-quantised codes) or ``"auto"`` (exact below
            ``approximate_from`` rows, IVF up to ``pq_from``, IVF-PQ from there for vectors of at
            least :data:`PQ_MIN_DIM` dims).
        approximate_from: Size at which ``auto`` switches to the approximate index.
        pq_from: Size at which ``auto`` switches from 8-bit codes to product quantisation.
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
        approximate_from: int = APPROXIMATE_FROM,
        hnsw_m: int = 32,
        ef_search: int = EF_SEARCH,
        index: faiss.Index | None = None,
        pq_from: int = PQ_FROM,
        refine: np.ndarray | None = None,
    ) -> None:
        self._keys = Keys(np.asarray(ids, dtype=str))
        self._refine = refine
        if index is None:
            if not self._rows.is_unique:  # a loaded build was checked when it was built
                raise InputError("VectorIndex ids must be unique")
            vectors = normalize(vectors)
            if method == "auto":
                method = "ivf" if len(self.ids) >= approximate_from else "exact"
                if len(self.ids) >= pq_from and vectors.shape[1] >= PQ_MIN_DIM:
                    method = "ivfpq"
            if method == "ivf":
                index = _ivf(vectors)
            elif method == "ivfpq":
                index = _ivfpq(vectors)  # trained and filled on all cores
                self._refine = vectors.astype(np.float16)
            elif method == "hnsw":
                index = faiss.IndexHNSWFlat(vectors.shape[1], hnsw_m, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = EF_CONSTRUCTION
            elif method == "exact":
                index = faiss.IndexFlatIP(vectors.shape[1])
            else:
                raise InputError(
                    f"unknown index method {method!r}: use exact, ivf, ivfpq, hnsw or auto"
                )
            if index.ntotal == 0:
                index.add(vectors)
        self.index = index
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = ef_search
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = min(
                index.nlist, max(NPROBE_MIN, int(np.ceil(index.nlist * NPROBE_SHARE)))
            )
            if not isinstance(index, faiss.IndexIVFPQ):  # IVF-PQ reads its float16 copies
                index.make_direct_map()  # id -> code, so stored vectors can be read back by row
            index.parallel_mode = 1  # one query's lists split across threads, not queries
        if index.ntotal != len(self.ids):
            raise InputError(f"{index.ntotal} vectors for {len(self.ids)} ids")
        if self.method == "ivfpq" and (
            self._refine is None
            or self._refine.dtype != np.float16
            or self._refine.shape != (len(self.ids), self.dim)
        ):
            raise InputError("an IVF-PQ index needs the float16 vectors it re-ranks with")

    @property
    def ids(self) -> np.ndarray:
        """Catalog ids in row order."""
        return self._keys.array

    @property
    def _rows(self) -> pd.Index:
        return self._keys.lookup

    def share_ids_with(self, other: VectorIndex) -> bool:
        """Hold ``other``'s copy of the ids and their lookup when both have the same ids in the
        same order (an engine at 1M tracks saves about 170 MB per shared index)."""
        if self._keys is other._keys or not np.array_equal(self.ids, other.ids):
            return self._keys is other._keys
        self._keys = other._keys
        return True

    @property
    def method(self) -> str:
        if isinstance(self.index, faiss.IndexIVFPQ):
            return "ivfpq"
        if isinstance(self.index, faiss.IndexIVF):
            return "ivf"
        return "hnsw" if isinstance(self.index, faiss.IndexHNSW) else "exact"

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def vectors(self) -> np.ndarray:
        """All vectors: a read-only view into the FAISS storage (which it keeps alive), or for
        IVF a decoded copy."""
        if self.method in _INVERTED:
            return self.vectors_at(np.arange(len(self)))
        flat = faiss.downcast_index(self.index.storage) if self.method == "hnsw" else self.index
        raw = faiss.rev_swig_ptr(flat.get_xb(), self.index.ntotal * self.dim)
        view = np.asarray(_Owned(raw, self.index)).reshape(self.index.ntotal, self.dim)
        view.flags.writeable = False
        return view

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of matrix ``rows`` (decoded from their codes for IVF and IVF-PQ)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._refine is not None:  # IVF-PQ: the float16 copies, not the coarse codes
            return np.asarray(self._refine[rows], dtype=np.float32)
        if self.method in _INVERTED:
            if not len(rows):
                return np.empty((0, self.dim), dtype=np.float32)
            return self.index.reconstruct_batch(rows)
        return self.vectors[rows]

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._rows

    def rows(self, ids: Sequence[str], missing: str = "raise") -> np.ndarray:
        """Matrix rows of ``ids``; unknown ids raise, are dropped (``missing="drop"``) or come
        back as -1 (``missing="mark"``)."""
        rows = self._rows.get_indexer(list(ids))
        if (rows < 0).any() and missing != "mark":
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
        return self.vectors_at(self.rows(ids))

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
        rows, scores = self.search_rows(query, k, mask)
        return self.ids[rows], scores

    def search_rows(
        self, query: np.ndarray, k: int, mask: np.ndarray | pd.Series | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` returning matrix rows instead of ids (for callers that index arrays)."""
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")
        mask = self.align(mask)
        query = normalize(np.asarray(query).reshape(1, -1))
        allowed = len(self.ids) if mask is None else int(mask.sum())
        k = min(k, allowed)
        if k == 0:
            return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
        if mask is not None and allowed <= _EXACT_SCAN_LIMIT:
            return self._scan(query[0], k, np.flatnonzero(mask))
        params = None
        if mask is not None:
            bitmap = np.packbits(mask.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
            if self.method == "hnsw":
                ef = max(self.index.hnsw.efSearch, k)
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
            elif self.method in _INVERTED:
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self.index.nprobe)
            else:
                params = faiss.SearchParameters(sel=selector)
        elif self.method == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.index.hnsw.efSearch, k))
        wanted = k
        if self._refine is not None:  # IVF-PQ: more candidates, re-scored below
            wanted = min(max(k * RERANK_FACTOR, RERANK_MIN), allowed)
        if self.method in _INVERTED:
            # OpenMP's thread count is per calling thread: set for this search, then restored.
            faiss.omp_set_num_threads(IVF_THREADS)
            try:
                scores, rows = self.index.search(query, wanted, params=params)
            finally:
                faiss.omp_set_num_threads(_THREADS)
        else:
            scores, rows = self.index.search(query, k, params=params)
        found = rows[0] >= 0
        if found.sum() < k:  # HNSW and IVF can miss under a tight filter: scan exactly instead
            candidates = np.flatnonzero(mask) if mask is not None else np.arange(len(self.ids))
            return self._scan(query[0], k, candidates)
        if self._refine is not None:
            return self._scan(query[0], k, np.sort(rows[0][found]))
        return rows[0], scores[0]

    def _scan(self, query: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.method == "exact" and len(rows) * 8 > len(self):
            # Many rows: one product over the stored vectors beats copying the rows out.
            scores = (self.vectors @ query)[rows]
        else:
            scores = self.vectors_at(rows) @ query
        top = top_k(scores, k)
        return rows[top], scores[top]

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
        out[known] = self.vectors_at(rows[known]) @ normalize(query)
        return out

    def save(self, folder: Path, name: str) -> list[Path]:
        """Write ``<name>.faiss`` and ``<name>.ids.npy`` into ``folder`` (and for IVF-PQ the
        float16 vectors it re-ranks with, ``<name>.f16.npy``); returns the paths."""
        folder = Path(folder)
        index_path, ids_path = folder / f"{name}.faiss", folder / f"{name}.ids.npy"
        faiss.write_index(self.index, str(index_path))
        np.save(ids_path, self.ids, allow_pickle=False)
        if self._refine is None:
            return [index_path, ids_path]
        refine_path = folder / f"{name}.f16.npy"
        np.save(refine_path, np.asarray(self._refine), allow_pickle=False)
        return [index_path, ids_path, refine_path]

    @classmethod
    def load(cls, folder: Path, name: str, ef_search: int = EF_SEARCH) -> VectorIndex:
        """Read what :meth:`save` wrote (no pickle: FAISS's own format and a unicode ``.npy``)."""
        folder = Path(folder)
        index = faiss.read_index(str(folder / f"{name}.faiss"))
        ids = np.load(folder / f"{name}.ids.npy", allow_pickle=False)
        refine = None
        if isinstance(index, faiss.IndexIVFPQ):  # memory-mapped: rows are read when re-ranked
            refine = np.load(folder / f"{name}.f16.npy", mmap_mode="r", allow_pickle=False)
        return cls(ids, np.empty((0, 0)), index=index, ef_search=ef_search, refine=refine)
