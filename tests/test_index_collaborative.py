"""The collaborative (ALS) index on checkerboards where the right answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from tunescout.catalog import TABLES, Catalog, empty, validate
from tunescout.errors import ArtifactError, DataMissingError, InputError, UnknownIdError
from tunescout.indexes.collaborative import (
    ALSParams,
    CollaborativeIndex,
    FactorModel,
    confidence,
)

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
    return CollaborativeIndex.build(checkerboard(), show_progress=False, **PARAMS)


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
    mask = index.ids != held_out(0)
    ids, _ = index.recommend_user("u0", k=3, mask=mask)
    assert held_out(0) not in ids
    with pytest.raises(InputError):
        index.recommend_user("u0", k=3, mask=mask[:-1])


def test_fold_in_of_even_ratings_ranks_even_artists_first(index: CollaborativeIndex) -> None:
    ratings = {"a0": 1.0, "a2": 1.0}
    ids, scores = index.recommend_profile(ratings, k=N_ARTISTS)
    assert list(ids[:3]) and is_even(ids[:3]).all()
    assert not is_even(ids[3:]).any()
    assert not set(ratings) & set(ids)
    assert np.all(np.diff(scores) <= 0)


def test_score_of_user_vector_matches_recommendations(index: CollaborativeIndex) -> None:
    ratings = {"a1": 1.0, "a3": 2.0}
    ids, scores = index.recommend_profile(ratings, k=4)
    np.testing.assert_allclose(index.score(index.user_vector(ratings), ids), scores, rtol=1e-5)
    np.testing.assert_allclose(index.score(ratings, ids), scores, rtol=1e-5)


def test_item_neighbours_share_parity(index: CollaborativeIndex) -> None:
    ids, scores = index.similar(["a4"], k=N_ARTISTS)
    assert sorted(ids[:4]) == ["a0", "a2", "a6", "a8"]
    assert "a4" not in ids
    assert scores[:4].min() > scores[4:].max() + 0.5
    odd_only = ~is_even(index.ids)
    ids, _ = index.similar(["a4"], k=2, mask=odd_only)
    assert len(ids) == 2 and not is_even(ids).any()


def test_dislike_pushes_its_neighbours_down(index: CollaborativeIndex) -> None:
    likes = {"a0": 1.0, "a1": 1.0}
    odd = [artist(i) for i in (5, 7, 9)]
    before = index.score(likes, odd)
    after = index.score({**likes, "a3": -1.0}, odd)
    assert (after < before - 0.1).all()
    ids, _ = index.recommend_profile({**likes, "a3": -1.0}, k=4)
    assert is_even(ids[:4]).all()


def test_dislike_only_profile_gives_no_preference(index: CollaborativeIndex) -> None:
    assert not index.user_vector({"a3": -1.0}).any()
    with pytest.raises(InputError):
        index.recommend_profile({"a3": -1.0}, k=3)


def test_bad_ratings_raise(index: CollaborativeIndex) -> None:
    with pytest.raises(InputError):
        index.user_vector({})
    with pytest.raises(InputError):
        index.user_vector({"a0": float("nan")})


def test_unknown_ids_raise(index: CollaborativeIndex) -> None:
    with pytest.raises(UnknownIdError):
        index.recommend_user("nobody", k=3)
    with pytest.raises(UnknownIdError):
        index.similar(["zz"], k=3)
    with pytest.raises(UnknownIdError):
        index.recommend_profile({"zz": 1.0}, k=3)
    scores = index.score({"a0": 1.0}, ["a2", "zz"])
    assert np.isfinite(scores[0]) and np.isnan(scores[1])


def test_save_load_round_trip(index: CollaborativeIndex, tmp_path: Path) -> None:
    manifest = index.save(tmp_path)
    assert manifest["als_artists"]["users"] == N_USERS
    assert manifest["als_artists"]["items"] == N_ARTISTS
    assert manifest["params"]["factors"] == PARAMS["factors"]
    assert not list(tmp_path.glob("*.pkl"))
    loaded = CollaborativeIndex.load(tmp_path)
    ratings = {"a0": 1.0, "a5": -0.5}
    np.testing.assert_array_equal(loaded.user_vector(ratings), index.user_vector(ratings))
    np.testing.assert_array_equal(
        loaded.score(ratings, list(index.ids)), index.score(ratings, list(index.ids))
    )
    for got, want in zip(
        loaded.recommend_user("u3", 4), index.recommend_user("u3", 4), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(loaded.similar(["a1"], 3)[0], index.similar(["a1"], 3)[0])
    assert loaded.params == index.params


def test_load_of_a_folder_without_index_raises(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="scripts/build.py"):
        CollaborativeIndex.load(tmp_path)


def test_track_model_when_interactions_name_tracks() -> None:
    index = CollaborativeIndex.build(checkerboard(with_tracks=True), show_progress=False, **PARAMS)
    ids, _ = index.similar_tracks(["t2"], k=4)
    assert sorted(ids) == ["t0", "t4", "t6", "t8"]
    assert index.recommend_user_tracks("u1", k=1)[0][0] == f"t{held_out(1)[1:]}"


def test_track_methods_without_track_rows_raise(index: CollaborativeIndex) -> None:
    with pytest.raises(DataMissingError, match="track"):
        index.similar_tracks(["t0"], k=3)


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
    index = CollaborativeIndex.build(_catalog(raw[~test].to_dict("records")), show_progress=False)
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
    plain = FactorModel.fit(frame, "artist_id", params, show_progress=False)
    # Categories in another order, one unused: the same sorted ids and the same matrix.
    cats = frame.astype({"user_id": "category", "artist_id": "category"})
    cats["artist_id"] = (
        cats["artist_id"]
        .cat.add_categories(["zz"])
        .cat.reorder_categories(["zz", *sorted(frame["artist_id"].unique(), reverse=True)])
    )
    coded = FactorModel.fit(cats, "artist_id", params, show_progress=False)
    assert list(coded.ids) == sorted(frame["artist_id"].unique()) == list(plain.ids)
    assert list(coded.users) == list(plain.users)
    assert (coded.seen != plain.seen).nnz == 0
