"""Embedding exploration for researchers: the spaces an engine holds, reproducible samples, labels
that colour every space (genre family, genre or listeners' tag, numbers), k-means clusters, exact
neighbours of a point or of a selection, and the placement of items outside the plotted sample.

The projections themselves are :mod:`tunescout.research.projection`, run in worker processes by
:mod:`tunescout.research.projector`. Everything here is plain numpy/pandas/scikit-learn, testable
without Streamlit; the explorer page only reads widgets and draws what these functions return.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances
from threadpoolctl import threadpool_limits

from tunescout.catalog import as_list
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.domain.genres import GENERIC_TAGS, broad_genre
from tunescout.errors import InputError, UnknownIdError
from tunescout.research.projection import Projection

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

log = logging.getLogger(__name__)

METRICS = {"cosine": "cosine_similarity", "l2": "l2_distance"}
NO_GENRE = "(no genre or tag)"
OTHER = "other"
PLACE_K = 10  # plotted neighbours that place an item outside the sample


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
    vectors: np.ndarray,
    ids: Sequence[str],
    query: str | Sequence[str],
    k: int = 10,
    metric: str = "cosine",
) -> pd.DataFrame:
    """The ``k`` items nearest to one item, or to the centre of several, by exact search over all
    ``vectors``.

    Args:
        vectors: ``(n, d)`` array, row-aligned with ``ids``.
        ids: Item ids.
        query: The item whose neighbours are wanted, or several (a box or lasso selection): their
            mean vector is searched (of unit vectors for cosine). The query items are left out.
        k: How many.
        metric: ``"cosine"`` (column ``cosine_similarity``, highest first) or ``"l2"``
            (column ``l2_distance``, lowest first).

    Returns:
        Columns ``rank``, ``id`` and the metric's column, nearest first.

    Raises:
        UnknownIdError: A query id is not among ``ids``.
        InputError: Unknown metric, ``k < 1`` or no query.
    """
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}: use one of {list(METRICS)}")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    ids = np.asarray(ids, dtype=str)
    wanted = [str(query)] if isinstance(query, str) else [str(q) for q in query]
    if not wanted:
        raise InputError("choose at least one item")
    position = pd.Index(ids).get_indexer(wanted)
    if (position < 0).any():
        raise UnknownIdError(f"unknown id {wanted[int(np.argmin(position))]!r} in this space")
    vectors = np.asarray(vectors, dtype=np.float32)
    chosen = vectors[position]
    norms = np.sqrt(np.einsum("nd,nd->n", vectors, vectors))
    if metric == "cosine" and len(chosen) > 1:
        chosen = chosen / np.maximum(norms[position, None], 1e-12)
    centre = chosen.mean(axis=0)
    products = vectors @ centre  # one pass over the space: a click must answer in milliseconds
    if metric == "cosine":
        dist = 1.0 - products / np.maximum(norms * np.linalg.norm(centre), 1e-12)
    else:
        dist = np.sqrt(np.maximum(norms**2 - 2 * products + centre @ centre, 0.0))
    dist[position] = np.inf
    order = np.argsort(dist, kind="stable")[: min(k, len(ids) - len(set(position)))]
    score = 1.0 - dist[order] if metric == "cosine" else dist[order]
    return pd.DataFrame(
        {"rank": np.arange(1, len(order) + 1), "id": ids[order], METRICS[metric]: score}
    )


def place(
    vectors: np.ndarray,
    sample_rows: np.ndarray,
    projection: Projection,
    rows: np.ndarray,
    k: int = PLACE_K,
) -> np.ndarray:
    """Coordinates for items outside the projected sample.

    PCA is a linear map, so its placement is exact. UMAP and t-SNE have no map for new points
    here: an item goes to the distance-weighted mean of its ``k`` nearest sampled items (in the
    original space), which is where those methods start a new point too.

    Args:
        vectors: All of the space's vectors.
        sample_rows: The rows that were projected, aligned with ``projection.coords``.
        projection: The sample's projection.
        rows: The rows to place.
        k: Sampled neighbours per placed item.

    Returns:
        ``(len(rows), dims)`` float32 coordinates.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    new = vectors[np.asarray(rows, dtype=int)]
    if projection.mean is not None:
        return ((new - projection.mean) @ projection.components.T).astype(np.float32)
    known = vectors[np.asarray(sample_rows, dtype=int)]
    dist = pairwise_distances(new, known)
    k = min(k, len(known))
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
    weights = 1.0 / np.maximum(np.take_along_axis(dist, nearest, axis=1), 1e-6)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nk,nkd->nd", weights, projection.coords[nearest]).astype(np.float32)


def _tags(cell: object) -> list[str]:
    """Listeners' tags, most applied first, without the ones that only say "I like it"."""
    tags = [t for t in as_list(cell) if isinstance(t, dict) and t.get("tag")]
    tags.sort(key=lambda t: -(t.get("weight") or 0.0))
    names = (str(t["tag"]).casefold() for t in tags)
    return [t for t in dict.fromkeys(names) if t not in GENERIC_TAGS]


def _family(genres: list[str], tags: list[str]) -> str:
    """The broad genre of the first genre that has one, else of the most applied tag."""
    for word in (*genres, *tags):
        found = broad_genre(word)
        if found:
            return found
    return NO_GENRE


def items(engine: Engine, kind: str, ids: Sequence[str]) -> pd.DataFrame:
    """Labels for hover, colour and search, one row per id in order: ``name``, ``artist``
    (tracks), ``genres``, ``genre`` (the first genre, else the listeners' top tag), ``family``
    (its broad genre: rock, rap, jazz…), ``popularity``, ``year`` (tracks) or ``listeners``
    (artists), and the audio features.

    Tracks without genres take their artist's Last.fm tags, so every space can be coloured by
    meaning even where Spotify gave no genre (HetRec artists).
    """
    table = engine.tracks if kind == "tracks" else engine.artists
    rows = table.reindex(list(ids))
    genres = rows["genres"].map(as_list)
    holders = rows["artist_id"] if kind == "tracks" else pd.Series(rows.index, index=rows.index)
    tags = holders.map(engine.artists["tags"]).map(_tags)
    frame = pd.DataFrame({"id": list(ids), "name": rows["name"].to_numpy()})
    if kind == "tracks":
        frame["artist"] = rows["artist_name"].to_numpy()
    frame["genres"] = genres.map(", ".join).to_numpy()
    first = [g[0] if g else (t[0] if t else NO_GENRE) for g, t in zip(genres, tags, strict=True)]
    frame["genre"] = first
    frame["family"] = [_family(g, t) for g, t in zip(genres, tags, strict=True)]
    frame["popularity"] = rows["popularity"].to_numpy(dtype=float)
    if kind == "tracks":
        frame["year"] = rows["release_year"].to_numpy(dtype=float)
    else:
        frame["listeners"] = rows["listeners"].to_numpy(dtype=float)
    for feature in AUDIO_FEATURES:
        frame[feature] = rows[feature].to_numpy(dtype=float)
    return frame


def top_categories(values: Sequence[str], n: int = 12) -> pd.Series:
    """``values`` with all but the ``n`` most common replaced by ``"other"`` (readable legends);
    the no-genre label is always kept apart from "other"."""
    values = pd.Series(values, dtype=object)
    keep = [*values.value_counts().index[:n], NO_GENRE]
    return values.where(values.isin(keep), OTHER)


def titles(frame: pd.DataFrame) -> pd.Series:
    """``"name — artist"`` (or just the name for artists) of an :func:`items` frame, by id."""
    text = frame["name"].fillna("?").astype(str)
    if "artist" in frame:
        text = text + " — " + frame["artist"].fillna("?").astype(str)
    return pd.Series(text.to_numpy(), index=frame["id"].to_numpy())


def _number(values: pd.Series, name: str) -> pd.Series:
    """A numeric column as short hover text: years and counts whole, the rest to two decimals."""
    if name in ("year", "popularity", "tempo", "listeners", "cluster"):
        text = values.map(lambda v: f"{v:,.0f}")
    elif name == "loudness":
        text = values.map(lambda v: f"{v:.1f} dB")
    else:
        text = values.map(lambda v: f"{v:.2f}")
    return (name + " " + text).where(values.notna(), "")


def summary(frame: pd.DataFrame, n: int = 3) -> str:
    """A selection in one line: its size, its most common genre families and its mean sound,
    e.g. ``"42 items · rock 60%, indie 20% · energy 0.71, valence 0.45, danceability 0.52"``."""
    parts = [f"{len(frame):,} item{'s' if len(frame) != 1 else ''}"]
    if "family" in frame and len(frame):
        shares = frame["family"].value_counts(normalize=True).head(n)
        parts.append(", ".join(f"{name} {share:.0%}" for name, share in shares.items()))
    sound = [f for f in ("energy", "valence", "danceability") if f in frame]
    means = frame[sound].mean()
    parts.append(", ".join(f"{f} {means[f]:.2f}" for f in sound if pd.notna(means[f])))
    return " · ".join(p for p in parts if p)


def hover(frame: pd.DataFrame, colour: str | None = None) -> pd.Series:
    """One short hover box per row of an :func:`items` frame (plain text; the figure escapes it):
    the title, genre and year or listeners, popularity with energy, and the coloured value when
    it is a number not shown yet. Numbers are rounded."""
    title = titles(frame).to_numpy()
    second = frame["genre"].astype(str)
    if "year" in frame:
        second = second + frame["year"].map(lambda y: f" · {y:.0f}" if pd.notna(y) else "")
    elif "listeners" in frame:
        second = second + frame["listeners"].map(
            lambda n: f" · {n:,.0f} listeners" if pd.notna(n) else ""
        )
    third = _number(frame["popularity"], "popularity") + "  " + _number(frame["energy"], "energy")
    lines = [pd.Series(title, index=frame.index), second, third.str.strip()]
    shown = {"genre", "year", "listeners", "popularity", "energy", "name", "artist", "family"}
    if colour and colour not in shown and colour in frame:
        values = frame[colour]
        lines.append(
            _number(values, colour)
            if pd.api.types.is_numeric_dtype(values)
            else colour + " " + values.astype(str)
        )
    out = lines[0].astype(str)
    for line in lines[1:]:
        out = out + "\n" + line.astype(str)
    return out.str.replace(r"\n+$", "", regex=True)
