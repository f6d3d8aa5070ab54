"""Recommendation behaviours with known answers on a catalog built for them (tests/taste_catalog.py):
a wrong but well-formed answer fails each test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.taste_catalog import COLD, ODD, cluster_of, taste_engine
from tunescout.errors import DataMissingError
from tunescout.serving import neighbours, recommend
from tunescout.serving.engine import Engine

FOLK_FANS = {f"folk-{i}": 5 for i in (5, 6, 7)}


@pytest.fixture(scope="module")
def eng() -> Engine:
    return taste_engine()


def count(frame: pd.DataFrame, cluster: str, column: str = "artist_id") -> int:
    return sum(cluster_of(a) == cluster for a in frame[column])


def test_a_dislike_makes_room_for_the_other_cluster(eng: Engine) -> None:
    """(tests/test_engine.py::test_dislikes_push_their_cluster_down checks metal itself.)"""
    plain = eng.recommend(FOLK_FANS, k=14)
    disliked = eng.recommend(FOLK_FANS | {"metal-7": 1}, k=14)
    assert "metal-7" not in set(disliked["artist_id"])
    assert count(disliked, "disco") > count(plain, "disco")


def test_two_stars_count_as_a_dislike_too(eng: Engine) -> None:
    plain = eng.recommend(FOLK_FANS, k=14)
    meh = eng.recommend(FOLK_FANS | {"metal-7": 2}, k=14)
    assert count(meh, "metal") < count(plain, "metal")


def standing(frame: pd.DataFrame, cluster: str) -> int:
    """How high a cluster stands in a list: the sum of ``k - position`` over its items."""
    k = len(frame)
    return sum(k - i for i, a in enumerate(frame["artist_id"]) if cluster_of(a) == cluster)


@pytest.mark.parametrize(
    ("mood", "cluster"), [("calm quiet acoustic", "folk"), ("happy dance party", "disco")]
)
def test_a_mood_moves_the_results_not_only_the_reasons(
    eng: Engine, mood: str, cluster: str
) -> None:
    ratings = {"folk-7": 5, "disco-7": 5}
    plain = eng.recommend(ratings, k=8)
    mooded = eng.recommend(ratings, k=8, mood=mood)
    assert standing(mooded, cluster) > standing(plain, cluster)
    plain_tracks = eng.recommend_tracks(ratings, k=6)
    mooded_tracks = eng.recommend_tracks(ratings, k=6, mood=mood)
    assert standing(mooded_tracks, cluster) > standing(plain_tracks, cluster)
    assert mooded["reason"].str.contains(f"fits '{mood}'").all()


@pytest.mark.parametrize(
    ("model", "cluster"),
    [("coplay", "metal"), ("als", "metal"), ("audio", "disco"), ("tags", "folk")],
)
def test_similar_artists_follow_the_model_asked(eng: Engine, model: str, cluster: str) -> None:
    """The odd artist is played by metal listeners, sounds like disco and is tagged folk."""
    found = eng.similar_artists(ODD, k=5, model=model)
    assert len(found) == 5 and (found["model"] == model).all()
    assert count(found, cluster) == 5


def test_similar_tracks_follow_the_model_asked(eng: Engine) -> None:
    by_audio = eng.similar_tracks(f"{ODD}-t0", k=4, model="audio")
    by_tags = eng.similar_tracks(f"{ODD}-t0", k=4, model="tags")
    assert count(by_audio, "disco") + count(by_audio, COLD) == 4  # both sound like disco
    assert count(by_tags, "folk") >= 3  # the odd artist's own tracks are tagged folk too


def test_hybrid_neighbours_follow_the_evidence_about_the_seed(eng: Engine) -> None:
    """With co-listening data the hybrid uses the validated "similar" row; without any (nobody
    plays the cold artist) it leans on tags and sound, which put it among disco."""
    assert neighbours.hybrid_row(eng.context, "metal-3") == "similar"
    assert neighbours.hybrid_row(eng.context, COLD) == "similar/cold"
    with pytest.raises(DataMissingError):
        eng.similar_artists(COLD, k=5, model="coplay")
    found = eng.similar_artists(COLD, k=5)
    assert count(found, "disco") == 5


def test_continue_session_weighs_recent_tracks_more(eng: Engine) -> None:
    folk, metal = ["folk-6-t0", "folk-5-t1"], ["metal-6-t0", "metal-5-t1"]
    metal_last = eng.continue_session(folk + metal, k=6)
    folk_last = eng.continue_session(metal + folk, k=6)
    assert count(metal_last, "metal", "artist_id") > count(folk_last, "metal", "artist_id")
    assert count(folk_last, "folk", "artist_id") > count(metal_last, "folk", "artist_id")


def test_continue_session_honours_filters(eng: Engine) -> None:
    session = ["metal-6-t0", "metal-5-t1", "metal-4-t2"]
    calm = eng.continue_session(session, k=5, filters={"features": {"energy": (0.0, 0.3)}})
    assert len(calm) == 5 and calm["energy"].le(0.3).all()
    assert count(calm, "folk") == 5
    recent = eng.continue_session(session, k=5, filters={"years": (2002, 2002)})
    assert recent["release_year"].eq(2002).all()


def test_familiarity_bands_keep_the_tail_or_the_head(eng: Engine) -> None:
    deep = recommend.artists(eng.context, FOLK_FANS, 5, familiarity="deep")[0]
    hits = recommend.artists(eng.context, FOLK_FANS, 5, familiarity="hits")[0]
    assert deep["familiarity"].le(100 / 3).all() and hits["familiarity"].ge(200 / 3).all()
    assert not set(deep["artist_id"]) & set(hits["artist_id"])
    tracks = eng.recommend_tracks(FOLK_FANS, k=5, familiarity="deep")
    assert tracks["familiarity"].le(100 / 3).all()


def test_weights_change_the_list_and_the_reasons_follow_them(eng: Engine) -> None:
    default = eng.recommend(FOLK_FANS, k=8)
    audio = eng.recommend(
        FOLK_FANS, k=8, weights={m: 0.0 for m in eng.context.signal_names} | {"audio": 1.0}
    )
    assert list(audio["artist_id"]) != list(default["artist_id"])
    assert audio["reason"].str.contains("sounds").mean() >= 0.75
    assert default["reason"].str.contains("listeners also play").mean() >= 0.75


def test_reasons_carry_per_row_evidence(eng: Engine) -> None:
    found = eng.recommend(FOLK_FANS, k=10)
    assert found["reason"].nunique() >= 8
    shared = found["reason"].str.extract(r"^(\d+) of")[0].dropna().astype(int)
    assert len(shared) and (shared > 0).all()


def test_no_ratings_still_give_k_popular_and_varied_tracks(eng: Engine) -> None:
    tracks = eng.recommend_tracks({}, k=10)
    assert len(tracks) == 10 and tracks["artist_id"].is_unique
    assert len({cluster_of(a) for a in tracks["artist_id"]}) == 3
    assert tracks["popularity"].median() > eng.catalog.tracks["popularity"].median()
    artists = eng.recommend({}, k=6)
    assert len(artists) == 6 and len({cluster_of(a) for a in artists["artist_id"]}) >= 2


def test_survey_cards_say_what_an_artist_sounds_like(eng: Engine) -> None:
    cards = eng.survey_artists(k=6)
    assert not cards["why"].str.contains("no genre").any()


def test_known_listeners_get_unseen_artists_with_evidence(eng: Engine) -> None:
    seen = set(
        eng.catalog.interactions.loc[eng.catalog.interactions["user_id"] == "fm0", "artist_id"]
    )
    found = eng.recommend_for_user("fm0", k=5)
    assert len(found) == 5 and not set(found["artist_id"]) & seen
    assert found["score"].is_monotonic_decreasing
    assert found["reason"].str.contains("listeners also play|tagged").all()
    assert np.isin([cluster_of(a) for a in found["artist_id"]], ["folk", "metal"]).all()
