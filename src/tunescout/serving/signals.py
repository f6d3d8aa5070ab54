"""Each model's scores for one listener as standardised signals, ready for z-score fusion.

A model's raw scores mean different things (a fold-in ``x·B``, a dot product of factors, a cosine),
so each is standardised per listener over every item the model holds, as in the validation that
chose the weights (``tunescout.research.tuning``): ``z = (s − mean) / std``. The pipeline then sees
z-scores for the candidates, and an item a model does not hold stays NaN (the fusion decides what
it counts as). Computing a model's scores over all its items costs one product with its item
matrix: a sparse-row product for the co-listening and tag indexes, ``V·u`` for ALS (17.6k × 128),
an exact scan for the audio and MiniLM spaces (at most :data:`SAMPLE` rows, a fixed sample
above that).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from tunescout.indexes.base import Index
from tunescout.indexes.topk import top_k
from tunescout.indexes.vectors import VectorIndex, normalize
from tunescout.serving import ranking
from tunescout.serving.pipeline import Signal
from tunescout.vocabulary import Kind

SAMPLE = 50_000  # rows over which a dense space's per-listener scale is read


@dataclass(frozen=True)
class Scale:
    """One listener's scale in one model: ``z = (score − mean) / std``; ``floor`` is one below the
    lowest z of any item the model holds."""

    mean: float
    std: float
    floor: float

    def z(self, scores: np.ndarray) -> np.ndarray:
        return (np.asarray(scores, dtype=np.float64) - self.mean) / self.std


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()  # finding the BLAS libraries costs milliseconds: once


def all_scores(index: Index, vector: np.ndarray, kind: Kind) -> np.ndarray:
    """``vector``'s score for every item ``index`` holds (or a fixed sample of them)."""
    own = getattr(index, "all_scores", None)
    if own is not None:
        return own(vector, kind)
    part = getattr(index, "part", None)
    if part is not None and hasattr(index, "parts"):  # ALS: item factors times the user vector
        factors = part(kind).model.item_factors
        with _blas().limit(limits=1, user_api="blas"):  # one thread: faster than two busy ones
            return np.asarray(factors @ np.asarray(vector, dtype=factors.dtype))
    vectors = index.vectors(kind)
    if isinstance(vectors, VectorIndex) and vectors.method == "exact" and len(vectors) <= SAMPLE:
        return vectors.vectors @ normalize(vector)
    rows = np.linspace(0, len(vectors) - 1, min(SAMPLE, len(vectors))).astype(np.int64)
    return index.score(vector, vectors.ids[rows], kind)


def scale_of(index: Index, vector: np.ndarray, kind: Kind) -> Scale:
    mean, std, floor = ranking.standard(all_scores(index, vector, kind))
    return Scale(mean, std, floor)


def row_lookup(index: Index, kind: Kind) -> dict[str, int]:
    """Id → row of ``index``'s items of ``kind`` as a dict, built once per index."""
    cache = index.__dict__.setdefault("_row_lookup", {})
    if kind not in cache:
        cache[kind] = {str(i): r for r, i in enumerate(index.ids(kind))}
    return cache[kind]


def standard_signal(
    name: str,
    index: Index,
    vector: np.ndarray,
    kind: Kind,
    mask: np.ndarray | None = None,
    propose: bool = True,
) -> tuple[Signal, Scale]:
    """A signal of z-scores (NaN where ``index`` does not hold the item) proposing ``index``'s best
    items under ``mask`` (rows of ``index.ids(kind)``), and the scale it uses.

    The model's scores of all its items are computed once: they give the scale, the proposals
    and every candidate's score.
    """
    full = np.asarray(all_scores(index, vector, kind), dtype=np.float64)
    ids = index.ids(kind)
    if len(full) != len(ids):  # a sampled scale (a dense space past SAMPLE rows)
        scale = scale_of(index, vector, kind)
        return Signal(
            name,
            lambda c: scale.z(index.score(vector, c, kind)),
            (lambda n: index.search_vector(vector, n, kind, mask)[0]) if propose else None,
        ), scale
    scale = Scale(*ranking.standard(full))
    z = scale.z(full)
    rows = row_lookup(index, kind)

    def scores(candidates: list[str]) -> np.ndarray:
        found = np.fromiter((rows.get(c, -1) for c in candidates), np.int64, len(candidates))
        out = np.full(len(candidates), np.nan)
        out[found >= 0] = z[found[found >= 0]]
        return out

    def proposes(n: int) -> Sequence[str]:
        allowed = None if mask is None else np.flatnonzero(mask)
        if allowed is not None and not len(allowed):
            return []
        return ids[top_k(z, min(n, len(z) if allowed is None else len(allowed)), allowed)]

    return Signal(name, scores, proposes if propose else None), scale


def standard_series(name: str, values: pd.Series, propose: bool = True) -> tuple[Signal, Scale]:
    """A signal of z-scores from scores given for every item (e.g. catalog popularity)."""
    mean, std, floor = ranking.standard(values.to_numpy(dtype=float))
    scale = Scale(mean, std, floor)
    z = pd.Series(scale.z(values.to_numpy(dtype=float)), index=values.index)
    z = z[~z.index.duplicated()]
    best = z.dropna().sort_values(ascending=False, kind="stable").index
    return (
        Signal(
            name,
            lambda ids: z.reindex(ids).to_numpy(dtype=float),
            (lambda n: best[:n].tolist()) if propose else None,
        ),
        scale,
    )


def unknown_values(
    scales: Mapping[str, Scale], unknown: float | None = ranking.UNKNOWN["survey"]
) -> dict[str, float]:
    """What an item a model does not hold counts as, per signal: ``unknown`` z, or (``None``)
    one below the model's lowest z for this listener."""
    return {name: scale.floor if unknown is None else unknown for name, scale in scales.items()}
