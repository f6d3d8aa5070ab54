"""Hybrid ranking as pure functions: stars to fold-in weights, the one table of fusion weights,
per-listener standardisation, z-score, weighted and reciprocal-rank fusion, the dislike penalty
and MMR diversity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tunescout.errors import InputError
from tunescout.serving import checks
from tunescout.vocabulary import SIGNALS

# Survey stars → the weight of a rated artist in every model's fold-in. All positive: a 1-2 star
# artist is still one the listener knows, and on the survey validation split (stars from the
# listener's own play counts) reading low stars as negative weights cost 0.05 nDCG@10 (0.481 →
# 0.431, docs/EVALUATION.md). Dislikes act through DISLIKE_* below instead.
STAR_WEIGHTS = {1: 0.5, 2: 0.75, 3: 1.0, 4: 1.25, 5: 1.5}
DISLIKED_BELOW = 3  # 1-2 stars say "not for me"
RRF_K = 60


def stars(ratings: Mapping[str, int | float]) -> dict[str, int]:
    """Star ratings checked and read as whole stars 1–5.

    Raises:
        InputError: A rating is not a whole number of stars from 1 to 5 (ints, numpy integers and
            whole reals such as ``5.0`` are read, through :func:`checks.stars`).
    """
    out = {}
    for item, value in ratings.items():
        name = checks.valid_text(str(item), "a rated artist id")
        out[name] = checks.stars(value, f"rating for {checks.shown(name)}")
    return out


def confidences(ratings: Mapping[str, int | float]) -> dict[str, float]:
    """Star ratings (1–5) as fold-in weights (see :data:`STAR_WEIGHTS`; all positive)."""
    return {item: STAR_WEIGHTS[n] for item, n in stars(ratings).items()}


def disliked(ratings: Mapping[str, int]) -> list[str]:
    """The rated items with fewer than :data:`DISLIKED_BELOW` stars."""
    return [item for item, n in ratings.items() if n < DISLIKED_BELOW]


# Every fusion weight in one place. Recommendation rows fuse per-listener z-scores of each model
# (``standard_fusion``); "artist" is a track's artist's fused score, "walk" the RP3beta walk of
# the co-listening index. Rows marked "validation" were chosen by
# ``tunescout.research.tuning`` on splits carved from HetRec training users only (never test);
# the run and its figures are in docs/EVALUATION.md. The others (moods, tracks, sessions) have no
# offline truth and are set by hand so that each signal visibly moves the list.
WEIGHTS: dict[str, dict[str, float]] = {
    # validation: tuning.tune_survey, survey validation split (10 ratings, stars from play
    # counts, seeds 0-2): nDCG@10 0.551 ± 0.013, against 0.547 at 1:1:1 and 0.518 for ALS alone;
    # small audio, MiniLM or popularity weights added nothing (≤ +0.000)
    "survey": {
        "coplay": 0.5,
        "als": 0.5,
        "tags": 1.0,
        "audio": 0.0,
        "semantic": 0.0,
        "popularity": 0.0,
    },  # fmt: skip
    # by hand: a mood adds its own columns to the survey row
    "survey/mood": {
        "coplay": 0.5,
        "als": 0.5,
        "tags": 1.0,
        "audio": 1.0,
        "semantic": 1.0,
        "popularity": 0.0,
    },  # fmt: skip
    "survey/none": {"popularity": 1.0},
    "survey/none+mood": {"semantic": 1.0, "audio": 0.7, "popularity": 0.3},
    # validation: tuning.tune_listener, known-listener validation split (per-user 80/20 of the
    # training part, seeds 0-2): nDCG@10 0.1896 ± 0.0019; the RP3beta walk added nothing
    "listener": {"als": 1.0, "coplay": 0.25, "walk": 0.0, "tags": 1.0},
    # by hand
    "tracks": {"artist": 1.0, "audio": 0.3, "semantic": 0.3, "popularity": 0.15},
    "session": {"audio": 0.35, "semantic": 0.25, "als": 0.3, "popularity": 0.1},
    # validation: tuning.tune_similar, held-out co-listening check (300 artists, validation
    # listeners held out, seeds 0-2), nDCG@10: co-listening (RP3beta rows) 0.737 ± 0.006, ALS
    # 0.311, tags 0.178, MiniLM 0.094, audio 0.012; adding any other model gained ≤ 0.0005, so
    # artists with co-listening data take their neighbours from it
    "similar": {"coplay": 1.0, "als": 0.0, "tags": 0.0, "audio": 0.0, "semantic": 0.0},
    # the same check for seeds treated as cold (content models only): 0.2455 against tags
    # alone 0.178; the grid's edges (audio 0.5, MiniLM 1.0) were its best
    "similar/cold": {"tags": 1.0, "audio": 0.5, "semantic": 1.0},
}
# What an item a model does not hold counts as in that model (z units; None: one below the
# model's lowest z for this listener), per family of rows, each chosen on its validation run.
# Survey: an artist without enough listeners for co-listening counts as average there and leans
# on the models that hold it: 0 → 0.5521, −0.5 → 0.5518, −1 → 0.5516, the floor → 0.5510.
# Listener: −1 → 0.1896, the floor → 0.1895. Similar: the floor (the grid was run with it).
UNKNOWN: dict[str, float | None] = {"survey": 0.0, "listener": -1.0, "similar": None}
UNKNOWN_Z = UNKNOWN["survey"]
# Dislikes: a candidate is pushed down by DISLIKE_STRENGTH (weight units; the survey row sums to 1)
# per unit by which its tag cosine to the nearest disliked artist exceeds that to the nearest liked
# one plus DISLIKE_MARGIN. The strongest setting of the validation grid costing ≤ 0.005 nDCG@10
# there (where 1-2 stars are artists the listener does play): cost 0.0029 (0.5521 → 0.5492).
DISLIKE_MARGIN = 0.2
DISLIKE_STRENGTH = 32 / 3


def adaptive_weights(
    n_rated: int,
    has_mood: bool,
    overrides: Mapping[str, float] | None = None,
    known: Sequence[str] = SIGNALS,
) -> dict[str, float]:
    """The survey row of :data:`WEIGHTS` for a profile of ``n_rated`` ratings (and a mood).

    User ``overrides`` (by signal name) replace single weights; the result sums to 1.
    """
    if n_rated == 0:
        row = "survey/none+mood" if has_mood else "survey/none"
    else:
        row = "survey/mood" if has_mood else "survey"
    weights = {name: 0.0 for name in known} | dict(WEIGHTS[row])
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


def standard(values: np.ndarray) -> tuple[float, float, float]:
    """``(mean, std, floor)`` of a model's scores over every item it holds: the z-scale of one
    listener's scores, and the z one below the lowest (for items it cannot score at all)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0, -1.0
    mean, std = float(values.mean()), float(values.std())
    std = std if std > 1e-12 else 1.0
    return mean, std, (float(values.min()) - mean) / std - 1.0


def standard_fusion(
    table: pd.DataFrame,
    weights: Mapping[str, float],
    unknown: float | Mapping[str, float] = UNKNOWN_Z,
) -> pd.Series:
    """Weighted sum of z-scored columns (each model's scores already standardised per listener);
    an item a model does not hold (NaN) counts as ``unknown`` there (one value, or per column)."""
    return contributions(table, weights, unknown).sum(axis=1)


def contributions(
    table: pd.DataFrame,
    weights: Mapping[str, float],
    unknown: float | Mapping[str, float] = UNKNOWN_Z,
) -> pd.DataFrame:
    """Each weighted column's share of :func:`standard_fusion`, one column per model used."""
    names, columns = [], []
    for name, w in weights.items():
        if w and name in table:
            fill = unknown.get(name, UNKNOWN_Z) if isinstance(unknown, Mapping) else unknown
            values = table[name].to_numpy(dtype=np.float64)
            columns.append(w * np.where(np.isnan(values), fill, values))
            names.append(name)
    if not names:
        return pd.DataFrame({"none": np.zeros(len(table))}, index=table.index)
    return pd.DataFrame(np.column_stack(columns), index=table.index, columns=names)


def dislike_penalty(
    to_disliked: np.ndarray,
    to_liked: np.ndarray,
    margin: float = DISLIKE_MARGIN,
    strength: float = DISLIKE_STRENGTH,
) -> np.ndarray:
    """How far each candidate is pushed down: ``strength · max(0, d − l − margin)`` for its
    similarity ``d`` to the nearest disliked artist and ``l`` to the nearest liked one."""
    return strength * np.maximum(np.asarray(to_disliked) - np.asarray(to_liked) - margin, 0.0)


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
