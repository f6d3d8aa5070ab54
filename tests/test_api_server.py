"""The API served for real: ``scripts/serve.py`` under uvicorn on 127.0.0.1 and an ephemeral port,
started by the test; ratings round trip over HTTP, a rebuild is picked up while it keeps
answering, the load client runs without errors, and ``scripts/benchmark.py --api`` works."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.test_api import copy_data
from tunescout.config import Settings, load_settings
from tunescout.research import apibench
from tunescout.serving.engine import Engine
from tunescout.serving.ratings import RatingsStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def served(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    data = copy_data(synthetic_dir, tmp_path_factory.mktemp("api-served") / "data")
    server = apibench.start_api(data, {"TUNESCOUT_API_RATE": "0"})
    try:
        yield data, server
    finally:
        server.stop()
    assert server.process.returncode is not None


def call(port: int, method: str, path: str, body: object = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_served_on_loopback_with_the_engine_answers(served, engine: Engine) -> None:
    data, server = served
    status, health = call(server.port, "GET", "/health")
    assert status == 200 and health["build_id"] == engine.build.id
    track = str(engine.catalog.tracks["track_id"].iloc[3])
    status, similar = call(server.port, "GET", f"/similar/tracks/{track}?k=5&model=audio")
    wanted = engine.similar_tracks(track, k=5, model="audio")["track_id"].tolist()
    assert status == 200 and [i["track_id"] for i in similar["items"]] == wanted
    status, error = call(server.port, "GET", "/similar/tracks/nope")
    assert status == 404 and error["kind"] == "unknown_id"


def test_ratings_round_trip_between_the_app_store_and_http(served, engine: Engine) -> None:
    data, server = served
    store = RatingsStore(load_settings(data).ratings_db)  # the app's store of this data dir
    artist, other = engine.catalog.artists["artist_id"].iloc[:2].astype(str)
    store.rate("browser", artist, 5)
    status, listed = call(server.port, "GET", "/profiles/browser/ratings")
    assert status == 200 and [(r["artist_id"], r["stars"]) for r in listed["ratings"]] == [
        (artist, 5)
    ]
    status, _ = call(server.port, "PUT", f"/profiles/browser/ratings/{other}", {"stars": 2})
    assert status == 200 and store.ratings("browser") == {artist: 5, other: 2}


def test_the_load_client_gets_no_errors(served, engine: Engine) -> None:
    data, server = served
    requests = apibench.api_requests(engine.catalog, 20)
    for kind in ("similar_audio", "session"):
        run = apibench.api_load(server.port, requests[kind], clients=8, count=40, seconds=60)
        assert run["errors"] == 0 and run["n"] == 40, run["error_examples"]
        assert run["rps"] > 0 and run["p99"] >= run["p50"] > 0


def test_a_rebuild_is_picked_up_without_a_restart(served, engine: Engine) -> None:
    from tunescout.indexes.build import build_indexes

    data, server = served
    track = str(engine.catalog.tracks["track_id"].iloc[5])
    new = build_indexes(Settings(data_dir=data), only=["audio"], progress=False).id
    assert new != engine.build.id
    deadline, answers = time.monotonic() + 180, []
    while time.monotonic() < deadline:
        answers.append(call(server.port, "GET", f"/similar/tracks/{track}?k=3&model=audio"))
        if answers[-1][1].get("build_id") == new:
            break
        time.sleep(0.2)
    assert answers[-1][1]["build_id"] == new, answers[-1]
    assert all(status == 200 for status, _ in answers)  # it kept answering while it loaded
    assert call(server.port, "GET", "/health")[1]["build_id"] == new


def test_the_benchmark_api_section_runs(synthetic_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "scripts/benchmark.py", "--api", "--quick", "--queries", "16",
         "--data-dir", str(synthetic_dir), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.with_name("bench-api.json").read_text())
    runs = result["api"]["runs"]
    assert set(runs["uncached"]) == {"similar_audio", "similar_hybrid", "session", "mood"}
    for kinds in runs.values():
        for by_clients in kinds.values():
            assert set(by_clients) == {"1", "8", "32"}
            assert all(r["errors"] == 0 and r["n"] == 16 for r in by_clients.values())
    targets = [v["target"] for v in result["verdicts"]]
    assert any("1,000 req/s" in t for t in targets) and "zero errors" in targets[-1]
    assert "req/s" in done.stdout and ("MET" in done.stdout or "MISS" in done.stdout)
