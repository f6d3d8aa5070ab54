"""Projections run in worker processes, with progress, cancel and a cache on disk.

The app's server never projects in its own threads: :meth:`Projector.submit` writes the sampled
vectors beside the cache and hands the job to a worker process (``python -m
tunescout.research.projector``) that was started beforehand and has already imported numpy and
scikit-learn, so a job starts at once; a new spare starts as each one is taken. Each process runs one
job and exits. UMAP and numba are imported only inside workers, so numba's threads never slow the
server afterwards. (Not ``multiprocessing``: its children import the parent's ``__main__``, which in
Streamlit is the page script.) A job writes ``<key>.json`` (state, fraction, message)
as it goes and ``<key>.npz`` when done; any process can read both. Cancelling terminates the job's
process. At most :data:`WORKERS` jobs run at once; the others wait their turn.

The key is a digest of everything that changes the picture: the index build, the space, the
sample (its size, how it was drawn and its seed) and the projection's parameters, seed included
(:func:`job_key`). Results stay on disk (the newest :data:`KEEP`) and in memory (the newest 8).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tunescout.errors import InputError
from tunescout.research import projection
from tunescout.research.projection import Params, Projection

log = logging.getLogger(__name__)

WORKERS = 2  # two cores: a third projection would only slow the first two
KEEP = 64  # results kept on disk
WRITE_EVERY = 0.2  # seconds between progress writes
STALLED = 2.0  # seconds without progress after which no ETA is given (a step that reports none)
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


def job_key(**parts: object) -> str:
    """A digest of the parts (JSON with sorted keys): the same parts give the same key."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Status:
    """Where a job is.

    Attributes:
        key: The job's key.
        state: ``queued``, ``running``, ``done``, ``failed`` or ``cancelled``.
        fraction: 0–1.
        message: What it is doing ("UMAP: epoch 120/500").
        elapsed: Seconds since it started (0 while queued).
        eta: Seconds left, estimated from progress so far (``None`` until it can be).
        error: One line when it failed.
    """

    key: str
    state: str
    fraction: float = 0.0
    message: str = ""
    elapsed: float = 0.0
    eta: float | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


def _write_json(path: Path, data: Mapping) -> None:
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    temp.write_text(json.dumps(data))
    os.replace(temp, path)


def _work(folder: str, key: str, params: dict) -> None:
    """A job's process: project ``<key>.in.npy`` and save ``<key>.npz``, reporting as it goes."""
    base = Path(folder) / key
    status = {"state": RUNNING, "fraction": 0.0, "message": "starting", "started": time.time()}
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        if round(float(fraction), 4) != status["fraction"]:
            status["moved"] = time.time()  # an ETA is only given while the work moves
        status.update(fraction=round(float(fraction), 4), message=message)
        now = time.monotonic()
        if now - last[0] >= WRITE_EVERY or fraction >= 1.0:
            last[0] = now
            _write_json(base.with_suffix(".json"), status)

    try:
        report(0.0, "starting")
        vectors = np.load(base.with_suffix(".in.npy"), allow_pickle=False)
        out = projection.project(vectors, Params(**params), report)
        arrays = {"coords": out.coords}
        if out.mean is not None:
            arrays |= {"mean": out.mean, "components": out.components}
        temp = base.with_suffix(".part.npz")
        np.savez(temp, **arrays)
        os.replace(temp, base.with_suffix(".npz"))
        status.update(state=DONE, fraction=1.0, message="done")
    except Exception as exc:  # the parent shows one line and logs the rest
        first = (str(exc).strip().splitlines() or [""])[0]
        status.update(state=FAILED, error=f"{type(exc).__name__}: {first}"[:300])
        status["detail"] = traceback.format_exc()[-4000:]
    finally:
        status["finished"] = time.time()
        _write_json(base.with_suffix(".json"), status)
        base.with_suffix(".in.npy").unlink(missing_ok=True)


@dataclass
class _Job:
    key: str
    params: Params
    queued: float
    process: subprocess.Popen | None = None
    cancelled: bool = False
    logged: bool = False  # its failure was logged


class Projector:
    """Runs projections in worker processes and keeps their results.

    Args:
        folder: Where jobs write their progress and results (created when needed).
        workers: Jobs running at once.
        keep: Results kept on disk (the oldest are removed first).

    Example:
        >>> projector = Projector(settings.projections_dir)  # doctest: +SKIP
        >>> status = projector.submit(key, vectors, Params("UMAP"))  # doctest: +SKIP
        >>> projector.result(key) if projector.status(key).state == "done" else None
    """

    def __init__(self, folder: Path, workers: int = WORKERS, keep: int = KEEP) -> None:
        self.folder = Path(folder)
        self.workers, self.keep = workers, keep
        self._jobs: dict[str, _Job] = {}
        self._memory: OrderedDict[str, Projection] = OrderedDict()
        self._lock = threading.Lock()
        self._spare: subprocess.Popen | None = None

    # ---- submitting and cancelling --------------------------------------------------------

    def submit(self, key: str, vectors: np.ndarray, params: Params) -> Status:
        """Start projecting ``vectors`` under ``key`` (or join the job already under it).

        Raises:
            InputError: Too few points for the chosen dimensions.
        """
        if len(vectors) <= params.dims:
            raise InputError(
                f"{params.method} needs more than {params.dims} points, got {len(vectors)}"
            )
        with self._lock:
            current = self._status(key)
            if current is not None and current.state in (QUEUED, RUNNING, DONE):
                return current
            self.folder.mkdir(parents=True, exist_ok=True)
            temp = self.folder / f"{key}.in.{os.getpid()}.tmp.npy"
            np.save(temp, np.ascontiguousarray(vectors, dtype=np.float32))
            os.replace(temp, self.folder / f"{key}.in.npy")
            self.folder.joinpath(f"{key}.json").unlink(missing_ok=True)
            self._jobs[key] = _Job(key, params, time.time())
            log.info("projection %s queued: %s of %d points", key, params.method, len(vectors))
            self._pump()
            return self._status(key)

    def cancel(self, key: str) -> None:
        """Stop the job under ``key`` (its process is terminated; a queued job never starts)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                return
            job.cancelled = True
            if job.process is not None and job.process.poll() is None:
                job.process.terminate()
                try:
                    job.process.wait(5)
                except subprocess.TimeoutExpired:
                    job.process.kill()
                    job.process.wait()
            for suffix in (".in.npy", ".part.npz"):
                self.folder.joinpath(key + suffix).unlink(missing_ok=True)
            log.info("projection %s cancelled", key)
            self._pump()

    def _pump(self) -> None:
        """Start queued jobs, oldest first, while fewer than ``workers`` run; keep a spare ready."""
        running = sum(1 for j in self._jobs.values() if _alive(j.process))
        for job in sorted(self._jobs.values(), key=lambda j: j.queued):
            if running >= self.workers:
                break
            if job.process is None and not job.cancelled:
                job.process = self._take_spare()
                spec = {"folder": str(self.folder), "key": job.key, "params": asdict(job.params)}
                try:
                    job.process.stdin.write(json.dumps(spec) + "\n")
                    job.process.stdin.close()
                except OSError:  # the spare died before it got the job: the status says so
                    log.warning("projection worker %d exited early", job.process.pid)
                running += 1
        if self._jobs and not _alive(self._spare):
            self._spare = self._start()

    def warm(self) -> None:
        """Start a spare worker now, so the first projection does not wait for one."""
        with self._lock:
            if not _alive(self._spare):
                self._spare = self._start()

    def _take_spare(self) -> subprocess.Popen:
        spare = self._spare if _alive(self._spare) else self._start()
        self._spare = None
        return spare

    @staticmethod
    def _start() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "tunescout.research.projector"],
            stdin=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a Ctrl-C in the server's terminal is the server's
        )

    # ---- reading ---------------------------------------------------------------------------

    def status(self, key: str) -> Status | None:
        """Where the job under ``key`` is (``None``: never submitted and nothing cached)."""
        with self._lock:
            self._pump()
            return self._status(key)

    def _status(self, key: str) -> Status | None:
        if key in self._memory:
            return Status(key, DONE, 1.0, "done")
        job = self._jobs.get(key)
        if job is not None and job.cancelled:
            return Status(key, CANCELLED, message="cancelled")
        if job is not None and job.process is None:
            ahead = sum(1 for j in self._jobs.values() if _alive(j.process))
            return Status(key, QUEUED, message=f"waiting for {ahead} running projection(s)")
        data = self._read(key)
        if data is None:
            if job is None:
                return Status(key, DONE, 1.0, "done") if self._has_result(key) else None
            data = {"state": RUNNING, "fraction": 0.0, "message": "starting", "started": job.queued}
        state = data.get("state", RUNNING)
        if state == RUNNING and job is not None and not _alive(job.process):
            code = job.process.poll()
            state, data["error"] = FAILED, f"the worker stopped (exit code {code})"
        if state == FAILED and job is not None and not job.logged:
            job.logged = True
            log.error(
                "projection %s failed: %s\n%s", key, data.get("error"), data.get("detail", "")
            )
        if state == DONE and not self._has_result(key):
            return None  # its result was pruned
        elapsed = (data.get("finished") or time.time()) - data.get("started", time.time())
        fraction = float(data.get("fraction", 0.0))
        moving = time.time() - data.get("moved", 0.0) < STALLED
        eta = None
        if state == RUNNING and fraction >= 0.03 and moving:
            eta = elapsed * (1 - fraction) / fraction
        message = str(data.get("message", ""))
        return Status(key, state, fraction, message, max(elapsed, 0.0), eta, data.get("error"))

    def _read(self, key: str) -> dict | None:
        try:
            data = json.loads(self.folder.joinpath(f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _has_result(self, key: str) -> bool:
        return self.folder.joinpath(f"{key}.npz").is_file()

    def result(self, key: str) -> Projection | None:
        """The finished projection under ``key`` (``None`` when there is none)."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
            try:
                with np.load(self.folder / f"{key}.npz", allow_pickle=False) as saved:
                    arrays = {name: saved[name] for name in saved.files}
            except (OSError, ValueError):
                return None
            out = Projection(arrays["coords"], arrays.get("mean"), arrays.get("components"))
            self._memory[key] = out
            while len(self._memory) > 8:
                self._memory.popitem(last=False)
            self._jobs.pop(key, None)
            self._prune()
            return out

    def _prune(self) -> None:
        """Keep the newest ``keep`` results on disk (and the status files that go with them)."""
        done = sorted(self.folder.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in done[self.keep :]:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)

    def running(self) -> list[Status]:
        """Jobs of this process still queued or running."""
        with self._lock:
            found = [self._status(k) for k in list(self._jobs)]
        return [s for s in found if s is not None and not s.finished]


def _alive(process: subprocess.Popen | None) -> bool:
    return process is not None and process.poll() is None


def main() -> None:
    """A worker: import the projection code, wait for one job on stdin (JSON), run it, exit."""
    line = sys.stdin.readline()
    if not line.strip():  # the server went away before handing over a job
        return
    spec = json.loads(line)
    _work(spec["folder"], spec["key"], spec["params"])


if __name__ == "__main__":
    main()
