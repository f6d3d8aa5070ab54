"""Sampling, clusters, neighbours, placement and labels of the embedding explorer, on hand-made
vectors (the projections themselves: tests/test_projection.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout.errors import InputError, UnknownIdError
from tunescout.research import explore
from tunescout.research.projection import Projection
from tunescout.serving import lookup

IDS = [f"t{i:03d}" for i in range(100)]


def blobs(
    sizes: list[int], dim: int = 10, spread: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Tight clusters around far-apart centres, and each point's true cluster."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[: len(sizes)] * 10
    truth = np.repeat(np.arange(len(sizes)), sizes)
    return centres[truth] + rng.normal(scale=spread, size=(len(truth), dim)), truth


def separated(coords: np.ndarray, truth: np.ndarray) -> bool:
    """Every point is closer to its own cluster's centroid than to any other centroid."""
    centroids = np.stack([coords[truth == c].mean(axis=0) for c in np.unique(truth)])
    nearest = np.argmin(((coords[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    return bool((nearest == truth).all())


# ---- sampling ---------------------------------------------------------------------------------


def test_sample_is_reproducible_and_states_its_size():
    first, again, other = (explore.sample(IDS, 30, seed) for seed in (0, 0, 1))
    assert len(first.ids) == 30 and len(set(first.ids)) == 30
    assert first.ids.tolist() == again.ids.tolist()
    assert first.ids.tolist() != other.ids.tolist()
    assert first.ids.tolist() == [IDS[r] for r in first.rows]
    assert first.describe("tracks") == "showing 30 of 100 tracks, uniform random, seed 0"


def test_sample_larger_than_the_space_keeps_everything():
    everything = explore.sample(IDS, 500, seed=3)
    assert everything.ids.tolist() == IDS
    assert everything.describe("artists") == "showing all 100 artists"


def test_stratified_sample_gives_each_stratum_its_share():
    strata = ["rock"] * 70 + ["jazz"] * 20 + ["folk"] * 10
    chosen = explore.sample(IDS, 10, seed=0, strata=strata)
    picked = pd.Series(strata).iloc[chosen.rows].value_counts().to_dict()
    assert picked == {"rock": 7, "jazz": 2, "folk": 1}
    assert chosen.describe("tracks") == "showing 10 of 100 tracks, stratified by genre, seed 0"


def test_stratified_sample_hits_the_exact_size_despite_rounding():
    strata = ["a"] * 34 + ["b"] * 33 + ["c"] * 33
    chosen = explore.sample(IDS, 10, seed=5, strata=strata)
    assert len(chosen.ids) == 10
    assert sorted(pd.Series(strata).iloc[chosen.rows].value_counts().tolist()) == [3, 3, 4]


def test_sample_rejects_bad_arguments():
    with pytest.raises(InputError):
        explore.sample(IDS, 0)
    with pytest.raises(InputError):
        explore.sample(IDS, 5, strata=["a", "b"])


# ---- clusters and neighbours ------------------------------------------------------------------


def test_clusters_recover_blobs_numbered_by_size():
    points, truth = blobs([10, 40, 25])
    labels = explore.clusters(points, k=3, seed=0)
    # blob 1 (40 points) is the largest, so it is cluster 0; blob 0 (10 points) is cluster 2
    assert labels.tolist() == [2] * 10 + [0] * 40 + [1] * 25


def test_clusters_reject_impossible_k():
    with pytest.raises(InputError):
        explore.clusters(np.zeros((5, 2)), k=1)
    with pytest.raises(InputError):
        explore.clusters(np.zeros((5, 2)), k=6)


def test_cosine_and_l2_neighbours_differ_as_expected():
    ids = ["q", "same_direction_far", "other_direction_near", "opposite"]
    vectors = np.array([[1.0, 0.0], [5.0, 0.5], [0.9, 0.5], [-1.0, 0.0]])
    by_cosine = explore.neighbours(vectors, ids, "q", k=3, metric="cosine")
    by_l2 = explore.neighbours(vectors, ids, "q", k=3, metric="l2")
    assert by_cosine["id"].tolist() == ["same_direction_far", "other_direction_near", "opposite"]
    assert by_l2["id"].tolist() == ["other_direction_near", "opposite", "same_direction_far"]
    assert by_cosine["cosine_similarity"].tolist() == pytest.approx(
        [5 / np.hypot(5, 0.5), 0.9 / np.hypot(0.9, 0.5), -1.0]
    )
    assert by_l2["l2_distance"].tolist() == pytest.approx(
        [np.hypot(0.1, 0.5), 2.0, np.hypot(4, 0.5)]
    )
    assert by_l2["rank"].tolist() == [1, 2, 3]


def test_neighbours_exclude_the_query_and_cap_k():
    ids = ["a", "b", "c"]
    vectors = np.eye(3)
    found = explore.neighbours(vectors, ids, "b", k=10)
    assert sorted(found["id"]) == ["a", "c"]


def test_neighbours_reject_unknown_ids_and_metrics():
    with pytest.raises(UnknownIdError):
        explore.neighbours(np.eye(2), ["a", "b"], "zz")
    with pytest.raises(InputError):
        explore.neighbours(np.eye(2), ["a", "b"], "a", metric="manhattan")


# ---- labels -------------------------------------------------------------------------------------


def test_top_categories_folds_the_rest_into_other_but_keeps_no_genre_apart():
    values = ["rock"] * 5 + ["jazz"] * 3 + ["folk"] * 2 + ["polka", explore.NO_GENRE]
    assert explore.top_categories(values, 2).tolist() == (
        ["rock"] * 5 + ["jazz"] * 3 + ["other"] * 3 + [explore.NO_GENRE]
    )


def test_find_matches_name_or_artist_case_insensitively_most_popular_first():
    frame = pd.DataFrame(
        {
            "id": ["1", "2", "3"],
            "name": ["Blue Moon", "Red Sky", "Moonlight"],
            "artist": ["Ann", "The Moonies", "Bob"],
            "popularity": [10.0, 90.0, 50.0],
        }
    )
    assert lookup.find(frame, "  MOON ")["id"].tolist() == ["2", "3", "1"]
    assert lookup.find(frame, "").empty


def test_titles_join_name_and_artist_by_id():
    frame = pd.DataFrame({"id": ["1", "2"], "name": ["Song", None], "artist": ["Ann", "Bob"]})
    assert explore.titles(frame).to_dict() == {"1": "Song — Ann", "2": "? — Bob"}
    assert explore.titles(frame.drop(columns="artist")).to_dict() == {"1": "Song", "2": "?"}


# ---- a selection of several items, placement, hover and summaries ------------------------------


def test_neighbours_of_a_selection_are_nearest_its_centre_and_leave_it_out():
    ids = ["a", "b", "middle", "far", "near_a"]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.6], [-1.0, -0.2], [1.0, 0.05]])
    found = explore.neighbours(vectors, ids, ["a", "b"], k=3)
    assert found["id"].tolist() == ["middle", "near_a", "far"]
    assert found["cosine_similarity"].iloc[0] == pytest.approx(
        1.1 / np.hypot(0.5, 0.6) / np.sqrt(2)
    )
    by_l2 = explore.neighbours(vectors, ids, ["a", "b"], k=1, metric="l2")
    assert by_l2["id"].tolist() == ["middle"]  # the centre is (0.5, 0.5)
    assert by_l2["l2_distance"].iloc[0] == pytest.approx(0.1)


def test_pca_places_an_item_outside_the_sample_exactly():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30, 5)).astype(np.float32)
    mean, components = vectors[:20].mean(axis=0), np.linalg.qr(rng.normal(size=(5, 2)))[0].T
    coords = (vectors[:20] - mean) @ components.T
    out = explore.place(
        vectors, np.arange(20), Projection(coords, mean, components), np.array([25])
    )
    assert out == pytest.approx((vectors[25:26] - mean) @ components.T, abs=1e-5)


def test_other_projections_place_an_item_among_its_nearest_sampled_items():
    vectors = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [9.9, 0.1]])
    coords = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]], np.float32)
    out = explore.place(vectors, np.arange(4), Projection(coords), np.array([4]), k=2)
    assert out[0, 0] > 95 and out[0, 1] < 5  # beside item 1, its twin in the original space


def test_hover_is_short_rounded_and_names_the_coloured_number():
    frame = pd.DataFrame(
        {
            "id": ["t1"], "name": ["Song"], "artist": ["Band"], "genre": ["indie rock"],
            "year": [1999.0], "popularity": [63.4], "energy": [0.71234], "valence": [0.333333],
        }
    )  # fmt: skip
    lines = explore.hover(frame, "valence").iloc[0].split("\n")
    assert lines == [
        "Song — Band",
        "indie rock · 1999",
        "popularity 63  energy 0.71",
        "valence 0.33",
    ]
    assert explore.hover(frame, "energy").iloc[0].count("\n") == 2  # energy is shown already


def test_summary_names_size_families_and_mean_sound():
    frame = pd.DataFrame(
        {"family": ["rock", "rock", "jazz", "rock"], "energy": [0.8, 0.6, 0.2, 0.6],
         "valence": [0.5] * 4, "danceability": [0.4] * 4}
    )  # fmt: skip
    assert explore.summary(frame) == (
        "4 items · rock 75%, jazz 25% · energy 0.55, valence 0.50, danceability 0.40"
    )
