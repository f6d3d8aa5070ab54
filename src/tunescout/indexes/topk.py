"""Top-k selection over score arrays: the one place that picks the best ``k`` of many scores."""

from __future__ import annotations

import numpy as np

from tunescout.errors import InputError

_SAMPLED_FROM = 100_000  # from this many values a sampled cut-off beats a full partition


def largest(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest ``values``, in no particular order.

    Over a million values a full partition costs about 15 ms; a cut-off read from a strided
    sample first keeps only a few thousand values to partition (exact: if fewer than ``k`` pass
    the cut-off, the full partition runs instead).
    """
    n = len(values)
    if k >= n:
        return np.arange(n)
    best = None
    if n >= _SAMPLED_FROM:
        sample = np.sort(values[:: n // 20_000])[::-1]
        cut = sample[min(len(sample) - 1, 3 * k * len(sample) // n + 20)]
        rows = np.flatnonzero(values >= cut)
        if len(rows) >= k:
            best = rows[np.argpartition(-values[rows], k - 1)[:k]]
    if best is None:
        best = np.argpartition(-values, k - 1)[:k]
    return _lowest_at_cut(values, best, k)


def _lowest_at_cut(values: np.ndarray, best: np.ndarray, k: int) -> np.ndarray:
    """``best`` with ties at its lowest value settled by position (the first positions win), so
    the same scores always give the same items, whichever way they were computed."""
    cut = values[best].min()
    if np.isnan(cut):
        return best
    above = np.flatnonzero(values > cut)
    return np.concatenate([above, np.flatnonzero(values == cut)[: k - len(above)]])


def top_k(scores: np.ndarray, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Positions of the ``k`` best ``scores`` (among ``rows`` when given), best first.

    Raises:
        InputError: When ``k`` is not positive.
    """
    if k <= 0:
        raise InputError(f"k must be positive, got {k}")
    if rows is None:
        best = largest(scores, k)
    else:
        best = rows[largest(scores[rows], k)] if k < len(rows) else rows
    return best[np.argsort(-scores[best], kind="stable")]


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions and values of each row's ``k`` largest scores, best first (ties: the
    first positions)."""
    k = min(k, scores.shape[1])
    return settle(scores, np.argpartition(-scores, k - 1, axis=1)[:, :k])


def settle(scores: np.ndarray, part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's chosen ``part`` (any ``k`` largest, in any order) with ties at the cut given to
    the first positions, then ordered best first and, among equal scores, by position."""
    k = part.shape[1]
    if k < scores.shape[1]:
        values = np.take_along_axis(scores, part, axis=1)
        cut = values.min(axis=1)
        if not np.isnan(cut).any():
            above = (values > cut[:, None]).sum(axis=1)
            rows = np.flatnonzero((scores == cut[:, None]).sum(axis=1) > k - above)
            if len(rows):  # ties at the cut: the first positions of each such row
                sub, low = scores[rows], cut[rows, None]
                tied = sub == low
                chosen = (sub > low) | (
                    tied & (np.cumsum(tied, axis=1) <= (k - above[rows])[:, None])
                )
                part[rows] = np.nonzero(chosen)[1].reshape(len(rows), k)
    part = np.sort(part, axis=1)
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)
