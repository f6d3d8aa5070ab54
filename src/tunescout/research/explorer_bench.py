"""The embedding explorer's timings (issue #16), through the code the explorer page runs.

Each projection is sampled with :func:`explore.sample`, handed to a :class:`Projector` worker
process with :meth:`Projector.submit` and followed through :meth:`Projector.status` (the job's
progress JSON, as the page's progress bar reads it) until :meth:`Projector.result` returns it.
Neighbours of one item are :func:`explore.neighbours` over the whole space, as a click asks.
Nothing is written to the data dir: the projections go to a folder of the caller's, empty at
the start, so every projection is computed, never read from a cache.

The first projection of a server starts its worker from nothing (the page keeps no spare worker
before its first job); later ones find a spare that has already imported numpy and
scikit-learn. Both are reported.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from tunescout.research import explore
from tunescout.research.projection import Params
from tunescout.research.projector import DONE, Projector, job_key

# issue #16's targets, seconds
TARGETS = {"pca_5k_s": 2.0, "nonlinear_5k_s": 30.0, "first_progress_s": 1.0, "neighbours_s": 1.0}
SPACE = "MiniLM track vectors"  # the widest space (384 dimensions) the explorer opens on
RUNS = (("PCA", 2, "small"), ("PCA", 3, "small"), ("PCA", 2, "large"), ("PCA", 3, "large"),
        ("UMAP", 2, "small"), ("UMAP", 3, "small"), ("t-SNE", 2, "small"), ("t-SNE", 3, "small"))  # fmt: skip
POLL = 0.02  # seconds between reads of the job's status (the page reads every 0.5 s)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def time_projection(
    jobs: Projector, key: str, vectors: np.ndarray, params: Params, timeout: float = 900.0
) -> dict:
    """Submit one job and follow it: seconds to the first progress JSON, to the first progress
    above 0, and to the result in hand; the load average before and after."""
    out: dict = {"points": len(vectors), "load_before": _load(), "first_progress_s": None}
    out["first_moved_s"] = None
    started = time.perf_counter()
    status = jobs.submit(key, vectors, params)
    path = jobs.folder / f"{key}.json"
    while not status.finished:
        elapsed = time.perf_counter() - started
        if elapsed > timeout:
            jobs.cancel(key)
            raise TimeoutError(f"{params.method} {params.dims}D took over {timeout:.0f} s")
        if out["first_progress_s"] is None and path.exists():
            out["first_progress_s"] = elapsed
        if out["first_moved_s"] is None and status.fraction > 0:
            out["first_moved_s"] = elapsed
        time.sleep(POLL)
        status = jobs.status(key)
    if status.state != DONE:
        raise RuntimeError(f"{params.method} {params.dims}D {status.state}: {status.error}")
    result = jobs.result(key)
    out["seconds"] = time.perf_counter() - started
    out["first_progress_s"] = out["first_progress_s"] or out["seconds"]
    out["first_moved_s"] = out["first_moved_s"] or out["seconds"]
    out["last_message"] = status.message
    out["shape"] = list(result.coords.shape)
    out["load_after"] = _load()
    return out


def time_neighbours(space: explore.Space, repeats: int = 20, k: int = 10, seed: int = 0) -> dict:
    """Exact neighbours of single items over the whole space (what a click asks), per metric:
    median and slowest seconds over ``repeats`` random items."""
    rng = np.random.default_rng(seed)
    picks = space.ids[rng.choice(len(space.ids), min(repeats, len(space.ids)), replace=False)]
    out: dict = {"items": len(space.ids), "k": k, "load_before": _load()}
    for metric in explore.METRICS:
        seconds = []
        for item in picks:
            started = time.perf_counter()
            found = explore.neighbours(space.vectors, space.ids, item, k, metric)
            seconds.append(time.perf_counter() - started)
            if item in set(found["id"]):
                raise RuntimeError(f"{item} came back as its own neighbour")
        out[metric] = {"median_s": float(np.median(seconds)), "max_s": float(np.max(seconds))}
    out["load_after"] = _load()
    return out


def explorer_benchmark(
    data_dir: Path, folder: Path, small: int = 5_000, large: int = 50_000,
    space: str = SPACE, pause: float = 3.0, seed: int = 0,
) -> dict:  # fmt: skip
    """Every projection of :data:`RUNS` (``small`` and ``large`` points, capped at the space's
    size) one after another through one :class:`Projector` writing under ``folder``, a cold
    first job, and the neighbours of one item. ``pause`` seconds between jobs let the spare
    worker finish its imports, as a user's clicks would."""
    from tunescout.serving.engine import Engine

    started = time.perf_counter()
    engine = Engine.load(data_dir)
    chosen = explore.spaces(engine)[space]
    total = len(chosen.ids)
    out: dict = {"space": space, "space_items": total, "dims_in": int(chosen.vectors.shape[1])}
    out |= {"build": engine.build.id, "tracks": len(engine.tracks), "cores": os.cpu_count()}
    out |= {"load_at_start": _load(), "runs": {}}
    sizes = {"small": min(small, total), "large": min(large, total)}
    jobs = Projector(folder)
    for number, (method, dims, size) in enumerate(RUNS):
        drawn = explore.sample(chosen.ids, sizes[size], seed)
        vectors = chosen.vectors[drawn.rows]
        params = Params(method, dims, seed)
        sample = {"n": sizes[size], "sampling": drawn.method, "seed": seed}
        key = job_key(build=engine.build.id, space=space, sample=sample, params=params.relevant())
        if number == 0:  # a new server's first job: no spare worker yet
            cold = time_projection(jobs, f"cold-{key}", vectors, params)
            out["cold_first_job"] = {"run": f"{method} {dims}D {sizes[size]}", **cold}
            time.sleep(pause)
        name = f"{method} {dims}D {sizes[size]}"
        out["runs"][name] = {"method": method, "dims": dims, "size": size}
        out["runs"][name] |= time_projection(jobs, key, vectors, params)
        time.sleep(pause)
    out["neighbours"] = time_neighbours(chosen)
    out["load_at_end"] = _load()
    out["seconds"] = time.perf_counter() - started
    return out


def explorer_verdicts(result: dict) -> list[tuple[str, str, bool | None]]:
    """``(target, measured, met)`` for issue #16's explorer targets (browser-side targets, the
    click drawn and a 50k-point plot kept interactive, are measured by the browser test)."""
    rows: list[tuple[str, str, bool | None]] = []
    runs = result["runs"]
    for run in runs.values():
        load = f"load {run['load_before']:.1f}"
        if run["size"] == "small":
            limit = TARGETS["pca_5k_s" if run["method"] == "PCA" else "nonlinear_5k_s"]
            target = f"{run['method']} {run['dims']}D of {run['points']:,} points ≤ {limit:.0f} s"
            rows.append((target, f"{run['seconds']:.1f} s ({load})", run["seconds"] <= limit))
        else:
            target = f"PCA {run['dims']}D of {run['points']:,} points (no target)"
            rows.append((target, f"{run['seconds']:.1f} s ({load})", None))
    limit = TARGETS["first_progress_s"]
    slowest = max(r["first_progress_s"] for r in runs.values() if r["method"] != "PCA")
    rows.append((f"UMAP and t-SNE progress visible ≤ {limit:.0f} s after submit",
                 f"slowest {slowest:.2f} s", slowest <= limit))  # fmt: skip
    cold = result["cold_first_job"]
    rows.append((f"a new server's first job: progress ≤ {limit:.0f} s ({cold['run']}, cold worker)",
                 f"{cold['first_progress_s']:.2f} s, done in {cold['seconds']:.1f} s",
                 cold["first_progress_s"] <= limit))  # fmt: skip
    near = result["neighbours"]
    worst = max(near[m]["max_s"] for m in explore.METRICS)
    limit = TARGETS["neighbours_s"]
    rows.append((f"exact neighbours of one item over {near['items']:,} items ≤ {limit:.0f} s",
                 f"median {near['cosine']['median_s'] * 1000:.1f} ms, slowest {worst * 1000:.1f} ms",
                 worst <= limit))  # fmt: skip
    return rows
