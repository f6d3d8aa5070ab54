"""Tests for mood intents (MiniLM over the mood table) and mood search on a tiny catalog whose
tracks differ only in features and genres: ranking, filters, bad input, the phrase cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout.catalog import Catalog, empty, validate
from tunescout.domain.moods import MOODS
from tunescout.errors import InputError
from tunescout.indexes.content import ContentIndex
from tunescout.indexes.semantic import SemanticIndex
from tunescout.indexes.topk import largest
from tunescout.serving.engine import Engine
from tunescout.serving.filters import Filters
from tunescout.serving.mood import Moods, _singular

NEUTRAL = {
    "danceability": 0.55,
    "energy": 0.6,
    "valence": 0.5,
    "acousticness": 0.2,
    "instrumentalness": 0.0,
    "speechiness": 0.06,
    "liveness": 0.12,
    "tempo": 118.0,
    "loudness": -7.0,
}
SAD = {
    "valence": 0.07,
    "energy": 0.15,
    "acousticness": 0.93,
    "danceability": 0.3,
    "tempo": 68.0,
    "loudness": -14.0,
}
DANCE = {"valence": 0.85, "energy": 0.93, "danceability": 0.93, "tempo": 126.0, "loudness": -3.5}
ANGRY = {"valence": 0.12, "energy": 0.97, "loudness": -3.0, "tempo": 160.0}
FOCUS = {"instrumentalness": 0.92, "speechiness": 0.03, "energy": 0.4, "acousticness": 0.6}
RAP = {"speechiness": 0.45, "danceability": 0.75}

# Plain names, so only features and genres tell the tracks apart.
SPECS = [
    ("t-sad", "Number One", ["pop"], SAD),
    ("t-dance", "Number Two", ["pop", "dance pop"], DANCE),
    ("t-angry", "Number Three", ["rock", "hard rock"], ANGRY),
    ("t-focus", "Number Four", ["edm"], FOCUS),
    ("t-rap", "Number Five", ["rap", "hip hop"], RAP),
    ("t-classic", "Number Six", ["rock", "classic rock"], {}),
    ("t-latin", "Number Seven", ["latin"], DANCE),
    *[(f"t-pop{i}", f"Number {8 + i}", ["pop"], {"valence": 0.4 + 0.05 * i}) for i in range(6)],
]


def make_catalog() -> Catalog:
    rows = [
        {
            "track_id": tid,
            "name": name,
            "artist_id": f"a{i}",
            "artist_name": f"Artist {i}",
            "album": None,
            "release_year": 2000,
            "popularity": 50.0,
            "duration_ms": 200_000,
            "genres": genres,
            **(NEUTRAL | features),
            "key": 0,
            "mode": 1,
            "features_source": "measured",
            "source": "test",
        }
        for i, (tid, name, genres, features) in enumerate(SPECS)
    ]
    tracks = validate("tracks", pd.DataFrame(rows))
    artists = pd.DataFrame(
        {
            "artist_id": tracks["artist_id"],
            "name": tracks["artist_name"],
            "genres": [[] for _ in rows],
            "tags": [[] for _ in rows],
            "popularity": 50.0,
            "listeners": 1000,
            **{f: np.nan for f in NEUTRAL},
            "features_source": None,
            "track_count": 1,
            "source": "test",
        }
    )
    return Catalog(
        tracks=tracks,
        artists=validate("artists", artists),
        artist_map=empty("artist_map"),
        interactions=empty("interactions"),
    )


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return make_catalog()


@pytest.fixture(scope="module")
def engine(catalog: Catalog) -> Engine:
    indexes = {"audio": ContentIndex.build(catalog), "semantic": SemanticIndex.build(catalog)}
    return Engine(catalog, indexes)


@pytest.fixture(scope="module")
def mood(engine: Engine) -> Moods:
    return engine.moods


def test_sad_slow_piano_intent(mood: Moods) -> None:
    intent = mood.intent("sad slow piano")
    assert intent.targets["valence"] < 0.25
    assert intent.targets["energy"] < 0.45
    assert intent.targets["tempo"] < 90
    assert intent.targets["acousticness"] > 0.6
    assert intent.weights["valence"] == pytest.approx(1.0)
    assert {"sad", "slow", "piano"} <= set(intent.words)


def test_gym_intent_is_high_energy(mood: Moods) -> None:
    intent = mood.intent("pump me up for the gym")
    assert intent.targets["energy"] > 0.85
    assert intent.weights["energy"] > 0.8
    assert "valence" not in intent.targets or intent.weights["valence"] < 0.5


def test_paraphrase_maps_like_the_listed_word(mood: Moods) -> None:
    sad, heartbroken = mood.intent("sad"), mood.intent("heartbroken")
    assert heartbroken.targets["valence"] == pytest.approx(sad.targets["valence"], abs=0.05)
    assert heartbroken.weights["valence"] > 0.5
    assert heartbroken.words == ["heartbroken"]


@pytest.mark.parametrize(
    ("word", "singular"),
    [("lullabies", "lullaby"), ("ballads", "ballad"), ("party anthems", "party anthem")]
    + [(w, w) for w in ("blues", "bass", "chorus", "dance", "jazz")],
)
def test_singular(word: str, singular: str) -> None:
    assert _singular(word) == singular


def test_plural_of_a_lexicon_word_maps_like_the_word(mood: Moods) -> None:
    sleep = next(m for m in MOODS if m.name == "sleep")
    plural = mood.intent("lullabies for a baby")
    assert plural.words == ["lullabies"]
    assert plural.targets == {f: t for f, (t, _) in sleep.targets.items()}
    assert plural.weights == {f: w for f, (_, w) in sleep.targets.items()}


def test_slow_dance_is_slow_not_danceable(mood: Moods) -> None:
    intent = mood.intent("slow dance with my partner")
    assert intent.targets["tempo"] < 90 and intent.weights["tempo"] == 1.0
    assert "danceability" not in intent.targets


def test_unrelated_words_imply_nothing(mood: Moods) -> None:
    intent = mood.intent("Number Three")
    assert intent.strength < 0.3


def test_search_ranks_sad_track_first_for_sad_query(engine: Engine) -> None:
    result = engine.search_mood("music for a rainy heartbreak", k=5)
    assert result["track_id"].iloc[0] == "t-sad"
    assert result["score"].is_monotonic_decreasing
    assert "sad" in result["why"].iloc[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("party anthems", "t-dance"),
        ("angry workout", "t-angry"),
        ("focus music for coding", "t-focus"),
    ],
)
def test_search_finds_the_matching_mood(engine: Engine, query: str, expected: str) -> None:
    assert engine.search_mood(query, k=3)["track_id"].iloc[0] == expected


def test_genre_query_returns_that_genre_only(engine: Engine) -> None:
    result = engine.search_mood("some classic rock", k=2)
    assert result["track_id"].tolist() == ["t-classic"]  # the only classic rock track
    assert engine.search_mood("latin party music", k=1)["track_id"].iloc[0] == "t-latin"


def test_filters_are_applied_inside_with_k_results(engine: Engine, catalog: Catalog) -> None:
    result = engine.search_mood("party anthems", k=2, filters=Filters(genres=("rock",)))
    assert sorted(result["track_id"]) == ["t-angry", "t-classic"]
    calm = Filters(features={"energy": (0.0, 0.5)})
    result = engine.search_mood("pump me up for the gym", k=3, filters=calm)
    assert sorted(result["track_id"]) == ["t-focus", "t-sad"]  # only two pass the filter
    pops = Filters(genres=("pop",))
    assert len(engine.search_mood("songs to cry to", k=7, filters=pops)) == 7
    pop_ids = {
        t
        for t, g in zip(catalog.tracks["track_id"], catalog.tracks["genres"], strict=True)
        if "pop" in g
    }
    assert set(engine.search_mood("songs to cry to", k=20, filters=pops)["track_id"]) == pop_ids


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_blank_query_is_rejected(engine: Engine, text: str) -> None:
    with pytest.raises(InputError, match="empty"):
        engine.search_mood(text)
    with pytest.raises(InputError):
        engine.moods.intent(text)


def test_bad_k_is_rejected(engine: Engine) -> None:
    with pytest.raises(InputError, match="k must be"):
        engine.search_mood("happy", k=0)


def test_many_distinct_words_cost_a_bounded_number_of_encodings(mood: Moods) -> None:
    words = " ".join(f"w{i}x" for i in range(120))
    calls = []
    inner = mood.encoder.encode
    mood.encoder.encode = lambda texts, *a, **kw: calls.append(len(texts)) or inner(texts)
    try:
        mood.intent(words)
    finally:
        del mood.encoder.encode
    assert sum(calls) <= 1 + 64  # the text and at most MAX_NEW_PHRASES phrases


def test_cached_phrase_vectors_give_the_same_intent_and_results(engine: Engine) -> None:
    mood = engine.moods
    first = engine.search_mood("sad slow piano for a rainy night", k=5)
    cached = len(mood._gram_cache)
    assert cached > 0
    again = engine.search_mood("sad slow piano for a rainy night", k=5)
    assert len(mood._gram_cache) == cached
    pd.testing.assert_frame_equal(first, again)
    mood._gram_cache.clear()
    pd.testing.assert_frame_equal(
        engine.search_mood("sad slow piano for a rainy night", k=5), first
    )


@pytest.mark.parametrize("n", [50, 150_000, 1_000_000])
def test_largest_matches_a_full_partition(n: int) -> None:
    rng = np.random.default_rng(n)
    for values in (
        rng.random(n, dtype=np.float32),
        np.round(rng.random(n), 2).astype(np.float32),  # many ties
        np.sort(rng.random(n)).astype(np.float32),  # sorted: the strided sample sees the trend
        np.full(n, 0.5, dtype=np.float32),
    ):
        for k in (1, 40, 300):
            got = largest(values, k)
            assert len(got) == len(set(got.tolist())) == min(k, n)
            # The same values as the k largest (ties may pick other positions).
            assert np.array_equal(np.sort(values[got]), np.sort(values)[-min(k, n) :])
