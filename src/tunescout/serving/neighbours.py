"""Neighbours of one track or artist: by one model, or fused from all of them."""

from __future__ import annotations

import pandas as pd

from tunescout.errors import DataMissingError
from tunescout.serving import checks, ranking
from tunescout.serving.context import Context
from tunescout.serving.pipeline import Pick, Signal, rank
from tunescout.vocabulary import HYBRID, Kind, model_name

HYBRID_DEPTH = 5  # each model contributes k * HYBRID_DEPTH neighbours to the hybrid
_NEEDS = {"als": "listening data", "audio": "audio features"}


def similar(ctx: Context, kind: Kind, item: str, k: int, model: str) -> pd.DataFrame:
    """Items like ``item`` by ``model`` (an index name, or ``hybrid``), best first.

    Raises:
        DataMissingError: A single model knows nothing of the item (e.g. no listening data).
    """
    k = checks.k(k)
    model = model_name(model, (*ctx.indexes, HYBRID))
    item = ctx.lookup.known([item], kind)[0]
    names = list(ctx.indexes) if model == HYBRID else [model]
    # Every recording of the item's song is left out, and repeated songs keep one recording.
    same = ctx.lookup.same_song(item) if kind == "tracks" else {item}
    depth = k * HYBRID_DEPTH if model == HYBRID else k
    if kind == "tracks":
        depth = depth * 2 + len(same)
    found = {name: neighbours(ctx, kind, item, depth, name) for name in names}
    if model != HYBRID and found[model].empty:
        holder = item if kind == "artists" else ctx.lookup.tracks.at[item, "artist_id"]
        raise DataMissingError(
            f"the {model} model has no {_NEEDS.get(model, 'data')} for "
            f"{ctx.lookup.name(holder)}: try the hybrid or semantic neighbours"
        )
    weights = ranking.WEIGHTS["similar"] if model == HYBRID else {model: 1.0}
    one_each = kind == "tracks" and model == HYBRID
    songs = ctx.lookup.song_of if kind == "tracks" else None
    how = Pick(k, artist_of=ctx.lookup.artist_of if one_each else None, song_of=songs)
    signals = [Signal.of(name, scores) for name, scores in found.items()]
    result = rank(signals, weights, how, pool=depth, exclude=same)
    out = ctx.lookup.rows(result.ids, kind)
    scores = result.fused if model == HYBRID else result.table[model]
    out["score"] = scores[result.ids].to_numpy(dtype=float) if result.ids else []
    out["model"] = model
    return out


def neighbours(ctx: Context, kind: Kind, item: str, k: int, model: str) -> pd.Series:
    """One model's neighbours of ``item`` with their similarity, best first (empty when the model
    knows nothing of it). An artist-only model answers for a track with the most popular track
    of each artist near the track's artist."""
    index = ctx.indexes[model]
    if index.covers(kind):
        ids, scores = index.similar([item], k, kind)
        return pd.Series(scores, index=ids, dtype=float)
    if kind != "tracks" or not index.covers("artists"):
        return pd.Series(dtype=float)
    ids, scores = index.similar([ctx.lookup.tracks.at[item, "artist_id"]], k, "artists")
    tracks = ctx.catalog.tracks
    best = tracks[tracks["artist_id"].isin(ids)].sort_values("popularity", ascending=False)
    best = best.drop_duplicates("artist_id").set_index("artist_id")["track_id"]
    pairs = [(best[a], s) for a, s in zip(ids, scores, strict=True) if a in best.index]
    return pd.Series([s for _, s in pairs], index=[t for t, _ in pairs], dtype=float)
