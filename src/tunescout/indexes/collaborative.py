"""Collaborative index: implicit ALS over user×artist (and user×track) listening, keyed by ids.

Known users are ranked from their trained factors; survey users are folded in with one
least-squares solve against the fixed item factors, so a new profile never needs a retrain.
"""

# ruff: noqa: E402  (implicit asks for single-threaded OpenBLAS, set before numpy loads it)
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import functools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import bm25_weight
from scipy import sparse
from threadpoolctl import ThreadpoolController

from tunescout.catalog import Catalog
from tunescout.errors import ArtifactError, DataMissingError, InputError, UnknownIdError
from tunescout.indexes.vectors import VectorIndex

log = logging.getLogger(__name__)

WEIGHTINGS = ("bm25", "log", "raw")
MANIFEST = "collaborative.json"
_REBUILD = "rebuild it with `python scripts/build.py`"


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
        weighting: ``f``: ``"bm25"`` (implicit's ``bm25_weight``), ``"log"`` (``log1p``) or
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
    weighting: str = "log"
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    random_state: int = 42
    num_threads: int = 0

    def __post_init__(self) -> None:
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
        if params.weighting == "log":
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


def _top(scores: np.ndarray, k: int, allowed: np.ndarray) -> np.ndarray:
    """Rows of the ``k`` best ``scores`` among ``allowed`` rows, best first."""
    if k <= 0:
        raise InputError(f"k must be positive, got {k}")
    rows = np.flatnonzero(allowed)
    if k < len(rows):
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    return rows[np.argsort(-scores[rows], kind="stable")]


class FactorModel:
    """One ALS model over users × items (artists or tracks); catalog ids in, catalog ids out.

    Args:
        model: A fitted implicit CPU ALS model (``alpha`` 1; confidences are computed beforehand).
        users: User ids, one per row of ``model.user_factors``.
        items: Normalised item factors keyed by item id (row order of ``model.item_factors``).
        seen: Users×items training confidences (what each known user already listens to).
        unit: Median extra confidence ``c - 1`` of a training interaction: a rating of 1.0 weighs
            as much as a typical listen.
    """

    def __init__(
        self,
        model: AlternatingLeastSquares,
        users: np.ndarray,
        items: VectorIndex,
        seen: sparse.csr_matrix,
        unit: float,
    ) -> None:
        self.model = model
        # Queries solve one user at a time: OpenMP threads only add start-up cost (measured 13 ms
        # against 2 ms per fold-in on two busy cores).
        self.model.num_threads = 1
        self.users = pd.Index(np.asarray(users, dtype=str))
        self.items = items
        self._item_rows = pd.Index(items.ids)
        self.seen = seen
        self.unit = float(unit)

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, item_column: str, params: ALSParams, show_progress: bool = True
    ) -> FactorModel:
        """Fit on rows of ``user_id``, ``item_column``, ``weight``; weights of repeated pairs add.

        Example:
            >>> frame = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "artist_id": ["a", "b", "a"],
            ...                       "weight": [3.0, 1.0, 2.0]})
            >>> FactorModel.fit(frame, "artist_id", ALSParams(factors=2), show_progress=False).ids
            array(['a', 'b'], dtype='<U1')
        """
        # Codes into sorted ids, and a COO->CSR conversion that adds repeated pairs (no groupby).
        user_rows, users = _codes(frame["user_id"])
        item_rows, items = _codes(frame[item_column])
        weights = sparse.coo_matrix(
            (frame["weight"].to_numpy(dtype=np.float64), (user_rows, item_rows)),
            shape=(len(users), len(items)),
        ).tocsr()
        seen = confidence(weights, params)
        with _one_blas_thread():
            model = AlternatingLeastSquares(
                factors=params.factors,
                regularization=params.regularization,
                iterations=params.iterations,
                random_state=params.random_state,
                num_threads=params.num_threads,
            )
            start = time.perf_counter()
            model.fit(seen, show_progress=show_progress)
        elapsed = time.perf_counter() - start
        log.info(
            "ALS over %d users × %d %s (%d interactions): %.3fs per iteration",
            len(users), len(items), item_column, seen.nnz, elapsed / params.iterations,
        )  # fmt: skip
        unit = float(np.median(seen.data)) - 1.0
        return cls(model, users, VectorIndex(items, model.item_factors), seen, unit)

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

    def _rank(
        self, vector: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        with _one_blas_thread():
            scores = self.model.item_factors @ vector
        rows = _top(scores, k, allowed)
        return self.ids[rows], scores[rows]

    def recommend_user(
        self, user_id: str, k: int, exclude_seen: bool = True, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for a user the model was trained on, scored by ``u · v``."""
        row = self._user_row(user_id)
        allowed = self._allowed(mask)
        if exclude_seen:
            allowed[self.seen[row].indices] = False
        return self._rank(self.model.user_factors[row], k, allowed)

    def recommend_profile(
        self,
        ratings: Mapping[str, float],
        k: int,
        mask: np.ndarray | None = None,
        exclude_rated: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for a folded-in profile (see :meth:`user_vector`).

        Raises:
            InputError: No rating is positive (a dislike-only profile gives ALS nothing to rank by).
        """
        if not any(v > 0 for v in ratings.values()):
            raise InputError("ALS recommendations need at least one liked item")
        allowed = self._allowed(mask)
        if exclude_rated:
            allowed[self.items.rows(list(ratings))] = False
        return self._rank(self.user_vector(ratings), k, allowed)

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
    def load(cls, folder: Path, name: str, unit: float) -> FactorModel:
        """Read what :meth:`save` wrote (implicit loads its npz with ``allow_pickle=False``)."""
        folder = Path(folder)
        with _one_blas_thread():
            model = AlternatingLeastSquares.load(str(folder / f"{name}.npz"))
        users = np.load(folder / f"{name}.users.npy", allow_pickle=False)
        seen = sparse.load_npz(folder / f"{name}.seen.npz").tocsr()
        return cls(model, users, VectorIndex.load(folder, name), seen, unit)


class CollaborativeIndex:
    """ALS over user×artist listening, plus user×track when interactions name tracks.

    The shared index contract (``similar``, ``score``) and the recommendation methods speak about
    artists; the ``*_tracks`` methods ask the track model and raise :class:`DataMissingError` when
    the catalog has no track-level interactions.

    Example:
        >>> index = CollaborativeIndex.build(catalog, factors=64)          # doctest: +SKIP
        >>> index.recommend_profile({"radiohead": 1.0, "abba": -1.0}, k=10)  # doctest: +SKIP
    """

    def __init__(self, artists: FactorModel, tracks: FactorModel | None, params: ALSParams) -> None:
        self.artists = artists
        self.tracks = tracks
        self.params = params

    @classmethod
    def build(cls, catalog: Catalog, show_progress: bool = True, **params: object) -> Self:
        """Fit the artist model (and the track model when interactions carry ``track_id``).

        Args:
            catalog: Its ``interactions`` table is used.
            show_progress: Show implicit's tqdm bar per fit.
            **params: Fields of :class:`ALSParams`.

        Raises:
            DataMissingError: The catalog has no interactions.
        """
        config = ALSParams(**params)
        frame = catalog.interactions
        if frame.empty:
            raise DataMissingError(
                "the catalog has no interactions for ALS: collect listening data with "
                "`python scripts/collect.py`, then `python scripts/build.py`"
            )
        artists = FactorModel.fit(frame, "artist_id", config, show_progress)
        with_tracks = frame[frame["track_id"].notna()]
        tracks = None
        if not with_tracks.empty:
            tracks = FactorModel.fit(with_tracks, "track_id", config, show_progress)
        return cls(artists, tracks, config)

    @property
    def ids(self) -> np.ndarray:
        """Artist ids in row order (what a ``mask`` aligns with)."""
        return self.artists.ids

    def __contains__(self, artist_id: str) -> bool:
        return artist_id in self.artists

    def similar(
        self, ids: Sequence[str], k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Artists closest to ``ids`` by cosine of ALS factors; ``mask`` aligns with :attr:`ids`."""
        return self.artists.similar(ids, k, mask)

    def score(
        self, profile: np.ndarray | Mapping[str, float], candidate_ids: Sequence[str]
    ) -> np.ndarray:
        """ALS preference of each candidate artist for ``profile`` (NaN for artists not held)."""
        return self.artists.score(profile, candidate_ids)

    def user_vector(self, ratings: Mapping[str, float]) -> np.ndarray:
        """Fold-in user factors from artist ratings (see :meth:`FactorModel.user_vector`)."""
        return self.artists.user_vector(ratings)

    def recommend_user(
        self, user_id: str, k: int, exclude_seen: bool = True, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` artists for a known user."""
        return self.artists.recommend_user(user_id, k, exclude_seen, mask)

    def recommend_profile(
        self,
        ratings: Mapping[str, float],
        k: int,
        mask: np.ndarray | None = None,
        exclude_rated: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` artists for survey ratings, folded in without retraining."""
        return self.artists.recommend_profile(ratings, k, mask, exclude_rated)

    @property
    def track_model(self) -> FactorModel:
        """The user×track model; :class:`DataMissingError` when no interaction named a track."""
        if self.tracks is None:
            raise DataMissingError(
                "the collaborative index has no track model (no interaction names a track_id): "
                "collect track-level listening with `python scripts/collect.py` and rebuild"
            )
        return self.tracks

    def similar_tracks(
        self, ids: Sequence[str], k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tracks closest to ``ids`` in ALS item-factor space."""
        return self.track_model.similar(ids, k, mask)

    def score_tracks(
        self, profile: np.ndarray | Mapping[str, float], candidate_ids: Sequence[str]
    ) -> np.ndarray:
        """ALS preference of each candidate track (profile from :meth:`track_vector`)."""
        return self.track_model.score(profile, candidate_ids)

    def track_vector(self, ratings: Mapping[str, float]) -> np.ndarray:
        """Fold-in user factors from track ratings."""
        return self.track_model.user_vector(ratings)

    def recommend_user_tracks(
        self, user_id: str, k: int, exclude_seen: bool = True, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` tracks for a known user."""
        return self.track_model.recommend_user(user_id, k, exclude_seen, mask)

    def recommend_profile_tracks(
        self,
        ratings: Mapping[str, float],
        k: int,
        mask: np.ndarray | None = None,
        exclude_rated: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` tracks for survey track ratings."""
        return self.track_model.recommend_profile(ratings, k, mask, exclude_rated)

    def save(self, folder: Path) -> dict:
        """Write all artifacts and ``collaborative.json`` into ``folder``; returns that manifest."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        manifest: dict = {"component": "collaborative", "params": asdict(self.params)}
        for name, part in (("als_artists", self.artists), ("als_tracks", self.tracks)):
            if part is not None:
                files = part.save(folder, name)
                manifest[name] = {
                    **part.counts(),
                    "unit": part.unit,
                    "files": [p.name for p in files],
                }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        return manifest

    @classmethod
    def load(cls, folder: Path) -> Self:
        """Read what :meth:`save` wrote.

        Raises:
            ArtifactError: A file is missing or unreadable.
        """
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            parts = {
                name: FactorModel.load(folder, name, manifest[name]["unit"])
                if name in manifest
                else None
                for name in ("als_artists", "als_tracks")
            }
            params = ALSParams(**manifest["params"])
        except (OSError, KeyError, ValueError) as exc:
            raise ArtifactError(
                f"collaborative index in {folder} is unreadable ({exc}): {_REBUILD}"
            ) from exc
        if parts["als_artists"] is None:
            raise ArtifactError(f"collaborative index in {folder} has no artist model: {_REBUILD}")
        return cls(parts["als_artists"], parts["als_tracks"], params)
