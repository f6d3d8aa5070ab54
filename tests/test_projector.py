"""Projections in worker processes: results, the cache on disk, cancel, failures, the queue, the ETA,
and a server process that never imports numba."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tunescout.research import projection
from tunescout.research.projection import Params
from tunescout.research.projector import Projector, job_key

WAIT = 240  # seconds a job may take on two busy cores


def wait(projector: Projector, key: str, until=lambda s: s.finished):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        status = projector.status(key)
        if status is not None and until(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {key} did not get there in {WAIT} s: {projector.status(key)}")


@pytest.fixture
def points() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)


def test_a_job_runs_in_another_process_and_is_cached_on_disk(tmp_path: Path, points) -> None:
    projector = Projector(tmp_path)
    key = job_key(test="pca", n=300)
    started = projector.submit(key, points, Params("PCA"))
    assert started.state in ("queued", "running", "done")
    done = wait(projector, key)
    assert done.state == "done" and done.fraction == 1.0
    out = projector.result(key)
    expected = projection.project(points, Params("PCA"))
    assert out.coords == pytest.approx(expected.coords, abs=1e-4)
    assert out.components.shape == (2, 8)
    assert not (tmp_path / f"{key}.in.npy").exists()  # the input is removed once used

    again = Projector(tmp_path)  # another server process, or a restart
    assert again.status(key).state == "done"
    assert again.result(key).coords == pytest.approx(expected.coords, abs=1e-4)
    assert again.submit(key, points, Params("PCA")).state == "done"  # joined, not rerun


def test_the_same_key_twice_joins_the_running_job(tmp_path: Path, points) -> None:
    projector = Projector(tmp_path)
    key = job_key(test="join")
    projector.submit(key, points, Params("t-SNE", iterations=250))
    projector.submit(key, points, Params("t-SNE", iterations=250))
    assert len(projector._jobs) == 1
    assert wait(projector, key).state == "done"


def test_cancel_stops_the_process_and_leaves_no_result(tmp_path: Path) -> None:
    projector = Projector(tmp_path)
    slow = np.random.default_rng(1).normal(size=(2_000, 20)).astype(np.float32)
    key = job_key(test="cancel")
    projector.submit(key, slow, Params("t-SNE", iterations=5_000))
    running = wait(projector, key, lambda s: s.state == "running" and s.fraction > 0)
    assert running.message
    process = projector._jobs[key].process
    projector.cancel(key)
    assert projector.status(key).state == "cancelled"
    assert process.poll() is not None
    assert projector.result(key) is None
    assert not list(tmp_path.glob("*.npz")) and not list(tmp_path.glob("*.in.npy"))


def test_a_failure_is_one_line_and_a_new_submit_retries(tmp_path: Path, points) -> None:
    projector = Projector(tmp_path)
    key = job_key(test="nan")
    broken = points.copy()
    broken[3, 2] = np.nan
    projector.submit(key, broken, Params("PCA"))
    failed = wait(projector, key)
    assert failed.state == "failed" and "\n" not in failed.error and "NaN" in failed.error
    retried = projector.submit(key, points, Params("PCA"))
    assert retried.state != "failed"
    assert wait(projector, key).state == "done"


def test_jobs_beyond_the_workers_wait_their_turn(tmp_path: Path, points) -> None:
    projector = Projector(tmp_path, workers=1)
    first, second = job_key(test="first"), job_key(test="second")
    projector.submit(first, points, Params("t-SNE", iterations=1_000))
    queued = projector.submit(second, points, Params("PCA"))
    assert queued.state == "queued" and "waiting for 1" in queued.message
    assert wait(projector, first).state == "done"
    assert wait(projector, second).state == "done"


def test_an_eta_only_while_the_work_moves(tmp_path: Path) -> None:
    projector = Projector(tmp_path)
    now = time.time()
    status = {"state": "running", "fraction": 0.25, "message": "epoch 50/200"}
    (tmp_path / "moving.json").write_text(json.dumps(status | {"started": now - 10, "moved": now}))
    (tmp_path / "stuck.json").write_text(
        json.dumps(status | {"started": now - 10, "moved": now - 9})
    )
    moving = projector.status("moving")
    assert moving.state == "running" and moving.eta == pytest.approx(30, abs=1)
    assert projector.status("stuck").eta is None
    assert projector.status("never-submitted") is None


@pytest.mark.slow  # numba compiles UMAP in the worker: ~20 s of CPU
def test_umap_runs_without_numba_ever_entering_the_server_process(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        import numpy as np
        from tunescout.research.projection import Params
        from tunescout.research.projector import Projector

        if __name__ == "__main__":
            projector = Projector({str(tmp_path)!r})
            points = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
            projector.submit("umap", points, Params("UMAP"))
            while not projector.status("umap").finished:
                time.sleep(0.2)
            print(projector.status("umap").state, projector.result("umap").coords.shape)
            print(sorted(m for m in ("numba", "umap", "pynndescent") if m in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    state, imported = done.stdout.strip().splitlines()[-2:]
    assert state == "done (200, 2)"
    assert imported == "[]"
