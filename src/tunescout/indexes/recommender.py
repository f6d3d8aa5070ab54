"""The shared base of top-N recommenders over ``(user, item, weight)`` frames: the id ↔ row
mapping, input weighting, batching, seen-item filtering and ``.npy``/``.npz`` persistence behind
``fit / recommend / recommend_items / save / load`` (the :class:`~tunescout.indexes.base.Recommender`
contract)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.nearest_neighbours import bm25_weight

from tunescout.errors import ArtifactError, InputError, UnknownIdError
from tunescout.indexes.topk import top_k_rows

logger = logging.getLogger(__name__)

# "logtf" is 1 + log(plays) (log-frequency tf); ALS's "log1p" confidence is another function.
WEIGHTINGS = ("binary", "logtf", "bm25", "raw")
_BATCH = 1024


def weight_matrix(x: sp.csr_matrix, weighting: str) -> sp.csr_matrix:
    """Rescale a user × item matrix of raw weights (e.g. play counts).

    Args:
        x: Raw weights, users in rows.
        weighting: ``"binary"`` (1 per interaction), ``"logtf"`` (``1 + log(w)``, the
            log-frequency tf of Manning et al. 2008 ch. 6.2, 1 for a single play), ``"bm25"``
            (implicit's ``bm25_weight`` with items as documents, as in its Last.fm example) or
            ``"raw"``.

    Raises:
        InputError: unknown ``weighting``.
    """
    x = sp.csr_matrix(x, dtype=np.float32, copy=True)
    x.data = np.maximum(x.data, 0.0)
    x.eliminate_zeros()
    if weighting == "binary":
        x.data[:] = 1.0
    elif weighting == "logtf":
        x.data = (1.0 + np.log(np.maximum(x.data, 1.0))).astype(np.float32)
    elif weighting == "bm25":
        x = sp.csr_matrix(bm25_weight(x.T.tocoo(), K1=100, B=0.8).T, dtype=np.float32)
    elif weighting != "raw":
        raise InputError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    return x


class Recommender:
    """Shared base: the id ↔ row mapping, weighting, batching, filtering and persistence.

    Subclasses implement ``_fit(x)`` on the weighted user × item matrix and ``_score(rows)``
    returning dense scores for a batch of weighted user rows. Ids never leave as matrix rows.

    Args:
        weighting: How raw weights become model input (see :func:`weight_matrix`).
        min_users: Items with fewer distinct training users are left out of the model.
        col_user: User column of the training frame.
        col_item: Item column.
        col_rating: Raw weight column (ignored for ``"binary"``; absent means 1).
    """

    name: ClassVar[str] = "base"
    _arrays: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        weighting: str = "binary",
        min_users: int = 1,
        col_user: str = "user_id",
        col_item: str = "artist_id",
        col_rating: str = "weight",
    ) -> None:
        if weighting not in WEIGHTINGS:
            raise InputError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        self.weighting = weighting
        self.min_users = min_users
        self.col_user, self.col_item, self.col_rating = col_user, col_item, col_rating
        self.user_ids: np.ndarray = np.array([], dtype=object)
        self.item_ids: np.ndarray = np.array([], dtype=object)
        self.user_items: sp.csr_matrix = sp.csr_matrix((0, 0), dtype=np.float32)
        self.fit_seconds = 0.0

    # ---- public interface

    def fit(self, train: pd.DataFrame) -> Self:
        """Fit on training interactions (one row per user and item; duplicates are summed)."""
        start = time.perf_counter()
        raw = self._matrix(train)
        self.user_items = weight_matrix(raw, self.weighting)
        self._fit(self.user_items)
        self.fit_seconds = time.perf_counter() - start
        logger.info(
            "%s fitted on %d users x %d items in %.1fs",
            self.name,
            len(self.user_ids),
            len(self.item_ids),
            self.fit_seconds,
        )
        return self

    def recommend(self, user_ids: Iterable, k: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The top ``k`` items for each known user.

        Args:
            user_ids: Users seen in training.
            k: List length.
            exclude_seen: Leave out the user's training items.

        Returns:
            Frame ``[col_user, col_item, "score"]``, each user's rows best first.

        Raises:
            UnknownIdError: a user was not in the training data.
        """
        users = np.asarray(list(user_ids), dtype=object)
        rows = self._user_rows(users)
        frames = []
        for start in range(0, len(rows), _BATCH):
            batch = self.user_items[rows[start : start + _BATCH]]
            cols, vals = self._rank(batch, k, exclude_seen)
            owner = np.repeat(users[start : start + _BATCH], cols.shape[1])
            keep = np.isfinite(vals.ravel())
            frames.append(
                pd.DataFrame(
                    {
                        self.col_user: owner[keep],
                        self.col_item: self.item_ids[cols.ravel()[keep]],
                        "score": vals.ravel()[keep],
                    }
                )
            )
        if not frames:
            empty = np.array([], dtype=object)
            return pd.DataFrame({self.col_user: empty, self.col_item: empty, "score": []})
        return pd.concat(frames, ignore_index=True)

    def recommend_items(
        self, items: Mapping | Iterable, k: int = 10, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """Fold-in: recommend for a new user described only by items they like (a survey).

        Args:
            items: Item ids, or a mapping item id → preference weight (1.0 = an ordinary liked
                item; scores are linear in the weights, so negative weights push an item's
                neighbours down). Ids outside the model are ignored.
            k: List length.
            exclude_seen: Leave out the given items.

        Returns:
            Frame ``[col_item, "score"]``, best first.
        """
        weights = dict(items) if isinstance(items, Mapping) else dict.fromkeys(items, 1.0)
        index = pd.Index(self.item_ids)
        pos = index.get_indexer(list(weights))
        known = pos >= 0
        vals = np.asarray(list(weights.values()), dtype=np.float32)[known]
        row = sp.csr_matrix(
            (vals, (np.zeros(known.sum(), int), pos[known])),
            shape=(1, len(self.item_ids)),
            dtype=np.float32,
        )
        cols, scores = self._rank(row, k, exclude_seen)
        keep = np.isfinite(scores[0])
        return pd.DataFrame({self.col_item: self.item_ids[cols[0][keep]], "score": scores[0][keep]})

    def save(self, folder: Path | str) -> Path:
        """Write the model as ``config.json`` plus ``.npy``/``.npz`` arrays (no pickle)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"model": self.name, **self._config()}
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        np.save(folder / "user_ids.npy", self.user_ids.astype(str))
        np.save(folder / "item_ids.npy", self.item_ids.astype(str))
        _save_sparse(folder / "user_items.npz", self.user_items)
        for attr in self._arrays:
            value = getattr(self, attr)
            if sp.issparse(value):
                _save_sparse(folder / f"{attr}.npz", value)
            else:
                np.save(folder / f"{attr}.npy", value)
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> Self:
        """Read a model written by :meth:`save` (ids come back as ``str``).

        Raises:
            ArtifactError: files are missing or belong to another model class.
        """
        folder = Path(folder)
        try:
            config = json.loads((folder / "config.json").read_text())
            if config.pop("model") != cls.name:
                raise ArtifactError(f"{folder} holds a different model; load it with its class")
            model = cls(**config)
            model.user_ids = np.load(folder / "user_ids.npy", allow_pickle=False).astype(object)
            model.item_ids = np.load(folder / "item_ids.npy", allow_pickle=False).astype(object)
            model.user_items = _load_sparse(folder / "user_items.npz")
            for attr in cls._arrays:
                sparse_path = folder / f"{attr}.npz"
                value = (
                    _load_sparse(sparse_path)
                    if sparse_path.exists()
                    else np.load(folder / f"{attr}.npy", allow_pickle=False)
                )
                setattr(model, attr, value)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(
                f"cannot load {cls.__name__} from {folder}: {exc}; refit and save it again"
            ) from exc
        return model

    # ---- for subclasses

    def _config(self) -> dict:
        return {
            "weighting": self.weighting,
            "min_users": self.min_users,
            "col_user": self.col_user,
            "col_item": self.col_item,
            "col_rating": self.col_rating,
        }

    def _fit(self, x: sp.csr_matrix) -> None:
        raise NotImplementedError

    def _score(self, rows: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    # ---- helpers

    def _matrix(self, train: pd.DataFrame) -> sp.csr_matrix:
        """Raw user × item matrix over the items with at least ``min_users`` users."""
        missing = {self.col_user, self.col_item} - set(train.columns)
        if missing:
            raise InputError(f"training frame lacks column(s) {sorted(missing)}")
        if train.empty:
            raise InputError("training frame is empty")
        n_users = train.groupby(self.col_item)[self.col_user].nunique()
        kept = n_users.index[n_users >= self.min_users]
        if len(kept) == 0:
            raise InputError(f"no item has min_users={self.min_users} training users")
        users = pd.Index(pd.unique(train[self.col_user]))
        items = pd.Index(np.sort(kept.to_numpy()))
        frame = train[train[self.col_item].isin(items)]
        weights = (
            frame[self.col_rating].to_numpy(np.float32)
            if self.col_rating in frame
            else np.ones(len(frame), np.float32)
        )
        self.user_ids, self.item_ids = users.to_numpy(dtype=object), items.to_numpy(dtype=object)
        x = sp.csr_matrix(
            (
                weights,
                (users.get_indexer(frame[self.col_user]), items.get_indexer(frame[self.col_item])),
            ),
            shape=(len(users), len(items)),
            dtype=np.float32,
        )
        x.sum_duplicates()
        return x

    def _user_rows(self, users: np.ndarray) -> np.ndarray:
        rows = pd.Index(self.user_ids).get_indexer(users)
        if (rows < 0).any():
            unknown = users[rows < 0]
            raise UnknownIdError(
                f"{len(unknown)} user(s) not in the training data, e.g. "
                f"{unknown[0]!r}; use recommend_items for new users"
            )
        return rows

    def _rank(self, rows: sp.csr_matrix, k: int, exclude_seen: bool) -> tuple[np.ndarray, ...]:
        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        scores = np.asarray(self._score(rows), dtype=np.float32)
        if exclude_seen:
            seen = rows.tocoo()
            scores[seen.row, seen.col] = -np.inf
        return top_k_rows(scores, k)


def _save_sparse(path: Path, m: sp.spmatrix) -> None:
    m = sp.csr_matrix(m)
    np.savez(path, data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape))


def _load_sparse(path: Path) -> sp.csr_matrix:
    with np.load(path, allow_pickle=False) as f:
        return sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))
