"""Baselines every model must clear: random and most-popular ranking, behind the same
``fit / recommend / recommend_items`` interface as the real models (the item-item models live in
:mod:`tunescout.indexes.itemitem`, ALS in :mod:`tunescout.indexes.als`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tunescout.indexes.recommender import Recommender


class RandomRecommender(Recommender):
    """Uniformly random ranking (a floor every model must clear).

    Args:
        seed: Seed of the scores' generator.
    """

    name = "random"

    def __init__(self, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def _config(self) -> dict:
        return {**super()._config(), "seed": self.seed}

    def _fit(self, x: sp.csr_matrix) -> None:
        self._rng = np.random.default_rng(self.seed)

    def _score(self, rows: sp.csr_matrix) -> np.ndarray:
        return self._rng.random((rows.shape[0], len(self.item_ids)), dtype=np.float32)


class PopularityRecommender(Recommender):
    """Most popular items first: score = number of training users (the "MostPop" baseline)."""

    name = "popularity"
    _arrays = ("counts",)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.counts = np.zeros(0, dtype=np.float32)

    def _fit(self, x: sp.csr_matrix) -> None:
        self.counts = np.diff(x.tocsc().indptr).astype(np.float32)

    def _score(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.counts, (rows.shape[0], len(self.counts))).copy()
