"""2D/3D projections of embedding vectors (PCA, UMAP, t-SNE) that report their progress.

Each method calls ``progress(fraction, message)`` as it goes: PCA at its ends, UMAP per chunk of
its exact neighbour search and per epoch (read from the ``tqdm`` bar it draws), t-SNE per chunk of
neighbours and per 50 iterations (read from the lines scikit-learn prints with ``verbose=2``).
Nothing here knows about processes: :mod:`tunescout.research.projector` runs :func:`project` in a
worker process so the app's server never imports numba.

Speed choices, measured on 5,000 MiniLM track vectors on two busy cores (see docs/EXPLORER.md):

* UMAP gets exact neighbours (a BLAS product, seconds) instead of building an NN-descent index,
  whose numba code took over a minute to compile on first use;
* t-SNE runs Barnes-Hut with ``angle=0.8`` and 500 iterations in 2D (400 in 3D) instead of 0.5 and
  1,000: about three times faster, trustworthiness@10 within 0.005 of the defaults.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from tunescout.errors import InputError

Method = Literal["PCA", "UMAP", "t-SNE"]
METHODS: tuple[Method, ...] = ("PCA", "UMAP", "t-SNE")
Progress = Callable[[float, str], None]
CHUNK = 2_000  # query rows per step of the exact neighbour search
TSNE_ANGLE = 0.8


def _quiet(fraction: float, message: str) -> None:
    """The progress callback used when nobody listens."""


@dataclass(frozen=True)
class Params:
    """How to project: the method, 2 or 3 dimensions, the seed and the method's own settings.

    Attributes:
        method: ``"PCA"``, ``"UMAP"`` or ``"t-SNE"``.
        dims: 2 or 3.
        seed: Random seed (UMAP and t-SNE depend on it; PCA is deterministic).
        neighbours: UMAP's ``n_neighbors`` (local versus global structure).
        min_dist: UMAP's ``min_dist`` (how tightly points pack).
        perplexity: t-SNE's perplexity (about the number of neighbours each point keeps).
        iterations: t-SNE's iterations; 0 chooses 500 in 2D and 400 in 3D.
    """

    method: Method
    dims: int = 2
    seed: int = 0
    neighbours: int = 15
    min_dist: float = 0.1
    perplexity: float = 30.0
    iterations: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown projection {self.method!r}: use one of {list(METHODS)}")
        if self.dims not in (2, 3):
            raise InputError(f"dims must be 2 or 3, got {self.dims!r}")
        if not 2 <= self.neighbours <= 200:
            raise InputError(f"UMAP neighbours must be from 2 to 200, got {self.neighbours}")
        if not 0.0 <= self.min_dist <= 1.0:
            raise InputError(f"UMAP min_dist must be from 0 to 1, got {self.min_dist}")
        if not 2.0 <= self.perplexity <= 100.0:
            raise InputError(f"t-SNE perplexity must be from 2 to 100, got {self.perplexity}")
        if self.iterations and not 250 <= self.iterations <= 5_000:
            raise InputError(f"t-SNE iterations must be from 250 to 5,000, got {self.iterations}")

    def relevant(self) -> dict:
        """The fields that change this method's result (what a cache key must hold)."""
        own = {"PCA": (), "UMAP": ("seed", "neighbours", "min_dist")}
        own["t-SNE"] = ("seed", "perplexity", "iterations")
        fields = asdict(self)
        if self.method == "t-SNE":
            fields["iterations"] = self.tsne_iterations
        return {k: fields[k] for k in ("method", "dims", *own[self.method])}

    @property
    def tsne_iterations(self) -> int:
        return self.iterations or (500 if self.dims == 2 else 400)


@dataclass(frozen=True)
class Projection:
    """Coordinates of the projected rows, and for PCA the linear map (so an item outside the
    sample can be placed exactly: ``(vector - mean) @ components.T``)."""

    coords: np.ndarray
    mean: np.ndarray | None = None
    components: np.ndarray | None = None


def exact_neighbours(
    vectors: np.ndarray, k: int, progress: Progress = _quiet, share: tuple[float, float] = (0, 1)
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows by Euclidean distance (itself first), by brute force in chunks.

    Args:
        vectors: ``(n, d)`` array.
        k: Neighbours per row, the row itself included.
        progress: Called after each chunk.
        share: The part of the whole job's progress this search stands for.

    Returns:
        ``(indices, distances)``, both ``(n, k)``.
    """
    search = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(vectors)
    indices, distances = [], []
    lo, hi = share
    for start in range(0, len(vectors), CHUNK):
        dist, idx = search.kneighbors(vectors[start : start + CHUNK])
        indices.append(idx)
        distances.append(dist)
        done = min(start + CHUNK, len(vectors))
        progress(lo + (hi - lo) * done / len(vectors), f"neighbours of {done:,}/{len(vectors):,}")
    return np.vstack(indices), np.vstack(distances).astype(np.float32)


class _Lines(io.TextIOBase):
    """A text stream that hands each complete line (split on newlines and carriage returns, as
    progress bars redraw with ``\\r``) to ``on_line``."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self.on_line = on_line
        self.buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        parts = re.split(r"[\r\n]", self.buffer + text)
        self.buffer = parts.pop()
        for part in parts:
            if part.strip():
                self.on_line(part.strip())
        return len(text)


def _pca(vectors: np.ndarray, params: Params, progress: Progress) -> Projection:
    progress(0.0, "computing")
    dims = min(params.dims, vectors.shape[1])
    model = PCA(n_components=dims, random_state=params.seed).fit(vectors)
    coords = np.pad(model.transform(vectors), ((0, 0), (0, params.dims - dims)))
    components = np.pad(model.components_, ((0, params.dims - dims), (0, 0)))
    progress(1.0, "done")
    return Projection(coords, model.mean_.astype(np.float32), components.astype(np.float32))


def _umap(vectors: np.ndarray, params: Params, progress: Progress) -> Projection:
    k = max(2, min(params.neighbours, len(vectors) - 1))
    indices, distances = exact_neighbours(vectors, k, progress, (0.0, 0.15))
    progress(0.15, "loading UMAP")
    import umap  # imported here, in the worker: numba's threads never enter the app's server

    progress(0.2, "building the neighbour graph (UMAP compiles its code first)")
    epochs = re.compile(r"^(\d+)/(\d+)$")

    def on_line(line: str) -> None:
        found = epochs.match(line)
        if found:
            done, total = int(found[1]), max(int(found[2]), 1)
            progress(0.3 + 0.7 * done / total, f"epoch {done}/{total}")

    reducer = umap.UMAP(
        n_components=params.dims,
        n_neighbors=k,
        min_dist=params.min_dist,
        random_state=params.seed,
        n_jobs=1,
        precomputed_knn=(indices, distances, None),
        tqdm_kwds={
            "file": _Lines(on_line),
            "bar_format": "{n}/{total}\n",
            "mininterval": 0.25,
            "disable": False,
        },
    )
    with warnings.catch_warnings():  # "no NNDescent object": this projection never transforms
        warnings.filterwarnings("ignore", category=UserWarning, module="umap")
        return Projection(reducer.fit_transform(vectors))


_TSNE_ITERATION = re.compile(r"\[t-SNE\] Iteration (\d+):")
_TSNE_SIGMA = re.compile(r"\[t-SNE\] Computed conditional probabilities for sample (\d+) / (\d+)")


def _tsne(vectors: np.ndarray, params: Params, progress: Progress) -> Projection:
    # Perplexity must stay below the number of points.
    perplexity = float(min(params.perplexity, max(1.0, (len(vectors) - 1) / 3)))
    total = params.tsne_iterations
    # scikit-learn's "auto" rate is n / 48 floored at 50; below ~2,400 points that floor made 3D
    # layouts diverge (clusters torn apart in tests), so the floor here is 10.
    rate = max(len(vectors) / 48, 10.0)

    def on_line(line: str) -> None:
        if found := _TSNE_ITERATION.match(line):
            done = int(found[1])
            progress(0.1 + 0.9 * done / total, f"iteration {done}/{total}")
        elif found := _TSNE_SIGMA.match(line):
            done, n = int(found[1]), int(found[2])
            progress(0.1 * done / n, f"neighbour probabilities of {done:,}/{n:,}")

    progress(0.0, "finding neighbours")
    tsne = TSNE(
        n_components=params.dims,
        perplexity=perplexity,
        learning_rate=rate,
        max_iter=total,
        angle=TSNE_ANGLE,
        init="pca",
        random_state=params.seed,
        n_jobs=1,
        verbose=2,
    )
    with contextlib.redirect_stdout(_Lines(on_line)):
        coords = tsne.fit_transform(vectors)
    return Projection(coords)


def project(vectors: np.ndarray, params: Params, progress: Progress = _quiet) -> Projection:
    """Project ``vectors`` with ``params``, calling ``progress(fraction, message)`` on the way.

    Args:
        vectors: ``(n, d)`` array, ``n`` above ``params.dims``.
        params: The method and its settings.
        progress: Progress callback (fraction 0–1 and a short message).

    Returns:
        ``(n, dims)`` float32 coordinates (plus PCA's map).

    Raises:
        InputError: Too few points.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) <= params.dims:
        raise InputError(
            f"{params.method} needs more than {params.dims} points, got {len(vectors)}"
        )
    run = {"PCA": _pca, "UMAP": _umap, "t-SNE": _tsne}[params.method]
    with threadpool_limits(1):  # OpenMP threads on two busy cores made t-SNE ~15x slower
        out = run(vectors, params, progress)
    progress(1.0, "done")
    coords = np.asarray(out.coords, dtype=np.float32)
    return Projection(coords, out.mean, out.components)
