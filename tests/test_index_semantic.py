"""Tests for the MiniLM semantic index: documents, mood search, filters, incremental builds.

The index contract (ids, masks, similar, profile/score, round trips) is checked for every model
in tests/contracts/test_index_contract.py; these are the semantic model's own tests, on the real
MiniLM encoder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout.catalog import Catalog, empty, validate
from tunescout.domain.moods import mood_words
from tunescout.errors import ArtifactError, InputError
from tunescout.indexes.encoding.encoder import load_encoder
from tunescout.indexes.semantic import (
    SemanticIndex,
    documents,
)
from tunescout.serving.filters import Filters, FilterTable

NEUTRAL = {
    "danceability": 0.5,
    "energy": 0.5,
    "valence": 0.5,
    "acousticness": 0.3,
    "instrumentalness": 0.0,
    "speechiness": 0.05,
    "liveness": 0.1,
    "tempo": 110.0,
    "loudness": -8.0,
}
SAD = NEUTRAL | {
    "valence": 0.08,
    "energy": 0.12,
    "acousticness": 0.95,
    "instrumentalness": 0.8,
    "danceability": 0.25,
    "tempo": 66.0,
}
DANCE = NEUTRAL | {"valence": 0.9, "energy": 0.95, "danceability": 0.92, "tempo": 128.0}
ANGRY = NEUTRAL | {"valence": 0.15, "energy": 0.95, "loudness": -3.0, "tempo": 150.0}
CALM = NEUTRAL | {"valence": 0.7, "energy": 0.2, "acousticness": 0.7, "tempo": 95.0}


def track(track_id: str, name: str, artist_id: str, genres: list[str], **features) -> dict:
    return {
        "track_id": track_id,
        "name": name,
        "artist_id": artist_id,
        "artist_name": artist_id.title(),
        "album": None,
        "release_year": 1994,
        "popularity": 50.0,
        "duration_ms": 200_000,
        "genres": genres,
        **(NEUTRAL | features),
        "key": 0,
        "mode": 1,
        "features_source": "measured",
        "source": "test",
    }


def make_catalog(tracks: list[dict], tags: dict[str, list] | None = None) -> Catalog:
    frame = validate("tracks", pd.DataFrame(tracks))
    ids = list(dict.fromkeys(frame["artist_id"]))
    artists = pd.DataFrame(
        {
            "artist_id": ids,
            "name": [i.title() for i in ids],
            "genres": [[] for _ in ids],
            "tags": [(tags or {}).get(i, []) for i in ids],
            "popularity": 50.0,
            "listeners": 1000,
            **{f: np.nan for f in NEUTRAL},
            "features_source": None,
            "track_count": [int((frame["artist_id"] == i).sum()) for i in ids],
            "source": "test",
        }
    )
    return Catalog(
        tracks=frame,
        artists=validate("artists", artists),
        artist_map=empty("artist_map"),
        interactions=empty("interactions"),
    )


class CountingEncoder:
    """The real encoder, recording every text it is asked to embed."""

    def __init__(self, encoder) -> None:
        self.inner, self.texts = encoder, []
        self.name, self.dim, self.backend = encoder.name, encoder.dim, encoder.backend
        self.document_precision = encoder.document_precision

    def encode_documents(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.texts += list(texts)
        return self.inner.encode_documents(texts, batch_size=batch_size, progress=progress)


@pytest.fixture(scope="session")
def encoder():
    return load_encoder()


@pytest.fixture(scope="module")
def mood_catalog() -> Catalog:
    return make_catalog(
        [
            track("t-sad", "Track One", "ann", ["indie"], **SAD),
            track("t-dance", "Track Two", "bob", ["indie"], **DANCE),
            track("t-angry", "Track Three", "cat", ["indie"], **ANGRY),
            track("t-calm", "Track Four", "dan", ["indie"], **CALM),
            track("t-plain", "Track Five", "eve", ["indie"]),
        ],
        tags={"ann": [{"tag": "chill", "weight": 10.0}, {"tag": "piano", "weight": 80.0}]},
    )


@pytest.fixture(scope="module")
def big_catalog() -> Catalog:
    """300 tracks: 15 sad 'chamber folk' tracks among happy dance-pop, and 12 near-silent ones."""
    rows = []
    for i in range(300):
        if i < 15:
            rows.append(track(f"t{i:03d}", f"Song {i}", f"a{i % 40}", ["chamber folk"], **SAD))
        elif i < 27:
            rows.append(track(f"t{i:03d}", f"Song {i}", f"a{i % 40}", ["dance pop"], energy=0.1))
        else:
            rows.append(track(f"t{i:03d}", f"Song {i}", f"a{i % 40}", ["dance pop"], **DANCE))
    return make_catalog(rows)


@pytest.fixture(scope="module")
def big_index(big_catalog, encoder) -> SemanticIndex:
    return SemanticIndex.build(big_catalog, encoder=encoder)


def test_documents_carry_tags_era_and_mood(mood_catalog):
    docs = documents(mood_catalog)
    sad = docs.loc["t-sad"]
    assert sad.startswith("Genres: indie. Tags: piano, chill.")
    assert "Track One" not in sad and "Ann" not in sad  # descriptions, never names
    assert "1994" not in sad  # an era is a constraint on the year, not words to match
    for word in ("sad", "melancholic", "acoustic", "instrumental", "slow tempo"):
        assert word in sad
    assert "happy" not in sad
    assert "happy, euphoric, upbeat" in docs.loc["t-dance"]
    assert "danceable" in docs.loc["t-dance"]
    assert "angry, intense, aggressive" in docs.loc["t-angry"]
    assert "calm, peaceful, relaxed" in docs.loc["t-calm"]
    assert "Mood" not in docs.loc["t-plain"]
    artist_docs = documents(mood_catalog, "artists")
    assert artist_docs.loc["ann"] == "Genres: indie. Tags: piano, chill."


def test_mood_words_ignore_missing_features():
    frame = pd.DataFrame({f: [np.nan] for f in NEUTRAL})
    assert mood_words(frame).tolist() == [""]


def test_sad_piano_query_prefers_the_sad_acoustic_track(mood_catalog, encoder):
    index = SemanticIndex.build(mood_catalog, encoder=encoder)
    ids, scores = index.search_text("sad slow piano ballad", k=5)
    ranking = ids.tolist()
    assert ranking[0] == "t-sad"
    assert ranking.index("t-sad") < ranking.index("t-dance")
    assert np.all(np.diff(scores) <= 0)
    party, _ = index.search_text("happy upbeat dance party", k=5)
    assert party.tolist().index("t-dance") < party.tolist().index("t-sad")


def test_genre_filter_returns_k_matches_that_plain_top_k_would_miss(big_catalog, big_index):
    mask = FilterTable(big_catalog.tracks, "track_id").mask(Filters(genres=("Chamber Folk",)))
    assert mask.sum() == 15
    unfiltered, _ = big_index.search_text("happy upbeat dance party", k=10)
    assert not set(unfiltered) & set(big_catalog.tracks["track_id"][mask])
    # The index rows follow the catalog table, so a FilterTable mask is already aligned.
    np.testing.assert_array_equal(big_index.ids("tracks"), big_catalog.tracks["track_id"])
    ids, scores = big_index.search_text("happy upbeat dance party", k=10, mask=mask)
    assert len(ids) == 10
    genres = big_catalog.tracks.set_index("track_id").loc[ids, "genres"]
    assert all("chamber folk" in list(g) for g in genres)
    all_ids, _ = big_index.search_text("happy upbeat dance party", k=50, mask=mask)
    assert len(all_ids) == 15


def test_encoded_query_scores_matching_documents_higher(big_index):
    query = big_index.encode_query("sad acoustic chamber folk")
    assert query.shape == (384,) and np.isclose(np.linalg.norm(query), 1.0, atol=1e-5)
    scores = big_index.score(query, ["t001", "t100"])
    assert scores[0] > scores[1]


def test_bad_inputs(big_index):
    with pytest.raises(InputError, match="empty"):
        big_index.search_text("   ", k=5)
    with pytest.raises(InputError, match="384"):
        big_index.score(np.ones(5), ["t001"])


def test_incremental_build_reencodes_only_changed_documents(big_catalog, big_index, encoder):
    tracks = big_catalog.tracks.copy()
    tracks["genres"] = [
        ["sea shanty"] if i == "t100" else g
        for i, g in zip(tracks["track_id"], tracks["genres"], strict=True)
    ]
    changed = Catalog(tracks, big_catalog.artists, big_catalog.artist_map, big_catalog.interactions)
    counting = CountingEncoder(encoder)
    rebuilt = SemanticIndex.build(changed, previous=big_index, encoder=counting)
    artist = tracks.loc[tracks["track_id"] == "t100", "artist_id"].iloc[0]
    # The track's description and its artist's (which gathers its tracks' genres) changed.
    assert counting.texts == [
        documents(changed).loc["t100"],
        documents(changed, "artists").loc[artist],
    ]
    assert rebuilt.params["stats"]["tracks"] == {"documents": 300, "encoded": 1, "reused": 299}
    assert rebuilt.params["stats"]["artists"]["encoded"] == 1
    unchanged = [i for i in tracks["track_id"] if i != "t100"]
    np.testing.assert_allclose(
        rebuilt.vectors().vectors_of(unchanged),
        big_index.vectors().vectors_of(unchanged),
        atol=1e-6,
    )
    fresh = encoder.encode_documents([documents(changed).loc["t100"]])[0]
    np.testing.assert_allclose(rebuilt.vectors().vectors_of(["t100"])[0], fresh, atol=1e-5)
    assert not np.allclose(big_index.vectors().vectors_of(["t100"])[0], fresh, atol=1e-3)


def test_a_new_title_changes_nothing(big_catalog, big_index, encoder):
    tracks = big_catalog.tracks.copy()
    tracks.loc[tracks["track_id"] == "t100", "name"] = "Rain Rain Heartbreak"
    changed = Catalog(tracks, big_catalog.artists, big_catalog.artist_map, big_catalog.interactions)
    counting = CountingEncoder(encoder)
    rebuilt = SemanticIndex.build(changed, previous=big_index, encoder=counting)
    assert counting.texts == [] and rebuilt.params["stats"]["tracks"]["reused"] == 300


def test_identical_descriptions_are_encoded_once(big_catalog, encoder):
    counting = CountingEncoder(encoder)
    built = SemanticIndex.build(big_catalog, encoder=counting)
    docs = documents(big_catalog)
    assert len(counting.texts) == docs.nunique() + documents(big_catalog, "artists").nunique()
    assert built.params["stats"]["tracks"]["encoded"] == docs.nunique() < len(docs)


def test_save_load_keeps_model_hashes_and_text_search(big_index, big_catalog, encoder, tmp_path):
    info = big_index.save(tmp_path)
    assert info["rows"] == {"tracks": 300, "artists": 40}
    assert info["params"]["model"] == "all-MiniLM-L6-v2" and info["params"]["dim"] == 384
    loaded = SemanticIndex.load(tmp_path, encoder=encoder)
    for kind in ("tracks", "artists"):
        np.testing.assert_array_equal(loaded.hashes[kind], big_index.hashes[kind])
    mask = FilterTable(big_catalog.tracks, "track_id").mask(Filters(genres=("chamber folk",)))
    for m in (None, mask):
        expected = big_index.search_text("quiet sad songs", k=10, mask=m)
        got = loaded.search_text("quiet sad songs", k=10, mask=m)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)
    counting = CountingEncoder(encoder)
    again = SemanticIndex.build(big_catalog, previous=loaded, encoder=counting)
    assert counting.texts == []
    assert again.params["stats"]["tracks"]["reused"] == 300


def test_another_encoder_reencodes_everything(mood_catalog, encoder):
    first = SemanticIndex.build(mood_catalog, encoder=encoder)
    counting = CountingEncoder(encoder)
    counting.name = "another-model"
    again = SemanticIndex.build(mood_catalog, previous=first, encoder=counting)
    assert again.params["stats"]["tracks"] == {"documents": 5, "encoded": 5, "reused": 0}
    assert again.params["model"] == "another-model"


def test_a_query_encoder_of_another_dimension_is_refused(big_index):
    from tests.contracts.test_index_contract import HashingEncoder

    index = SemanticIndex(
        {kind: big_index.vectors(kind) for kind in ("tracks", "artists")},
        big_index.hashes,
        big_index.params,
        HashingEncoder(dim=16),
    )
    with pytest.raises(ArtifactError, match="384 dims but the encoder gives 16"):
        index.search_text("sad", k=3)


@pytest.mark.slow
def test_real_songs_mood_search(shared_data, encoder):
    from tunescout.collect.sources.files import read_tidytuesday

    bundle = read_tidytuesday(shared_data / "spotify-tracks" / "spotify_songs.csv")
    tracks = bundle.tracks.sample(1500, random_state=0).reset_index(drop=True)
    artists = bundle.artists[bundle.artists["artist_id"].isin(tracks["artist_id"])]
    cat = Catalog(
        tracks, artists.reset_index(drop=True), empty("artist_map"), empty("interactions")
    )
    index = SemanticIndex.build(cat, encoder=encoder)
    by_id = tracks.set_index("track_id")
    calm, _ = index.search_text("calm acoustic quiet songs", k=20)
    assert by_id.loc[calm, "acousticness"].mean() > 2 * tracks["acousticness"].mean()
    rap, _ = index.search_text("rap hip hop", k=20)
    assert sum("rap" in list(g) for g in by_id.loc[rap, "genres"]) >= 15
    counting = CountingEncoder(encoder)
    SemanticIndex.build(cat, previous=index, encoder=counting)
    assert counting.texts == []


def test_document_encoding_matches_fp32_queries_space(encoder):
    texts = [
        "Hurt by Johnny Cash. Genres: country. Mood: sad, melancholic, gloomy, acoustic.",
        "Till I Collapse by Eminem. Genres: hip hop, rap. Mood: angry, intense, energetic.",
        "Clair de Lune by Claude Debussy. Genres: classical. Mood: calm, peaceful, instrumental.",
        "Dancing Queen by ABBA. Genres: pop, disco. Released in 1976, 70s. Mood: happy, danceable.",
    ] * 5  # more than one query batch, so the build path runs on all threads
    fast = encoder.encode_documents(texts)
    exact = encoder.encode(texts[:4])
    assert fast.shape == (20, encoder.dim) and fast.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(fast[:4] * exact, axis=1)) > 0.999
    queries = encoder.encode(["sad country", "aggressive rap", "calm piano", "happy disco"])
    assert (np.argmax(queries @ fast[:4].T, axis=1) == np.arange(4)).all()


def test_progress_counts_catalog_documents_across_both_kinds(mood_catalog, encoder):
    calls: list[tuple[int, int]] = []
    SemanticIndex.build(mood_catalog, encoder=encoder, progress=lambda d, t: calls.append((d, t)))
    total = len(mood_catalog.tracks) + len(mood_catalog.artists)
    assert calls and {t for _, t in calls} == {total}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == total
