"""Mood search honours every part of a request, on a small catalog built for it: eras, genres,
exclusions, references with relative changes, one recording per song, reasons per row, notes
when too few tracks qualify, and a search before the semantic index exists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.contracts.test_index_contract import HashingEncoder
from tunescout.catalog import Catalog, empty, validate
from tunescout.domain.songs import song_key
from tunescout.indexes.collaborative import CollaborativeIndex
from tunescout.indexes.content import ContentIndex
from tunescout.indexes.coplay import CoplayIndex
from tunescout.indexes.semantic import SemanticIndex
from tunescout.serving.engine import Engine

HAPPY = {"valence": 0.9, "energy": 0.8, "danceability": 0.75, "acousticness": 0.1}
SAD = {"valence": 0.12, "energy": 0.3, "danceability": 0.4, "acousticness": 0.5}
CALM = {"valence": 0.6, "energy": 0.2, "danceability": 0.4, "acousticness": 0.9}
ANGRY = {"valence": 0.1, "energy": 0.95, "danceability": 0.45, "acousticness": 0.02}

# artist id: name, genres, tags, listeners (user ids)
ARTISTS = {
    "a-grey": ("Greyhaven", ["rock", "album rock"], ["grunge", "rock"], range(0, 30)),
    "a-near": ("Near Echo", ["rock"], ["rock", "britpop"], range(0, 25)),
    "a-far": ("Far Lights", ["rock"], ["rock"], range(60, 70)),
    "a-rap": ("MC Tally", ["rap", "gangster rap"], ["hip-hop"], range(30, 60)),
    "a-pop": ("Sunny Days", ["pop", "dance pop"], ["pop", "happy"], range(30, 70)),
    "a-folk": ("Willow Creek", ["folk"], ["folk", "mellow"], range(70, 90)),
}
# track id, title, artist, year, mood
TRACKS = [
    ("t1", "Ashes", "a-grey", 1994, SAD),
    ("t2", "Ashes - Remastered 2014", "a-grey", 2014, SAD),
    ("t3", "Cinders", "a-grey", 1995, SAD),
    ("t4", "Bright Side", "a-near", 1996, HAPPY),
    ("t5", "Morning Run", "a-near", 1997, HAPPY),
    ("t6", "Low Tide", "a-near", 1993, SAD),
    ("t7", "Neon Sun", "a-far", 1998, HAPPY),
    ("t8", "Wild Ride", "a-far", 2005, ANGRY),
    ("t9", "Block Party", "a-rap", 1995, HAPPY),
    ("t10", "Hard Streets", "a-rap", 1996, ANGRY),
    ("t11", "Shine", "a-pop", 2015, HAPPY),
    ("t12", "Shine (Live)", "a-pop", 2016, HAPPY),
    ("t13", "Shine - Radio Edit", "a-pop", 2015, HAPPY),
    ("t14", "Dance All Day", "a-pop", 2017, HAPPY),
    ("t15", "River Song", "a-folk", 1994, CALM),
    ("t16", "Still Water", "a-folk", 2010, CALM),
]


def catalog() -> Catalog:
    artists = pd.DataFrame(
        [
            {"artist_id": a, "name": name, "genres": genres, "popularity": 50.0,
             "tags": [{"tag": t, "weight": 10.0} for t in tags], "listeners": len(users),
             "track_count": 0, "source": "test"}
            for a, (name, genres, tags, users) in ARTISTS.items()
        ]
    ).reindex(columns=list(empty("artists").columns))  # fmt: skip
    artists["track_count"] = 0
    rows = []
    for i, (tid, title, artist, year, mood) in enumerate(TRACKS):
        features = {"speechiness": 0.05, "instrumentalness": 0.0, "liveness": 0.1,
                    "tempo": 120.0, "loudness": -7.0, **mood}  # fmt: skip
        rows.append(
            {"track_id": tid, "name": title, "artist_id": artist,
             "artist_name": ARTISTS[artist][0], "album": None, "release_year": year,
             "popularity": 40.0 + i, "duration_ms": 200_000, "genres": ARTISTS[artist][1],
             **features, "key": 0, "mode": 1, "features_source": "measured", "source": "test"}
        )  # fmt: skip
    listens = [
        {"user_id": f"u{u}", "artist_id": a, "track_id": None, "weight": 5.0}
        for a, (_, _, _, users) in ARTISTS.items()
        for u in users
    ]
    interactions = pd.DataFrame(listens).assign(timestamp=pd.NaT, source="test")
    return Catalog(
        tracks=validate("tracks", pd.DataFrame(rows)),
        artists=validate("artists", artists),
        artist_map=empty("artist_map"),
        interactions=validate("interactions", interactions),
    )


@pytest.fixture(scope="module")
def engine() -> Engine:
    cat = catalog()
    indexes = {
        "audio": ContentIndex.build(cat),
        "als": CollaborativeIndex.build(cat, factors=8, iterations=5),
        "coplay": CoplayIndex.build(cat),
        "semantic": SemanticIndex.build(cat, encoder=HashingEncoder()),
    }
    return Engine(cat, indexes)


def test_an_era_is_a_constraint(engine: Engine) -> None:
    found = engine.search_mood("90s songs", k=10)
    assert len(found) and found["release_year"].between(1990, 1999).all()
    assert found.attrs["understood"].startswith("1990s")


def test_a_genre_and_an_exclusion_are_constraints(engine: Engine) -> None:
    rock = engine.search_mood("sad rock", k=5)
    assert set(rock["artist_id"]) <= {"a-grey", "a-near", "a-far"}
    no_rap = engine.search_mood("happy songs, no rap", k=10)
    assert len(no_rap) and "a-rap" not in set(no_rap["artist_id"])
    assert "no rap" in no_rap.attrs["understood"]


def test_a_reference_brings_its_co_listened_artists_and_never_itself(engine: Engine) -> None:
    found = engine.search_mood("something like Greyhaven", k=5)
    assert len(found) and "a-grey" not in set(found["artist_id"])
    assert found["artist_id"].iloc[0] == "a-near"  # 25 of its 30 listeners play Near Echo
    assert "Greyhaven listeners also play Near Echo" in found["why"].iloc[0]


def test_a_relative_change_is_measured_against_the_reference(engine: Engine) -> None:
    found = engine.search_mood("like greyhavn but happier", k=10)  # a typo too
    assert found.attrs["understood"] == "like Greyhaven, happier"
    assert len(found)
    assert (found["valence"] >= SAD["valence"] + 0.05).all()
    assert "a-grey" not in set(found["artist_id"])
    assert all("more valence than Greyhaven" in why for why in found["why"])


def test_one_recording_per_song(engine: Engine) -> None:
    found = engine.search_mood("happy pop", k=10)
    songs = [song_key(a, t) for a, t in zip(found["artist_name"], found["name"], strict=True)]
    assert len(songs) == len(set(songs))
    assert sum(name.startswith("Shine") for name in found["name"]) == 1


def test_reasons_speak_of_each_track(engine: Engine) -> None:
    found = engine.search_mood("90s happy songs", k=6)
    assert len(found) >= 3
    assert found["why"].nunique() == len(found)  # each names its own year and features
    for year, why in zip(found["release_year"], found["why"], strict=True):
        assert str(year) in why


def test_too_few_tracks_are_said_not_padded(engine: Engine) -> None:
    found = engine.search_mood("calm folk from the 90s", k=10)
    assert found["release_year"].between(1990, 1999).all()
    assert found["artist_id"].eq("a-folk").all()
    assert found.attrs["notes"] and "meet every part" in found.attrs["notes"][0]


def test_search_works_before_the_semantic_index_lands(engine: Engine) -> None:
    cat = engine.catalog
    early = Engine(
        cat, {"audio": engine.audio, "als": engine.als, "coplay": engine.indexes["coplay"]}
    )
    early.context.moods._encoder = HashingEncoder()  # as the packaged model would, offline
    found = early.search_mood("calm songs", k=3)
    assert len(found) == 3
    assert np.all(found["energy"] <= 0.3)
    assert early.recommend({"a-grey": 5}, k=3)["artist_id"].tolist()
