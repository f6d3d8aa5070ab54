"""IVF-PQ in VectorIndex (issue #18's vectors at 10M+): chosen automatically from ``pq_from`` rows,
at most 64 resident bytes per vector, re-ranked from memory-mapped float16 copies that are a
verified file of the build like every other, and the same answers through save and load.

Recall here is judged against 8-bit IVF over the same lists and probes, and against exact search
with every list probed: on these synthetic vectors the coarse probing, not the codes, is what
limits recall at the default probes (both methods give 0.88 at 32 of 256 lists). The recall at
real MiniLM sizes is measured by ``scripts/benchmark.py --spark`` (docs/SCALING.md).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from tunescout.errors import ArtifactError, InputError
from tunescout.indexes import store
from tunescout.indexes.vectors import VectorIndex, bytes_per_vector, normalize, pq_bytes
from tunescout.indexes.writer import BuildWriter

N, DIM = 10_000, 384
IDS = np.arange(N).astype(str)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """Vectors with low intrinsic dimension (mixes of 300 centres, as documents mix tags) and
    queries near them."""
    rng = np.random.default_rng(3)
    centres = normalize(rng.normal(size=(300, DIM)))
    weights = rng.dirichlet(np.full(300, 0.05), N).astype(np.float32)
    vectors = normalize(weights @ centres + rng.normal(0, 0.01, (N, DIM)).astype(np.float32))
    queries = normalize(rng.dirichlet(np.full(300, 0.05), 40).astype(np.float32) @ centres)
    return vectors, queries


@pytest.fixture(scope="module")
def pq(data) -> VectorIndex:
    vectors, _ = data
    return VectorIndex(IDS, vectors, method="ivfpq")


def recall(index: VectorIndex, exact: VectorIndex, queries: np.ndarray) -> float:
    hits = [len(set(index.search(q, 10)[0]) & set(exact.search(q, 10)[0])) for q in queries]
    return float(np.mean(hits)) / 10


def test_code_sizes() -> None:
    assert pq_bytes(384) == 48 and pq_bytes(128) == 32 and pq_bytes(12) == 3


def test_auto_chooses_ivfpq_from_pq_from_rows_for_wide_vectors(data) -> None:
    vectors, _ = data
    assert VectorIndex(IDS, vectors, pq_from=N, approximate_from=N).method == "ivfpq"
    assert VectorIndex(IDS, vectors, pq_from=N + 1, approximate_from=N).method == "ivf"
    assert VectorIndex(IDS, vectors).method == "exact"  # the defaults below 200k rows
    narrow = VectorIndex(IDS, vectors[:, :12], pq_from=N, approximate_from=N)
    assert narrow.method == "ivf"  # 12 dims: 8-bit codes are already 12 bytes


def test_recall_and_memory_against_ivf_and_exact(data, pq: VectorIndex) -> None:
    vectors, queries = data
    exact = VectorIndex(IDS, vectors, method="exact")
    ivf = VectorIndex(IDS, vectors, method="ivf")
    assert (pq.index.nlist, pq.index.nprobe) == (ivf.index.nlist, ivf.index.nprobe)
    # Re-ranking from float16 loses nothing against 8-bit codes over the same probed lists ...
    assert recall(pq, exact, queries) >= recall(ivf, exact, queries) - 0.02
    # ... and, every list probed, finds the exact top 10.
    pq.index.nprobe = pq.index.nlist
    try:
        assert recall(pq, exact, queries) >= 0.99
    finally:
        pq.index.nprobe = ivf.index.nprobe
    assert isinstance(pq.index, faiss.IndexIVFPQ)
    assert bytes_per_vector(pq.index) == 48 + 8 <= 64  # code + list id, no direct map
    assert bytes_per_vector(ivf.index) == DIM + 8 + 8
    ids, scores = pq.search(queries[0], 10)
    np.testing.assert_allclose(scores, exact.scores(queries[0], ids), atol=2e-3)


def test_masks_and_round_trip(tmp_path: Path, pq: VectorIndex, data) -> None:
    _, queries = data
    mask = np.zeros(N, dtype=bool)
    mask[::7] = True
    found, _ = pq.search(queries[1], 10, mask)
    assert len(found) == 10 and set(found) <= set(pq.ids[mask])
    paths = pq.save(tmp_path, "tracks")
    assert [p.name for p in paths] == ["tracks.faiss", "tracks.ids.npy", "tracks.f16.npy"]
    loaded = VectorIndex.load(tmp_path, "tracks")
    assert loaded.method == "ivfpq" and isinstance(loaded._refine, np.memmap)
    for q in queries[:5]:
        a, b = pq.search(q, 10), loaded.search(q, 10)
        np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(loaded.vectors_of(["5"]), pq.vectors_of(["5"]))
    assert loaded.similar(["5"], 5)[0].tolist() == pq.similar(["5"], 5)[0].tolist()


def test_an_ivfpq_index_without_its_float16_copies_is_refused(pq: VectorIndex) -> None:
    with pytest.raises(InputError, match="float16"):
        VectorIndex(pq.ids, np.empty((0, 0)), index=pq.index)
    with pytest.raises(InputError, match="float16"):  # the wrong dtype or shape
        VectorIndex(pq.ids, np.empty((0, 0)), index=pq.index, refine=np.zeros((N, DIM)))


def test_the_float16_file_is_in_the_manifest_and_verified_on_load(
    tmp_path: Path, pq: VectorIndex
) -> None:
    index_dir = tmp_path / "data" / "indexes"
    with BuildWriter(index_dir, "c" * 64) as build:
        pq.save(build.component_dir("vectors"), "tracks")
        build.add_component("vectors", {"params": {}, "rows": {"tracks": N}})
    opened = store.open_current(index_dir)
    entry = opened.manifest["files"]["vectors/tracks.f16.npy"]
    f16 = opened.component_dir("vectors") / "tracks.f16.npy"
    assert entry == {"sha256": store.digest(f16), "size": f16.stat().st_size}
    loaded = VectorIndex.load(opened.component_dir("vectors"), "tracks")
    assert loaded.search(np.ones(DIM), 3)[0].tolist() == pq.search(np.ones(DIM), 3)[0].tolist()
    # One flipped byte in the float16 copies: the build is refused before anything is read.
    raw = bytearray(f16.read_bytes())
    raw[-1] ^= 0xFF
    f16.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match=r"tracks\.f16\.npy is corrupt \(sha256 mismatch\)"):
        store.open_current(index_dir)


class _Payload:
    """Unpickling this writes a file: the proof that a load unpickled something."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.write_text, (Path(self.target), "unpickled"))


def test_the_float16_file_is_never_unpickled(tmp_path: Path, pq: VectorIndex) -> None:
    pq.save(tmp_path, "tracks")
    marker = tmp_path / "marker"
    hostile = np.array([_Payload(str(marker))] * 2, dtype=object)
    with (tmp_path / "tracks.f16.npy").open("wb") as fh:
        np.save(fh, hostile, allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle|Python objects"):
        VectorIndex.load(tmp_path, "tracks")
    assert not marker.exists()
