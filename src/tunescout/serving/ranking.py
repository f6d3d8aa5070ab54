"""Hybrid ranking as pure functions: stars to confidence, the one table of fusion weights,
per-signal normalisation, weighted and reciprocal-rank fusion, and MMR diversity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tunescout.errors import InputError
from tunescout.vocabulary import SIGNALS

# Stars → implicit confidence; 1–2 stars are dislikes that count against.
STAR_CONFIDENCE = {1: -1.0, 2: -0.5, 3: 0.25, 4: 1.0, 5: 2.0}
RRF_K = 60


def confidences(ratings: Mapping[str, int | float]) -> dict[str, float]:
    """Star ratings (1–5) as signed confidences (see :data:`STAR_CONFIDENCE`).

    Raises:
        InputError: A rating is not a whole number of stars from 1 to 5.
    """
    out = {}
    for item, stars in ratings.items():
        if (
            isinstance(stars, bool)
            or not isinstance(stars, int | float)
            or stars not in STAR_CONFIDENCE
        ):
            raise InputError(f"rating for {item!r} must be 1–5 stars, got {stars!r}")
        out[str(item)] = STAR_CONFIDENCE[int(stars)]
    return out


# Every fusion weight in one place. Survey rows adapt to how many artists were liked: with none,
# mood and popularity decide; one or two lean on audio (it needs no co-listening); from three on,
# co-listening leads. "artist" is a track's artist's fused score (track recommendations).
WEIGHTS: dict[str, dict[str, float]] = {
    "survey/none": {"als": 0.0, "audio": 0.0, "semantic": 0.0, "popularity": 1.0},
    "survey/mood": {"als": 0.0, "audio": 0.0, "semantic": 0.6, "popularity": 0.4},
    "survey/few": {"als": 0.2, "audio": 0.45, "semantic": 0.25, "popularity": 0.1},
    "survey/many": {"als": 0.55, "audio": 0.2, "semantic": 0.15, "popularity": 0.1},
    "tracks": {"artist": 0.5, "audio": 0.25, "semantic": 0.15, "popularity": 0.1},
    "session": {"audio": 0.35, "semantic": 0.25, "als": 0.3, "popularity": 0.1},
    "similar": {"audio": 0.4, "als": 0.3, "semantic": 0.3},
}


def adaptive_weights(
    n_liked: int,
    has_mood: bool,
    overrides: Mapping[str, float] | None = None,
    known: Sequence[str] = SIGNALS,
) -> dict[str, float]:
    """The survey weights of :data:`WEIGHTS` for a profile with ``n_liked`` positive ratings.

    User ``overrides`` (by signal name) replace single weights; the result sums to 1.
    """
    if n_liked == 0:
        row = "survey/mood" if has_mood else "survey/none"
    else:
        row = "survey/few" if n_liked <= 2 else "survey/many"
    weights = dict(WEIGHTS[row])
    unknown = sorted(set(overrides or {}) - set(known))
    if unknown:
        raise InputError(f"unknown model weights {unknown}; known: {list(known)}")
    for name, value in (overrides or {}).items():
        if not np.isfinite(value) or value < 0:
            raise InputError(f"weight for {name} must be a non-negative number, got {value!r}")
        weights[name] = float(value)
    total = sum(weights.values())
    if total <= 0:
        raise InputError("at least one model weight must be positive")
    return {name: value / total for name, value in weights.items()}


def minmax(scores: np.ndarray) -> np.ndarray:
    """Min–max scale finite scores to 0–1; NaN (model does not know the item) becomes 0."""
    scores = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(scores)
    out = np.zeros(len(scores))
    if finite.any():
        lo, hi = scores[finite].min(), scores[finite].max()
        out[finite] = (scores[finite] - lo) / (hi - lo) if hi > lo else 1.0
    return out


def weighted_fusion(table: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Weighted sum of each model's min–max normalised scores (columns of ``table``)."""
    total = pd.Series(0.0, index=table.index)
    for name, w in weights.items():
        if w and name in table:
            total += w * minmax(table[name].to_numpy())
    return total


def rrf_fusion(table: pd.DataFrame, weights: Mapping[str, float], k: int = RRF_K) -> pd.Series:
    """Weighted reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): Σ w / (k + rank)."""
    total = pd.Series(0.0, index=table.index)
    for name, w in weights.items():
        if w and name in table:
            ranks = table[name].rank(ascending=False, method="first", na_option="keep")
            total += (w / (k + ranks)).fillna(0.0)
    return total


def mmr(relevance: pd.Series, vectors: np.ndarray, k: int, diversity: float) -> list[str]:
    """Maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998).

    Args:
        relevance: Score per candidate id, any scale (min–max normalised here).
        vectors: Unit vectors aligned with ``relevance`` (rows of zeros for unknown items).
        k: How many to pick.
        diversity: 0 keeps the relevance order; 1 picks the most mutually dissimilar.

    Returns:
        The chosen ids in pick order.
    """
    if not 0.0 <= diversity <= 1.0:
        raise InputError(f"diversity must be between 0 and 1, got {diversity}")
    ids = relevance.index.to_numpy()
    rel = minmax(relevance.to_numpy())
    if diversity == 0.0 or len(ids) <= 1:
        return list(ids[np.argsort(-rel, kind="stable")][:k])
    sims = np.zeros(len(ids))
    chosen: list[int] = []
    available = np.ones(len(ids), dtype=bool)
    for _ in range(min(k, len(ids))):
        gain = (1.0 - diversity) * rel - diversity * sims
        gain[~available] = -np.inf
        pick = int(np.argmax(gain))
        chosen.append(pick)
        available[pick] = False
        sims = np.maximum(sims, vectors @ vectors[pick])
    return list(ids[chosen])
