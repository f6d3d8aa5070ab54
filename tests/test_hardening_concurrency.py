"""Concurrency: many threads and several processes writing ratings to one SQLite file (WAL, busy
timeout) lose nothing, a writer killed mid-transaction leaves the rest whole, and the engine gives
the same answers under concurrent calls from threads as one call at a time."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from tunescout.errors import StorageError
from tunescout.serving.ratings import RatingsStore

pytestmark = pytest.mark.hardening

ROOT = Path(__file__).resolve().parents[1]
THREADS, PER_THREAD = 16, 60
PROCESSES, PER_PROCESS = 4, 150


def stars_for(worker: int, i: int) -> int:
    return 1 + (worker * 7 + i) % 5


def integrity(path: Path) -> tuple[str, str]:
    with sqlite3.connect(path) as conn:
        checked = conn.execute("PRAGMA integrity_check").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    return checked, mode


def run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(i)`` on ``count`` threads released together; the exceptions they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def guarded(i: int) -> None:
        start.wait()
        try:
            work(i)
        except BaseException as exc:  # reported by the test, not lost in a thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_many_threads_writing_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ratings.sqlite"
    shared = RatingsStore(path, timeout=30)

    def work(worker: int) -> None:
        own = RatingsStore(path, timeout=30) if worker % 2 else shared  # own connections or shared
        for i in range(PER_THREAD):
            own.rate(f"user{worker}", f"ar{i}", stars_for(worker, i))
            own.rate("everyone", f"w{worker}-ar{i}", stars_for(worker, i))
            own.rate("same", f"ar{i}", 4)  # every thread submits the same rating
            if i % 20 == 0:
                own.enqueue(f"user{worker}", f"t{i}")
        rows = "".join(f"imp{worker}-{i},{stars_for(worker, i)}\n" for i in range(30))
        own.import_csv(f"user{worker}", "artist_id,stars\n" + rows)

    assert run_threads(THREADS, work) == []
    for w in range(THREADS):
        expected = {f"ar{i}": stars_for(w, i) for i in range(PER_THREAD)}
        expected |= {f"imp{w}-{i}": stars_for(w, i) for i in range(30)}
        assert shared.ratings(f"user{w}") == expected
        assert shared.queue(f"user{w}") == [f"t{i}" for i in range(0, PER_THREAD, 20)]
    assert len(shared.ratings("everyone")) == THREADS * PER_THREAD
    assert shared.ratings("same") == {f"ar{i}": 4 for i in range(PER_THREAD)}
    assert integrity(path) == ("ok", "wal")


WRITER = """
import sys, time
from pathlib import Path
from tunescout.serving.ratings import RatingsStore

path, worker, count, go = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
store = RatingsStore(path, timeout=60)
while not go.exists():
    time.sleep(0.005)
for i in range(count):
    stars = 1 + (worker * 7 + i) % 5
    store.rate(f"proc{worker}", f"ar{i}", stars)
    store.rate("all", f"p{worker}-ar{i}", stars)
rows = "".join(f"imp{worker}-{i},{1 + i % 5}\\n" for i in range(count))
store.import_csv(f"proc{worker}", "artist_id,stars\\n" + rows)
"""


def test_several_processes_writing_lose_nothing(tmp_path: Path) -> None:
    path, go = tmp_path / "ratings.sqlite", tmp_path / "go"
    RatingsStore(path).rate("before", "ar0", 3)  # saved before the rush: must survive it
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(w), str(PER_PROCESS), str(go)], cwd=ROOT
        )
        for w in range(PROCESSES)
    ]
    time.sleep(1.0)  # let every process reach the starting line
    go.touch()
    assert [w.wait(timeout=300) for w in writers] == [0] * PROCESSES

    ratings = RatingsStore(path)
    for w in range(PROCESSES):
        expected = {f"ar{i}": stars_for(w, i) for i in range(PER_PROCESS)}
        expected |= {f"imp{w}-{i}": 1 + i % 5 for i in range(PER_PROCESS)}
        assert ratings.ratings(f"proc{w}") == expected
    assert len(ratings.ratings("all")) == PROCESSES * PER_PROCESS
    assert ratings.ratings("before") == {"ar0": 3}
    assert integrity(path) == ("ok", "wal")


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another writer holding the write lock for ``seconds`` (then rolling back)."""
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    return thread


def test_a_writer_waits_for_the_lock_within_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "ratings.sqlite"
    ratings = RatingsStore(path, timeout=10)
    holder = hold_write_lock(path, 1.0)
    began = time.monotonic()
    ratings.rate("ana", "ar1", 5)
    assert time.monotonic() - began >= 0.9  # it waited (busy timeout) instead of failing
    holder.join()
    assert ratings.ratings("ana") == {"ar1": 5}


def test_a_lock_held_past_the_timeout_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ratings.sqlite"
    ratings = RatingsStore(path, timeout=0.2)
    ratings.rate("ana", "ar1", 5)
    holder = hold_write_lock(path, 1.5)
    for write in (
        lambda: ratings.rate("ana", "ar2", 3),
        lambda: ratings.import_csv("ana", "artist_id,stars\nar3,4\n", replace=True),
        lambda: ratings.delete_profile("ana"),
    ):
        with pytest.raises(StorageError, match="ratings database is busy.*nothing was changed"):
            write()
    holder.join()
    assert ratings.ratings("ana") == {"ar1": 5}
    ratings.rate("ana", "ar2", 3)  # the same write succeeds once the lock is free
    assert ratings.ratings("ana") == {"ar1": 5, "ar2": 3}


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ratings.sqlite"
    path.write_bytes(b"this is not SQLite " * 100)
    with pytest.raises(StorageError, match=r"ratings database \(ratings.sqlite\) cannot be used"):
        RatingsStore(path)
    assert path.read_bytes() == b"this is not SQLite " * 100


KILLED_WRITER = """
import sqlite3, sys, time
from pathlib import Path
from tunescout.serving.ratings import RatingsStore

path = Path(sys.argv[1])
store = RatingsStore(path)
for i in range(100):
    store.rate("kept", f"ar{i}", 1 + i % 5)
conn = sqlite3.connect(path, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO ratings VALUES ('lost', 'ar1', 5, 'now')")
print("holding", flush=True)
time.sleep(600)
"""


def test_a_writer_killed_mid_transaction_loses_only_its_own_write(tmp_path: Path) -> None:
    path = tmp_path / "ratings.sqlite"
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE
    )
    assert writer.stdout.readline().strip() == b"holding"
    os.kill(writer.pid, signal.SIGKILL)
    assert writer.wait(timeout=30) == -signal.SIGKILL
    writer.stdout.close()

    ratings = RatingsStore(path, timeout=2)
    assert ratings.ratings("kept") == {f"ar{i}": 1 + i % 5 for i in range(100)}
    assert ratings.ratings("lost") == {}
    ratings.rate("after", "ar1", 2)  # the dead writer's lock went with it
    assert ratings.ratings("after") == {"ar1": 2}
    assert integrity(path) == ("ok", "wal")


# ---- the engine: concurrent calls answer as serial ones ---------------------------------------


def engine_calls(engine) -> list[tuple[str, Callable[[], pd.DataFrame]]]:
    """A mix of every kind of question, each asked twice so threads race on the same work."""
    tracks = engine.catalog.tracks["track_id"]
    survey = list(engine.survey_artists(k=6)["artist_id"])
    liked = {survey[0]: 5, survey[1]: 4, survey[2]: 1}
    user = engine.catalog.interactions["user_id"].iloc[0]
    calls = [
        ("mood rain", lambda: engine.search_mood("songs for a rainy heartbreak", k=10)),
        ("mood gym", lambda: engine.search_mood("pump me up for the gym", k=15)),
        ("mood focus", lambda: engine.search_mood("focus music for coding", k=10,
                                                  filters={"features": {"energy": (0.0, 0.5)}})),
        ("mood genre", lambda: engine.search_mood(engine.genres()[1], k=8)),
        ("recommend", lambda: engine.recommend(liked, k=10)),
        ("recommend mood", lambda: engine.recommend(liked, k=10, mood="late night drive")),
        ("recommend rrf", lambda: engine.recommend(liked, k=10, fusion="rrf", diversity=0.5)),
        ("tracks", lambda: engine.recommend_tracks(liked, k=10)),
        ("session", lambda: engine.continue_session(list(tracks.iloc[:3]), k=10)),
        ("user", lambda: engine.recommend_for_user(user, k=10)),
        ("survey", lambda: engine.survey_artists(k=12, seed=3)),
        ("similar hybrid", lambda: engine.similar_tracks(tracks.iloc[11], k=10)),
        ("similar semantic", lambda: engine.similar_tracks(tracks.iloc[12], k=10, model="semantic")),
        ("similar artists als", lambda: engine.similar_artists(survey[3], k=10, model="als")),
        ("similar artists cosine", lambda: engine.similar_artists(survey[4], k=10, model="cosine")),
        ("find", lambda: engine.find_tracks("a", k=10)),
    ]  # fmt: skip
    return calls * 2


def test_concurrent_engine_calls_answer_as_serial_ones(engine) -> None:
    calls = engine_calls(engine)
    serial = [call() for _, call in calls]
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(call) for _, call in calls]
        concurrent = [f.result(timeout=300) for f in futures]
    for (name, _), alone, together in zip(calls, serial, concurrent, strict=True):
        pd.testing.assert_frame_equal(together, alone, obj=name)
