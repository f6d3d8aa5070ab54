"""The full build on the real 30k Spotify songs + HetRec data: every index, verified and served."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunescout.errors import DataMissingError
from tunescout.indexes import store


@pytest.mark.slow
def test_full_build_is_current_and_complete(real_dir: Path) -> None:
    build = store.open_current(real_dir / "indexes")
    assert set(build.models) == {"audio", "als", "semantic", "coplay", "tags"}
    assert set(build.components) == {*build.models, "neighbours"}  # and every item's neighbours
    assert build.components["audio"]["rows"]["tracks"] == 28_356
    semantic = build.components["semantic"]
    assert semantic["params"]["stats"]["tracks"]["documents"] == 28_356


@pytest.mark.slow
def test_real_engine_answers_every_kind_of_question(real_engine) -> None:
    sad = real_engine.search_mood("music for a rainy heartbreak", k=20)
    assert len(sad) == 20
    assert sad["valence"].median() < real_engine.catalog.tracks["valence"].quantile(0.3)
    radiohead = real_engine.find_artists("Radiohead", k=1)["artist_id"].iloc[0]
    portishead = real_engine.find_artists("Portishead", k=1)["artist_id"].iloc[0]
    recs = real_engine.recommend({radiohead: 5, portishead: 5}, k=10)
    assert len(recs) == 10 and recs["reason"].str.contains("Radiohead|Portishead").any()
    assert len(real_engine.recommend_for_user("hetrec:2", k=10)) == 10
    listened = set(real_engine.als.ids("artists"))
    tracks = real_engine.catalog.tracks
    track = tracks.loc[tracks["artist_id"].isin(listened), "track_id"].iloc[0]
    for model in ("audio", "als", "semantic", "hybrid"):
        assert len(real_engine.similar_tracks(track, k=5, model=model)) == 5
    unheard = tracks.loc[~tracks["artist_id"].isin(listened), "track_id"].iloc[0]
    with pytest.raises(DataMissingError, match="no listening data for"):
        real_engine.similar_tracks(unheard, k=5, model="als")
    assert len(real_engine.similar_tracks(unheard, k=5, model="hybrid")) == 5
