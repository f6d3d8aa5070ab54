"""Mood search that understands the request: every part of it acts on the results.

The request is parsed (:mod:`~tunescout.serving.query`); eras, genres, tags, exclusions and changes
relative to a reference become constraints (a result meets all of them, and when too few tracks
do, the listener is told); a reference draws candidates from its nearest artists by co-listening;
the mood words become feature targets (:mod:`~tunescout.serving.mood`) and, with the words left
over, a text query against descriptions that carry no titles or names. One recording per song;
each row says what in that track matched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tunescout.domain.features import UNIT_FEATURES
from tunescout.domain.songs import first_per_song
from tunescout.errors import InputError
from tunescout.indexes.topk import largest
from tunescout.serving import explain
from tunescout.serving.context import Context
from tunescout.serving.mood import Intent
from tunescout.serving.query import Query, parse

log = logging.getLogger(__name__)

POOL = 400  # candidates from the text and from the feature fit
REFERENCE_ARTISTS = 300  # nearest artists of a reference whose tracks are candidates
FIT_SHARE = 0.75  # with a strong mood the feature fit carries this share (the text the rest)
REFERENCE_SHARE = 0.5  # with a reference, closeness to it carries this share
TAG_BONUS = 0.15  # a track whose artist listeners tag with a word of the request
POPULARITY_PRIOR = 0.05
PER_ARTIST = 2  # songs of one artist in a list
FAME_WEIGHT = 0.3  # how much "hits" (or "deep cuts") moves the popularity prior
NAMED_GENRE_BONUS = 0.5  # a track labelled with the genre named, over the rest of its family
# "happier than X" means at least this much more than X's mean (feature units) ...
STEP = {**dict.fromkeys(UNIT_FEATURES, 0.05), "tempo": 5.0, "loudness": 1.0}
# ... and the search aims about this far beyond it.
PUSH = {**dict.fromkeys(UNIT_FEATURES, 0.2), "tempo": 20.0, "loudness": 3.0}
# Near-binary features are cut on Spotify's documented scale; the rest by catalog thirds.
ABSOLUTE = {"instrumentalness": 0.5, "speechiness": 0.33}
THIRD = 1 / 3


@dataclass
class Understood:
    """A request as the search read it: for the page to show, and for reasons."""

    query: Query
    intent: Intent
    label: str
    notes: list[str]


def understand(ctx: Context, text: str) -> tuple[Understood, np.ndarray | None]:
    """Parse ``text`` and read its mood; returns what was understood and the text vector.

    Raises:
        InputError: When ``text`` is blank.
    """
    if not text.strip():
        raise InputError("the search text is empty: describe the music you want")
    query = parse(text, ctx.vocabulary)
    if query.rest or not query.structured:
        intent, vector = ctx.moods.analyse(query.rest or text)
    else:  # e.g. "90s rock": no mood words, but the words themselves describe the music
        intent, vector = Intent(), ctx.moods.encoder.encode([text.strip()])[0]
    # "like Radiohead": music described like the reference is, not like its name
    reference = query.reference
    described = ctx.semantic is not None and reference is not None and not query.rest
    if described and ctx.semantic.holds(reference.id, reference.kind):
        vector = ctx.semantic.vectors(reference.kind).vectors_of([reference.id])[0]
    reference_targets(ctx, query, intent)
    label = query.label(intent.words)
    return Understood(query, intent, label, list(query.notes)), vector


def reference_targets(ctx: Context, query: Query, intent: Intent) -> None:
    """Aim "happier than X" beyond X's own mean, in the intent's feature targets."""
    if query.reference is None or not query.relative:
        return
    means = ctx.artist_means(query.reference)
    for feature, sign in query.relative.items():
        if feature in means:
            intent.targets[feature] = float(means[feature] + sign * PUSH[feature])
            intent.weights[feature] = max(intent.weights.get(feature, 0.0), 0.8)


def constraints(ctx: Context, query: Query) -> tuple[np.ndarray | None, list[str]]:
    """Rows of the tracks table that meet every structured part of ``query`` (``None``: no
    constraint), and notes about parts that could not be applied."""
    n = len(ctx.lookup.tracks)
    keep = np.ones(n, dtype=bool)
    notes: list[str] = []
    if query.years:
        years = ctx.filters["tracks"].numeric.get("release_year", np.full(n, np.nan))
        with np.errstate(invalid="ignore"):
            keep &= (years >= query.years[0]) & (years <= query.years[1])
    if query.genres:
        keep &= ctx.genre_hits(query.genres)
    if query.tags:
        keep &= ctx.tag_hits(query.tags)
    if query.not_genres:
        keep &= ~ctx.genre_hits(query.not_genres, loose=True)
    if query.not_tags:
        keep &= ~ctx.tag_hits(query.not_tags)
    banned = list(query.not_artists)
    if query.reference is not None:
        banned.append(query.reference.artist_id)
    if banned:
        keep &= ~np.isin(ctx.track_artists, banned)
    for feature, side in query.avoid.items():
        keep &= ~_side(ctx, feature, side)
    if query.reference is not None and query.relative:
        means = ctx.artist_means(query.reference)
        if not means:
            notes.append(f"no audio features for {query.reference.name} to compare with")
        for feature, sign in query.relative.items():
            if feature in means:
                values = ctx.filters["tracks"].numeric[feature]
                bound = means[feature] + sign * STEP[feature]
                with np.errstate(invalid="ignore"):
                    keep &= values >= bound if sign > 0 else values <= bound
    return (None if keep.all() else keep), notes


def _side(ctx: Context, feature: str, side: str) -> np.ndarray:
    """Tracks on ``side`` ("high"/"low") of ``feature``: Spotify's cut for near-binary
    features, else the catalog's top or bottom third."""
    if feature in ABSOLUTE:
        values = ctx.filters["tracks"].numeric[feature]
        with np.errstate(invalid="ignore"):
            high = values >= ABSOLUTE[feature]
        return high if side == "high" else ~high
    pct = ctx.moods.percentile(feature)
    return pct >= 1 - THIRD if side == "high" else pct <= THIRD


def search(ctx: Context, text: str, k: int, mask: np.ndarray | None) -> pd.DataFrame:
    """The ``k`` tracks that best meet the request ``text`` (under the filters' ``mask``).

    Returns:
        Columns ``track_id, score, why``, best first, one recording per song; ``attrs`` holds
        ``understood`` (the request as read, e.g. "1990s · rock — like Radiohead, happier") and
        ``notes`` (parts that could not be met in full).
    """
    understood, vector = understand(ctx, text)
    query, intent = understood.query, understood.intent
    allowed, notes = constraints(ctx, query)
    understood.notes += notes
    if mask is not None:
        allowed = mask if allowed is None else allowed & mask
    near = ctx.reference_neighbours(query.reference, REFERENCE_ARTISTS)
    rows = _candidates(ctx, intent, vector, allowed, near, k)
    scores = _scores(ctx, understood, vector, rows, near)
    order = np.argsort(-scores, kind="stable")
    rows, scores = rows[order], scores[order]
    keep = first_per_song(ctx.lookup.songs_at(rows))
    rows, scores = rows[keep], scores[keep]
    # Variety: a reference asks for other artists like it, one song each; otherwise two at most.
    per_artist = 1 if query.reference is not None else PER_ARTIST
    artists = pd.Series(ctx.track_artists[rows])
    keep = (artists.groupby(artists).cumcount() < per_artist).to_numpy()
    rows, scores = rows[keep][:k], scores[keep][:k]
    passing = len(ctx.lookup.tracks) if allowed is None else int(allowed.sum())
    if query.structured and len(rows) < k:
        understood.notes.append(
            f"only {passing} songs meet every part of the request"
            if passing < k
            else f"only {len(rows)} close matches meet every part of the request"
        )
    frame = pd.DataFrame(
        {
            "track_id": ctx.filters["tracks"].ids[rows],
            "score": scores.astype(np.float64),
            "why": explain.for_tracks(ctx, rows, understood, near),
        }
    )
    frame.attrs.update(understood=understood.label, notes=understood.notes)
    return frame


def _candidates(
    ctx: Context,
    intent: Intent,
    vector: np.ndarray | None,
    allowed: np.ndarray | None,
    near: pd.Series,
    k: int,
) -> np.ndarray:
    """Table rows worth scoring: the reference's nearest artists' tracks, the best text and
    feature-fit matches, else the best known tracks — all under ``allowed``."""
    pool = max(POOL, 4 * k)
    pools = []
    rows_of = ctx.table_rows
    if len(near):
        by_artist = np.isin(ctx.track_artists, near.index.to_numpy(dtype=str))
        pools.append(np.flatnonzero(by_artist if allowed is None else by_artist & allowed))
    if vector is not None and ctx.semantic is not None:
        index = ctx.semantic.vectors("tracks")
        found, _ = index.search(vector, pool, ctx.filters["tracks"].align(allowed, index.ids))
        pools.append(rows_of(found))
    subset = None if allowed is None else np.flatnonzero(allowed)
    if intent.targets and (subset is None or len(subset)):
        fit = ctx.moods.feature_fit(intent, subset)
        best = largest(fit, pool)
        pools.append(best if subset is None else subset[best])
    if not any(len(p) for p in pools):
        popularity = ctx.filters["tracks"].numeric["popularity"]
        scored = np.nan_to_num(popularity, nan=-1.0)
        if subset is not None:
            best = subset[largest(scored[subset], pool)] if len(subset) else subset
        else:
            best = largest(scored, pool)
        pools.append(best)
    return np.unique(np.concatenate(pools)) if pools else np.array([], dtype=np.int64)


def _scores(
    ctx: Context,
    understood: Understood,
    vector: np.ndarray | None,
    rows: np.ndarray,
    near: pd.Series,
) -> np.ndarray:
    """Text similarity blended with the feature fit, closeness to the reference, tags and a small
    popularity prior."""
    if not len(rows):
        return np.zeros(0)
    intent = understood.intent
    fit = ctx.moods.feature_fit(intent, rows)
    score = fit.astype(np.float64)
    if vector is not None and ctx.semantic is not None:
        index = ctx.semantic.vectors("tracks")
        semantic = index.vectors_at(ctx.semantic_rows(rows)) @ vector
        spread = float(semantic.max() - semantic.min())
        scaled = (semantic - semantic.min()) / spread if spread > 0 else np.zeros(len(rows))
        share = FIT_SHARE * intent.strength if intent.targets else 0.0
        score = (1 - share) * scaled + share * fit
    if len(near):
        closeness = near.reindex(ctx.track_artists[rows]).fillna(0.0)
        score = REFERENCE_SHARE * closeness.to_numpy() + (1 - REFERENCE_SHARE) * score
    if understood.query.named_genres:  # "hip hop" first, then the rest of its family
        named = ctx.filters["tracks"].genre_hits(understood.query.named_genres)[rows]
        score = score + NAMED_GENRE_BONUS * named
    words = understood.query.rest.split()
    if words:
        score = score + TAG_BONUS * ctx.tag_match(rows, words).astype(float)
    popularity = np.nan_to_num(ctx.filters["tracks"].numeric["popularity"][rows], nan=0.0)
    prior = POPULARITY_PRIOR + FAME_WEIGHT * understood.query.fame  # "hits" / "deep cuts"
    return score + prior * popularity / 100
