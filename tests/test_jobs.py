"""One writer per data directory: the cross-process lock, the job status it guards, the index writer
that holds it, and the app's background first run (a real process, joined by a second request,
killed and resumed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunescout import firstrun, jobs
from tunescout.catalog.assemble import build_catalog
from tunescout.collect.runner import Options, collect
from tunescout.config import Settings
from tunescout.indexes import store
from tunescout.indexes.build import build_indexes
from tunescout.indexes.writer import BuildWriter

ROOT = Path(__file__).resolve().parents[1]
JOB_TIMEOUT = 600  # s: a small first run, under whatever load the suite runs with


def child(code: str, *args: str) -> subprocess.Popen:
    """A Python process running ``code`` (it prints ``ready`` once in position)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


HOLD = """
import sys, time
from tunescout import jobs
jobs.DataLock(sys.argv[1]).acquire()
jobs.Job(sys.argv[1], "build", ["catalog"], "the command line").begin("catalog")
print("ready", flush=True)
time.sleep(600)
"""

WRITE = """
import sys, time
from tunescout.indexes.writer import BuildWriter
with BuildWriter(__import__("pathlib").Path(sys.argv[1]) / "indexes", "0" * 64) as build:
    build.component_dir("audio")
    print("ready", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen]:
    proc = child(HOLD, str(tmp_path))
    yield proc
    proc.kill()
    proc.wait()


def test_the_lock_is_exclusive_across_processes_and_freed_when_its_holder_is_killed(
    tmp_path: Path, holder: subprocess.Popen
) -> None:
    lock = jobs.DataLock(tmp_path)
    assert lock.held()
    assert not lock.acquire(wait=0.3)
    assert jobs.running(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert not lock.held()  # the kernel dropped the dead holder's lock: nothing to clean up
    assert lock.acquire(wait=0)
    lock.release()
    found = jobs.status(tmp_path)
    assert found["state"] == jobs.FAILED and "stopped before it finished" in found["error"]


def test_a_writer_that_cannot_wait_names_who_holds_the_lock(
    tmp_path: Path, holder: subprocess.Popen
) -> None:
    told: list[str] = []
    with (
        pytest.raises(jobs.LockBusy, match=r"the build started from the command line \(process"),
        jobs.exclusive(tmp_path, wait=0.3, say=told.append),
    ):
        pass  # pragma: no cover
    assert told and "waiting for the build started from the command line" in told[0]


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_between_threads(tmp_path: Path) -> None:
    lock = jobs.DataLock(tmp_path)
    results: list[bool] = []
    with lock, jobs.exclusive(tmp_path):  # the same thread takes it again
        assert lock.held_here()
        other = threading.Thread(target=lambda: results.append(lock.acquire(wait=0.3)))
        other.start()
        other.join()
        assert lock.held_here()
    assert results == [False] and not lock.held_here() and not lock.held()
    with pytest.raises(RuntimeError, match="not held"):
        lock.release()


def test_a_live_writers_partial_survives_and_a_dead_ones_is_cleared(tmp_path: Path) -> None:
    index_dir = tmp_path / "indexes"
    writer = child(WRITE, str(tmp_path))
    try:
        (partial,) = index_dir.glob(f"*{store.PARTIAL}")
        with pytest.raises(jobs.LockBusy), BuildWriter(index_dir, "1" * 64, wait=0.3):
            pass  # pragma: no cover
        assert (partial / "audio").is_dir(), "a second writer touched a live writer's files"
    finally:
        writer.kill()
        writer.wait()
    assert partial.exists()  # left by a writer that died ...
    with BuildWriter(index_dir, "1" * 64, wait=5) as build:  # ... and cleared by the next one
        pass
    assert not partial.exists() and build.result is not None


def test_the_job_measures_throughput_from_its_first_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: now[0])
    job = jobs.Job(tmp_path, "first run", ["audio", "semantic"], "the app")
    job.begin("semantic", "semantic index", "documents")
    now[0] = 130.0
    job.count(0, 1000)  # the model loaded before this: not part of the rate
    now[0] = 132.0
    job.count(200, 1000)
    found = jobs.read_status(tmp_path)
    assert found["rate"] == pytest.approx(100.0) and found["eta_s"] == pytest.approx(8.0)
    line = jobs.progress_line(found)
    assert line == (
        "step 2 of 2: semantic index · 200 / 1,000 documents · 100 documents/s · about 8 s left"
    )
    job.end()
    job.fail(RuntimeError("disk full"))
    found = jobs.status(tmp_path)
    assert found["state"] == jobs.FAILED and found["error"] == "RuntimeError: disk full"
    assert found["completed"][0]["step"] == "semantic"


def test_the_build_reports_counts_per_component(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    collect(settings, "synthetic", Options(synthetic_tracks=300, synthetic_users=40))
    build_catalog(settings)
    seen: list[tuple[str, int, int]] = []
    build = build_indexes(
        settings, only=["audio", "als"], defer=["semantic"], on_progress=lambda *a: seen.append(a)
    )
    assert "semantic" not in build.models and {"audio", "als"} <= set(build.models)
    audio = [(d, t) for name, d, t in seen if name == "audio"]
    assert audio[0] == (0, 0) and audio[-1][0] == audio[-1][1] > 300
    assert [name for name, *_ in seen if name != "audio"][0] == "als"
    assert not jobs.DataLock(settings.data_dir).held()


# ---- the app's background first run ------------------------------------------------------------


@pytest.fixture
def collected(tmp_path: Path) -> Settings:
    """A data dir with a small raw snapshot and nothing built (the first run skips collecting)."""
    settings = Settings(data_dir=tmp_path / "data")
    collect(settings, "synthetic", Options(synthetic_tracks=600, synthetic_users=80, seed=3))
    return settings


def wait_for(settings: Settings, done, timeout: float = JOB_TIMEOUT, every: float = 0.05) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = jobs.status(settings.data_dir)
        if found and done(found):
            return found
        time.sleep(every)
    raise AssertionError(f"the job did not get there in {timeout} s: {found}")


def ended(found: dict) -> bool:
    return found["state"] != jobs.RUNNING


def test_one_first_run_job_a_second_request_joins_and_the_app_is_usable_before_it_ends(
    collected: Settings,
) -> None:
    first = firstrun.start(collected)
    second = firstrun.start(collected)
    assert not first["joined"] and second["joined"] and second["pid"] == first["pid"]
    assert first["steps"] == [
        "catalog",
        *firstrun._components(True)[0],
        "query encoder",
        "semantic",
        "neighbours",
    ]
    staged = wait_for(collected, lambda f: "audio" in f.get("ready", []) or ended(f))
    assert "semantic" not in staged["ready"], "the fast components were published first"
    found = wait_for(collected, ended)
    assert found["state"] == jobs.DONE, found.get("error")
    builds = store.list_builds(collected.index_dir)
    assert len(builds) == 3  # the fast indexes, + semantic, + every item's neighbours
    first_build = store.open_build(collected.index_dir, builds[0])
    assert "semantic" not in first_build.models and "audio" in first_build.models
    second = store.open_build(collected.index_dir, builds[1])
    assert "semantic" in second.models and "neighbours" not in second.components
    assert "semantic" in store.open_current(collected.index_dir).models
    assert "neighbours" in store.open_current(collected.index_dir).components
    assert [s["step"] for s in found["completed"]] == found["steps"]
    assert not jobs.running(collected.data_dir)
    assert firstrun.plan(collected) == []  # nothing left to do
    log = (jobs.jobs_dir(collected.data_dir) / jobs.LOG).read_text()
    assert "semantic ready in build" in log and "neighbour lists ready in build" in log


def test_a_killed_job_shows_as_failed_and_the_next_one_resumes_where_it_stopped(
    collected: Settings,
) -> None:
    started = firstrun.start(collected)
    wait_for(collected, lambda f: f.get("step") == "semantic" or ended(f), every=0.02)
    os.kill(started["pid"], signal.SIGKILL)
    found = wait_for(collected, ended, timeout=30)
    assert found["state"] == jobs.FAILED and "stopped before it finished" in found["error"]
    assert "audio" in store.open_current(collected.index_dir).models  # stage 1 was kept
    assert firstrun.plan(collected) == ["query encoder", "semantic", "neighbours"]

    again = firstrun.start(collected)
    assert not again["joined"] and again["steps"] == ["query encoder", "semantic", "neighbours"]
    found = wait_for(collected, ended)
    assert found["state"] == jobs.DONE, found.get("error")
    assert "semantic" in store.open_current(collected.index_dir).models
    assert "neighbours" in store.open_current(collected.index_dir).components
    assert not list(collected.index_dir.glob(f"*{store.PARTIAL}"))


def test_a_failed_job_says_why_in_one_line(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    raw = settings.raw_dir / "synthetic" / "2026-W01"
    raw.mkdir(parents=True)
    (raw / "manifest.json").write_text(json.dumps({"source": "synthetic"}))  # a broken snapshot
    firstrun.start(settings)
    found = wait_for(settings, ended)
    assert found["state"] == jobs.FAILED
    assert found["error"] and "\n" not in found["error"]
    assert found["completed"] == [] and found["step"] == "catalog"


def test_the_first_run_benchmark_times_the_apps_path(tmp_path: Path) -> None:
    """``scripts/benchmark.py --first-run --quick`` (a small catalog, the job skips collecting)."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "scripts/benchmark.py", "--first-run", "--quick",
         "--workdir", str(tmp_path / "work"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=JOB_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads((tmp_path / "bench-first-run.json").read_text())["first_run"]
    assert found["state"] == jobs.DONE and found["usable_s"] <= found["semantic_mood_s"]
    assert [("semantic" in b["components"]) for b in found["builds"]] == [False, True, True]
    assert [("neighbours" in b["components"]) for b in found["builds"]] == [False, False, True]
    assert "app usable" in done.stdout and "first semantic mood result" in done.stdout


def test_first_run_verdicts() -> None:
    from tunescout.research.firstrunbench import first_run_verdicts

    rows = first_run_verdicts({"usable_s": 12.0, "semantic_mood_s": None})
    assert [(measured, met) for _, measured, met in rows] == [
        ("12.0 s", True),
        ("not reached", False),
    ]
