"""Embedding exploration for researchers: the spaces an engine holds, reproducible samples,
2D/3D projections (PCA, UMAP, t-SNE), k-means clusters and exact nearest neighbours.

Everything here is plain numpy/pandas/scikit-learn so it can be tested without Streamlit; the
explorer page only reads widgets and draws what these functions return.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import pairwise_distances
from threadpoolctl import threadpool_limits

from tunescout.catalog import as_list
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.errors import InputError, UnknownIdError

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

log = logging.getLogger(__name__)

METHODS = ("PCA", "UMAP", "t-SNE")
# UMAP and t-SNE grow super-linearly and share two cores with everyone: keep them interactive.
MAX_POINTS = {"PCA": 50_000, "UMAP": 5_000, "t-SNE": 5_000}
METRICS = {"cosine": "cosine_similarity", "l2": "l2_distance"}
NO_GENRE = "(no genre)"
OTHER = "other"


class Space(NamedTuple):
    """One embedding space: catalog ids, their vectors (row-aligned), the item kind and a note."""

    ids: np.ndarray
    vectors: np.ndarray
    kind: str
    note: str = ""


@dataclass(frozen=True)
class Sample:
    """Which rows of a space are shown, and how they were chosen.

    Attributes:
        rows: Positions in the space's ``ids`` (ascending).
        ids: The chosen ids.
        total: How many items the space holds.
        method: ``"uniform random"`` or ``"stratified by genre"``.
        seed: The random seed.
    """

    rows: np.ndarray
    ids: np.ndarray
    total: int
    method: str
    seed: int

    def describe(self, noun: str = "items") -> str:
        """E.g. ``"showing 3,000 of 28,356 tracks, uniform random, seed 0"``."""
        if len(self.ids) == self.total:
            return f"showing all {self.total:,} {noun}"
        return (
            f"showing {len(self.ids):,} of {self.total:,} {noun}, {self.method}, seed {self.seed}"
        )


def spaces(engine: Engine) -> dict[str, Space]:
    """The embedding spaces of a loaded engine, by display name.

    ALS factors are the model's raw item factors (their length carries how much an artist is
    played); the other spaces hold the unit vectors their indexes search.
    """
    out: dict[str, Space] = {}
    if engine.als is not None:
        model = engine.als.part("artists")
        out["ALS artist factors"] = Space(
            model.items.ids,
            np.asarray(model.model.item_factors, dtype=np.float32),
            "artists",
            "raw ALS item factors: a factor's length grows with how much an artist is played, "
            "so cosine and L2 neighbours differ",
        )
    unit = "unit vectors, so cosine and L2 give the same neighbours"
    for kind in ("tracks", "artists"):
        index = engine.semantic.vectors(kind)
        out[f"MiniLM {kind[:-1]} vectors"] = Space(
            index.ids,
            index.vectors,
            kind,
            f"sentence embeddings of each {kind[:-1]}'s text; {unit}",
        )
    for kind in ("tracks", "artists"):
        index = engine.audio.vectors(kind)
        out[f"Audio features ({kind})"] = Space(
            index.ids, index.vectors, kind, f"scaled, weighted audio features; {unit}"
        )
    return out


def _allocate(strata: pd.Series, n: int) -> pd.Series:
    """Per-stratum sample sizes proportional to stratum size, summing to ``n`` (largest remainder)."""
    counts = strata.value_counts(sort=False)
    quota = counts * n / counts.sum()
    size = np.floor(quota).astype(int)
    remainder = (quota - size).sort_values(ascending=False, kind="stable")
    size[remainder.index[: n - int(size.sum())]] += 1
    return size


def sample(
    ids: Sequence[str], n: int, seed: int = 0, strata: Sequence[str] | None = None
) -> Sample:
    """A reproducible sample of ``n`` ids (all of them when ``n`` is at least their number).

    Args:
        ids: The space's ids.
        n: Sample size.
        seed: Random seed; the same seed gives the same sample.
        strata: One label per id (e.g. primary genre); each label then gets its proportional
            share of the sample.

    Raises:
        InputError: For ``n < 1`` or strata of the wrong length.
    """
    ids = np.asarray(ids, dtype=str)
    if n < 1:
        raise InputError(f"sample size must be at least 1, got {n}")
    if strata is not None and len(strata) != len(ids):
        raise InputError(f"{len(strata)} strata labels for {len(ids)} ids")
    method = "uniform random" if strata is None else "stratified by genre"
    rng = np.random.default_rng(seed)
    if n >= len(ids):
        rows = np.arange(len(ids))
    elif strata is None:
        rows = np.sort(rng.choice(len(ids), n, replace=False))
    else:
        labels = pd.Series(np.asarray(strata, dtype=str))
        size = _allocate(labels, n)
        groups = labels.groupby(labels, sort=True).indices
        picked = [rng.choice(groups[g], size[g], replace=False) for g in sorted(groups)]
        rows = np.sort(np.concatenate(picked))
    return Sample(rows, ids[rows], len(ids), method, seed)


def _umap(vectors: np.ndarray, dims: int, seed: int) -> np.ndarray:
    # Imported on use: umap pulls in numba, whose start-up costs seconds on every page load.
    import umap

    neighbours = max(2, min(15, len(vectors) - 1))
    # Below 4,096 points UMAP finds neighbours by brute force: 15 s for 3,000 MiniLM vectors
    # against 3 s with its approximate search, which is plenty for a picture.
    reducer = umap.UMAP(
        n_components=dims,
        n_neighbors=neighbours,
        random_state=seed,
        n_jobs=1,
        force_approximation_algorithm=True,
    )
    return reducer.fit_transform(vectors)


def _tsne(vectors: np.ndarray, dims: int, seed: int) -> np.ndarray:
    # Perplexity must stay below the number of points; 30 is the usual choice for large sets.
    perplexity = float(min(30.0, max(1.0, (len(vectors) - 1) / 3)))
    # scikit-learn's "auto" rate is n / 48 floored at 50; below ~2,400 points that floor made 3D
    # layouts diverge (clusters torn apart in tests), so the floor here is 10.
    rate = max(len(vectors) / 48, 10.0)
    tsne = TSNE(
        n_components=dims,
        perplexity=perplexity,
        learning_rate=rate,
        init="pca",
        random_state=seed,
        n_jobs=1,
    )
    return tsne.fit_transform(vectors)


def project(vectors: np.ndarray, method: str, dims: int = 2, seed: int = 0) -> np.ndarray:
    """Project ``vectors`` to ``dims`` (2 or 3) coordinates.

    Args:
        vectors: ``(n, d)`` array.
        method: ``"PCA"``, ``"UMAP"`` or ``"t-SNE"``.
        dims: 2 or 3.
        seed: Random seed (PCA is deterministic; UMAP and t-SNE depend on it).

    Returns:
        ``(n, dims)`` float32 coordinates.

    Raises:
        InputError: Unknown method, bad ``dims``, too few or too many points.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if method not in METHODS:
        raise InputError(f"unknown projection {method!r}: use one of {list(METHODS)}")
    if dims not in (2, 3):
        raise InputError(f"dims must be 2 or 3, got {dims!r}")
    if len(vectors) <= dims:
        raise InputError(f"{method} needs more than {dims} points, got {len(vectors)}")
    if len(vectors) > MAX_POINTS[method]:
        raise InputError(
            f"{method} is limited to {MAX_POINTS[method]:,} points, got {len(vectors):,}"
        )
    with threadpool_limits(1):  # OpenMP threads on two busy cores made t-SNE ~15x slower
        if method == "PCA":
            coords = PCA(n_components=min(dims, vectors.shape[1]), random_state=seed).fit_transform(
                vectors
            )
            coords = np.pad(coords, ((0, 0), (0, dims - coords.shape[1])))
        elif method == "UMAP":
            coords = _umap(vectors, dims, seed)
        else:
            coords = _tsne(vectors, dims, seed)
    return np.asarray(coords, dtype=np.float32)


def clusters(vectors: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means labels of ``vectors`` (in their own space), numbered from the largest cluster down.

    Raises:
        InputError: For ``k`` below 2 or above the number of points.
    """
    if not 2 <= k <= len(vectors):
        raise InputError(f"k must be from 2 to {len(vectors)}, got {k}")
    with threadpool_limits(1):
        labels = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit_predict(vectors)
    # Stable numbering by size, so "cluster 0" means the same thing whatever k-means' order.
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    return np.argsort(order)[labels]


def neighbours(
    vectors: np.ndarray, ids: Sequence[str], query_id: str, k: int = 10, metric: str = "cosine"
) -> pd.DataFrame:
    """The ``k`` items nearest to ``query_id`` by exact search over all ``vectors``.

    Args:
        vectors: ``(n, d)`` array, row-aligned with ``ids``.
        ids: Item ids.
        query_id: The item whose neighbours are wanted (excluded from the result).
        k: How many.
        metric: ``"cosine"`` (column ``cosine_similarity``, highest first) or ``"l2"``
            (column ``l2_distance``, lowest first).

    Returns:
        Columns ``rank``, ``id`` and the metric's column, nearest first.

    Raises:
        UnknownIdError: ``query_id`` is not among ``ids``.
        InputError: Unknown metric or ``k < 1``.
    """
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}: use one of {list(METRICS)}")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    ids = np.asarray(ids, dtype=str)
    hits = np.flatnonzero(ids == str(query_id))
    if not len(hits):
        raise UnknownIdError(f"unknown id {query_id!r} in this space")
    vectors = np.asarray(vectors, dtype=np.float32)
    dist = pairwise_distances(
        vectors, vectors[hits[:1]], metric="cosine" if metric == "cosine" else "euclidean"
    )[:, 0]
    dist[hits[0]] = np.inf
    order = np.argsort(dist, kind="stable")[: min(k, len(ids) - 1)]
    score = 1.0 - dist[order] if metric == "cosine" else dist[order]
    return pd.DataFrame(
        {"rank": np.arange(1, len(order) + 1), "id": ids[order], METRICS[metric]: score}
    )


def items(engine: Engine, kind: str, ids: Sequence[str]) -> pd.DataFrame:
    """Labels for hover and colour, one row per id in order: name, artist (tracks), genres,
    primary genre, popularity and the audio features."""
    table = engine.tracks if kind == "tracks" else engine.artists
    rows = table.reindex(list(ids))
    genres = rows["genres"].map(as_list)
    frame = pd.DataFrame({"id": list(ids), "name": rows["name"].to_numpy()})
    if kind == "tracks":
        frame["artist"] = rows["artist_name"].to_numpy()
    frame["genres"] = genres.map(", ".join).to_numpy()
    frame["genre"] = genres.map(lambda g: g[0] if g else NO_GENRE).to_numpy()
    frame["popularity"] = rows["popularity"].to_numpy(dtype=float)
    for feature in AUDIO_FEATURES:
        frame[feature] = rows[feature].to_numpy(dtype=float)
    return frame


def top_categories(values: Sequence[str], n: int = 12) -> pd.Series:
    """``values`` with all but the ``n`` most common replaced by ``"other"`` (readable legends)."""
    values = pd.Series(values, dtype=object)
    keep = values.value_counts().index[:n]
    return values.where(values.isin(keep), OTHER)


def titles(frame: pd.DataFrame) -> pd.Series:
    """``"name — artist"`` (or just the name for artists) of an :func:`items` frame, by id."""
    text = frame["name"].fillna("?").astype(str)
    if "artist" in frame:
        text = text + " — " + frame["artist"].fillna("?").astype(str)
    return pd.Series(text.to_numpy(), index=frame["id"].to_numpy())
