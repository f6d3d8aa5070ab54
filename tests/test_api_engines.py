"""Which engine answers: a new build is picked up without a restart, requests in flight finish on
the engine they started with, and without an engine every request says why (loading, building,
nothing built) as a 503. Fake engines over a fake ``indexes/CURRENT`` keep these fast."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tunescout import jobs
from tunescout.api import create_app
from tunescout.api.engines import EngineHolder
from tunescout.config import ApiSettings
from tunescout.errors import DataMissingError

OPEN = ApiSettings(rate=0)
FIRST, SECOND = "20260101T000000Z", "20260102T000000Z"


class FakeEngine:
    """Answers similar_tracks with its own build id in the scores; ``hold`` blocks one id."""

    def __init__(self, build_id: str, hold: threading.Event | None = None) -> None:
        self.build = SimpleNamespace(id=build_id)
        self.hold = hold
        self.started = threading.Event()
        self.missing = False
        self.indexes = {"audio": None}
        self.catalog = SimpleNamespace(interactions=pd.DataFrame({"user_id": ["u1"]}))

    def status(self) -> dict:
        return {"sources": ["fake"], "synthetic": True, "index_build": self.build.id,
                "rows": {"tracks": 1, "artists": 1}}  # fmt: skip

    def similar_tracks(self, track_id: str, k: int = 10, model: str = "hybrid") -> pd.DataFrame:
        if self.missing:
            raise DataMissingError("the audio model has no audio features for it")
        if track_id == "slow" and self.hold is not None:
            self.started.set()
            assert self.hold.wait(30)
        return pd.DataFrame({"track_id": ["t2"], "artist_id": ["a"], "score": [1.0],
                             "model": [model], "reason": [self.build.id]})  # fmt: skip

    def track_info(self, ids) -> pd.DataFrame:
        return pd.DataFrame({"track_id": list(ids), "artist_id": ["a"] * len(ids)})


def point(data: Path, build_id: str) -> None:
    """Make ``build_id`` current the way the build writer does (a new file renamed over)."""
    folder = data / "indexes"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "CURRENT.tmp").write_text(build_id + "\n")
    os.replace(folder / "CURRENT.tmp", folder / "CURRENT")


def from_current(engines: dict[str, FakeEngine], delay: float = 0.0):
    """A loader that serves the fake engine of the build CURRENT names."""

    def load(data_dir: Path) -> FakeEngine:
        time.sleep(delay)
        build_id = (Path(data_dir) / "indexes" / "CURRENT").read_text().strip()
        return engines[build_id]

    return load


def build_of(response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["items"][0]["reason"]


def test_a_new_build_is_served_without_a_restart_and_requests_in_flight_finish_on_the_old(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    point(data, FIRST)
    hold = threading.Event()
    engines = {FIRST: FakeEngine(FIRST, hold), SECOND: FakeEngine(SECOND)}
    app = create_app(data, OPEN, loader=from_current(engines))
    with TestClient(app) as client:
        assert build_of(client.get("/similar/tracks/t1")) == FIRST
        slow: dict = {}
        in_flight = threading.Thread(
            target=lambda: slow.setdefault("r", client.get("/similar/tracks/slow"))
        )
        in_flight.start()
        assert engines[FIRST].started.wait(30)  # the slow request holds the first engine
        point(data, SECOND)
        client.get("/similar/tracks/t1")  # notices CURRENT changed: loads the second engine
        holder = app.state.api.holder
        assert holder.wait(30) and holder.build_id == SECOND
        assert build_of(client.get("/similar/tracks/t3")) == SECOND
        hold.set()
        in_flight.join(30)
        assert build_of(slow["r"]) == FIRST
        metrics = client.get("/metrics").text
        assert 'tunescout_engine_loads_total{outcome="ok"} 2.0' in metrics


def test_an_answer_is_never_served_from_another_build(tmp_path: Path) -> None:
    data = tmp_path / "data"
    point(data, FIRST)
    engines = {FIRST: FakeEngine(FIRST), SECOND: FakeEngine(SECOND)}
    app = create_app(data, OPEN, loader=from_current(engines))
    with TestClient(app) as client:
        assert build_of(client.get("/similar/tracks/t1")) == FIRST
        point(data, SECOND)
        client.get("/health")
        app.state.api.holder.wait(30)
        again = client.get("/similar/tracks/t1")  # the same request: not the cached answer
        assert build_of(again) == SECOND and again.headers["x-cache"] == "miss"


def test_a_build_that_fails_to_load_leaves_the_old_one_serving(tmp_path: Path) -> None:
    data = tmp_path / "data"
    point(data, FIRST)
    engines = {FIRST: FakeEngine(FIRST)}  # the second build cannot be loaded

    def load(data_dir: Path) -> FakeEngine:
        build_id = (Path(data_dir) / "indexes" / "CURRENT").read_text().strip()
        if build_id not in engines:
            raise DataMissingError(f"indexes/{build_id}/audio is missing: rebuild")
        return engines[build_id]

    app = create_app(data, OPEN, loader=load)
    with TestClient(app) as client:
        point(data, SECOND)
        client.get("/health")
        app.state.api.holder.wait(30)
        assert build_of(client.get("/similar/tracks/t1")) == FIRST
        health = client.get("/health").json()
        assert health["build_id"] == FIRST and "is missing: rebuild" in health["message"]
        assert 'tunescout_engine_loads_total{outcome="failed"} 1.0' in client.get("/metrics").text


def test_a_touched_current_that_names_the_same_build_loads_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    point(data, FIRST)
    loads: list[str] = []
    engines = {FIRST: FakeEngine(FIRST)}

    def load(data_dir: Path) -> FakeEngine:
        loads.append("x")
        return from_current(engines)(data_dir)

    holder = EngineHolder(data, loader=load)
    assert holder.wait(30) and loads == ["x"]
    point(data, FIRST)  # rewritten, same id
    holder.refresh()
    assert not holder.loading and loads == ["x"] and holder.current() is engines[FIRST]


def test_without_data_every_request_says_what_to_run(tmp_path: Path) -> None:
    app = create_app(tmp_path / "empty")  # the real loader: nothing has been collected
    with TestClient(app) as client:
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        r = client.get("/similar/tracks/t1")
        assert r.status_code == 503 and r.json()["kind"] == "unavailable"
        assert "scripts/" in r.json()["error"] and "Traceback" not in r.text
        assert client.get("/profiles/ana/ratings").json() == {"profile": "ana", "ratings": []}


def test_while_the_first_build_runs_requests_are_told_to_come_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with jobs.DataLock(data):
        job = jobs.Job(data, "first run", ["collect", "catalog"], "the app")
        job.begin("catalog", "assembling the catalog")
        app = create_app(data, load_at_start=False)
        with TestClient(app) as client:
            r = client.get("/similar/tracks/t1")
            assert r.status_code == 503 and r.json()["kind"] in ("building", "loading")
            app.state.api.holder.wait(30)
            r = client.get("/similar/tracks/t1")
            assert r.status_code == 503 and r.json()["kind"] == "building"
            assert r.headers["retry-after"] == "10" and "assembling the catalog" in r.text
            assert client.get("/health").json()["build_job"]["state"] == "running"


def test_while_loading_requests_are_told_to_retry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    point(data, FIRST)
    app = create_app(data, OPEN, loader=from_current({FIRST: FakeEngine(FIRST)}, delay=1.5),
                     load_at_start=False)  # fmt: skip
    with TestClient(app) as client:
        r = client.get("/similar/tracks/t1")
        assert r.status_code == 503 and r.json()["kind"] == "loading"
        assert r.headers["retry-after"] == "2"
        app.state.api.holder.wait(30)
        assert build_of(client.get("/similar/tracks/t1")) == FIRST


@pytest.mark.parametrize("building", [False, True], ids=["idle", "building"])
def test_missing_data_is_404_unless_a_build_is_running(tmp_path: Path, building: bool) -> None:
    data = tmp_path / "data"
    point(data, FIRST)
    engine = FakeEngine(FIRST)
    engine.missing = True
    app = create_app(data, ApiSettings(rate=0, cache=0), engine=engine)
    with TestClient(app) as client:
        if building:
            with jobs.DataLock(data):
                jobs.Job(data, "build", ["semantic"], "the command line").begin("semantic")
                r = client.get("/similar/tracks/t1?model=audio")
            assert r.status_code == 503 and r.json()["kind"] == "building"
            assert "a build is running" in r.json()["error"]
        else:
            r = client.get("/similar/tracks/t1?model=audio")
            assert r.status_code == 404 and r.json()["kind"] == "data_missing"
            assert r.json()["error"] == "the audio model has no audio features for it"
