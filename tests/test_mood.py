"""Tests for mood search: query intent, genre detection, ranking on a tiny catalog, filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout.catalog import Catalog, empty, validate
from tunescout.errors import InputError
from tunescout.indexes.semantic import SemanticIndex
from tunescout.serving.filters import Filters, FilterTable
from tunescout.serving.mood import MOODS, MoodSearch, _singular

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
def mood(catalog: Catalog) -> MoodSearch:
    return MoodSearch(SemanticIndex.build(catalog), catalog.tracks)


def test_sad_slow_piano_intent(mood: MoodSearch) -> None:
    intent = mood.intent("sad slow piano")
    assert intent.targets["valence"] < 0.25
    assert intent.targets["energy"] < 0.45
    assert intent.targets["tempo"] < 90
    assert intent.targets["acousticness"] > 0.6
    assert intent.weights["valence"] == pytest.approx(1.0)
    assert {"sad", "slow", "piano"} <= set(intent.words)
    assert intent.genres == []


def test_gym_intent_is_high_energy(mood: MoodSearch) -> None:
    intent = mood.intent("pump me up for the gym")
    assert intent.targets["energy"] > 0.85
    assert intent.weights["energy"] > 0.8
    assert "valence" not in intent.targets or intent.weights["valence"] < 0.5


def test_paraphrase_maps_like_the_listed_word(mood: MoodSearch) -> None:
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


def test_plural_of_a_lexicon_word_maps_like_the_word(mood: MoodSearch) -> None:
    sleep = next(m for m in MOODS if m.name == "sleep")
    plural = mood.intent("lullabies for a baby")
    assert plural.words == ["lullabies"]
    assert plural.targets == {f: t for f, (t, _) in sleep.targets.items()}
    assert plural.weights == {f: w for f, (_, w) in sleep.targets.items()}


def test_slow_dance_is_slow_not_danceable(mood: MoodSearch) -> None:
    intent = mood.intent("slow dance with my partner")
    assert intent.targets["tempo"] < 90 and intent.weights["tempo"] == 1.0
    assert "danceability" not in intent.targets


def test_unrelated_words_imply_nothing(mood: MoodSearch) -> None:
    intent = mood.intent("Number Three")
    assert intent.strength < 0.3


def test_genres_detected_against_catalog_vocabulary(mood: MoodSearch) -> None:
    assert mood.intent("some classic rock").genres == ["classic rock"]
    assert mood.intent("hip-hop for the car").genres == ["hip hop"]
    latin = mood.intent("latin party music")
    assert latin.genres == ["latin"]
    assert latin.targets["danceability"] > 0.7
    assert mood.intent("polka party").genres == []  # not in this catalog's vocabulary


def test_search_ranks_sad_track_first_for_sad_query(mood: MoodSearch) -> None:
    result = mood.search("music for a rainy heartbreak", k=5)
    assert result["track_id"].iloc[0] == "t-sad"
    assert list(result.columns) == ["track_id", "score", "semantic", "feature_fit", "why"]
    assert result["score"].is_monotonic_decreasing
    assert "sad" in result["why"].iloc[0] and "heartbreak" in result["why"].iloc[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("party anthems", "t-dance"),
        ("angry workout", "t-angry"),
        ("focus music for coding", "t-focus"),
    ],
)
def test_search_finds_the_matching_mood(mood: MoodSearch, query: str, expected: str) -> None:
    assert mood.search(query, k=3)["track_id"].iloc[0] == expected


def test_genre_query_returns_that_genre_first(mood: MoodSearch, catalog: Catalog) -> None:
    result = mood.search("some classic rock", k=2)
    assert result["track_id"].iloc[0] == "t-classic"
    assert mood.search("latin party music", k=1)["track_id"].iloc[0] == "t-latin"


def test_filters_are_applied_inside_with_k_results(mood: MoodSearch, catalog: Catalog) -> None:
    table = FilterTable(catalog.tracks, "track_id")
    mask = table.mask(Filters(genres=("rock",)))
    result = mood.search("party anthems", k=2, mask=mask)
    assert sorted(result["track_id"]) == ["t-angry", "t-classic"]
    mask = table.mask(Filters(features={"energy": (0.0, 0.5)}))
    result = mood.search("pump me up for the gym", k=3, mask=mask)
    assert sorted(result["track_id"]) == ["t-focus", "t-sad"]  # only two pass the filter
    pops = table.mask(Filters(genres=("pop",)))
    assert len(mood.search("songs to cry to", k=7, mask=pops)) == 7
    assert set(mood.search("songs to cry to", k=20, mask=pops)["track_id"]) == set(
        catalog.tracks["track_id"][pops]
    )


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_blank_query_is_rejected(mood: MoodSearch, text: str) -> None:
    with pytest.raises(InputError, match="empty"):
        mood.search(text)
    with pytest.raises(InputError):
        mood.intent(text)


def test_bad_k_and_mask_are_rejected(mood: MoodSearch) -> None:
    with pytest.raises(InputError, match="k must be positive"):
        mood.search("happy", k=0)
    with pytest.raises(InputError, match="mask"):
        mood.search("happy", mask=np.ones(3, dtype=bool))


def test_cached_phrase_vectors_give_the_same_intent_and_results(mood: MoodSearch) -> None:
    first = mood.search("sad slow piano for a rainy night", k=5)
    cached = len(mood._gram_cache)
    assert cached > 0
    again = mood.search("sad slow piano for a rainy night", k=5)
    assert len(mood._gram_cache) == cached
    pd.testing.assert_frame_equal(first, again)
    mood._gram_cache.clear()
    pd.testing.assert_frame_equal(mood.search("sad slow piano for a rainy night", k=5), first)


@pytest.mark.parametrize("n", [50, 150_000, 1_000_000])
def test_largest_matches_a_full_partition(n: int) -> None:
    from tunescout.serving.mood import largest

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
