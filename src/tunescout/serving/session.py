"""What to play after a session of tracks, on arrays of catalog positions.

Each model that holds tracks pools the session into one vector (a track one step further back
weighing :data:`SESSION_DECAY` less) and proposes its :data:`~pipeline.POOL` nearest tracks; the
session's nearest artists by co-listening (ALS) propose their tracks and score every candidate
through its artist; popularity only scores. The columns are fused with the "session" row of
:data:`~tunescout.serving.ranking.WEIGHTS` (min–max within the candidates, as
:func:`~tunescout.serving.pipeline.rank` does) and the list keeps one track per artist. It is the
pipeline's candidates → score table → fuse → pick, written over positions instead of labelled
pandas objects: a session answer is a request-time call of the HTTP API, so every millisecond of
pandas indexing counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tunescout.errors import InputError
from tunescout.indexes.base import Index
from tunescout.indexes.topk import top_k
from tunescout.indexes.vectors import VectorIndex, normalize
from tunescout.serving import checks, explain, pipeline, ranking
from tunescout.serving.context import Context
from tunescout.serving.filters import Filters

SESSION_DECAY = 0.7  # weight of a track one step further back in the session
SESSION_ARTISTS = 50  # a session's nearest artists by co-listening whose tracks are candidates


@dataclass(frozen=True)
class Continuation:
    """A session's list as tracks-table positions, their fused scores and the one reason."""

    positions: np.ndarray
    scores: np.ndarray
    reason: str


def session(
    ctx: Context, track_ids: Sequence[str], k: int, filters: Filters | Mapping | None = None
) -> pd.DataFrame:
    """What to play after ``track_ids`` (oldest first), one track per artist, best first."""
    found = continuation(ctx, track_ids, k, filters)
    out = ctx.lookup.rows_at(found.positions, "tracks")
    out["score"] = found.scores
    out["reason"] = found.reason
    return out


def continuation(
    ctx: Context, track_ids: Sequence[str], k: int, filters: Filters | Mapping | None = None
) -> Continuation:
    """:func:`session` before the catalog rows are looked up."""
    k = checks.k(k)
    played = ctx.lookup.known(list(dict.fromkeys(checks.ids(track_ids, "the session"))), "tracks")
    if not played:
        raise InputError("the session is empty: play or pick at least one track")
    recency = dict(zip(played, SESSION_DECAY ** np.arange(len(played))[::-1], strict=True))
    mask = ctx.table_mask("tracks", filters)
    facts = _facts(ctx)
    weights = ranking.WEIGHTS["session"]
    proposed, columns = [], []  # candidate positions per proposer; (name, scorer) per column
    for name, index in ctx.indexes.items():
        if name not in weights or not index.covers("tracks"):
            continue
        vector = index.profile(recency, "tracks")
        if vector is None:
            continue
        index_mask = ctx.index_mask(index, "tracks", mask)
        space = facts.space(name, index)
        if space is None:  # any index: its own search and scores, by id
            found = index.search_vector(vector, pipeline.POOL, "tracks", index_mask)[0]
            proposed.append(facts.positions(found))
            columns.append((name, lambda at, i=index, v=vector: i.score(v, facts.ids[at])))
            continue
        store, row_of, position_of = space  # a vector index: rows and positions, no ids
        rows = store.search_rows(vector, pipeline.POOL, index_mask)[0]
        proposed.append(position_of[rows])
        unit = normalize(vector)
        columns.append((name, lambda at, v=unit, sp=space: _cosines(sp, v, at)))
    nearby = _session_artists(ctx, played, recency)
    if nearby is not None:
        finite = int(np.isfinite(nearby).sum())
        top = facts.als_artists[top_k(nearby, min(SESSION_ARTISTS, finite))] if finite else []
        proposed.append(np.flatnonzero(np.isin(facts.artist_of, top)))
        lifted = np.concatenate([nearby, [np.nan]])  # the last: artists ALS does not hold
        columns.append(("als", lambda at: lifted[facts.als_row[facts.artist_of[at]]]))
    columns.append(("popularity", lambda at: facts.popularity[at]))

    candidates = np.concatenate(proposed) if proposed else np.array([], dtype=np.int64)
    candidates = candidates[np.sort(np.unique(candidates, return_index=True)[1])]
    same = np.flatnonzero(np.isin(facts.song, facts.song[facts.positions(played)]))
    candidates = candidates[~np.isin(candidates, same)]
    if mask is not None:
        candidates = candidates[mask[candidates]]
    fused = np.zeros(len(candidates))
    for name, score in columns:
        if weights.get(name) and len(candidates):
            fused += weights[name] * ranking.minmax(score(candidates))
    order = np.argsort(-fused, kind="stable")
    artists = facts.artist_of[candidates[order]]
    first = np.sort(np.unique(artists, return_index=True)[1])[:k]
    chosen = order[first]
    return Continuation(
        candidates[chosen], fused[chosen], explain.for_session(ctx.lookup, played[-1])
    )


def _cosines(space: tuple, vector: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Cosine of a unit ``vector`` to the tracks at catalog positions ``at`` (NaN: not held),
    as :meth:`VectorIndex.scores` gives it."""
    store, row_of, _ = space
    rows = row_of[at]
    out = np.full(len(at), np.nan, dtype=np.float32)
    out[rows >= 0] = store.vectors_at(rows[rows >= 0]) @ vector
    return out


def _session_artists(
    ctx: Context, played: list[str], recency: dict[str, float]
) -> np.ndarray | None:
    """The co-listening score of every artist ALS holds (its row order) for the session's
    artists, by recency."""
    if ctx.als is None:
        return None
    weights: dict[str, float] = {}
    for artist, weight in zip(ctx.lookup.artist_of(played), recency.values(), strict=True):
        weights[artist] = weights.get(artist, 0.0) + weight
    vector = ctx.als.profile(weights, "artists")
    if vector is None:
        return None
    return np.asarray(ctx.als.all_scores(vector, "artists"), dtype=np.float64)


class _Facts:
    """Per-track arrays a session reads by catalog position (built once per engine)."""

    def __init__(self, ctx: Context) -> None:
        tracks = ctx.lookup.tracks
        self.ids = tracks.index.to_numpy(dtype=object)
        self._where = tracks.index
        artists = ctx.lookup.artists.index
        self.artist_of = artists.get_indexer(tracks["artist_id"]).astype(np.int64)
        self.popularity = tracks["popularity"].to_numpy(dtype=float)
        self.song = ctx.lookup.song_codes
        self._spaces: dict[str, tuple | None] = {}
        if ctx.als is not None and ctx.als.covers("artists"):
            held = artists.get_indexer(ctx.als.ids("artists"))
            self.als_artists = held  # the artist position of each ALS row (-1: not in catalog)
            self.als_row = np.full(len(artists) + 1, -1, dtype=np.int64)
            self.als_row[held[held >= 0]] = np.flatnonzero(held >= 0)
            self.als_row[self.als_row < 0] = len(held)  # → the NaN past the scores
            self.als_row = self.als_row[np.append(np.arange(len(artists)), len(artists))]
        else:
            self.als_artists = np.array([], dtype=np.int64)
            self.als_row = np.zeros(len(artists) + 1, dtype=np.int64)

    def space(self, name: str, index: Index) -> tuple[VectorIndex, np.ndarray, np.ndarray] | None:
        """For an index whose track scores are cosines in a :class:`VectorIndex`: the store, the
        store row of each catalog position (-1: not held) and the position of each row."""
        if name not in self._spaces:
            store = index.vectors("tracks")
            plain = type(index).score is Index.score and type(index).search_vector is (
                Index.search_vector
            )
            if not plain or not isinstance(store, VectorIndex):
                self._spaces[name] = None
            else:
                position_of = self._where.get_indexer(store.ids).astype(np.int64)
                row_of = np.full(len(self.ids), -1, dtype=np.int64)
                row_of[position_of[position_of >= 0]] = np.flatnonzero(position_of >= 0)
                self._spaces[name] = (store, row_of, position_of)
        return self._spaces[name]

    def positions(self, ids: Sequence[str]) -> np.ndarray:
        found = self._where.get_indexer(list(ids))
        return found[found >= 0].astype(np.int64)


def _facts(ctx: Context) -> _Facts:
    return ctx.memo("session facts", lambda: _Facts(ctx))
