"""Property tests (hypothesis): artist-name normalisation, filter masks, the ranking functions, and
the engine's ranking invariants — results sorted, unique, at most ``k`` (exactly ``k`` for mood
search whenever ``k`` tracks qualify), filters and exclusions respected."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tunescout.catalog import identity
from tunescout.domain.songs import song_key
from tunescout.errors import DataMissingError
from tunescout.serving import ranking as rank
from tunescout.serving import search
from tunescout.serving.engine import Engine
from tunescout.serving.filters import Filters, FilterTable
from tunescout.vocabulary import SIGNALS

pytestmark = pytest.mark.hardening

# ---- name normalisation ------------------------------------------------------------------------

# Words and marks the rules act on, mixed with arbitrary text, so the rules meet each other.
PARTS = st.sampled_from(
    ["the", "The", "THE", "&", "+", "and", "feat.", "ft", "featuring", "(feat.", ")", ",", ", the",
     "Beyoncé", "Ｍｕｓｅ", "Король", "ß", "AC/DC", "!!!", "-", "'", " ", "  ", "\t", "e\u0301"]
)  # fmt: skip
NAMES = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(PARTS, st.text(max_size=6)), max_size=8).map(" ".join),
)
# Latin-1 letters: À-ÿ without × (U+00D7) and ÷ (U+00F7), which are symbols, not letters.
WORD = st.from_regex(r"[A-Za-zÀ-ÖØ-öø-ÿ0-9][A-Za-zÀ-ÖØ-öø-ÿ0-9']{0,9}", fullmatch=True)
PLAIN = (
    st.lists(WORD, min_size=1, max_size=4)
    .map(" ".join)
    .filter(lambda s: identity.normalize_name(s).split()[0] != "the")
)
LOTS = settings(max_examples=400, deadline=None)


@LOTS
@given(NAMES)
def test_a_key_is_its_own_key(name: str) -> None:
    key = identity.normalize_name(name)
    assert identity.normalize_name(key) == key


@LOTS
@given(NAMES)
def test_keys_are_one_clean_line(name: str) -> None:
    key = identity.normalize_name(name)
    assert key == key.strip() and "  " not in key and "\n" not in key
    assert bool(key) == bool(name.strip())


@LOTS
@given(NAMES)
def test_keys_ignore_unicode_form_and_spacing(name: str) -> None:
    key = identity.normalize_name(name)
    assert identity.normalize_name(unicodedata.normalize("NFD", name)) == key
    assert identity.normalize_name(unicodedata.normalize("NFKC", name)) == key
    assert identity.normalize_name(f"  {name} \t") == key


@LOTS
@given(PLAIN)
def test_keys_ignore_accents(name: str) -> None:
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    assert identity.normalize_name(bare) == identity.normalize_name(name)


@LOTS
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_keys_ignore_case(name: str) -> None:
    assert identity.normalize_name(name.upper()) == identity.normalize_name(name.lower())


@LOTS
@given(PLAIN, PLAIN)
def test_ampersand_article_and_punctuation_do_not_matter(a: str, b: str) -> None:
    key = identity.normalize_name(f"{a} and {b}")
    assert identity.normalize_name(f"{a} & {b}") == key
    assert identity.normalize_name(f"The {a} and {b}") == key
    assert identity.normalize_name(f"{a} and {b}, The") == key
    assert identity.normalize_name(f"{a}! and {b}?") == key
    assert identity.loose_key(f"{a} & {b}") == identity.loose_key(f"{a}{b}".replace(" ", ""))


@LOTS
@given(
    PLAIN, st.lists(PLAIN, min_size=1, max_size=3), st.sampled_from(["feat.", "ft.", "featuring"])
)
def test_featured_credits_split_off(primary: str, featured: list[str], word: str) -> None:
    assume(not any(w in {"and", "feat", "ft", "featuring"} for w in " ".join(featured).split()))
    got = identity.split_featured(f"{primary} {word} {' & '.join(featured)}")
    assert got == (primary, featured)


@LOTS
@given(NAMES)
@example(name="the feat. & \t")  # once left a tab as a featured artist
def test_a_split_never_loses_the_primary_artist(name: str) -> None:
    """An empty primary would give every such name the same key, and merge them all."""
    primary, featured = identity.split_featured(name)
    assert bool(primary) == bool(name.strip())
    assert bool(identity.normalize_name(primary)) == bool(name.strip())
    assert all(f.strip() for f in featured)


# ---- filters -----------------------------------------------------------------------------------


@st.composite
def track_filters(draw, genres: list[str]) -> Filters:
    def band(lo: float, hi: float) -> tuple[float, float] | None:
        if not draw(st.booleans()):
            return None
        a, b = sorted(draw(st.floats(lo, hi, allow_nan=False)) for _ in range(2))
        return (a, b)

    features = {f: r for f in ("energy", "valence") if (r := band(0.0, 1.0))}
    if tempo := band(40.0, 220.0):
        features["tempo"] = tempo
    return Filters(
        genres=tuple(draw(st.lists(st.sampled_from(genres), max_size=2))),
        features=features,
        popularity=band(0.0, 100.0),
        years=(lambda y: (int(y[0]), int(y[1])) if y else None)(band(1950, 2025)),
    )


def passes(frame: pd.DataFrame, filters: Filters) -> pd.Series:
    """What ``filters`` keep, evaluated row by row with pandas (the reference)."""
    keep = pd.Series(True, index=frame.index)
    if filters.genres:
        wanted = set(filters.genres)
        keep &= frame["genres"].map(lambda g: bool(wanted & {x.casefold() for x in g}))
    bounds = {**filters.features, "popularity": filters.popularity, "release_year": filters.years}
    for name, pair in bounds.items():
        if pair is not None:  # compared in float64, as given (a float32 column would round them)
            keep &= frame[name].astype("float64").between(*pair)
    return keep.fillna(False).astype(bool)


ENGINE = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_filter_mask_matches_a_row_by_row_reference(engine: Engine, data) -> None:
    tracks = engine.catalog.tracks
    filters = data.draw(track_filters(engine.genres()[:12]))
    mask = FilterTable(tracks, "track_id").mask(filters)
    expected = passes(tracks, filters).to_numpy()
    assert np.array_equal(mask if mask is not None else np.ones(len(tracks), bool), expected)


# ---- ranking functions -------------------------------------------------------------------------

SCORES = st.lists(st.integers(-1000, 1000).map(float), min_size=1, max_size=50)


@LOTS
@given(SCORES)
def test_normalisation_keeps_order_inside_the_unit_range(scores: list[float]) -> None:
    values = np.array(scores)
    out = rank.minmax(values)
    assert ((out >= 0) & (out <= 1)).all()
    order = np.argsort(values, kind="stable")
    assert (np.diff(out[order]) >= -1e-12).all()


@LOTS
@given(SCORES, st.integers(1, 60), st.floats(0, 1), st.integers(0, 2**32 - 1))
def test_mmr_picks_k_distinct_candidates(scores, k: int, diversity: float, seed: int) -> None:
    ids = [f"i{n}" for n in range(len(scores))]
    relevance = pd.Series(scores, index=ids)
    vectors = np.random.default_rng(seed).normal(size=(len(ids), 8)).astype(np.float32)
    picked = rank.mmr(relevance, vectors, k, diversity)
    assert len(picked) == min(k, len(ids)) and len(set(picked)) == len(picked)
    assert set(picked) <= set(ids)
    if diversity < 1:  # at 1 only variety counts, so the first pick is arbitrary
        assert relevance[picked[0]] == relevance.max()
    rest = relevance.drop(picked)
    if diversity == 0 and len(rest):  # pure relevance: the top k
        assert relevance[picked].min() >= rest.max()


# ---- the engine --------------------------------------------------------------------------------

MOODS = st.sampled_from(
    ["rainy heartbreak", "pump me up for the gym", "focus music for coding", "late night drive",
     "sunny road trip singalong", "calm acoustic morning", "angry metal", "romantic jazz dinner"]
)  # fmt: skip


def sorted_unique(frame: pd.DataFrame, id_column: str, k: int) -> None:
    assert len(frame) <= k
    assert frame[id_column].is_unique
    assert frame["score"].is_monotonic_decreasing or len(frame) < 2


@ENGINE
@given(mood=MOODS, k=st.integers(1, 60), data=st.data())
def test_mood_search_is_sorted_unique_filtered_and_full(engine: Engine, mood, k, data) -> None:
    filters = data.draw(track_filters(engine.genres()[:12]))
    found = engine.search_mood(mood, k=k, filters=filters)
    sorted_unique(found, "track_id", k)
    songs = [song_key(a, t) for a, t in zip(found["artist_name"], found["name"], strict=True)]
    assert len(set(songs)) == len(songs)  # one recording per song
    assert found["artist_id"].value_counts().le(search.PER_ARTIST).all()
    qualifying = passes(engine.catalog.tracks, filters).to_numpy()
    # ... and every part of the request the search read (here, a genre named in the mood).
    understood, _ = search.understand(engine.context, mood)
    constraint, _ = search.constraints(engine.context, understood.query)
    if constraint is not None:
        qualifying = qualifying & constraint
    tracks = engine.catalog.tracks[qualifying]
    assert set(found["track_id"]) <= set(tracks["track_id"])
    # k whenever the qualifying tracks hold k songs by few enough of each artist.
    per_artist = (
        tracks.assign(song=[song_key(a, t) for a, t in zip(tracks["artist_name"], tracks["name"], strict=True)])
        .groupby("artist_id")["song"].nunique().clip(upper=search.PER_ARTIST)
    )  # fmt: skip
    assert len(found) == min(k, int(per_artist.sum()))


@st.composite
def ratings_of(draw, artists: list[str]) -> dict[str, int]:
    chosen = draw(st.lists(st.sampled_from(artists), min_size=0, max_size=6, unique=True))
    return {a: draw(st.integers(1, 5)) for a in chosen}


@ENGINE
@given(k=st.integers(1, 40), data=st.data())
def test_recommendations_are_sorted_unique_new_and_filtered(engine: Engine, k, data) -> None:
    survey = list(engine.survey_artists(k=24)["artist_id"])
    ratings = data.draw(ratings_of(survey))
    band = data.draw(st.one_of(st.none(), st.tuples(st.floats(0, 60), st.floats(60, 100))))
    exclude = frozenset(data.draw(st.lists(st.sampled_from(survey), max_size=3)))
    mood = data.draw(st.one_of(st.none(), MOODS))
    filters = Filters(popularity=band, exclude=exclude)
    found = engine.recommend(
        ratings, k=k, mood=mood, filters=filters, diversity=data.draw(st.floats(0, 1)),
        fusion=data.draw(st.sampled_from(["weighted", "rrf"])),
    )  # fmt: skip
    sorted_unique(found, "artist_id", k)
    assert not set(found["artist_id"]) & (set(ratings) | exclude)
    if band:
        assert found["popularity"].between(*band).all()
    for name in SIGNALS:  # NaN only for a signal left out (weight 0), never a made-up 0
        column = found[f"score_{name}"]
        assert column.between(0, 1).all() or column.isna().all(), name

    tracks = engine.recommend_tracks(ratings, k=k, mood=mood, filters={"popularity": band})
    sorted_unique(tracks, "track_id", k)
    assert tracks["artist_id"].is_unique  # one track per artist
    assert not set(tracks["artist_id"]) & set(ratings)
    if band:
        assert tracks["popularity"].between(*band).all()


@ENGINE
@given(start=st.integers(0, 3999), length=st.integers(1, 5), k=st.integers(1, 30))
def test_session_continuations_are_new_and_one_per_artist(engine: Engine, start, length, k) -> None:
    ids = engine.catalog.tracks["track_id"]
    session = list(ids.iloc[[(start + 37 * i) % len(ids) for i in range(length)]])
    found = engine.continue_session(session, k=k)
    sorted_unique(found, "track_id", k)
    assert found["artist_id"].is_unique and not set(found["track_id"]) & set(session)


@ENGINE
@given(
    row=st.integers(0, 10_000),
    k=st.integers(1, 30),
    model=st.sampled_from(["cosine", "als", "semantic", "hybrid"]),
    kind=st.sampled_from(["tracks", "artists"]),
)
def test_neighbours_are_sorted_unique_and_never_the_item(engine: Engine, row, k, model, kind):
    table = engine.catalog.tracks if kind == "tracks" else engine.catalog.artists
    item = table[f"{kind[:-1]}_id"].iloc[row % len(table)]
    try:
        found = getattr(engine, f"similar_{kind}")(item, k=k, model=model)
    except DataMissingError as exc:  # a model may know nothing of the item; it must say so
        assert "try the hybrid or semantic neighbours" in str(exc)
        return
    sorted_unique(found, f"{kind[:-1]}_id", k)
    assert item not in set(found[f"{kind[:-1]}_id"])
    if kind == "tracks" and model == "hybrid":
        assert found["artist_id"].is_unique


@ENGINE
@given(k=st.integers(1, 30), seed=st.integers(0, 1000), data=st.data())
def test_the_survey_never_repeats_or_shows_excluded_artists(engine: Engine, k, seed, data) -> None:
    shown = list(engine.survey_artists(k=20, seed=seed)["artist_id"])
    exclude = data.draw(st.lists(st.sampled_from(shown), max_size=10, unique=True))
    found = engine.survey_artists(k=k, exclude=exclude, seed=seed)
    assert len(found) == k and found["artist_id"].is_unique
    assert not set(found["artist_id"]) & set(exclude)
