"""Ids in row order without FAISS: the id ↔ row part of :class:`~tunescout.indexes.vectors.VectorIndex`
for indexes whose items are not dense vectors, and cosine search over sparse rows.

:class:`Keyed` answers what the engine asks of every index's ``vectors(kind)`` (ids, rows, masks,
shared id copies); :class:`SparseVectors` adds cosine search over L2-normalised sparse rows (the tag
index's tf-idf profiles), with the same methods and meanings as ``VectorIndex``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tunescout.errors import InputError, UnknownIdError
from tunescout.indexes.topk import top_k
from tunescout.indexes.vectors import Keys


class Keyed:
    """Catalog ids in row order and their lookup (shareable with other indexes over the same ids).

    Args:
        ids: Unique catalog ids.
    """

    def __init__(self, ids: Sequence[str]) -> None:
        self._keys = Keys(np.asarray(ids, dtype=str))
        if not self._rows.is_unique:
            raise InputError("index ids must be unique")

    @property
    def ids(self) -> np.ndarray:
        """Catalog ids in row order."""
        return self._keys.array

    @property
    def _rows(self) -> pd.Index:
        return self._keys.lookup

    def share_ids_with(self, other: object) -> bool:
        """Hold ``other``'s copy of the ids when both have the same ids in the same order."""
        keys = getattr(other, "_keys", None)
        if keys is None:
            return False
        if self._keys is keys or not np.array_equal(self.ids, keys.array):
            return self._keys is keys
        self._keys = keys
        return True

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._positions

    @property
    def _positions(self) -> dict[str, int]:
        """Id → row as a plain dict: a few hundred lookups cost microseconds, where a pandas
        indexer costs a millisecond before the first one."""
        found = getattr(self._keys, "positions", None)
        if found is None:
            found = {str(i): r for r, i in enumerate(self._keys.array)}
            self._keys.positions = found
        return found

    def rows(self, ids: Sequence[str], missing: str = "raise") -> np.ndarray:
        """Matrix rows of ``ids``; unknown ids raise, or are dropped with ``missing="drop"``."""
        rows = self.lookup(ids)
        if (rows < 0).any():
            if missing != "drop":
                unknown = [i for i, r in zip(ids, rows, strict=True) if r < 0][:5]
                raise UnknownIdError(f"unknown ids: {unknown}")
            rows = rows[rows >= 0]
        return rows

    def lookup(self, ids: Sequence[str]) -> np.ndarray:
        """Row of each id, -1 where it is not held."""
        if len(ids) > 20_000:
            return self._rows.get_indexer(list(ids))
        positions = self._positions
        return np.fromiter((positions.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))

    def align(self, mask: pd.Series | np.ndarray | None) -> np.ndarray | None:
        """A row mask from a boolean Series keyed by id (absent ids off) or an array in row order."""
        if mask is None:
            return None
        if isinstance(mask, pd.Series):
            return mask.reindex(self.ids, fill_value=False).to_numpy(dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise InputError(f"mask has {mask.size} entries for an index of {len(self)} items")
        return mask

    def best(
        self, scores: np.ndarray, k: int, mask: np.ndarray | pd.Series | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` ids with the highest ``scores`` (aligned with the rows) among ``mask`` rows."""
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")
        mask = self.align(mask)
        rows = None if mask is None else np.flatnonzero(mask)
        if rows is not None and not len(rows):
            return np.array([], dtype=str), np.array([], dtype=np.float32)
        top = top_k(scores, min(k, len(scores) if rows is None else len(rows)), rows)
        return self.ids[top], scores[top].astype(np.float32)

    def save_ids(self, folder: Path, name: str) -> Path:
        path = Path(folder) / f"{name}.ids.npy"
        np.save(path, self.ids, allow_pickle=False)
        return path

    @staticmethod
    def load_ids(folder: Path, name: str) -> np.ndarray:
        return np.load(Path(folder) / f"{name}.ids.npy", allow_pickle=False)


def save_sparse(path: Path, m: sp.spmatrix) -> Path:
    """A CSR matrix as ``.npz`` of plain arrays (no pickle)."""
    m = sp.csr_matrix(m)
    np.savez(path, data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape))
    return Path(path)


def load_sparse(path: Path) -> sp.csr_matrix:
    """Read what :func:`save_sparse` wrote."""
    with np.load(path, allow_pickle=False) as f:
        return sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))


def normalize_rows(m: sp.spmatrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty), as float32 CSR."""
    m = sp.csr_matrix(m, dtype=np.float32)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m, dtype=np.float32)


class SparseVectors(Keyed):
    """Cosine search over L2-normalised sparse rows keyed by catalog ids.

    Args:
        ids: One id per row.
        matrix: ``(n, d)`` sparse rows (normalised here).
    """

    def __init__(self, ids: Sequence[str], matrix: sp.spmatrix) -> None:
        super().__init__(ids)
        self.matrix = normalize_rows(matrix)
        if self.matrix.shape[0] != len(self.ids):
            raise InputError(f"{self.matrix.shape[0]} rows for {len(self.ids)} ids")

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    def rows_of(self, ids: Sequence[str]) -> sp.csr_matrix:
        """The sparse rows of ``ids`` (raises for unknown ids)."""
        return self.matrix[self.rows(ids)]

    def mean_vector(self, ids: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """Normalised weighted mean of the rows of ``ids`` as a dense vector."""
        rows = self.rows(ids)
        w = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
        vector = np.asarray(self.matrix[rows].T @ w).ravel()
        norm = np.linalg.norm(vector)
        return (vector / norm if norm > 0 else vector).astype(np.float32)

    def all_scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine of ``query`` to every row."""
        query = np.asarray(query, dtype=np.float32).ravel()
        norm = np.linalg.norm(query)
        return np.asarray(self.matrix @ (query / norm if norm > 0 else query)).ravel()

    def scores(self, query: np.ndarray, candidate_ids: Sequence[str]) -> np.ndarray:
        """Cosine of ``query`` to each candidate (NaN for ids not held)."""
        rows = self.lookup(candidate_ids)
        out = np.full(len(rows), np.nan, dtype=np.float32)
        known = rows >= 0
        if known.any():
            query = np.asarray(query, dtype=np.float32).ravel()
            norm = np.linalg.norm(query)
            out[known] = self.matrix[rows[known]] @ (query / norm if norm > 0 else query)
        return out

    def search(
        self, query: np.ndarray, k: int, mask: np.ndarray | pd.Series | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` ids by cosine to ``query`` among rows where ``mask`` is true."""
        return self.best(self.all_scores(query), k, mask)

    def similar(
        self,
        ids: Sequence[str],
        k: int,
        weights: Sequence[float] | None = None,
        mask: np.ndarray | pd.Series | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest rows to the (weighted mean of the) rows of ``ids``, excluding ``ids``."""
        query = self.mean_vector(ids, weights)
        allowed = np.ones(len(self), dtype=bool) if mask is None else self.align(mask).copy()
        allowed[self.rows(ids)] = False
        return self.search(query, k, allowed)

    def save(self, folder: Path, name: str) -> list[Path]:
        """Write ``<name>.npz`` and ``<name>.ids.npy`` into ``folder``."""
        folder = Path(folder)
        return [save_sparse(folder / f"{name}.npz", self.matrix), self.save_ids(folder, name)]

    @classmethod
    def load(cls, folder: Path, name: str) -> SparseVectors:
        """Read what :meth:`save` wrote."""
        return cls(cls.load_ids(folder, name), load_sparse(Path(folder) / f"{name}.npz"))
