"""Sampling, projections, clusters and neighbours of the embedding explorer, on hand-made vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout.errors import InputError, UnknownIdError
from tunescout.research import explore
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


# ---- projections ------------------------------------------------------------------------------


def test_pca_of_points_on_a_line_gives_a_line():
    t = np.linspace(-3, 3, 50)
    direction = np.array([1.0, 2.0, -1.0, 0.5, 0.0])
    points = 4.0 + t[:, None] * direction  # an affine line in 5-D
    coords = explore.project(points, "PCA", dims=2)
    assert coords.shape == (50, 2)
    assert np.allclose(coords[:, 1], 0, atol=1e-4)  # no spread off the line
    assert abs(np.corrcoef(coords[:, 0], t)[0, 1]) == pytest.approx(1.0, abs=1e-6)


def test_pca_in_3d_keeps_distances_of_3d_data():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 3)) @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    points = np.hstack([points, np.zeros((40, 4))])  # 3-D data embedded in 7-D
    coords = explore.project(points, "PCA", dims=3)
    assert coords.shape == (40, 3)
    d_in = np.linalg.norm(points[:, None] - points[None], axis=-1)
    d_out = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    assert np.allclose(d_in, d_out, atol=1e-4)


@pytest.mark.parametrize("dims", [2, 3])
def test_tsne_keeps_separate_clusters_apart_and_is_seeded(dims):
    points, truth = blobs([25, 25, 25])
    coords = explore.project(points, "t-SNE", dims=dims, seed=1)
    assert coords.shape == (75, dims)
    assert separated(coords, truth)
    assert np.allclose(coords, explore.project(points, "t-SNE", dims=dims, seed=1))


@pytest.mark.slow  # numba compiles UMAP on first use in each process: ~12 s of CPU
def test_umap_keeps_separate_clusters_apart_and_is_seeded():
    points, truth = blobs([30, 30])
    coords = explore.project(points, "UMAP", dims=2, seed=0)
    assert coords.shape == (60, 2)
    assert separated(coords, truth)
    assert np.allclose(coords, explore.project(points, "UMAP", dims=2, seed=0))


def test_project_rejects_bad_arguments():
    points = np.zeros((10, 4))
    with pytest.raises(InputError, match="unknown projection"):
        explore.project(points, "MDS")
    with pytest.raises(InputError, match="dims"):
        explore.project(points, "PCA", dims=4)
    with pytest.raises(InputError, match="more than 3 points"):
        explore.project(points[:3], "PCA", dims=3)
    with pytest.raises(InputError, match="limited to 5,000"):
        explore.project(np.zeros((5_001, 2)), "t-SNE")


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


def test_top_categories_folds_the_rest_into_other():
    values = ["rock"] * 5 + ["jazz"] * 3 + ["folk"] * 2 + ["polka"]
    assert explore.top_categories(values, 2).tolist() == ["rock"] * 5 + ["jazz"] * 3 + ["other"] * 3


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
