"""Every item's neighbours, computed once at build time and kept as two small ``.npy`` arrays.

A "similar" answer is the same for every request about the same item, so the build works out the
first :data:`TABLE_K` neighbours of every track and artist under every model and the hybrid
(:func:`compute`), with the semantics of :func:`tunescout.serving.neighbours.similar`, and the
engine answers ``k <= TABLE_K`` from the table (:meth:`NeighbourTable.get`): a row read instead of
searches and a fusion. Scores come from one matrix product per block of items instead of one
search per item, so they can differ from a search's in the last float bit, and items with equal
scores may come in another order.

Each kind's arrays are ``rows`` (``models × items × TABLE_K`` int32 positions in the catalog's
table, -1 past the end of a list) and ``scores`` (float32, the same shape). An item whose list is
empty under a model is answered by the engine's own search (which says why there is nothing).
Kinds larger than :data:`MAX_ITEMS` are left out of the table (the products grow with the square
of the catalog).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from tunescout import config
from tunescout.errors import ArtifactError
from tunescout.indexes.base import Index
from tunescout.indexes.sparsevectors import SparseVectors, normalize_rows
from tunescout.indexes.tags import TrackRows
from tunescout.indexes.topk import settle
from tunescout.indexes.vectors import VectorIndex
from tunescout.serving import neighbours, ranking
from tunescout.serving.context import Context
from tunescout.vocabulary import HYBRID, KINDS, Kind

log = logging.getLogger(__name__)
COMPONENT = "neighbours"
TABLE_K = neighbours.TABLE_K  # neighbours kept per item and model; a larger k is searched
MAX_ITEMS = 150_000  # per kind; beyond it the quadratic products cost more than they save
BLOCK = 512  # items per matrix product
Progress = Callable[[int, int], None]


class NeighbourTable:
    """The precomputed lists of one build (see the module docstring).

    Args:
        models: Per kind, the model names in the order of the arrays' first axis.
        rows: Per kind, ``models × items × k`` catalog positions (-1: no more neighbours).
        scores: Per kind, the matching scores.
    """

    def __init__(
        self,
        models: dict[Kind, list[str]],
        rows: dict[Kind, np.ndarray],
        scores: dict[Kind, np.ndarray],
    ) -> None:
        self.models = {kind: list(names) for kind, names in models.items()}
        self.rows, self.scores = rows, scores
        self.k = next((a.shape[2] for a in rows.values()), TABLE_K)
        self._at = {kind: {m: n for n, m in enumerate(names)} for kind, names in models.items()}

    def get(self, kind: Kind, model: str, position: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``k`` neighbours (catalog positions, scores) of the item at ``position``;
        empty when the table cannot answer (``k`` too large, model not tabled, empty list)."""
        at = self._at.get(kind, {}).get(model)
        if at is None or k > self.k:
            return _EMPTY
        rows = self.rows[kind][at, position, :k]
        if rows[0] < 0:
            return _EMPTY
        n = k if rows[-1] >= 0 else int(np.argmin(rows >= 0))
        return rows[:n], self.scores[kind][at, position, :n]

    def save(self, folder: Path) -> dict:
        """Write the arrays into ``folder``; returns the manifest entry (params and rows)."""
        folder.mkdir(parents=True, exist_ok=True)
        for kind in self.rows:
            np.save(folder / f"{kind}.rows.npy", self.rows[kind], allow_pickle=False)
            np.save(folder / f"{kind}.scores.npy", self.scores[kind], allow_pickle=False)
        return {
            "params": {"k": self.k, "models": self.models},
            "rows": {kind: int(a.shape[1]) for kind, a in self.rows.items()},
        }

    @classmethod
    def load(cls, folder: Path, params: dict, counts: dict[Kind, int]) -> NeighbourTable:
        """Read what :meth:`save` wrote (the build has checked the files' sha256) and check every
        array against the manifest and the catalog (``counts``: items per kind).

        Raises:
            ArtifactError: A file is missing or its shape, type or values do not fit.
        """
        models, rows, scores = {}, {}, {}
        k = params.get("k")
        for kind, names in dict(params.get("models") or {}).items():
            if kind not in KINDS or not isinstance(names, list):
                raise ArtifactError(f"{COMPONENT}: unknown kind {kind!r} in the manifest")
            shape = (len(names), counts.get(kind, -1), k)
            try:
                r = np.load(folder / f"{kind}.rows.npy", allow_pickle=False)
                s = np.load(folder / f"{kind}.scores.npy", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ArtifactError(f"{COMPONENT}/{kind}: unreadable ({exc})") from exc
            if r.shape != shape or s.shape != shape or r.dtype != np.int32 or s.dtype != np.float32:
                raise ArtifactError(
                    f"{COMPONENT}/{kind}: arrays of shape {r.shape} {r.dtype} / {s.shape} "
                    f"{s.dtype}, expected {shape} int32 / float32: rebuild the indexes "
                    "(`python scripts/build.py`)"
                )
            if r.size and (r.min() < -1 or r.max() >= counts[kind]):
                raise ArtifactError(f"{COMPONENT}/{kind}: positions outside the catalog")
            models[kind], rows[kind], scores[kind] = names, r, s
        return cls(models, rows, scores)


_EMPTY = (np.array([], dtype=np.int32), np.array([], dtype=np.float32))


# ---- building ----------------------------------------------------------------------------------


def compute(ctx: Context, k: int = TABLE_K, progress: Progress | None = None) -> NeighbourTable:
    """Every item's first ``k`` neighbours under every model and the hybrid."""
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))  # a build, not a query: all cores
    try:
        return _compute(ctx, k, progress)
    finally:
        faiss.omp_set_num_threads(config.faiss_threads())


def _compute(ctx: Context, k: int, progress: Progress | None) -> NeighbourTable:
    counts = {kind: len(ctx.lookup.table(kind)) for kind in KINDS}
    tabled = {kind: counts[kind] <= MAX_ITEMS for kind in KINDS}
    for kind in KINDS:
        if not tabled[kind]:
            log.info("%d %s: too many to table, searched per request", counts[kind], kind)
    songs = _Songs(ctx) if tabled["tracks"] else None
    # deep enough for a track's hybrid (and an artist model's lists answering for tracks)
    depth = k * neighbours.HYBRID_DEPTH * 2 + (songs.most if songs else 0)
    total = sum(counts[kind] * (len(_models(ctx, kind)) + 1) for kind in KINDS if tabled[kind])
    done = [0]
    started = time.perf_counter()

    def step(n: int) -> None:
        done[0] += n
        if progress:
            progress(done[0], total)

    lists: dict[Kind, dict[str, tuple[np.ndarray, np.ndarray]]] = {"artists": {}, "tracks": {}}
    models, rows, scores = {}, {}, {}
    for kind in ("artists", "tracks"):  # tracks borrow the artist lists of artist-only models
        if not tabled[kind]:
            continue
        names = _models(ctx, kind)
        for name in names:
            if ctx.indexes[name].covers(kind):
                lists[kind][name] = _top(ctx, ctx.indexes[name], kind, depth)
            step(counts[kind])
        out_r = np.full((len(names) + 1, counts[kind], k), -1, dtype=np.int32)
        out_s = np.zeros((len(names) + 1, counts[kind], k), dtype=np.float32)
        if kind == "tracks":
            _tracks(ctx, names, lists, songs, k, out_r, out_s, step)
        else:
            _artists(ctx, names, lists["artists"], k, out_r, out_s, step)
        models[kind], rows[kind], scores[kind] = [*names, HYBRID], out_r, out_s
    log.info("neighbour table: %d items in %.1f s", total, time.perf_counter() - started)
    return NeighbourTable(models, rows, scores)


def _models(ctx: Context, kind: Kind) -> list[str]:
    """The models that answer "similar" for ``kind`` (artist models answer for tracks too)."""
    return [n for n, i in ctx.indexes.items() if i.covers(kind) or i.covers("artists")]


def _blocks(n: int) -> Iterator[np.ndarray]:
    for start in range(0, n, BLOCK):
        yield np.arange(start, min(start + BLOCK, n))


def _score_rows(index: Index, kind: Kind, rows: np.ndarray) -> np.ndarray:
    """Similarity of the items at index ``rows`` to every item the index holds, as the index's
    ``similar`` scores them (own entries -inf)."""
    store = index.vectors(kind)
    if type(index).similar is Index.similar and isinstance(store, VectorIndex):
        out = store.vectors_at(rows) @ store.vectors.T
    elif type(index).similar is Index.similar and isinstance(store, SparseVectors | TrackRows):
        artists = store if isinstance(store, SparseVectors) else store.artists
        mine = rows if isinstance(store, SparseVectors) else store.artist_rows[rows]
        out = (normalize_rows(artists.matrix[mine]) @ artists.matrix.T).toarray()
        if isinstance(store, TrackRows):
            out = out[:, store.artist_rows]
    elif hasattr(index, "similarity_rows"):  # an index that scores its own rows (co-listening)
        out = index.similarity_rows(rows, kind)
    else:  # any other index: its own search, one item at a time
        out = np.full((len(rows), len(store)), -np.inf, dtype=np.float32)
        ids = store.ids
        where = pd.Index(ids)
        for n, row in enumerate(rows):
            found, values = index.similar([ids[row]], len(store), kind)
            out[n, where.get_indexer(found)] = values
    out = np.asarray(out, dtype=np.float32)
    out[np.arange(len(rows)), rows] = -np.inf
    return out


def _searchable(index: Index, kind: Kind) -> VectorIndex | None:
    """The vector store whose own batched FAISS search gives ``index``'s neighbours."""
    store = index.vectors(kind)
    plain = type(index).similar is Index.similar and isinstance(store, VectorIndex)
    return store if plain and store._refine is None else None


def _positions(ctx: Context, index: Index, kind: Kind) -> np.ndarray:
    """The catalog position of each of the index's rows (-1 for ids the catalog lacks)."""
    return ctx.lookup.table(kind).index.get_indexer(index.ids(kind)).astype(np.int32)


def _top(ctx: Context, index: Index, kind: Kind, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Each catalog item's ``depth`` nearest items under ``index`` (catalog positions, -1 pad)."""
    n = len(ctx.lookup.table(kind))
    held = _positions(ctx, index, kind)
    out_r = np.full((n, depth), -1, dtype=np.int32)
    out_s = np.full((n, depth), -np.inf, dtype=np.float32)
    store = _searchable(index, kind)
    if store is None and _by_artist(index, kind):
        return _top_by_artist(index.vectors(kind), held, n, depth)
    for block in _blocks(len(held)):
        if store is not None:  # FAISS finds the best depth + 1 (one of them the item itself)
            values, cols = store.index.search(store.vectors_at(block), depth + 1)
            own = cols == block[:, None]
            own[:, -1] |= ~own.any(axis=1)  # not found: drop the last instead
            cols = cols[~own].reshape(len(block), depth)
            values = values[~own].reshape(len(block), depth)
        else:
            scores = _score_rows(index, kind, block)
            cols, values = _top_rows(scores, min(depth, scores.shape[1]))
        ok = np.isfinite(values) & (cols >= 0)
        target = held[block]
        keep = target >= 0
        out_r[target[keep], : cols.shape[1]] = np.where(ok, held[cols], -1)[keep]
        out_s[target[keep], : cols.shape[1]] = values[keep]
    return out_r, out_s


def _top_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tunescout.indexes.topk.top_k_rows` with PyTorch's selection, several times faster
    than a partition over rows this long (a build-time dependency of the MiniLM encoder)."""
    import torch

    k = min(k, scores.shape[1])
    part = torch.topk(torch.from_numpy(np.ascontiguousarray(scores)), k, dim=1, sorted=False)[1]
    return settle(scores, part.numpy().astype(np.int64))


def _by_artist(index: Index, kind: Kind) -> bool:
    return type(index).similar is Index.similar and isinstance(index.vectors(kind), TrackRows)


def _top_by_artist(
    store: TrackRows, held: np.ndarray, n: int, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_top` for tracks that are their artist's vector: one list per artist, each of its
    tracks taking it without itself."""
    out_r = np.full((n, depth), -1, dtype=np.int32)
    out_s = np.full((n, depth), -np.inf, dtype=np.float32)
    artists, of_track = np.unique(store.artist_rows, return_inverse=True)
    wanted = min(depth + 1, len(store))
    for block in _blocks(len(artists)):
        query = normalize_rows(store.artists.matrix[artists[block]])
        scores = (query @ store.artists.matrix.T).toarray()
        cols, values = _top_rows(scores[:, store.artist_rows], wanted)
        for b, a in enumerate(block):
            for row in np.flatnonzero(of_track == a):
                if held[row] < 0:
                    continue
                keep = cols[b] != row
                r, v = cols[b][keep][:depth], values[b][keep][:depth]
                out_r[held[row], : len(r)] = held[r]
                out_s[held[row], : len(r)] = v
    return out_r, out_s


class _Songs:
    """Song keys of the tracks as integer codes, and each song's recordings."""

    def __init__(self, ctx: Context) -> None:
        self.code = ctx.lookup.song_codes
        songs = int(self.code.max()) + 1 if len(self.code) else 0
        order = np.argsort(self.code, kind="stable")
        bounds = np.searchsorted(self.code[order], np.arange(songs + 1))
        self._order, self._bounds = order, bounds
        self.sizes = np.diff(bounds)[self.code]  # recordings of each track's song (itself too)
        self.most = int(np.diff(bounds).max()) if songs else 1

    def recordings(self, position: int) -> np.ndarray:
        c = self.code[position]
        return self._order[self._bounds[c] : self._bounds[c + 1]]


def _first(keys: np.ndarray) -> np.ndarray:
    """Positions where each key is seen first, in order."""
    _, first = np.unique(keys, return_index=True)
    return np.sort(first)


def _tracks(ctx, names, lists, songs, k, out_r, out_s, step) -> None:
    lookup = ctx.lookup
    n = len(lookup.tracks)
    artist_pos = lookup.artists.index.get_indexer(lookup.tracks["artist_id"]).astype(np.int64)
    top_track = lookup.tracks.index.get_indexer(lookup.top_track.reindex(lookup.artists.index))
    same = songs.sizes
    found = {}
    deep = same + k * neighbours.HYBRID_DEPTH * 2  # as deep as the engine searches each model
    for m, name in enumerate(names):  # each model's list, then its first k as one model answers
        rows, scores = _lists(lists, name, artist_pos, top_track, same + 2 * k)
        _firsts(rows, scores, songs.code, same + 2 * k, k, out_r[m], out_s[m])
        found[name] = _lists(lists, name, artist_pos, top_track, deep)
    hybrid = [name for name in names if name in neighbours.TRACK_WEIGHTS]
    weights = np.array([neighbours.TRACK_WEIGHTS[name] for name in hybrid])
    for t in range(n):
        mine = songs.recordings(t)
        depth = k * neighbours.HYBRID_DEPTH * 2 + len(mine)
        parts, used = [], []
        for name, w in zip(hybrid, weights, strict=True):
            r, s = found[name][0][t][:depth], found[name][1][t][:depth]
            if len(r) and r[0] >= 0:
                parts.append((r[r >= 0], s[r >= 0]))
                used.append(w)
        if parts:
            ids, fused = _fuse(parts, np.array(used), mine)
            order = np.argsort(-fused, kind="stable")
            ids, fused = ids[order], fused[order]
            keep = _first(songs.code[ids])
            ids, fused = ids[keep], fused[keep]
            keep = _first(artist_pos[ids])[:k]
            out_r[-1, t, : len(keep)], out_s[-1, t, : len(keep)] = ids[keep], fused[keep]
        if t % 1000 == 999:
            step(1000)
    step(n % 1000)


def _lists(lists, name, artist_pos, top_track, depth) -> tuple[np.ndarray, np.ndarray]:
    """Every track's list under one model as :func:`neighbours.neighbours` makes it at each
    track's ``depth``: its own, or (a model of artists, a track it does not hold) the most popular
    track of each of the ``depth`` artists nearest the track's artist; -1 past the end."""
    n = len(artist_pos)
    own = lists["tracks"].get(name)
    via = lists["artists"].get(name)
    if via is not None:
        r = via[0][np.maximum(artist_pos, 0)]
        r = np.where(np.arange(r.shape[1])[None, :] < depth[:, None], r, -1)
        tracks = np.where(r >= 0, top_track[np.maximum(r, 0)], -1)
        tracks[artist_pos < 0] = -1
        order = np.argsort(tracks < 0, axis=1, kind="stable")  # the found ones first, in order
        by_artist = np.take_along_axis(tracks, order, axis=1).astype(np.int32)
        by_artist_s = np.take_along_axis(via[1][np.maximum(artist_pos, 0)], order, axis=1)
    if own is None:
        if via is None:
            return np.full((n, 1), -1, dtype=np.int32), np.zeros((n, 1), dtype=np.float32)
        return by_artist, by_artist_s
    rows, scores = own
    if via is None:
        return rows, scores
    empty = rows[:, 0] < 0
    width = max(rows.shape[1], by_artist.shape[1])
    out_r = np.full((n, width), -1, dtype=np.int32)
    out_s = np.zeros((n, width), dtype=np.float32)
    out_r[:, : rows.shape[1]], out_s[:, : rows.shape[1]] = rows, scores
    out_r[empty] = -1
    out_r[empty, : by_artist.shape[1]] = by_artist[empty]
    out_s[empty, : by_artist.shape[1]] = by_artist_s[empty]
    return out_r, out_s


def _firsts(rows, scores, code, depth, k, out_r, out_s) -> None:
    """Each track's first ``k`` of its first ``depth`` neighbours, without its own song and one
    recording per song (the best), into ``out_r``/``out_s``."""
    n, width = rows.shape
    valid = (rows >= 0) & (np.arange(width)[None, :] < depth[:, None])
    songs = np.where(rows >= 0, code[np.maximum(rows, 0)], -1)
    valid &= songs != code[:, None]
    keyed = np.where(valid, songs, -1 - np.arange(width)[None, :])  # the left-out never repeat
    order = np.argsort(keyed, axis=1, kind="stable")
    ordered = np.take_along_axis(keyed, order, axis=1)
    repeat = np.zeros_like(valid)
    np.put_along_axis(repeat, order[:, 1:], ordered[:, 1:] == ordered[:, :-1], axis=1)
    keep = valid & ~repeat
    rank = np.cumsum(keep, axis=1) - 1
    at_row, at_col = np.nonzero(keep & (rank < k))
    out_r[at_row, rank[at_row, at_col]] = rows[at_row, at_col]
    out_s[at_row, rank[at_row, at_col]] = scores[at_row, at_col]


def _fuse(found, weights, exclude) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pipeline.rank`'s candidates and weighted min–max fusion over catalog positions
    (each list holds a position at most once)."""
    ids = np.concatenate([r for r, _ in found])
    ids = ids[_first(ids)]
    ids = ids[~np.isin(ids, exclude)]
    fused = np.zeros(len(ids))
    for (r, s), w in zip(found, weights, strict=True):
        order = np.argsort(r, kind="stable")
        at = np.minimum(np.searchsorted(r, ids, sorter=order), len(r) - 1)
        hit = r[order[at]] == ids
        column = np.where(hit, s[order[at]], np.nan)
        fused += w * ranking.minmax(column)
    return ids, fused


def _artists(ctx, names, lists, k, out_r, out_s, step) -> None:
    for m, name in enumerate(names):
        if name in lists:
            r, s = lists[name]
            out_r[m, :, :] = r[:, :k]
            out_s[m, :, :] = np.where(r[:, :k] >= 0, s[:, :k], 0.0)
    _hybrid_artists(ctx, k, out_r[-1], out_s[-1], step)


def _hybrid_artists(ctx: Context, k: int, out_r: np.ndarray, out_s: np.ndarray, step) -> None:
    """:func:`neighbours._hybrid_artists` for every artist: each model's full similarity row,
    z-scored, its best ``k * HYBRID_DEPTH`` proposed, fused with the artist's weights row."""
    n = len(ctx.lookup.artists)
    pool = k * neighbours.HYBRID_DEPTH
    rows = np.array([neighbours.hybrid_row(ctx, a) for a in ctx.lookup.artists.index])
    weights = {r: {m: w for m, w in ranking.WEIGHTS[r].items() if w} for r in set(rows)}
    fill = ranking.UNKNOWN["similar"]
    models = {}  # name → (index, catalog position of each index row, index row of each position)
    for name, index in ctx.indexes.items():
        if index.covers("artists") and any(name in w for w in weights.values()):
            held = _positions(ctx, index, "artists")
            inverse = np.full(n, -1, dtype=np.int64)
            inverse[held[held >= 0]] = np.flatnonzero(held >= 0)
            models[name] = (index, held, inverse)
    for block in _blocks(n):
        seen = {}  # name → (block members it scores, scores, mean, std, floor, best pool)
        for name, (index, held, inverse) in models.items():
            mine = np.flatnonzero(
                (inverse[block] >= 0) & np.array([name in weights[r] for r in rows[block]])
            )
            if not len(mine):
                continue
            scores = _score_rows(index, "artists", inverse[block[mine]])
            finite = np.isfinite(scores)
            count = np.maximum(finite.sum(axis=1), 1)
            safe = np.where(finite, scores, 0.0).astype(np.float64)
            mean = safe.sum(axis=1) / count
            std = np.sqrt(np.maximum((safe**2).sum(axis=1) / count - mean**2, 0.0))
            std = np.where(std > 1e-12, std, 1.0)
            lowest = np.where(finite, scores, np.inf).min(axis=1)
            cols, top = _top_rows(scores, min(pool, scores.shape[1]))
            best = [held[c[np.isfinite(t)]] for c, t in zip(cols, top, strict=True)]
            at = {int(b): j for j, b in enumerate(mine)}
            seen[name] = (at, scores, mean, std, (lowest - mean) / std - 1.0, best)
        for b, a in enumerate(block):
            cols = [
                name
                for name in weights[rows[a]]
                if name in seen and b in seen[name][0] and len(seen[name][5][seen[name][0][b]])
            ]
            if not cols:
                continue  # the engine's own fallback (every model) answers these few
            cand = np.concatenate([seen[name][5][seen[name][0][b]] for name in cols])
            cand = cand[_first(cand)]
            cand = cand[cand != a]
            fused = np.zeros(len(cand))
            for name in cols:
                at, scores, mean, std, floor, _ = seen[name]
                j = at[b]
                inside = models[name][2][cand]
                z = np.full(len(cand), floor[j] if fill is None else fill)
                known = inside >= 0
                z[known] = (scores[j, inside[known]] - mean[j]) / std[j]
                unheld = known & ~np.isfinite(scores[j, np.maximum(inside, 0)])
                z[unheld] = floor[j] if fill is None else fill
                fused += weights[rows[a]][name] * z
            order = np.argsort(-fused, kind="stable")[:k]
            out_r[a, : len(order)], out_s[a, : len(order)] = cand[order], fused[order]
        step(len(block))
