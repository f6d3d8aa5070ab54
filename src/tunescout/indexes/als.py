"""ALS with ``implicit``: one user × item factor model (artists or tracks) keyed by catalog ids.

Known users are ranked from their trained factors; new users are folded in with one least-squares
solve against the fixed item factors, so a survey profile never needs a retrain. The model follows
the :class:`~tunescout.indexes.base.Recommender` contract of the baselines.
"""

# ruff: noqa: E402  (implicit asks for single-threaded OpenBLAS, set before numpy loads it)
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import functools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import bm25_weight
from scipy import sparse
from threadpoolctl import ThreadpoolController

from tunescout.errors import InputError, UnknownIdError
from tunescout.indexes.topk import top_k
from tunescout.indexes.vectors import VectorIndex

log = logging.getLogger(__name__)

WEIGHTINGS = ("bm25", "log1p", "raw")


@dataclass(frozen=True)
class ALSParams:
    """How raw listening weights become confidences, and how ALS factorises them.

    Defaults were tuned on HetRec Last.fm 2K (per-user 80/20 holdout, validation carved from the
    training part, full ranking, nDCG@10): validation 0.185, test 0.248, against 0.129 for implicit's
    defaults on raw counts. Strong regularisation matters most; BM25 (``alpha=0.03``,
    ``regularization=50``) scores the same.

    Attributes:
        factors: Latent dimensions.
        regularization: L2 penalty on the factors.
        alpha: Confidence scale: ``c = 1 + alpha * f(w)``.
        iterations: ALS sweeps.
        weighting: ``f``: ``"bm25"`` (implicit's ``bm25_weight``), ``"log1p"`` or
            ``"raw"``.
        bm25_k1: BM25 saturation of large counts.
        bm25_b: BM25 length normalisation of heavily played items.
        random_state: Seed of the factor initialisation.
        num_threads: Threads for fitting (0 = all cores).
    """

    factors: int = 128
    regularization: float = 100.0
    alpha: float = 5.0
    iterations: int = 15
    weighting: str = "log1p"
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    random_state: int = 42
    num_threads: int = 0

    def __post_init__(self) -> None:
        if self.weighting == "log":  # the name builds before 2026-12 recorded
            object.__setattr__(self, "weighting", "log1p")
        if self.weighting not in WEIGHTINGS:
            raise InputError(f"unknown weighting {self.weighting!r}: use one of {list(WEIGHTINGS)}")
        if self.factors <= 0 or self.iterations <= 0 or self.alpha <= 0:
            raise InputError("factors, iterations and alpha must be positive")


def confidence(weights: sparse.csr_matrix, params: ALSParams) -> sparse.csr_matrix:
    """Users×items raw weights to ALS confidences ``1 + alpha * f(w)`` (Hu, Koren & Volinsky 2008).

    Args:
        weights: Users×items raw counts (play counts or other non-negative weights).
        params: Which ``f`` and ``alpha``.

    Returns:
        A float32 CSR matrix with the same sparsity.
    """
    if params.weighting == "bm25":
        # bm25_weight treats rows as documents (items) and columns as terms (users), as in
        # implicit's own last.fm example, so weigh the transpose.
        scaled = bm25_weight(weights.T, K1=params.bm25_k1, B=params.bm25_b).T.tocsr()
        # Its idf goes negative for users who play most items; implicit reads c < 0 as a dislike.
        scaled.data = np.maximum(scaled.data, 0.0)
    else:
        scaled = weights.tocsr(copy=True).astype(np.float64)
        if params.weighting == "log1p":
            scaled.data = np.log1p(scaled.data)
    scaled.data = 1.0 + params.alpha * scaled.data
    return scaled.astype(np.float32)


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()  # finding the BLAS libraries costs ~10 ms, so do it once


def _one_blas_thread() -> AbstractContextManager:
    """A context limiting BLAS to one thread.

    implicit asks for it during fits, and on a busy machine a threaded mat-vec over the item
    factors was measured 20x slower than a single-threaded one.
    """
    return _controller().limit(limits=1, user_api="blas")


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's position among the column's sorted distinct ids, and those ids.

    Categorical columns (how the catalog reads interaction ids) reuse their codes: 92k HetRec rows
    take 1 ms instead of the 35 ms of turning them into strings and hashing those.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.cat.remove_unused_categories()
        ids = column.cat.categories.to_numpy(dtype=str)
        order = np.argsort(ids, kind="stable")
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order] = np.arange(len(ids))
        return rank[column.cat.codes.to_numpy()], ids[order]
    rows, ids = pd.factorize(column.astype(str), sort=True)
    return rows, np.asarray(ids, dtype=str)


class FactorModel:
    """One ALS model over users × items (artists or tracks); catalog ids in, catalog ids out.

    It follows the ``fit / recommend / recommend_items`` contract of
    :class:`~tunescout.indexes.base.Recommender`, so the evaluation compares it with the baselines
    directly.

    Args:
        params: Confidence weighting and factorisation settings.
        item_column: The item column of training frames (``artist_id`` or ``track_id``).
        show_progress: Show implicit's tqdm bar while fitting.

    Example:
        >>> frame = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "artist_id": ["a", "b", "a"],
        ...                       "weight": [3.0, 1.0, 2.0]})
        >>> FactorModel(ALSParams(factors=2)).fit(frame).ids
        array(['a', 'b'], dtype='<U1')
    """

    def __init__(
        self,
        params: ALSParams | None = None,
        item_column: str = "artist_id",
        show_progress: bool = False,
    ) -> None:
        self.params = params or ALSParams()
        self.item_column = item_column
        self.show_progress = show_progress
        self.model: AlternatingLeastSquares | None = None
        self.users = pd.Index([], dtype=str)
        self.items = VectorIndex([], np.zeros((0, 1)), method="exact")
        self._item_rows = pd.Index([], dtype=str)
        self.seen = sparse.csr_matrix((0, 0), dtype=np.float32)
        self.unit = 1.0

    def _attach(
        self,
        model: AlternatingLeastSquares,
        users: np.ndarray,
        items: VectorIndex,
        seen: sparse.csr_matrix,
        unit: float,
    ) -> Self:
        """Hold a fitted model: its users, normalised item factors, training confidences, and the
        median extra confidence of a listen (a rating of 1.0 weighs as much as a typical listen)."""
        # Queries solve one user at a time: OpenMP threads only add start-up cost (measured 13 ms
        # against 2 ms per fold-in on two busy cores).
        model.num_threads = 1
        self.model = model
        self.users = pd.Index(np.asarray(users, dtype=str))
        self.items = items
        self._item_rows = pd.Index(items.ids)
        self.seen = seen
        self.unit = float(unit)
        return self

    def fit(self, train: pd.DataFrame) -> Self:
        """Fit on rows of ``user_id``, the item column and ``weight``; repeated pairs add up."""
        # Codes into sorted ids, and a COO->CSR conversion that adds repeated pairs (no groupby).
        user_rows, users = _codes(train["user_id"])
        item_rows, items = _codes(train[self.item_column])
        weights = sparse.coo_matrix(
            (train["weight"].to_numpy(dtype=np.float64), (user_rows, item_rows)),
            shape=(len(users), len(items)),
        ).tocsr()
        seen = confidence(weights, self.params)
        params = self.params
        with _one_blas_thread():
            model = AlternatingLeastSquares(
                factors=params.factors,
                regularization=params.regularization,
                iterations=params.iterations,
                random_state=params.random_state,
                num_threads=params.num_threads,
            )
            start = time.perf_counter()
            model.fit(seen, show_progress=self.show_progress)
        elapsed = time.perf_counter() - start
        log.info(
            "ALS over %d users × %d %s (%d interactions): %.3fs per iteration",
            len(users), len(items), self.item_column, seen.nnz, elapsed / params.iterations,
        )  # fmt: skip
        unit = float(np.median(seen.data)) - 1.0
        return self._attach(model, users, VectorIndex(items, model.item_factors), seen, unit)

    @property
    def ids(self) -> np.ndarray:
        """Item ids in row order; a ``mask`` argument is a boolean array aligned with these."""
        return self.items.ids

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.items

    def _allowed(self, mask: np.ndarray | None) -> np.ndarray:
        if mask is None:
            return np.ones(len(self.ids), dtype=bool)
        if len(mask) != len(self.ids):
            raise InputError(f"mask has {len(mask)} entries for {len(self.ids)} items")
        return np.asarray(mask, dtype=bool).copy()

    def _user_row(self, user_id: str) -> int:
        row = self.users.get_indexer([user_id])[0]
        if row < 0:
            raise UnknownIdError(f"unknown user id: {user_id!r}")
        return int(row)

    def _fold_in_row(self, ratings: Mapping[str, float]) -> sparse.csr_matrix:
        """One CSR row in the training confidence scale; negative entries mean "preference 0"."""
        if not ratings:
            raise InputError("no ratings to fold in")
        cols = self.items.rows(list(ratings))
        values = np.fromiter(ratings.values(), dtype=np.float64, count=len(ratings))
        if not np.isfinite(values).all():
            raise InputError("ratings must be finite numbers")
        keep = values != 0
        # implicit's solver reads c < 0 as preference 0 with confidence |c|, so a dislike pulls the
        # user vector towards scoring that artist (and what resembles it) zero.
        data = np.sign(values) * (1.0 + np.abs(values) * self.unit)
        return sparse.csr_matrix(
            (
                data[keep].astype(np.float32),
                (np.zeros(int(keep.sum()), dtype=np.int32), cols[keep]),
            ),
            shape=(1, len(self.ids)),
        )

    def user_vector(self, ratings: Mapping[str, float]) -> np.ndarray:
        """Fold in a new user: least-squares user factors for ``ratings``, item factors fixed.

        Args:
            ratings: Item id to confidence in units of a typical listen (1.0 = like, 2.0 = love);
                negative values are dislikes and zeros are ignored.

        Returns:
            A ``(factors,)`` float32 vector; zero when no rating is positive.

        Raises:
            UnknownIdError: A rated id is not in this model.
        """
        row = self._fold_in_row(ratings)
        with _one_blas_thread():
            return self.model.recalculate_user(0, row)

    def stored_user_vector(self, user_id: str) -> np.ndarray:
        """The trained factors of a known user (raises :class:`UnknownIdError` otherwise)."""
        return self.model.user_factors[self._user_row(user_id)]

    def rank(
        self, vector: np.ndarray, k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items with the highest predicted preference ``u · v`` among ``mask`` rows."""
        with _one_blas_thread():
            scores = self.model.item_factors @ vector
        rows = top_k(scores, k, np.flatnonzero(self._allowed(mask)))
        return self.ids[rows], scores[rows]

    def recommend_user(
        self, user_id: str, k: int, exclude_seen: bool = True, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for a user the model was trained on, scored by ``u · v``."""
        row = self._user_row(user_id)
        allowed = self._allowed(mask)
        if exclude_seen:
            allowed[self.seen[row].indices] = False
        return self.rank(self.model.user_factors[row], k, allowed)

    def recommend(
        self, user_ids: Iterable[str], k: int = 10, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """The top ``k`` items of each known user: frame ``[user_id, <item column>, score]``."""
        frames = []
        for user in user_ids:
            ids, scores = self.recommend_user(str(user), k, exclude_seen)
            frames.append(pd.DataFrame({"user_id": user, self.item_column: ids, "score": scores}))
        if not frames:
            return pd.DataFrame(columns=["user_id", self.item_column, "score"])
        return pd.concat(frames, ignore_index=True)

    def recommend_items(
        self, items: Mapping[str, float] | Iterable[str], k: int = 10, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """Fold-in for a new user described by items (id → confidence, or liked ids).

        Ids outside the model are ignored. Returns frame ``[<item column>, score]``, best first.
        """
        weights = dict(items) if isinstance(items, Mapping) else dict.fromkeys(items, 1.0)
        held = {i: float(w) for i, w in weights.items() if i in self}
        if not any(w > 0 for w in held.values()):
            return pd.DataFrame(columns=[self.item_column, "score"])
        allowed = np.ones(len(self.ids), dtype=bool)
        if exclude_seen:
            allowed[self.items.rows(list(held))] = False
        ids, scores = self.rank(self.user_vector(held), k, allowed)
        return pd.DataFrame({self.item_column: ids, "score": scores})

    def similar(
        self, ids: Sequence[str], k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Items closest (cosine of factors) to the mean factor of ``ids``, excluding ``ids``."""
        return self.items.similar(ids, k, mask=None if mask is None else self._allowed(mask))

    def score(
        self, profile: np.ndarray | Mapping[str, float], candidate_ids: Sequence[str]
    ) -> np.ndarray:
        """Predicted preference ``u · v`` of each candidate (NaN for ids this model does not hold).

        Args:
            profile: A user vector (:meth:`user_vector`, :meth:`stored_user_vector`) or ratings.
            candidate_ids: Item ids.
        """
        vector = self.user_vector(profile) if isinstance(profile, Mapping) else np.asarray(profile)
        rows = self._item_rows.get_indexer(list(candidate_ids))
        out = np.full(len(rows), np.nan, dtype=np.float32)
        known = rows >= 0
        with _one_blas_thread():
            out[known] = self.model.item_factors[rows[known]] @ vector
        return out

    def score_all(self, vector: np.ndarray) -> np.ndarray:
        """:meth:`score` of every item, in :attr:`ids` order."""
        with _one_blas_thread():
            return np.asarray(self.model.item_factors @ np.asarray(vector), dtype=np.float32)

    def counts(self) -> dict[str, int]:
        """Row counts for the manifest."""
        return {
            "users": len(self.users),
            "items": len(self.ids),
            "interactions": int(self.seen.nnz),
        }

    def save(self, folder: Path, name: str) -> list[Path]:
        """Write ``<name>.npz`` (implicit's npz), user ids, training confidences, item index."""
        folder = Path(folder)
        paths = [folder / f"{name}.npz", folder / f"{name}.users.npy", folder / f"{name}.seen.npz"]
        self.model.save(str(paths[0]))
        np.save(paths[1], self.users.to_numpy(dtype=str), allow_pickle=False)
        sparse.save_npz(paths[2], self.seen)
        return [*paths, *self.items.save(folder, name)]

    @classmethod
    def load(
        cls, folder: Path, name: str, unit: float, params: ALSParams, item_column: str
    ) -> FactorModel:
        """Read what :meth:`save` wrote (implicit loads its npz with ``allow_pickle=False``)."""
        folder = Path(folder)
        with _one_blas_thread():
            model = AlternatingLeastSquares.load(str(folder / f"{name}.npz"))
        users = np.load(folder / f"{name}.users.npy", allow_pickle=False)
        seen = sparse.load_npz(folder / f"{name}.seen.npz").tocsr()
        items = VectorIndex.load(folder, name)
        return cls(params, item_column)._attach(model, users, items, seen, unit)
