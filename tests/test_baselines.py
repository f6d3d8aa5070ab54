"""Baseline recommenders on a checkerboard where the right answer is known, plus persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunescout.errors import ArtifactError, InputError, UnknownIdError
from tunescout.indexes import itemitem as ii
from tunescout.research import baselines as bl
from tunescout.research import protocol, splits

N_USERS, N_ITEMS = 30, 20
HELD_OUT = {f"u{u}": f"i{u % N_ITEMS}" for u in range(N_USERS)}


@pytest.fixture(scope="module")
def checkerboard() -> pd.DataFrame:
    """Even users like even items, odd users odd items; each user misses one item of their kind."""
    rows = [
        (f"u{u}", f"i{i}", float(1 + (u * i) % 7))
        for u in range(N_USERS)
        for i in range(N_ITEMS)
        if i % 2 == u % 2 and f"i{i}" != HELD_OUT[f"u{u}"]
    ]
    return pd.DataFrame(rows, columns=["user_id", "artist_id", "weight"])


ITEM_MODELS = [
    lambda: ii.EASE(l2=10.0),
    lambda: ii.EASE(l2=10.0, dropout=0.5, neighbours=9, weighting="logtf"),
    lambda: ii.ItemKNN(neighbours=10),
    lambda: ii.ItemKNN(neighbours=10, weighting="bm25"),
    lambda: ii.RP3beta(alpha=1.0, beta=0.3, neighbours=10),
    lambda: ii.BlendedEASE(l2=50.0, neighbours=9),
]


@pytest.mark.parametrize("make", ITEM_MODELS)
def test_item_models_recommend_the_held_out_item_first(checkerboard, make):
    model = make().fit(checkerboard)
    users = [f"u{u}" for u in range(N_USERS)]
    recs = model.recommend(users, k=3)
    first = recs.groupby("user_id", sort=False).head(1).set_index("user_id")["artist_id"]
    assert first.to_dict() == HELD_OUT
    seen = set(zip(checkerboard.user_id, checkerboard.artist_id, strict=True))
    assert not seen & set(zip(recs.user_id, recs.artist_id, strict=True))
    assert (recs.groupby("user_id")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()


@pytest.mark.parametrize("make", ITEM_MODELS)
def test_fold_in_of_a_survey_user(checkerboard, make):
    model = make().fit(checkerboard)
    recs = model.recommend_items({"i2": 1.0, "i4": 2.0, "nope": 5.0}, k=4)
    assert recs["artist_id"].str[1:].astype(int).mod(2).eq(0).all()
    assert not {"i2", "i4"} & set(recs["artist_id"])


def test_popularity_ranks_by_count():
    train = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "a", "b", "a", "d"],
            "artist_id": ["x", "x", "x", "y", "y", "z", "w"],
        }
    )
    model = bl.PopularityRecommender().fit(train)
    assert model.recommend(["d"], k=3)["artist_id"].tolist() == ["x", "y", "z"]
    assert model.recommend(["a"], k=5)["artist_id"].tolist() == ["w"]  # a has seen the rest
    assert model.recommend(["a"], k=2, exclude_seen=False)["artist_id"].tolist() == ["x", "y"]
    assert model.recommend_items(["x"], k=1)["artist_id"].tolist() == ["y"]


def test_random_is_seeded_and_excludes_seen(checkerboard):
    first = bl.RandomRecommender(seed=1).fit(checkerboard).recommend(["u0"], k=5)
    again = bl.RandomRecommender(seed=1).fit(checkerboard).recommend(["u0"], k=5)
    assert first["artist_id"].tolist() == again["artist_id"].tolist()
    seen = set(checkerboard.loc[checkerboard.user_id == "u0", "artist_id"])
    assert not seen & set(first["artist_id"])


def test_min_users_drops_rare_items():
    train = pd.DataFrame({"user_id": ["a", "b", "a", "c"], "artist_id": ["x", "x", "y", "z"]})
    model = ii.EASE(l2=1.0, min_users=2).fit(train)
    assert model.item_ids.tolist() == ["x"]


def test_errors(checkerboard, tmp_path: Path):
    model = ii.EASE(l2=10.0).fit(checkerboard)
    with pytest.raises(UnknownIdError):
        model.recommend(["stranger"], k=3)
    with pytest.raises(InputError):
        ii.EASE(weighting="sqrt")
    with pytest.raises(InputError):
        model.recommend(["u0"], k=0)
    ii.ItemKNN().fit(checkerboard).save(tmp_path / "knn")
    with pytest.raises(ArtifactError):
        ii.EASE.load(tmp_path / "knn")
    with pytest.raises(ArtifactError):
        ii.EASE.load(tmp_path / "missing")


@pytest.mark.parametrize("cls", [ii.EASE, ii.BlendedEASE, bl.PopularityRecommender])
def test_save_load_round_trip(checkerboard, tmp_path: Path, cls):
    model = cls().fit(checkerboard)
    model.save(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.pkl"))
    loaded = cls.load(tmp_path / "m")
    users = ["u0", "u7"]
    pd.testing.assert_frame_equal(
        model.recommend(users, k=4), loaded.recommend(users, k=4), check_dtype=False
    )


def test_prune_rows_keeps_each_rows_largest():
    b = np.array([[0.0, 3.0, -1.0, 2.0], [5.0, 0.0, 4.0, -2.0]], dtype=np.float32)
    pruned = ii.prune_rows(b, 2).toarray()
    np.testing.assert_array_equal(pruned, [[0, 3, 0, 2], [5, 0, 4, 0]])


HETREC = Path(__file__).resolve().parents[2] / "shared/data/hetrec2011-lastfm-2k/user_artists.dat"


@pytest.mark.slow
def test_blended_ease_matches_ease_on_hetrec(shared_data):
    data = pd.read_csv(HETREC, sep="\t").rename(
        columns={"userID": "user_id", "artistID": "artist_id"}
    )
    train, test = splits.random_split(data, 0.2, seed=0)
    ease = protocol.evaluate(ii.EASE(l2=100.0).fit(train).recommend, train, test, (10,))
    blend = protocol.evaluate(ii.BlendedEASE().fit(train).recommend, train, test, (10,))
    # measured on seed 0: EASE 0.237, BlendedEASE (pruned to 200 neighbours) 0.239
    assert ease["ndcg@10"] > 0.23
    assert blend["ndcg@10"] > ease["ndcg@10"] - 0.002
