"""Fault matrix: the collectors against local fake Spotify and Last.fm servers answering with HTTP
errors, timeouts, resets, cut-off and malformed bodies and broken pagination; collections and builds
killed with SIGKILL. After every fault nothing already saved changes and a rerun has no duplicates
or gaps."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest

from tests.fakes import serve
from tests.fakes import spotify_server as fake
from tests.fakes.lastfm_server import FAKE_KEY, LastfmHandler
from tests.fakes.lastfm_server import state as lastfm_state
from tests.test_source_spotify import CLIENT_ID, SECRET, playlist_ids, search_ids
from tunescout import catalog
from tunescout.catalog import snapshots as raw
from tunescout.catalog.assemble import build_catalog
from tunescout.collect.runner import Options, collect
from tunescout.collect.sources.lastfm import LastfmClient, collect_lastfm
from tunescout.collect.sources.spotify import Retries
from tunescout.collect.sources.synthetic import generate
from tunescout.config import Settings
from tunescout.errors import ArtifactError, SourceError
from tunescout.indexes import store
from tunescout.indexes.build import build_indexes
from tunescout.serving.engine import Engine

pytestmark = pytest.mark.hardening

ROOT = Path(__file__).resolve().parents[1]
GENRES, YEARS, PLAYLIST = ["rock", "hip hop"], ["2010-2019"], "plA"
FAST = Retries(timeout=0.3, status_retries=3, backoff=0.01, max_retry_after=5.0, attempts=3)
ONCE = Retries(timeout=0.3, status_retries=1, backoff=0.01, max_retry_after=5.0, attempts=2)
STATUSES = [429, 500, 502, 503]
TRANSPORT = ["slow", "reset", "truncated", "malformed"]


def expected_tracks(genres: list[str] = GENRES) -> set[str]:
    return search_ids(genres, YEARS, 120) | playlist_ids(PLAYLIST, 230)


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by relative path: "unchanged" means equal digests."""
    return {
        p.relative_to(folder).as_posix(): catalog.file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def spotify_dir(tmp_path: Path) -> tuple[Settings, Path, dict[str, str]]:
    """A data dir holding last week's Spotify snapshot, and that snapshot's file digests."""
    settings = Settings(
        data_dir=tmp_path / "data", spotify_client_id=CLIENT_ID, spotify_client_secret=SECRET
    )
    bundle = generate(n_tracks=60, n_users=5, seed=3, progress=False)
    bundle.source = "spotify"
    last_week = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    previous = raw.write_snapshot(settings.raw_dir, bundle, when=last_week)
    return settings, previous, tree_digest(previous)


@pytest.fixture
def fake_spotify():
    """Start a fake Spotify with state overrides; stopped after the test."""
    with ExitStack() as stack:

        def _start(**overrides):
            state = fake.state(
                **{"client_secret": SECRET, "delay": 0.5, "retry_after": 1, **overrides}
            )
            return stack.enter_context(serve(fake.SpotifyHandler, **state))

        yield _start


def spotify_options(server, retries: Retries = FAST, genres: list[str] = GENRES) -> Options:
    return Options(
        spotify={
            "api_base": server.url + "/v1",
            "token_url": server.url + "/api/token",
            "genres": genres,
            "years": YEARS,
            "playlists": [PLAYLIST],
            "retries": retries,
            "progress": False,
        }
    )


def collected(settings: Settings, server, **kwargs) -> raw.RawBundle:
    """Collect from ``server`` through :func:`tunescout.collect.runner.collect` and read the snapshot."""
    outcome = collect(settings, "spotify", spotify_options(server, **kwargs))
    return raw.read_snapshot(outcome.snapshots[0])


def assert_whole(bundle: raw.RawBundle, tracks: set[str]) -> None:
    """Every expected track exactly once, every artist of a track exactly once."""
    assert bundle.tracks["track_id"].is_unique
    assert set(bundle.tracks["track_id"]) == tracks
    assert bundle.artists["artist_id"].is_unique
    assert set(bundle.artists["artist_id"]) == set(bundle.tracks["artist_id"])
    assert set(bundle.tracks["features_source"]) == {"measured"}


def assert_previous_intact(settings: Settings, previous: Path, digest: dict[str, str]) -> None:
    assert tree_digest(previous) == digest


def saved_work(settings: Settings) -> set[str]:
    """The pages and ids the checkpoint holds (as ``search|q|offset``, ``artists:<id>`` …)."""
    folder = settings.raw_dir / "spotify" / "_work"
    work: set[str] = set()
    for kind in ("pages", "artists", "audio_features"):
        path = folder / f"{kind}.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        for record in map(json.loads, lines):
            work |= {record["key"]} if kind == "pages" else {f"{kind}:{i}" for i in record["ids"]}
    return work


def served_work(entries: list[dict]) -> list[str]:
    """What Spotify answered whole with 200, in the checkpoint's terms (one entry per page or id)."""
    out = []
    for e in (e for e in entries if e["status"] == 200 and not e["damaged"]):
        if e["route"] == "search":
            out.append(f"search|{e['q']}|{e['offset']}")
        elif e["route"] == "playlist":
            out.append(f"playlist|{PLAYLIST}|{e['offset']}")
        elif e["route"] in ("artists", "audio-features"):
            kind = e["route"].replace("-", "_")
            out += [f"{kind}:{i}" for i in e["ids"].split(",")]
    return out


def duplicates(items: list[str]) -> list[str]:
    return sorted({i for i in items if items.count(i) > 1})


# ---- Spotify: one fault, then the API recovers ------------------------------------------------

TRANSIENT = [
    (route, fault)
    for route in ("search@50", "playlist@100", "artists", "audio-features")
    for fault in [401, *STATUSES, *TRANSPORT]
] + [("token", fault) for fault in [*STATUSES, "slow", "reset", "truncated"]]


@pytest.mark.parametrize(("route", "fault"), TRANSIENT)
def test_spotify_recovers_from_one_fault(fake_spotify, spotify_dir, route, fault) -> None:
    settings, previous, digest = spotify_dir
    server = fake_spotify(faults={route: [fault]})
    bundle = collected(settings, server)
    assert_whole(bundle, expected_tracks())
    assert bundle.notes == []
    assert not server.faults[route], "the fault was served"
    assert duplicates(served_work(server.served)) == []
    assert_previous_intact(settings, previous, digest)
    assert not (settings.raw_dir / "spotify" / "_work").exists()


# ---- Spotify: the fault outlasts the retries; the rerun resumes -------------------------------

PERSISTENT = [
    (route, fault)
    for route in ("search@50", "playlist@100", "artists", "audio-features")
    for fault in [503, "slow", "reset", "truncated"]
] + [("search@50", 429), ("search@50", 500), ("search@50", 502), ("token", 503)]


@pytest.mark.parametrize(("route", "fault"), PERSISTENT)
def test_spotify_persistent_fault_fails_clearly_and_resumes(
    fake_spotify, spotify_dir, route, fault
) -> None:
    settings, previous, digest = spotify_dir
    server = fake_spotify(faults={route: [fault] * 20})
    with pytest.raises(SourceError, match="run again to resume") as failed:
        collect(settings, "spotify", spotify_options(server, retries=ONCE))
    what = f"HTTP {fault}" if isinstance(fault, int) else "did not answer after 2 tries"
    assert what in str(failed.value)
    assert raw.latest_sources(settings.raw_dir)["spotify"] == previous
    assert_previous_intact(settings, previous, digest)
    saved, first_run = saved_work(settings), len(server.served)

    server.faults[route] = []
    bundle = collected(settings, server, retries=ONCE)
    assert_whole(bundle, expected_tracks())
    assert saved & set(served_work(server.served[first_run:])) == set(), "saved work fetched again"
    assert_previous_intact(settings, previous, digest)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_spotify_client_errors_stop_with_the_status(fake_spotify, spotify_dir, status: int) -> None:
    settings, previous, digest = spotify_dir
    server = fake_spotify(faults={"search@50": [status] * 20})
    with pytest.raises(SourceError, match=f"Spotify answered HTTP {status} "):
        collect(settings, "spotify", spotify_options(server))
    assert_previous_intact(settings, previous, digest)
    server.faults["search@50"] = []
    assert_whole(collected(settings, server), expected_tracks())


@pytest.mark.parametrize(("offset", "kept"), [(0, 0), (100, 100), (200, 200)])
def test_a_playlist_page_spotify_does_not_know_keeps_the_pages_before_it(
    fake_spotify, spotify_dir, offset: int, kept: int
) -> None:
    settings, *_ = spotify_dir
    server = fake_spotify(faults={f"playlist@{offset}": [404]})
    bundle = collected(settings, server)
    assert_whole(bundle, search_ids(GENRES, YEARS, 120) | playlist_ids(PLAYLIST, kept))
    where = f"playlist {PLAYLIST}" + (f" from item {offset}" if offset else "")
    assert any(where in note for note in bundle.notes), bundle.notes


@pytest.mark.parametrize(("route", "shown"), [("search@50", 50), ("playlist@100", 100)])
def test_an_empty_page_ends_the_listing_with_a_note(
    fake_spotify, spotify_dir, route: str, shown: int
) -> None:
    settings, *_ = spotify_dir
    server = fake_spotify(faults={route: ["empty"]})
    bundle = collected(settings, server)
    if route.startswith("search"):  # the first query (rock) stops at 50; the other is whole
        rock, other = search_ids(GENRES[:1], YEARS, 50), search_ids(GENRES[1:], YEARS, 120)
        assert_whole(bundle, rock | other | playlist_ids(PLAYLIST, 230))
    else:
        assert_whole(bundle, search_ids(GENRES, YEARS, 120) | playlist_ids(PLAYLIST, 100))
    assert any(f"after item {shown} of" in n and "an empty page" in n for n in bundle.notes)


def test_looping_pagination_ends(fake_spotify, spotify_dir) -> None:
    settings, *_ = spotify_dir
    server = fake_spotify(endless=True)  # every page offers a next one; past the end it repeats
    result: list[raw.RawBundle] = []
    worker = threading.Thread(target=lambda: result.append(collected(settings, server)))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), f"still paging after 60 s: {dict(server.calls)}"
    assert_whole(result[0], expected_tracks())
    assert server.calls["playlist"] == 3 and server.calls["search"] == 2 * 3


# ---- Last.fm: every listing and lookup method, transient and persistent faults ----------------

LASTFM_OPTIONS = {
    "mood_tags": ["sad", "chill", "happy"],
    "seed_users": ["alice"],
    "max_users": 10,
    "pages": 3,
    "per_page": 3,
    "progress": False,
}
LASTFM_TARGETS = [
    ("chart.gettopartists", ""),
    ("tag.gettopartists", "sad"),
    ("user.getfriends", "alice"),
    ("user.gettopartists", "bob"),
    ("artist.gettoptags", "Adele"),
    ("artist.getinfo", "Nujabes"),
]
LASTFM_FAULTS = ["http:500", "http:502", "http:503", "http:429:1", "reset", "truncated"]
LASTFM_FAULTS += ["malformed", "sleep:1.0", "error:8", "error:11", "error:16", "error:29"]


def lastfm_run(
    tmp_path: Path, faults: dict, pages: int = 3, **server_state: object
) -> tuple[raw.RawBundle, int, int]:
    """A Last.fm collection against the fake: the bundle, requests skipped, requests made."""
    settings = Settings(data_dir=tmp_path, lastfm_api_key=FAKE_KEY)
    with serve(LastfmHandler, **lastfm_state(faults=faults, **server_state)) as server:
        client = LastfmClient(
            FAKE_KEY,
            server.url + "/2.0/",
            timeout=0.4,
            attempts=3,
            backoff=0.01,
            calls_per_second=1000,
        )
        bundle = collect_lastfm(settings, client=client, **{**LASTFM_OPTIONS, "pages": pages})
    return bundle, client.skipped, len(server.calls)


def rows(frame: pd.DataFrame) -> list:
    """A frame as sorted plain rows (lists of tags compared by value)."""
    return sorted(map(repr, frame.astype(str).to_numpy().tolist()))


BASE_SKIPS = 3  # the fake world's own "not found": erin's friends, Ghost Artist's tags and info


@pytest.fixture(scope="module")
def lastfm_baseline(tmp_path_factory: pytest.TempPathFactory) -> raw.RawBundle:
    bundle, skipped, _ = lastfm_run(tmp_path_factory.mktemp("lastfm"), {})
    assert skipped == BASE_SKIPS
    return bundle


@pytest.mark.parametrize("target", LASTFM_TARGETS, ids=lambda t: "-".join(filter(None, t)))
@pytest.mark.parametrize("fault", LASTFM_FAULTS)
def test_lastfm_recovers_from_one_fault(tmp_path, lastfm_baseline, target, fault) -> None:
    bundle, skipped, _ = lastfm_run(tmp_path, {target: [fault]})
    assert skipped == BASE_SKIPS
    assert rows(bundle.artists) == rows(lastfm_baseline.artists)
    assert rows(bundle.interactions) == rows(lastfm_baseline.interactions)


@pytest.mark.parametrize(
    "fault", ["http:401", "http:403", "http:404", "http:502", "reset", "truncated", "malformed"]
)
def test_lastfm_persistent_fault_skips_only_that_item(
    tmp_path, lastfm_baseline, fault, caplog
) -> None:
    bundle, skipped, _ = lastfm_run(tmp_path, {("artist.gettoptags", "Adele"): [fault] * 10})
    assert skipped == BASE_SKIPS + 1
    assert "artist.getTopTags artist='Adele' skipped: " in caplog.text
    assert any(f"{BASE_SKIPS + 1} requests skipped" in n for n in bundle.notes)
    artists = bundle.artists.set_index("artist_id")
    assert list(artists.loc["Adele", "tags"]) == []
    others = bundle.artists[bundle.artists["artist_id"] != "Adele"]
    base = lastfm_baseline.artists[lastfm_baseline.artists["artist_id"] != "Adele"]
    assert rows(others) == rows(base)
    assert rows(bundle.interactions) == rows(lastfm_baseline.interactions)


@pytest.mark.parametrize("past_end", ["empty", "repeat"])
def test_lastfm_pagination_that_never_ends_is_cut_off(tmp_path, lastfm_baseline, past_end) -> None:
    """Every listing claims 1000 pages; past its real end it sends empty pages, or its last page
    again. Asking for up to 50 pages must stop at the real end with the same rows."""
    lying = dict.fromkeys(
        ["chart.gettopartists", "tag.gettopartists", "user.getfriends", "user.gettopartists"], 1000
    )
    bundle, _, requests = lastfm_run(tmp_path, {}, pages=50, total_pages=lying, past_end=past_end)
    assert rows(bundle.artists) == rows(lastfm_baseline.artists)
    assert rows(bundle.interactions) == rows(lastfm_baseline.interactions)
    assert requests < 60  # one page past each listing's end at most


@pytest.mark.parametrize("fault", ["http:404", "http:503", "reset", "truncated"])
def test_lastfm_a_user_that_fails_loses_only_that_user(tmp_path, lastfm_baseline, fault) -> None:
    bundle, skipped, _ = lastfm_run(tmp_path, {("user.gettopartists", "bob"): [fault] * 10})
    assert skipped == BASE_SKIPS + 1
    base = lastfm_baseline.interactions
    assert rows(bundle.interactions) == rows(base[base["user_id"] != "lastfm:bob"])


# ---- SIGKILL: a collection killed mid-way resumes without duplicates or gaps -------------------

KILL_GENRES = ["rock", "hip hop", "metal", "folk", "classical", "pop"]
COLLECT_DRIVER = """
import sys
from pathlib import Path
from tunescout.collect.runner import Options, collect
from tunescout.config import Settings
from tunescout.collect.sources.spotify import Retries

url, data_dir, genres = sys.argv[1], Path(sys.argv[2]), sys.argv[3].split(",")
settings = Settings(data_dir=data_dir, spotify_client_id=sys.argv[4], spotify_client_secret=sys.argv[5])
spotify = {"api_base": url + "/v1", "token_url": url + "/api/token", "genres": genres,
           "years": ["2010-2019"], "playlists": ["plA"], "progress": False,
           "retries": Retries(timeout=120, backoff=0.01)}
collect(settings, "spotify", Options(spotify=spotify))
"""


def start_collection(server, settings: Settings) -> subprocess.Popen:
    args = [server.url, str(settings.data_dir), ",".join(KILL_GENRES), CLIENT_ID, SECRET]
    return subprocess.Popen(
        [sys.executable, "-c", COLLECT_DRIVER, *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120) -> None:
    """SIGKILL ``proc`` as soon as ``ready()``; fails when it ends or times out first."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def checkpoint_lines(settings: Settings) -> int:
    path = settings.raw_dir / "spotify" / "_work" / "pages.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


KILL_POINTS = {
    # a request that hangs pins the kill to a known place; "anywhere" kills a free-running collection
    "search": ({"search@50": ["slow"]}, lambda s, st: s.calls["search"] >= 2),
    "playlist": ({"playlist@100": ["slow"]}, lambda s, st: s.calls["playlist"] >= 2),
    "artists": ({"artists": ["ok", "slow"]}, lambda s, st: s.calls["artists"] >= 2),
    "features": ({"audio-features": ["ok", "ok", "slow"]}, lambda s, st: s.calls["audio-features"] >= 3),
    "anywhere": ({}, lambda s, st: checkpoint_lines(st) >= 4),
}  # fmt: skip


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkilled_collection_resumes_without_duplicates_or_gaps(
    fake_spotify, spotify_dir, point: str
) -> None:
    settings, previous, digest = spotify_dir
    faults, ready = KILL_POINTS[point]
    server = fake_spotify(faults=faults, delay=120, tracks_per_query=60)
    kill_when(start_collection(server, settings), lambda: ready(server, settings))

    assert raw.latest_sources(settings.raw_dir)["spotify"] == previous  # no half snapshot
    assert_previous_intact(settings, previous, digest)
    saved, first_run = saved_work(settings), len(server.served)
    assert saved, "the kill came after some work was saved"

    # The resumed run waits as long as the killed one did: with FAST's 0.3 s a busy machine timed
    # out a 120 ms answer the server then completed, and the retry counted as fetching it twice.
    patient = Retries(timeout=120, backoff=0.01)
    bundle = collected(settings, server, genres=KILL_GENRES, retries=patient)
    assert_whole(bundle, search_ids(KILL_GENRES, YEARS, 60) | playlist_ids(PLAYLIST, 230))
    resumed = served_work(server.served[first_run:])
    assert saved & set(resumed) == set(), "saved work fetched again"
    assert duplicates(resumed) == []
    assert_previous_intact(settings, previous, digest)
    assert not (settings.raw_dir / "spotify" / "_work").exists()


# ---- SIGKILL: a build killed mid-way leaves the previous build serving ------------------------


def probe(engine: Engine) -> list[pd.DataFrame]:
    """A few answers that depend on every index: compared before and after a killed build."""
    tracks, artists = engine.catalog.tracks["track_id"], engine.catalog.artists["artist_id"]
    ratings = {a: 5 for a in engine.survey_artists(k=3)["artist_id"]}
    return [
        engine.search_mood("songs for a rainy heartbreak", k=10),
        engine.recommend(ratings, k=10),
        engine.similar_tracks(tracks.iloc[7], k=10, model="hybrid"),
        engine.similar_artists(artists.iloc[3], k=10, model="als"),
    ]


@pytest.fixture(scope="module")
def served_answers(engine: Engine) -> list[pd.DataFrame]:
    return probe(engine)


BUILD_KILL_POINTS = {
    "audio building": "indexes/*.partial",
    "als building": "indexes/*.partial/audio",
    "semantic building": "indexes/*.partial/als",
}


@pytest.mark.parametrize("point", list(BUILD_KILL_POINTS))
def test_sigkilled_build_leaves_the_previous_build_serving(
    synthetic_dir: Path, served_answers, tmp_path: Path, point: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(synthetic_dir, data, ignore=shutil.ignore_patterns("ratings.sqlite*"))
    index_dir = data / "indexes"
    before = (index_dir / store.CURRENT).read_bytes()
    build_digest = tree_digest(index_dir / before.decode().strip())
    build = subprocess.Popen(
        [sys.executable, "scripts/build.py", "--data-dir", str(data)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_when(build, lambda: any(data.glob(BUILD_KILL_POINTS[point])))

    assert list(index_dir.glob("*.partial")), "killed mid-build"
    assert (index_dir / store.CURRENT).read_bytes() == before
    assert tree_digest(index_dir / before.decode().strip()) == build_digest
    engine = Engine.load(data)
    assert engine.build.id == before.decode().strip()
    for got, want in zip(probe(engine), served_answers, strict=True):
        pd.testing.assert_frame_equal(got, want)

    rebuilt = build_indexes(Settings(data_dir=data), progress=False)
    assert not list(index_dir.glob("*.partial"))
    assert Engine.load(data).build.id == rebuilt.id != before.decode().strip()


def test_a_catalog_swap_cut_between_its_renames_keeps_serving(
    synthetic_dir: Path, served_answers, tmp_path: Path
) -> None:
    """``write_catalog`` renames ``catalog`` to ``catalog.old``, then ``catalog.new`` to ``catalog``;
    a kill between the two leaves no ``catalog`` (too short a window to hit with a signal, so the
    state is made by hand). Loading brings the previous catalog back and the build serves."""
    data = tmp_path / "data"
    shutil.copytree(synthetic_dir, data, ignore=shutil.ignore_patterns("ratings.sqlite*"))
    digest = tree_digest(data / "catalog")
    (data / "catalog").rename(data / "catalog.old")
    shutil.copytree(data / "catalog.old", data / "catalog.new")  # the finished new catalog

    engine = Engine.load(data)
    assert tree_digest(data / "catalog") == digest
    for got, want in zip(probe(engine), served_answers, strict=True):
        pd.testing.assert_frame_equal(got, want)
    build_catalog(Settings(data_dir=data))  # the rerun of the build writes it again
    assert not (data / "catalog.new").exists() and not (data / "catalog.old").exists()
    assert tree_digest(data / "catalog").keys() == digest.keys()


def test_a_changed_catalog_without_its_build_is_refused_by_name(
    synthetic_dir: Path, tmp_path: Path
) -> None:
    """A build killed after the catalog step of a *new* collection: the old indexes no longer
    match, and loading says so and how to fix it instead of serving mismatched answers."""
    data = tmp_path / "data"
    shutil.copytree(synthetic_dir, data, ignore=shutil.ignore_patterns("ratings.sqlite*"))
    settings = Settings(data_dir=data)
    collect(settings, "synthetic", Options(synthetic_tracks=300, synthetic_users=40, seed=9))
    build_catalog(settings)
    with pytest.raises(
        ArtifactError, match=r"built from another catalog .*python scripts/build.py"
    ):
        Engine.load(data)
