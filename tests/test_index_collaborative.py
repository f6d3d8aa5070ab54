"""The collaborative (ALS) index on checkerboards where the right answer is known.

The index contract (ids, masks, similar, profile/score, round trips, ``covers``) is checked for
every model in tests/contracts/test_index_contract.py; these are ALS's own tests: confidences,
recommendations for known users, fold-in and dislike maths, and the Recommender protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tunescout.catalog import TABLES, Catalog, empty, validate
from tunescout.errors import DataMissingError, InputError, UnknownIdError
from tunescout.indexes.als import ALSParams, FactorModel, confidence
from tunescout.indexes.collaborative import CollaborativeIndex

N_USERS, N_ARTISTS = 20, 10
PARAMS = {
    "factors": 2,  # the rank of a checkerboard: more factors only fit the held-out holes
    "regularization": 0.1,
    "alpha": 10.0,
    "weighting": "log",
    "iterations": 20,
    "random_state": 7,
    "num_threads": 1,
}
PROTOCOL = ("fit", "recommend", "recommend_items")  # tunescout.indexes.base.Recommender
HETREC = Path(__file__).parents[2] / "shared/data/hetrec2011-lastfm-2k/user_artists.dat"


def artist(i: int) -> str:
    return f"a{i}"


def held_out(user: int) -> str:
    """Each user hides one artist of their own parity, a different one across users."""
    return artist(2 * ((user // 2) % (N_ARTISTS // 2)) + user % 2)


def _catalog(rows: list[dict]) -> Catalog:
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.NaT
    frame["source"] = "test"
    return Catalog(
        empty("tracks"), empty("artists"), empty("artist_map"), validate("interactions", frame)
    )


def checkerboard(with_tracks: bool = False) -> Catalog:
    """Even users play even artists, odd users odd artists; one artist per user is held out."""
    rows = []
    for u in range(N_USERS):
        for a in range(u % 2, N_ARTISTS, 2):
            if artist(a) == held_out(u):
                continue
            track = f"t{a}" if with_tracks else None
            rows.append(
                {"user_id": f"u{u}", "artist_id": artist(a), "track_id": track, "weight": 5.0 + a}
            )
    return _catalog(rows)


@pytest.fixture(scope="module")
def index() -> CollaborativeIndex:
    return CollaborativeIndex.build(checkerboard(), **PARAMS)


@pytest.fixture(scope="module")
def artists(index: CollaborativeIndex) -> FactorModel:
    return index.part("artists")


def is_even(ids: np.ndarray) -> np.ndarray:
    return np.array([int(i[1:]) % 2 == 0 for i in ids])


def test_top_recommendation_is_the_held_out_artist(index: CollaborativeIndex) -> None:
    for u in range(N_USERS):
        ids, scores = index.recommend_user(f"u{u}", k=3)
        assert ids[0] == held_out(u)
        assert scores[0] > scores[1]


def test_seen_artists_are_excluded_unless_asked(index: CollaborativeIndex) -> None:
    ids, _ = index.recommend_user("u0", k=N_ARTISTS)
    assert len(ids) == N_ARTISTS // 2 + 1  # the held-out artist and the five odd ones
    ids, _ = index.recommend_user("u0", k=N_ARTISTS, exclude_seen=False)
    assert is_even(ids[: N_ARTISTS // 2]).all()


def test_mask_limits_results(index: CollaborativeIndex) -> None:
    mask = index.ids("artists") != held_out(0)
    ids, _ = index.recommend_user("u0", k=3, mask=mask)
    assert held_out(0) not in ids
    with pytest.raises(InputError):
        index.recommend_user("u0", k=3, mask=mask[:-1])


def test_fold_in_of_even_ratings_ranks_even_artists_first(artists: FactorModel) -> None:
    ratings = {"a0": 1.0, "a2": 1.0}
    ranked = artists.recommend_items(ratings, k=N_ARTISTS)
    ids, scores = ranked["artist_id"].to_numpy(), ranked["score"].to_numpy()
    assert list(ids[:3]) and is_even(ids[:3]).all()
    assert not is_even(ids[3:]).any()
    assert not set(ratings) & set(ids)
    assert np.all(np.diff(scores) <= 0)


def test_profile_is_the_fold_in_and_scores_are_predicted_preference(
    index: CollaborativeIndex, artists: FactorModel
) -> None:
    ratings = {"a1": 1.0, "a3": 2.0}
    ranked = artists.recommend_items(ratings, k=4)
    ids, scores = ranked["artist_id"].tolist(), ranked["score"].to_numpy()
    vector = index.profile(ratings, "artists")
    np.testing.assert_array_equal(vector, artists.user_vector(ratings))
    np.testing.assert_allclose(index.score(vector, ids, "artists"), scores, rtol=1e-5)
    np.testing.assert_allclose(artists.score(ratings, ids), scores, rtol=1e-5)
    np.testing.assert_allclose(
        vector @ artists.model.item_factors.T, artists.score(vector, artists.ids)
    )


def test_dislike_pushes_its_neighbours_down(
    index: CollaborativeIndex, artists: FactorModel
) -> None:
    likes = {"a0": 1.0, "a1": 1.0}
    odd = [artist(i) for i in (5, 7, 9)]
    before = index.score(index.profile(likes, "artists"), odd, "artists")
    after = index.score(index.profile({**likes, "a3": -1.0}, "artists"), odd, "artists")
    assert (after < before - 0.1).all()
    ids = artists.recommend_items({**likes, "a3": -1.0}, k=4)["artist_id"].to_numpy()
    assert is_even(ids[:4]).all()


def test_dislike_only_profile_gives_no_preference(
    index: CollaborativeIndex, artists: FactorModel
) -> None:
    assert not artists.user_vector({"a3": -1.0}).any()
    assert index.profile({"a3": -1.0}, "artists") is None
    assert artists.recommend_items({"a3": -1.0}, k=3).empty


def test_bad_ratings_raise(artists: FactorModel) -> None:
    with pytest.raises(InputError):
        artists.user_vector({})
    with pytest.raises(InputError):
        artists.user_vector({"a0": float("nan")})


def test_unknown_ids(index: CollaborativeIndex, artists: FactorModel) -> None:
    with pytest.raises(UnknownIdError):
        index.recommend_user("nobody", k=3)
    with pytest.raises(UnknownIdError):
        artists.user_vector({"zz": 1.0})
    # Fold-in and the profile skip ids the model does not hold.
    assert artists.recommend_items({"zz": 1.0}, k=3).empty
    np.testing.assert_array_equal(
        index.profile({"a0": 1.0, "zz": 1.0}, "artists"), artists.user_vector({"a0": 1.0})
    )


def test_save_load_keeps_users_and_counts(index: CollaborativeIndex, tmp_path: Path) -> None:
    info = index.save(tmp_path)
    assert info["params"]["als_artists"]["users"] == N_USERS
    assert info["params"]["als_artists"]["items"] == N_ARTISTS
    assert info["params"]["factors"] == PARAMS["factors"]
    assert info["rows"] == {"artists": N_ARTISTS}
    assert not list(tmp_path.glob("*.pkl"))
    loaded = CollaborativeIndex.load(tmp_path)
    assert loaded.params == index.params
    assert loaded.part("artists").unit == index.part("artists").unit
    for got, want in zip(
        loaded.recommend_user("u3", 4), index.recommend_user("u3", 4), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    assert (loaded.part("artists").seen != index.part("artists").seen).nnz == 0


def test_track_model_when_interactions_name_tracks() -> None:
    index = CollaborativeIndex.build(checkerboard(with_tracks=True), **PARAMS)
    assert index.covers("tracks")
    ids, _ = index.similar(["t2"], k=4, kind="tracks")
    assert sorted(ids) == ["t0", "t4", "t6", "t8"]
    top = index.recommend_user("u1", k=1, kind="tracks")[0][0]
    assert top == f"t{held_out(1)[1:]}"


def test_track_part_without_track_rows_raises(index: CollaborativeIndex) -> None:
    assert not index.covers("tracks")
    with pytest.raises(DataMissingError, match="track"):
        index.part("tracks")
    with pytest.raises(DataMissingError, match="track"):
        index.recommend_user("u0", k=3, kind="tracks")


def test_build_without_interactions_raises() -> None:
    with pytest.raises(DataMissingError):
        CollaborativeIndex.build(Catalog(*(empty(table) for table in TABLES)))


def test_confidence_weightings() -> None:
    weights = sparse.csr_matrix(np.array([[3.0, 0.0], [1.0, 7.0]]))
    log = confidence(weights, ALSParams(weighting="log", alpha=2.0))
    np.testing.assert_allclose(log.data, 1 + 2.0 * np.log1p([3.0, 1.0, 7.0]), rtol=1e-6)
    raw = confidence(weights, ALSParams(weighting="raw", alpha=0.5))
    np.testing.assert_allclose(raw.data, [2.5, 1.5, 4.5])
    bm25 = confidence(weights, ALSParams(weighting="bm25", alpha=1.0))
    assert bm25.nnz == 3 and (bm25.data >= 1).all()  # BM25's idf can go negative on tiny data
    with pytest.raises(InputError):
        ALSParams(weighting="tfidf")


def _ndcg_at_10(index: CollaborativeIndex, test: pd.DataFrame) -> float:
    discounts = 1.0 / np.log2(np.arange(2, 12))
    total = 0.0
    for user, group in test.groupby("user_id"):
        ids, _ = index.recommend_user(user, 10)
        hits = np.isin(ids, group["artist_id"].to_numpy())
        total += (hits * discounts).sum() / discounts[: min(10, len(group))].sum()
    return total / test["user_id"].nunique()


@pytest.mark.slow
def test_hetrec_holdout_ndcg(shared_data) -> None:
    raw = pd.read_csv(HETREC, sep="\t").sample(frac=1.0, random_state=0)
    raw["user_id"] = raw.pop("userID").astype(str)
    raw["artist_id"] = raw.pop("artistID").astype(str)
    raw["track_id"] = None
    rank = raw.groupby("user_id").cumcount()
    test = rank < np.floor(0.2 * raw.groupby("user_id")["user_id"].transform("size") + 0.5)
    index = CollaborativeIndex.build(_catalog(raw[~test].to_dict("records")))
    assert _ndcg_at_10(index, raw[test]) > 0.2  # implicit's defaults on raw counts: 0.13


def test_categorical_and_string_ids_fit_the_same_model() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in rng.integers(0, 40, 600)],
            "artist_id": [f"a{i:02d}" for i in rng.integers(0, 30, 600)],
            "weight": rng.integers(1, 50, 600).astype(np.float32),
        }
    )
    params = ALSParams(factors=8, iterations=3)
    plain = FactorModel(params, "artist_id").fit(frame)
    # Categories in another order, one unused: the same sorted ids and the same matrix.
    cats = frame.astype({"user_id": "category", "artist_id": "category"})
    cats["artist_id"] = (
        cats["artist_id"]
        .cat.add_categories(["zz"])
        .cat.reorder_categories(["zz", *sorted(frame["artist_id"].unique(), reverse=True)])
    )
    coded = FactorModel(params, "artist_id").fit(cats)
    assert list(coded.ids) == sorted(frame["artist_id"].unique()) == list(plain.ids)
    assert list(coded.users) == list(plain.users)
    assert (coded.seen != plain.seen).nnz == 0


def test_factor_model_follows_the_recommender_protocol() -> None:
    """fit / recommend / recommend_items, as the evaluation runs every baseline."""
    frame = checkerboard().interactions
    model = FactorModel(ALSParams(**PARAMS), "artist_id").fit(frame)
    assert all(callable(getattr(model, name)) for name in PROTOCOL)
    top = model.recommend(["u0", "u1"], k=2)
    assert list(top.columns) == ["user_id", "artist_id", "score"]
    for user in ("u0", "u1"):
        ids, scores = model.recommend_user(user, 2)
        mine = top[top["user_id"] == user]
        assert mine["artist_id"].tolist() == ids.tolist() == [held_out(int(user[1:])), *ids[1:]]
        np.testing.assert_allclose(mine["score"], scores)
    assert model.recommend([], k=2).empty
    liked = model.recommend_items(["a0", "a2"], k=3)  # plain ids are likes
    assert list(liked.columns) == ["artist_id", "score"]
    assert is_even(liked["artist_id"].to_numpy()).all()
    assert "a0" not in model.recommend_items(["a0"], k=N_ARTISTS)["artist_id"].tolist()
    with_seen = model.recommend_items(["a0"], k=N_ARTISTS, exclude_seen=False)
    assert "a0" in with_seen["artist_id"].tolist()
