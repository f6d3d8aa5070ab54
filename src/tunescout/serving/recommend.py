"""Recommendations through the one pipeline: artists and tracks for survey ratings, what to play
after a session, artists for a known listener, and the survey itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tunescout.errors import DataMissingError, InputError
from tunescout.serving import checks, explain, profiles, ranking
from tunescout.serving.context import Context
from tunescout.serving.filters import Filters
from tunescout.serving.lookup import TRACK_COLUMNS
from tunescout.serving.pipeline import Pick, Ranking, rank

SESSION_DECAY = 0.7  # weight of a track one step further back in the session
SURVEY_DIVERSITY = 0.15
SESSION_ARTISTS = 50  # a session's nearest artists by co-listening whose tracks are candidates


def survey(ctx: Context, k: int, exclude: Sequence[str], pool: int, seed: int) -> pd.DataFrame:
    """Artists to rate: popular enough to be known, spread across styles (MMR), none repeated."""
    k = checks.k(k)
    exclude = set(checks.ids(exclude, "exclude"))
    pool = checks.whole(pool, "pool", low=1)
    seed = checks.whole(seed, "seed")
    artists = ctx.lookup.artists
    vectors = ctx.semantic.vectors("artists")
    known = artists[artists["artist_id"].isin(vectors.ids)]
    if ctx.als is not None and known["artist_id"].isin(ctx.als.ids("artists")).any():
        known = known[known["artist_id"].isin(ctx.als.ids("artists"))]  # ALS folds these in
    known = known[~known["artist_id"].isin(exclude)]
    top = known.sort_values("popularity", ascending=False, na_position="last").head(max(pool, k))
    jitter = np.random.default_rng(seed).uniform(0, 0.05, len(top))
    relevance = pd.Series(
        top["popularity"].fillna(0).to_numpy() / 100 + jitter, index=top["artist_id"].to_numpy()
    )
    chosen = ranking.mmr(relevance, vectors.vectors_of(relevance.index), k, diversity=0.5)
    out = ctx.lookup.rows(chosen, "artists")
    out["why"] = [explain.genre_line(ctx.lookup, a) for a in chosen]
    return out


def artists(
    ctx: Context,
    ratings: Mapping[str, int | float],
    k: int,
    mood: str | None = None,
    weights: Mapping[str, float] | None = None,
    filters: Filters | Mapping | None = None,
    diversity: float | None = None,
    fusion: str = "weighted",
) -> tuple[pd.DataFrame, Ranking]:
    """Artists for survey ratings: every model's candidates, fused with rating-adaptive weights,
    diversified by MMR over the artists' descriptions; with each signal's normalised score."""
    k = checks.k(k)
    mood = checks.mood(mood)
    overrides = checks.weights(weights, ctx.signal_names)
    diversity = checks.diversity(diversity, SURVEY_DIVERSITY)
    fusion = checks.fusion(fusion)
    profile = ctx.profile(ratings, mood)
    mixing = ranking.adaptive_weights(
        len(profile.liked), mood is not None, overrides, ctx.signal_names
    )
    mask = ctx.table_mask("artists", filters)
    rated = list(profile.confidences)
    signals = [*ctx.signals(profile, "artists", mask, rated), ctx.popularity("artists", mask)]
    how = Pick(k, diversity, vectors=ctx.semantic.vectors("artists").vectors_of)
    result = rank(signals, mixing, how, exclude=set(rated), fusion=fusion)
    out = ctx.lookup.rows(result.ids, "artists")
    out["score"] = result.fused[result.ids].to_numpy()
    for name in ctx.signal_names:  # each signal's normalised score, beside the catalog columns
        out[f"score_{name}"] = result.normalised(name)
    out["reason"] = explain.for_survey(ctx.lookup, ctx.semantic, result.ids, profile.liked, mood)
    return out, result


def tracks(
    ctx: Context,
    ratings: Mapping[str, int | float],
    k: int,
    filters: Filters | Mapping | None = None,
    **taste: object,
) -> pd.DataFrame:
    """Tracks for survey ratings, one per artist: a track scores by its artist's fused score,
    how it sounds against the taste (audio) and how its description fits (semantic, with mood).

    ``taste`` holds the options of :func:`artists` (mood, weights, diversity, fusion); ``filters``
    apply to the tracks.
    """
    k = checks.k(k)
    chosen, _ = artists(ctx, ratings, min(checks.MAX_K, k * 4), **taste)
    profile = ctx.profile(ratings, checks.mood(taste.get("mood")))
    mask = ctx.table_mask("tracks", filters)
    artist_score = pd.Series(chosen["score"].to_numpy(), index=chosen["artist_id"])
    signals = [
        ctx.by_artist("artist", artist_score, ctx.lookup.tracks_by(chosen["artist_id"])),
        *ctx.signals(profile, "tracks", mask, propose=("audio",)),
        ctx.popularity("tracks", mask, propose=False),
    ]
    rated, passes = set(profile.confidences), ctx.passes("tracks", mask)

    def keep(ids: list[str]) -> np.ndarray:
        return ~pd.Series(ctx.lookup.artist_of(ids)).isin(rated).to_numpy() & passes(ids)

    how = Pick(k, artist_of=ctx.lookup.artist_of, song_of=ctx.lookup.song_of)
    result = rank(signals, ranking.WEIGHTS["tracks"], how, keep=keep)
    if not result.ids:
        return pd.DataFrame(columns=[*TRACK_COLUMNS, "score", "reason"])
    out = ctx.lookup.rows(result.ids, "tracks")
    out["score"] = result.fused[result.ids].to_numpy()
    reasons = chosen.set_index("artist_id")["reason"]
    out["reason"] = [reasons.get(a, "sounds like what you rated highly") for a in out["artist_id"]]
    return out


def session(
    ctx: Context, track_ids: Sequence[str], k: int, filters: Filters | Mapping | None = None
) -> pd.DataFrame:
    """What to play after ``track_ids`` (oldest first), one track per artist; each model pools
    the session into one vector, a track one step further back weighing ``SESSION_DECAY`` less."""
    k = checks.k(k)
    played = ctx.lookup.known(list(dict.fromkeys(checks.ids(track_ids, "the session"))), "tracks")
    if not played:
        raise InputError("the session is empty: play or pick at least one track")
    recency = dict(zip(played, SESSION_DECAY ** np.arange(len(played))[::-1], strict=True))
    mask = ctx.table_mask("tracks", filters)
    by_track = {n: i for n, i in ctx.indexes.items() if n != "als" and i.covers("tracks")}
    signals = ctx.signals(profiles.build(by_track, recency, "tracks"), "tracks", mask)
    nearby = _session_artists(ctx, played, recency)
    if nearby is not None:
        proposals = ctx.lookup.tracks_by(nearby.nlargest(SESSION_ARTISTS).index)
        signals.append(ctx.by_artist("als", nearby, proposals))
    signals.append(ctx.popularity("tracks", mask, propose=False))
    how = Pick(k, artist_of=ctx.lookup.artist_of)
    result = rank(
        signals,
        ranking.WEIGHTS["session"],
        how,
        exclude=ctx.lookup.same_song(*played),
        keep=ctx.passes("tracks", mask),
    )
    out = ctx.lookup.rows(result.ids, "tracks")
    out["score"] = result.fused[result.ids].to_numpy() if result.ids else []
    out["reason"] = explain.for_session(ctx.lookup, played[-1])
    return out


def _session_artists(
    ctx: Context, played: list[str], recency: dict[str, float]
) -> pd.Series | None:
    """The co-listening score of every artist for the session's artists, by recency."""
    if ctx.als is None:
        return None
    weights = pd.Series(list(recency.values()), index=ctx.lookup.artist_of(played))
    vector = ctx.als.profile(weights.groupby(level=0).sum().to_dict(), "artists")
    if vector is None:
        return None
    ids = ctx.als.ids("artists")
    return pd.Series(ctx.als.score(vector, ids, "artists"), index=ids)


def for_listener(ctx: Context, user_id: str, k: int, exclude_seen: bool) -> pd.DataFrame:
    """Artists for a listener in the interaction data (e.g. ``hetrec:2``), from ALS."""
    k = checks.k(k)
    if ctx.als is None:
        raise DataMissingError(
            "no listening data in this catalog: known-user recommendations need ALS"
        )
    ids, scores = ctx.als.recommend_user(str(user_id), k, exclude_seen)
    out = ctx.lookup.rows(ids, "artists")
    out["score"] = scores
    plays = ctx.catalog.interactions
    history = plays[plays["user_id"] == user_id].nlargest(20, "weight")["artist_id"].tolist()
    out["reason"] = explain.for_listener(ctx.lookup, ctx.als, list(ids), history)
    return out
