"""Projections (PCA, UMAP, t-SNE) on hand-made vectors, and the progress they report."""

from __future__ import annotations

import numpy as np
import pytest

from tunescout.errors import InputError
from tunescout.research import projection
from tunescout.research.projection import Params, project


def blobs(sizes: list[int], dim: int = 10, spread: float = 0.05, seed: int = 0):
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


class Recorder:
    """A progress callback that keeps what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def __call__(self, fraction: float, message: str) -> None:
        self.calls.append((fraction, message))

    @property
    def fractions(self) -> list[float]:
        return [f for f, _ in self.calls]


def test_pca_of_points_on_a_line_gives_a_line_and_its_map():
    t = np.linspace(-3, 3, 50)
    direction = np.array([1.0, 2.0, -1.0, 0.5, 0.0])
    points = 4.0 + t[:, None] * direction  # an affine line in 5-D
    out = project(points, Params("PCA"))
    assert out.coords.shape == (50, 2) and out.coords.dtype == np.float32
    assert np.allclose(out.coords[:, 1], 0, atol=1e-4)  # no spread off the line
    assert abs(np.corrcoef(out.coords[:, 0], t)[0, 1]) == pytest.approx(1.0, abs=1e-6)
    assert (points - out.mean) @ out.components.T == pytest.approx(out.coords, abs=1e-4)


def test_pca_in_3d_keeps_distances_of_3d_data():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 3)) @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    points = np.hstack([points, np.zeros((40, 4))])  # 3-D data embedded in 7-D
    coords = project(points, Params("PCA", dims=3)).coords
    d_in = np.linalg.norm(points[:, None] - points[None], axis=-1)
    d_out = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    assert np.allclose(d_in, d_out, atol=1e-4)


@pytest.mark.parametrize("dims", [2, 3])
def test_tsne_keeps_separate_clusters_apart_is_seeded_and_reports_iterations(dims):
    points, truth = blobs([25, 25, 25])
    heard = Recorder()
    coords = project(points, Params("t-SNE", dims=dims, seed=1), heard).coords
    assert coords.shape == (75, dims)
    assert separated(coords, truth)
    assert np.allclose(coords, project(points, Params("t-SNE", dims=dims, seed=1)).coords)
    total = Params("t-SNE", dims=dims).tsne_iterations
    assert f"iteration 50/{total}" in {m for _, m in heard.calls}
    assert heard.fractions == sorted(heard.fractions) and heard.calls[-1] == (1.0, "done")


@pytest.mark.slow  # numba compiles UMAP on first use in each process: ~20 s of CPU
def test_umap_keeps_separate_clusters_apart_is_seeded_and_reports_epochs():
    points, truth = blobs([30, 30])
    heard = Recorder()
    coords = project(points, Params("UMAP", seed=0), heard).coords
    assert coords.shape == (60, 2)
    assert separated(coords, truth)
    assert np.allclose(coords, project(points, Params("UMAP", seed=0)).coords)
    epochs = [m for _, m in heard.calls if m.startswith("epoch ")]
    assert epochs and epochs[-1].split("/")[0] == "epoch " + epochs[-1].split("/")[1]
    assert heard.fractions == sorted(heard.fractions)


def test_exact_neighbours_match_brute_force_with_each_row_first():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(2_500, 4)).astype(np.float32)  # two chunks
    heard = Recorder()
    indices, distances = projection.exact_neighbours(vectors, 5, heard)
    full = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    assert (indices[:, 0] == np.arange(2_500)).all()
    assert indices[7].tolist() == np.argsort(full[7])[:5].tolist()
    assert distances[7] == pytest.approx(np.sort(full[7])[:5], abs=1e-4)
    assert heard.fractions == [0.8, 1.0]


def test_progress_lines_split_on_carriage_returns_as_bars_redraw():
    lines: list[str] = []
    stream = projection._Lines(lines.append)
    stream.write("\r1/10\r2/1")
    stream.write("0\n[t-SNE] Iteration 50: error")
    stream.write(" = 1.0\n")
    assert lines == ["1/10", "2/10", "[t-SNE] Iteration 50: error = 1.0"]


def test_params_refuse_what_the_methods_cannot_do():
    with pytest.raises(InputError, match="unknown projection"):
        Params("MDS")
    with pytest.raises(InputError, match="dims"):
        Params("PCA", dims=4)
    with pytest.raises(InputError, match="perplexity"):
        Params("t-SNE", perplexity=500.0)
    with pytest.raises(InputError, match="more than 3 points"):
        project(np.zeros((3, 4)), Params("PCA", dims=3))


def test_a_cache_key_holds_only_what_changes_the_result():
    assert Params("PCA", seed=1).relevant() == Params("PCA", seed=2).relevant()
    assert Params("UMAP", seed=1).relevant() != Params("UMAP", seed=2).relevant()
    assert Params("t-SNE").relevant()["iterations"] == 500
    assert Params("t-SNE", dims=3).relevant()["iterations"] == 400
    assert "perplexity" not in Params("UMAP").relevant()
