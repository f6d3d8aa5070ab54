"""The public Engine API on a synthetic catalog: the contract every method keeps, and fold-in quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.taste_catalog import cluster_of, taste_engine
from tunescout.domain.genres import broad_genre
from tunescout.errors import DataMissingError, InputError, UnknownIdError
from tunescout.serving.engine import Engine
from tunescout.serving.filters import Filters


def primary_genre(engine: Engine, artist_ids) -> list[str]:
    return [list(engine.artists.at[a, "genres"])[1] for a in artist_ids]  # [sub-genre, broad, ...]


def cluster(engine: Engine, genre: str, n: int = 5) -> list[str]:
    """The most popular artists whose broad genre is ``genre``."""
    artists = engine.catalog.artists
    mine = artists[[len(g) > 1 and g[1] == genre for g in artists["genres"]]]
    return mine.nlargest(n, "popularity")["artist_id"].tolist()


def check_contract(frame: pd.DataFrame, k: int, id_col: str, known: pd.Index) -> None:
    assert len(frame) == k
    assert frame[id_col].is_unique and frame[id_col].isin(known).all()
    assert frame["score"].is_monotonic_decreasing


def test_search_mood_contract_and_filters(engine: Engine) -> None:
    found = engine.search_mood("sad slow acoustic songs for a rainy day", k=10)
    check_contract(found, 10, "track_id", engine.tracks.index)
    assert found["why"].str.len().gt(0).all()
    assert found["valence"].mean() < engine.catalog.tracks["valence"].mean()
    energetic = engine.search_mood("anything", k=10, filters={"features": {"energy": (0.8, 1.0)}})
    assert len(energetic) == 10 and energetic["energy"].ge(0.8).all()
    genre = engine.genres()[0]
    in_genre = engine.search_mood("happy", k=10, filters=Filters(genres=(genre,)))
    assert all(genre in list(g) for g in in_genre["genres"])


def test_survey_is_popular_diverse_and_never_repeats(engine: Engine) -> None:
    first = engine.survey_artists(k=8)
    assert first["artist_id"].is_unique and len(first) == 8
    assert len(set(primary_genre(engine, first["artist_id"]))) >= 5
    assert first["popularity"].median() > engine.catalog.artists["popularity"].median()
    refresh = engine.survey_artists(k=8, exclude=first["artist_id"])
    assert not set(refresh["artist_id"]) & set(first["artist_id"])


FAMILIES = {  # broad genres whose audio priors sit close together
    "metal": {"metal", "punk"},
    "classical": {"classical", "ambient", "soundtrack"},
    "rap": {"rap", "hip hop"},
}


def in_family(genres, family: set[str]) -> bool:
    return any(broad_genre(g) in family for g in genres)


@pytest.mark.parametrize("genre", sorted(FAMILIES))
def test_rating_a_taste_cluster_recommends_that_cluster(engine: Engine, genre: str) -> None:
    liked = cluster(engine, genre)
    recs = engine.recommend({a: 5 for a in liked}, k=10)
    check_contract(recs, 10, "artist_id", engine.artists.index)
    assert not set(recs["artist_id"]) & set(liked)
    family = FAMILIES[genre]
    share = np.mean([in_family(g, family) for g in recs["genres"]])
    base = np.mean([in_family(g, family) for g in engine.catalog.artists["genres"]])
    assert share >= 0.7 and share >= 3 * base, recs[["name", "genres"]]
    evidence = recs["reason"].str.contains("listeners also play|tagged|sounds like")
    assert evidence.mean() >= 0.8 and recs["reason"].nunique() >= 7


def test_dislikes_push_their_cluster_down() -> None:
    """On a catalog where folk lovers' neighbours lie in metal and disco alike
    (tests/taste_catalog.py), one disliked metal artist must push metal down: ignoring the dislike
    leaves the list as it is, and reading it as a like pushes metal up."""
    eng = taste_engine()
    liked = {f"folk-{i}": 5 for i in (5, 6, 7)}
    metal = lambda frame: sum(cluster_of(a) == "metal" for a in frame["artist_id"])  # noqa: E731
    plain = eng.recommend(liked, k=14)
    steered = eng.recommend(liked | {"metal-7": 1}, k=14)
    as_like = eng.recommend(liked | {"metal-7": 5}, k=14)
    assert metal(plain) >= 2
    assert metal(steered) < metal(plain) < metal(as_like)


def test_recommend_respects_filters_weights_and_fusion(engine: Engine) -> None:
    ratings = {a: 5 for a in cluster(engine, "rock", 3)}
    band = engine.recommend(ratings, k=5, filters={"popularity": (0.0, 40.0)})
    assert band["popularity"].le(40.0).all()
    als_only = engine.recommend(
        ratings, k=5, weights=dict.fromkeys(engine.context.signal_names, 0.0) | {"als": 1.0}
    )
    assert als_only["score_als"].iloc[0] == pytest.approx(1.0)
    assert band["popularity"].between(0, 40).all()  # the catalog column, not a model score
    rrf = engine.recommend(ratings, k=5, fusion="rrf")
    check_contract(rrf, 5, "artist_id", engine.artists.index)
    mooded = engine.recommend(ratings, k=5, mood="calm late night")
    assert mooded["reason"].str.contains("fits 'calm late night'").all()
    cold = engine.recommend({}, k=5, mood="happy summer party")
    check_contract(cold, 5, "artist_id", engine.artists.index)


def test_recommend_tracks_one_per_artist(engine: Engine) -> None:
    tracks = engine.recommend_tracks(
        {a: 5 for a in cluster(engine, "folk", 3)}, k=8, mood="acoustic"
    )
    check_contract(tracks, 8, "track_id", engine.tracks.index)
    assert tracks["artist_id"].is_unique
    assert tracks["reason"].str.len().gt(0).all()


def test_continue_session_follows_the_session(engine: Engine) -> None:
    session = engine.catalog.tracks[
        engine.catalog.tracks["artist_id"].isin(cluster(engine, "classical", 2))
    ]
    session = session["track_id"].head(3).tolist()
    nxt = engine.continue_session(session, k=6)
    assert len(nxt) == 6 and not set(nxt["track_id"]) & set(session)
    assert nxt["artist_id"].is_unique
    assert nxt["acousticness"].mean() > engine.catalog.tracks["acousticness"].mean()


def test_known_users_get_unseen_artists(engine: Engine) -> None:
    user = engine.catalog.interactions["user_id"].iloc[0]
    seen = set(
        engine.catalog.interactions.loc[engine.catalog.interactions["user_id"] == user, "artist_id"]
    )
    recs = engine.recommend_for_user(user, k=10)
    assert len(recs) == 10 and not set(recs["artist_id"]) & seen
    assert recs["reason"].str.contains("listeners also play|tagged").all()


@pytest.mark.parametrize(
    "model", ["audio", "cosine", "als", "semantic", "coplay", "tags", "hybrid"]
)
def test_similar_items_per_model(engine: Engine, model: str) -> None:
    track = engine.catalog.tracks["track_id"].iloc[0]
    tracks = engine.similar_tracks(track, k=5, model=model)
    assert len(tracks) == 5 and track not in set(tracks["track_id"])
    artist = engine.catalog.artists.nlargest(1, "listeners")["artist_id"].iloc[0]
    artists = engine.similar_artists(artist, k=5, model=model)
    assert len(artists) == 5 and artist not in set(artists["artist_id"])


def test_find_by_name(engine: Engine) -> None:
    track = engine.catalog.tracks.iloc[0]
    found = engine.find_tracks(track["name"][:4].upper(), k=50)
    assert track["track_id"] in set(found["track_id"])
    assert found["popularity"].is_monotonic_decreasing
    artist = engine.catalog.artists.iloc[0]
    assert artist["artist_id"] in set(engine.find_artists(artist["name"], k=50)["artist_id"])
    assert engine.find_tracks("   ").empty


def test_errors_are_clear(engine: Engine, tmp_path) -> None:
    with pytest.raises(UnknownIdError, match="unknown ids"):
        engine.recommend({"no-such-artist": 5})
    with pytest.raises(InputError, match="1–5 stars"):
        engine.recommend({engine.catalog.artists["artist_id"].iloc[0]: 9})
    for k in (0, -1, 10_000, 2.5):
        with pytest.raises(InputError, match="k must be"):
            engine.search_mood("happy", k=k)
    with pytest.raises(InputError, match="lower bound"):
        engine.search_mood("happy", filters={"features": {"energy": (0.9, 0.1)}})
    with pytest.raises(InputError, match="empty"):
        engine.search_mood("   ")
    with pytest.raises(InputError, match="unknown model"):
        engine.similar_tracks(engine.catalog.tracks["track_id"].iloc[0], model="magic")
    with pytest.raises(DataMissingError, match="scripts/collect.py"):
        Engine.load(tmp_path)
