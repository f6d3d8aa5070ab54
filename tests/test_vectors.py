"""VectorIndex's approximate method (IVF over 8-bit codes) against exact search, and the shared
genre lookup of FilterTable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout.indexes.vectors import VectorIndex
from tunescout.serving.filters import Filters, FilterTable


@pytest.fixture(scope="module")
def clustered() -> tuple[np.ndarray, np.ndarray]:
    """4,000 vectors in 40 clusters, and 50 queries drawn near them (like catalog and queries)."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(40, 32))
    vectors = centres[rng.integers(0, 40, 4000)] + rng.normal(0, 0.4, (4000, 32))
    queries = centres[rng.integers(0, 40, 50)] + rng.normal(0, 0.6, (50, 32))
    return vectors.astype(np.float32), queries.astype(np.float32)


def test_ivf_finds_what_exact_search_finds(clustered) -> None:
    vectors, queries = clustered
    ids = [f"t{i}" for i in range(len(vectors))]
    exact = VectorIndex(ids, vectors, method="exact")
    ivf = VectorIndex(ids, vectors, method="ivf")
    assert (ivf.method, exact.method) == ("ivf", "exact")
    assert ivf.index.nlist == 102 and ivf.index.nprobe == 32  # 39+ vectors a list, 32+ probes
    recall = np.mean(
        [len(set(exact.search(q, 10)[0]) & set(ivf.search(q, 10)[0])) / 10 for q in queries]
    )
    assert recall >= 0.95
    # Scores are cosines from 8-bit codes: within a percent of the exact ones.
    top_ids, top_scores = ivf.search(queries[0], 10)
    assert np.allclose(top_scores, exact.scores(queries[0], top_ids), atol=1e-2)


def test_ivf_reads_back_vectors_by_id(clustered) -> None:
    vectors, _ = clustered
    ids = [f"t{i}" for i in range(len(vectors))]
    ivf = VectorIndex(ids, vectors, method="ivf")
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert np.allclose(ivf.vectors_of(["t5", "t3999", "t0"]), unit[[5, 3999, 0]], atol=1e-2)
    assert ivf.vectors.shape == (4000, 32)
    assert ivf.vectors_at(np.array([], dtype=int)).shape == (0, 32)
    assert ivf.similar(["t5"], k=3)[0].tolist()[0] != "t5"


def test_ivf_filter_returns_k_allowed_rows_even_when_few_pass(clustered) -> None:
    vectors, queries = clustered
    ids = np.array([f"t{i}" for i in range(len(vectors))])
    ivf = VectorIndex(ids, vectors, method="ivf")
    exact = VectorIndex(ids, vectors, method="exact")
    for allowed in (np.arange(0, 4000, 2), np.arange(0, 4000, 400)):  # half, then 10 rows
        mask = np.zeros(len(ids), dtype=bool)
        mask[allowed] = True
        got, _ = ivf.search(queries[1], 10, mask)
        assert len(got) == 10 and set(got) <= set(ids[allowed])
        want, _ = exact.search(queries[1], 10, mask)
        assert len(set(got) & set(want)) >= 9


def test_ivf_save_and_load_give_the_same_answers(clustered, tmp_path) -> None:
    vectors, queries = clustered
    ids = [f"t{i}" for i in range(len(vectors))]
    built = VectorIndex(ids, vectors, method="ivf")
    built.save(tmp_path, "tracks")
    loaded = VectorIndex.load(tmp_path, "tracks")
    assert loaded.method == "ivf" and loaded.index.nprobe == built.index.nprobe
    for q in queries[:10]:
        a, b = built.search(q, 10), loaded.search(q, 10)
        assert a[0].tolist() == b[0].tolist() and np.array_equal(a[1], b[1])
    assert np.array_equal(loaded.vectors_of(["t7"]), built.vectors_of(["t7"]))


def test_auto_uses_ivf_from_the_threshold(clustered) -> None:
    vectors, _ = clustered
    ids = [f"t{i}" for i in range(len(vectors))]
    assert VectorIndex(ids, vectors, approximate_from=4000).method == "ivf"
    assert VectorIndex(ids, vectors, approximate_from=4001).method == "exact"


def test_genre_hits_match_the_genre_filter() -> None:
    frame = pd.DataFrame(
        {
            "track_id": ["a", "b", "c", "d"],
            "genres": [["Rock", "pop"], ["jazz"], [], ["rock"]],
        }
    )
    table = FilterTable(frame, "track_id")
    assert table.genre_hits(["rock"]).tolist() == [True, False, False, True]
    assert table.genre_hits(["jazz", "pop"]).tolist() == [True, True, False, False]
    assert table.genre_hits(["polka"]).tolist() == [False] * 4
    assert (
        table.genre_hits(["rock", "jazz"]).tolist()
        == table.mask(Filters(genres=("rock", "jazz"))).tolist()
    )


@pytest.mark.parametrize("method", ["exact", "hnsw"])
def test_a_vectors_view_outlives_its_index(clustered, method: str) -> None:
    import gc

    vectors, _ = clustered
    index = VectorIndex([f"t{i}" for i in range(len(vectors))], vectors, method=method)
    view = index.vectors
    expected = view.copy()
    del index
    gc.collect()
    junk = [
        np.full(len(vectors) * 32, 7.0, dtype=np.float32) for _ in range(8)
    ]  # reuse freed memory
    assert np.array_equal(view, expected) and len(junk) == 8
    assert not view.flags.writeable
