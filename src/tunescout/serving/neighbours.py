"""Neighbours of one track or artist: by one model, or fused from several.

The hybrid artist neighbours fuse each model's z-scored similarity over every artist it holds
with a row of the weights table chosen by evidence: "similar" when the seed has co-listening data
(the co-listening index holds it), "similar/cold" (tags, sound, description) when it has none.
Both rows were chosen on a held-out co-listening check (``tunescout.research.tuning``).
"""

from __future__ import annotations

import pandas as pd

from tunescout.errors import DataMissingError
from tunescout.serving import checks, pipeline, ranking
from tunescout.serving.context import Context
from tunescout.serving.pipeline import Pick, Signal, rank
from tunescout.vocabulary import HYBRID, Kind, model_name

HYBRID_DEPTH = 5  # each model contributes max(k, TABLE_K) * HYBRID_DEPTH to the hybrid
# Neighbours the build tables per item and model (tunescout.serving.neighbourtable); a hybrid
# fuses as deep a pool for any smaller k, so its first k are the table's and never depend on k.
TABLE_K = 10  # the app's and the API's default k
TRACK_WEIGHTS = {"audio": 0.4, "coplay": 0.3, "als": 0.3, "semantic": 0.3, "tags": 0.2}
_NEEDS = {
    "als": "listening data",
    "coplay": "enough listeners",
    "audio": "audio features",
    "tags": "tags or genres",
}


def similarity_row(ctx: Context, model: str, item: str, kind: Kind = "artists") -> pd.Series | None:
    """``model``'s similarity of every item it holds to ``item`` (``item`` left out), or ``None``
    when the model does not hold it."""
    index = ctx.indexes.get(model)
    if index is None or not index.holds(item, kind):
        return None
    ids, scores = index.similar([item], len(index.ids(kind)), kind)
    return pd.Series(scores, index=ids, dtype=float)


def hybrid_row(ctx: Context, item: str) -> str:
    """The weights row for an artist's hybrid neighbours, by the evidence there is about it."""
    coplay = ctx.indexes.get("coplay")
    return "similar" if coplay is not None and coplay.holds(item, "artists") else "similar/cold"


def _hybrid_artists(ctx: Context, item: str, k: int) -> pd.DataFrame:
    weights = {
        m: w for m, w in ranking.WEIGHTS[hybrid_row(ctx, item)].items() if w and m in ctx.indexes
    }
    cols, unknown = [], {}
    for name in weights:
        row = similarity_row(ctx, name, item)
        if row is None or row.empty:
            continue
        mean, std, floor = ranking.standard(row.to_numpy())
        z = (row - mean) / std
        cols.append(Signal.of(name, z.sort_values(ascending=False, kind="stable")))
        fill = ranking.UNKNOWN["similar"]
        unknown[name] = floor if fill is None else fill
    if not cols:  # nothing holds the seed in the chosen row: every model that does
        for name in ctx.indexes:
            row = similarity_row(ctx, name, item)
            if row is not None and not row.empty:
                mean, std, _ = ranking.standard(row.to_numpy())
                cols.append(Signal.of(name, ((row - mean) / std).sort_values(ascending=False)))
                weights[name] = 1.0
    ids = pipeline.candidates(cols, max(k, TABLE_K) * HYBRID_DEPTH, exclude={item})
    table = pipeline.score_table(cols, ids)
    fused = ranking.standard_fusion(table, weights, unknown)
    chosen = pipeline.pick(fused, Pick(k)) if ids else []
    out = ctx.lookup.rows(chosen, "artists")
    out["score"] = fused[chosen].to_numpy(dtype=float) if chosen else []
    out["model"] = HYBRID
    return out


def similar(ctx: Context, kind: Kind, item: str, k: int, model: str) -> pd.DataFrame:
    """Items like ``item`` by ``model`` (an index name, or ``hybrid``), best first.

    Raises:
        DataMissingError: A single model knows nothing of the item (e.g. no listening data).
    """
    k = checks.k(k)
    model = model_name(model, (*ctx.indexes, HYBRID))
    item = ctx.lookup.known([item], kind)[0]
    if ctx.table is not None:
        rows, scores = ctx.table.get(kind, model, ctx.lookup.position(item, kind), k)
        if len(rows):
            out = ctx.lookup.rows_at(rows, kind)
            out["score"] = scores.astype(float)
            out["model"] = model
            return out
    if model == HYBRID and kind == "artists":
        return _hybrid_artists(ctx, item, k)
    names = [n for n in ctx.indexes if n in TRACK_WEIGHTS] if model == HYBRID else [model]
    # Every recording of the item's song is left out, and repeated songs keep one recording.
    same = ctx.lookup.same_song(item) if kind == "tracks" else {item}
    depth = max(k, TABLE_K) * HYBRID_DEPTH if model == HYBRID else k
    if kind == "tracks":
        depth = depth * 2 + len(same)
    found = {name: neighbours(ctx, kind, item, depth, name) for name in names}
    if model != HYBRID and found[model].empty:
        holder = item if kind == "artists" else ctx.lookup.tracks.at[item, "artist_id"]
        raise DataMissingError(
            f"the {model} model has no {_NEEDS.get(model, 'data')} for "
            f"{ctx.lookup.name(holder)}: try the hybrid or semantic neighbours"
        )
    weights = TRACK_WEIGHTS if model == HYBRID else {model: 1.0}
    one_each = kind == "tracks" and model == HYBRID
    songs = ctx.lookup.song_of if kind == "tracks" else None
    how = Pick(k, artist_of=ctx.lookup.artist_of if one_each else None, song_of=songs)
    signals = [Signal.of(name, scores) for name, scores in found.items() if not scores.empty]
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
        if len(ids) or kind != "tracks":
            return pd.Series(scores, index=ids, dtype=float)
    if kind != "tracks" or not index.covers("artists"):
        return pd.Series(dtype=float)
    ids, scores = index.similar([ctx.lookup.tracks.at[item, "artist_id"]], k, "artists")
    best = ctx.lookup.top_track
    pairs = [(best[a], s) for a, s in zip(ids, scores, strict=True) if a in best.index]
    return pd.Series([s for _, s in pairs], index=[t for t, _ in pairs], dtype=float)
