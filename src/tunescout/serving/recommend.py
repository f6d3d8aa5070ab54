"""Recommendations through the one pipeline: artists and tracks for survey ratings, artists for a
known listener, and the survey itself (what to play after a session: :mod:`.session`).

Survey and listener lists fuse each model's per-listener z-scores (:mod:`~tunescout.serving.signals`)
with a row of :data:`~tunescout.serving.ranking.WEIGHTS`; an item a model does not hold counts as
:data:`~tunescout.serving.ranking.UNKNOWN_Z` there, so an artist without co-listening data leans on
its tags and sound. Dislikes (1–2 stars) push down candidates whose tags are nearer a disliked
artist than any liked one (:func:`~tunescout.serving.ranking.dislike_penalty`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tunescout.errors import DataMissingError, InputError, UnknownIdError
from tunescout.indexes.base import Index
from tunescout.serving import checks, explain, pipeline, profiles, ranking, signals
from tunescout.serving.context import Context
from tunescout.serving.filters import Filters
from tunescout.serving.lookup import TRACK_COLUMNS
from tunescout.serving.pipeline import Pick, Ranking, Signal
from tunescout.vocabulary import Kind

# MMR trade-off of survey lists. Validation (survey, seed 0, 10 ratings, the product's path):
# nDCG@10 0.5399 at 0, 0.05, 0.10 and 0.15 alike; Recall@20 0.2047 / 0.2045 / 0.2042 / 0.2034.
SURVEY_DIVERSITY = 0.05
COLD_DIVERSITY = 0.5  # with no ratings and no mood: popular and spread across styles
TRACK_ARTISTS = 4  # a track list of k draws on the best k * TRACK_ARTISTS artists with tracks
# Familiarity bands: percentiles of reach (listeners where the catalog has listening data, else
# catalog popularity; see familiarity()); "deep" is the long tail, "hits" the head.
FAMILIARITY: dict[str, tuple[float, float] | None] = {
    "deep": (0.0, 100 / 3),
    "lesser": (0.0, 200 / 3),
    "any": None,
    "well": (100 / 3, 100.0),
    "hits": (200 / 3, 100.0),
}


# ---- the survey ----------------------------------------------------------------------------


def survey(ctx: Context, k: int, exclude: Sequence[str], pool: int, seed: int) -> pd.DataFrame:
    """Artists to rate: popular enough to be known, spread across styles (MMR), none repeated."""
    k = checks.k(k)
    exclude = set(checks.ids(exclude, "exclude"))
    pool = checks.whole(pool, "pool", low=1)
    seed = checks.whole(seed, "seed", low=0)  # numpy's generators take no negative seed
    artists = ctx.lookup.artists
    vectors = _space(ctx).vectors("artists")
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


def _space(ctx: Context) -> Index:
    """Where artists are described alike: MiniLM, else audio (before a first semantic build)."""
    semantic = ctx.indexes.get("semantic")
    return semantic if semantic is not None else ctx.audio


def _described(ctx: Context, ids: Sequence[str]) -> np.ndarray:
    """Unit vectors of artists in :func:`_space` (zeros for artists it does not hold), for MMR."""
    vectors = _space(ctx).vectors("artists")
    rows = vectors._rows.get_indexer(list(ids))  # the index's cached id lookup
    out = np.zeros((len(rows), vectors.dim), dtype=np.float32)
    out[rows >= 0] = vectors.vectors_at(rows[rows >= 0])
    return out


# ---- familiarity -----------------------------------------------------------------------------


def familiarity(ctx: Context, kind: Kind = "artists") -> pd.Series:
    """Each item's reach as a percentile (0–100, ties averaged), aligned with the catalog table.

    Artists with listening data are ranked by their distinct listeners among those artists; the
    others by catalog popularity among the others (an artist whose catalog popularity comes from
    one source's sample, e.g. a few TidyTuesday songs, is not thereby a deep cut when thousands
    listen to it). Tracks are ranked by their own popularity.
    """

    def make() -> pd.Series:
        table = ctx.lookup.table(kind)
        if kind == "tracks":
            values = table["popularity"].astype(float)
            return values.rank(pct=True).mul(100).fillna(0.0)
        plays = ctx.catalog.interactions
        listeners = plays.groupby("artist_id", observed=True)["user_id"].nunique()
        listeners = listeners.reindex(table.index)
        out = listeners.rank(pct=True).mul(100)
        rest = listeners.isna()
        out[rest] = table.loc[rest, "popularity"].astype(float).rank(pct=True).mul(100)
        return out.fillna(0.0)

    return ctx.memo(f"familiarity/{kind}", make)


def _band(value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in FAMILIARITY:
            raise InputError(f"familiarity must be one of {list(FAMILIARITY)}, got {value!r}")
        return FAMILIARITY[value]
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise InputError(f"familiarity must be a band name or a (low, high) pair, got {value!r}")
    lo = checks.number(value[0], "familiarity low", 0.0, 100.0)
    hi = checks.number(value[1], "familiarity high", 0.0, 100.0)
    if lo > hi:
        raise InputError(f"familiarity: {lo} is above {hi}")
    return lo, hi


def _mask(
    ctx: Context, kind: Kind, filters: Filters | Mapping | None, band: object = None
) -> np.ndarray | None:
    """Table rows passing ``filters`` and the familiarity ``band``."""
    mask = ctx.table_mask(kind, filters)
    bounds = _band(band)
    if bounds is None:
        return mask
    pct = familiarity(ctx, kind).to_numpy()
    inside = (pct >= bounds[0]) & (pct <= bounds[1])
    return inside if mask is None else mask & inside


# ---- survey recommendations ------------------------------------------------------------------


@dataclass
class Taste:
    """A survey listener: stars, fold-in weights, and each model's profile vector."""

    stars: dict[str, int]
    weights: dict[str, float]
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    mood: str | None = None
    mood_vectors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def liked(self) -> list[str]:
        return [a for a, n in self.stars.items() if n >= ranking.DISLIKED_BELOW]

    @property
    def disliked(self) -> list[str]:
        return ranking.disliked(self.stars)


def taste(
    ctx: Context,
    ratings: Mapping[str, int | float],
    mood: str | None,
    models: Sequence[str] | None = None,
) -> Taste:
    """Stars checked, ids checked, and each model's profile of the rated artists (every model, or
    those in ``models``); the mood's vectors are kept apart: they steer the mood columns only."""
    stars = ranking.stars(checks.ratings(ratings))
    ctx.lookup.known(list(stars), "artists")
    weights = {a: ranking.STAR_WEIGHTS[n] for a, n in stars.items()}
    vectors = {}
    for name, index in ctx.indexes.items():
        if models is not None and name not in models:
            continue
        vector = index.profile(weights, "artists") if weights else None
        if vector is not None:
            vectors[name] = vector
    return Taste(stars, weights, vectors, mood, ctx.mood_vectors(mood) if mood else {})


def _signal_vectors(t: Taste) -> dict[str, np.ndarray]:
    """Which vector each signal scores with: taste, or for the mood columns the mood (blended
    with the taste when there is one)."""
    out = dict(t.vectors)
    for name, mood in t.mood_vectors.items():
        taste_vector = t.vectors.get(name)
        out[name] = mood if taste_vector is None else profiles.blend(taste_vector, mood)
    return out


def _popularity(ctx: Context, kind: Kind, mask: np.ndarray | None) -> tuple[Signal, signals.Scale]:
    values = ctx.lookup.table(kind)["popularity"].astype(float)
    signal, scale = signals.standard_series("popularity", values, propose=False)
    proposals = Signal("popularity", signal.score, lambda n: ctx.lookup.most_popular(kind, n, mask))
    return proposals, scale


def _penalty(ctx: Context, t: Taste, ids: list[str]) -> np.ndarray:
    """The dislike penalty of each candidate (zeros without a disliked artist or tags)."""
    tags = ctx.indexes.get("tags")
    if not t.disliked or tags is None or not ids:
        return np.zeros(len(ids))
    sims = tags.similarities(ids, [*t.disliked, *t.liked])
    n = len(t.disliked)
    to_liked = sims[:, n:].max(axis=1) if t.liked else np.zeros(len(ids))
    return ranking.dislike_penalty(sims[:, :n].max(axis=1), to_liked)


@dataclass
class Fused:
    """A fused list: the chosen ids, every candidate's fused score, the z-score table, the
    weights used and each chosen item's weighted contributions."""

    ranking: Ranking
    weights: dict[str, float]
    parts: pd.DataFrame
    penalty: pd.Series


def _fuse(
    table: pd.DataFrame,
    weights: dict[str, float],
    scales: Mapping[str, signals.Scale],
    fusion: str,
    family: str = "survey",
) -> tuple[pd.Series, pd.DataFrame]:
    unknown = signals.unknown_values(scales, ranking.UNKNOWN[family])
    parts = ranking.contributions(table, weights, unknown)
    fused = ranking.rrf_fusion(table, weights) if fusion == "rrf" else parts.sum(axis=1)
    return fused, parts


def artists(
    ctx: Context,
    ratings: Mapping[str, int | float],
    k: int,
    mood: str | None = None,
    weights: Mapping[str, float] | None = None,
    filters: Filters | Mapping | None = None,
    diversity: float | None = None,
    fusion: str = "weighted",
    familiarity: object = None,
    with_tracks: bool = False,
) -> tuple[pd.DataFrame, Fused]:
    """Artists for survey ratings: each model's candidates, z-scores fused with the survey row of
    the weights table (or the caller's weights), disliked neighbourhoods pushed down, MMR.

    Args:
        familiarity: A band of :data:`FAMILIARITY` ("deep", "hits", …) or a (low, high) pair of
            reach percentiles.
        with_tracks: Only artists with tracks in the catalog (for track lists).
    """
    k = checks.k(k)
    mood = checks.mood(mood)
    overrides = checks.weights(weights, ctx.signal_names)
    fusion = checks.fusion(fusion)
    n_rated = len(checks.ratings(ratings))
    mixing = ranking.adaptive_weights(n_rated, mood is not None, overrides, ctx.signal_names)
    used = [name for name, w in mixing.items() if w] + ["tags"]  # tags: dislikes and reasons
    t = taste(ctx, ratings, mood, used)
    default = COLD_DIVERSITY if not t.stars and mood is None else SURVEY_DIVERSITY
    diversity = checks.diversity(diversity, default)
    mask = _mask(ctx, "artists", filters, familiarity)
    if with_tracks:
        counts = ctx.lookup.artists["track_count"].to_numpy()
        mask = (counts > 0) if mask is None else mask & (counts > 0)
    rated = list(t.stars)
    cols: list[Signal] = []
    scales: dict[str, signals.Scale] = {}
    for name, vector in _signal_vectors(t).items():
        index = ctx.indexes[name]
        if not mixing.get(name) or not index.covers("artists"):
            continue
        index_mask = ctx.index_mask(index, "artists", mask, rated)
        signal, scales[name] = signals.standard_signal(name, index, vector, "artists", index_mask)
        cols.append(signal)
    if mixing.get("popularity") or not cols:
        signal, scales["popularity"] = _popularity(ctx, "artists", mask)
        cols.append(signal)
    ids = pipeline.candidates(cols, exclude=set(rated), keep=ctx.passes("artists", mask))
    table = pipeline.score_table(cols, ids)
    fused, parts = _fuse(table, mixing, scales, fusion)
    penalty = pd.Series(_penalty(ctx, t, ids), index=table.index, dtype=float)
    if fusion != "rrf":
        fused = fused - penalty
    how = Pick(k, diversity, vectors=lambda ids: _described(ctx, ids))
    chosen = pipeline.pick(fused, how) if ids else []
    result = Fused(Ranking(chosen, fused, table), mixing, parts.loc[chosen], penalty)
    out = ctx.lookup.rows(chosen, "artists")
    out["score"] = fused[chosen].to_numpy() if chosen else []
    for name in ctx.signal_names:  # each signal's normalised score, beside the catalog columns
        out[f"score_{name}"] = result.ranking.normalised(name)
    out["familiarity"] = familiarity_of(ctx, chosen, "artists")
    out["reason"] = explain.for_survey(ctx, chosen, result.parts, t)
    return out, result


def familiarity_of(ctx: Context, ids: Sequence[str], kind: Kind) -> np.ndarray:
    """The reach percentile of each id (see :func:`familiarity`)."""
    return familiarity(ctx, kind).reindex(list(ids)).to_numpy(dtype=float)


def tracks(
    ctx: Context,
    ratings: Mapping[str, int | float],
    k: int,
    filters: Filters | Mapping | None = None,
    familiarity: object = None,
    **taste_options: object,
) -> pd.DataFrame:
    """Tracks for survey ratings, one per artist: a track scores by its artist's fused score (among
    artists that have tracks), how it sounds against the taste and the mood (audio), how its
    description fits (semantic) and its popularity.

    ``taste_options`` hold the options of :func:`artists` (mood, weights, diversity, fusion);
    ``filters`` and ``familiarity`` apply to the tracks.
    """
    k = checks.k(k)
    mood = checks.mood(taste_options.get("mood"))
    chosen, fused = artists(
        ctx, ratings, min(checks.MAX_K, k * TRACK_ARTISTS), with_tracks=True, **taste_options
    )
    mixing = dict(ranking.WEIGHTS["tracks"])
    t = taste(ctx, ratings, mood, [name for name, w in mixing.items() if w])
    mask = _mask(ctx, "tracks", filters, familiarity)
    lifted = pd.Series(chosen["score"].to_numpy(dtype=float), index=chosen["artist_id"])
    artist_z = pd.Series(
        signals.Scale(*ranking.standard(lifted.to_numpy())[:2], -1.0).z(lifted.to_numpy()),
        index=lifted.index,
    )
    cols = [ctx.by_artist("artist", artist_z, ctx.lookup.tracks_by(chosen["artist_id"]))]
    scales = {"artist": signals.Scale(0.0, 1.0, -1.0)}
    for name, vector in _signal_vectors(t).items():
        index = ctx.indexes[name]
        if not mixing.get(name) or not index.covers("tracks") or not index.shared_space:
            continue
        index_mask = ctx.index_mask(index, "tracks", mask)
        signal, scales[name] = signals.standard_signal(
            name, index, vector, "tracks", index_mask, propose=bool(t.mood_vectors)
        )
        cols.append(signal)
    signal, scales["popularity"] = _popularity(ctx, "tracks", mask)
    cols.append(Signal("popularity", signal.score, None if t.stars else signal.candidates))
    rated, passes = set(t.stars), ctx.passes("tracks", mask)

    def keep(ids: list[str]) -> np.ndarray:
        return ~pd.Series(ctx.lookup.artist_of(ids)).isin(rated).to_numpy() & passes(ids)

    ids = pipeline.candidates(cols, keep=keep)
    if not ids:
        return pd.DataFrame(columns=[*TRACK_COLUMNS, "score", "reason"])
    table = pipeline.score_table(cols, ids)
    fused_tracks, _ = _fuse(table, mixing, scales, "weighted")
    how = Pick(k, artist_of=ctx.lookup.artist_of, song_of=ctx.lookup.song_of)
    chosen_ids = pipeline.pick(fused_tracks, how)
    out = ctx.lookup.rows(chosen_ids, "tracks")
    out["score"] = fused_tracks[chosen_ids].to_numpy()
    out["familiarity"] = familiarity_of(ctx, chosen_ids, "tracks")
    reasons = chosen.set_index("artist_id")["reason"]
    out["reason"] = explain.for_tracks_of_artists(ctx, out, reasons, t)
    return out


# ---- known listeners -------------------------------------------------------------------------


def history(ctx: Context, user_id: str) -> pd.Series:
    """A listener's plays per artist, most played first (raises for an unknown listener)."""
    plays = ctx.catalog.interactions
    mine = plays[plays["user_id"] == user_id]
    if mine.empty:
        raise UnknownIdError(f"unknown user id: {user_id!r}")
    weights = mine.groupby("artist_id", observed=True)["weight"].sum()
    return weights.sort_values(ascending=False, kind="stable").astype(float)


def listener_vectors(
    ctx: Context, user_id: str, plays: pd.Series
) -> dict[str, tuple[Index, np.ndarray]]:
    """Each model's vector for a known listener: ALS's trained factors, the co-listening fold-in of
    their log plays and its RP3beta walk, their tag profile."""
    logged = {str(a): 1.0 + float(np.log(max(w, 1.0))) for a, w in plays.items()}
    out: dict[str, tuple[Index, np.ndarray]] = {}
    als = ctx.als
    if als is not None and hasattr(als, "part"):
        with contextlib.suppress(UnknownIdError, DataMissingError):  # not an ALS listener
            out["als"] = (als, als.part("artists").stored_user_vector(user_id))
    coplay = ctx.indexes.get("coplay")
    if coplay is not None:
        vector = coplay.history_profile(logged, "artists")
        if vector is not None:
            out["coplay"] = (coplay, vector)
            out["walk"] = (coplay, coplay.neighbour_profile(dict.fromkeys(logged, 1.0)))
    tags = ctx.indexes.get("tags")
    if tags is not None:
        vector = tags.profile(logged, "artists")
        if vector is not None:
            out["tags"] = (tags, vector)
    return out


def for_listener(ctx: Context, user_id: str, k: int, exclude_seen: bool) -> pd.DataFrame:
    """Artists for a listener in the interaction data (e.g. ``hetrec:2``): ALS, the co-listening
    fold-in of their history and its random walk, and their tags, z-scores fused with the
    "listener" row of the weights table."""
    k = checks.k(k)
    if ctx.catalog.interactions.empty:
        raise DataMissingError(
            "no listening data in this catalog: known-user recommendations need interactions"
        )
    user_id = str(user_id)
    plays = history(ctx, user_id)
    seen = list(plays.index.astype(str)) if exclude_seen else []
    weights = dict(ranking.WEIGHTS["listener"])
    cols, scales = [], {}
    for name, (index, vector) in listener_vectors(ctx, user_id, plays).items():
        if not weights.get(name):
            continue
        index_mask = ctx.index_mask(index, "artists", None, seen)
        signal, scales[name] = signals.standard_signal(name, index, vector, "artists", index_mask)
        cols.append(signal)
    if not cols:
        raise DataMissingError(f"no model holds the artists {user_id!r} listened to")
    ids = pipeline.candidates(cols, exclude=set(seen))
    table = pipeline.score_table(cols, ids)
    fused, parts = _fuse(table, weights, scales, "weighted", "listener")
    chosen = pipeline.pick(fused, Pick(k))
    out = ctx.lookup.rows(chosen, "artists")
    out["score"] = fused[chosen].to_numpy()
    top = [str(a) for a in plays.index[:20]]
    out["reason"] = explain.for_listener(ctx, chosen, parts.loc[chosen], top)
    return out
