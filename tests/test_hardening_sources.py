"""Sources that fail or change under the collector (issue #15, items 1 and 10): a Last.fm outage (503,
resets, a dead proxy), one that starts mid-way, a source that delivers nothing, a kill between the
two renames of a snapshot replacement, and the Spotify Web API as a development-mode app sees it
since February 2026 next to an extended-quota app.

Nothing saved is lost (every snapshot file's sha256 is compared before and after), ``auto`` falls
back past a failed source, and the collector says which Spotify API it met.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fakes import serve
from tests.fakes import spotify_server as fake
from tests.fakes.lastfm_server import FAKE_KEY, LastfmHandler
from tests.fakes.lastfm_server import state as lastfm_state
from tests.test_hardening_faults import PLAYLIST, YEARS, served_work, tree_digest
from tests.test_source_spotify import CLIENT_ID, SECRET, playlist_ids, search_ids
from tunescout import catalog
from tunescout.catalog import snapshots as raw
from tunescout.catalog.assemble import assemble
from tunescout.collect.runner import Options, collect
from tunescout.collect.sources.lastfm import LastfmClient
from tunescout.collect.sources.spotify import Retries
from tunescout.config import Settings
from tunescout.errors import SourceError

pytestmark = pytest.mark.hardening

LASTFM = {"mood_tags": ["sad", "chill", "happy"], "seed_users": ["alice"], "max_users": 5}
FAST = Retries(timeout=0.3, status_retries=2, backoff=0.01, max_retry_after=2.0, attempts=2)
GENRES = ["rock", "hip hop"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lastfm_options(server) -> Options:
    client = LastfmClient(
        FAKE_KEY, server.url + "/2.0/", timeout=0.4, attempts=2, backoff=0.01, calls_per_second=1000
    )
    return Options(
        lastfm={**LASTFM, "client": client, "progress": False},
        # offline public downloads and tiny synthetic data, for auto's fallbacks
        public={
            "tidytuesday_url": f"http://127.0.0.1:{closed_port()}/songs.csv",
            "hetrec_url": f"http://127.0.0.1:{closed_port()}/hetrec.zip",
            "progress": False,
        },
        synthetic_tracks=200,
        synthetic_users=20,
    )


@pytest.fixture
def saved_lastfm(tmp_path: Path) -> tuple[Settings, Path, dict[str, str]]:
    """A data dir whose good Last.fm collection of this week is saved, and every raw file's digest."""
    settings = Settings(data_dir=tmp_path / "data", lastfm_api_key=FAKE_KEY)
    with serve(LastfmHandler, **lastfm_state()) as server:
        outcome = collect(settings, "lastfm", lastfm_options(server))
    snapshot = outcome.snapshots[0]
    assert raw.read_snapshot(snapshot).artists.shape[0] == 10
    return settings, snapshot, tree_digest(settings.raw_dir)


# ---- item 1: an outage never replaces the week's snapshot, and auto falls back ---------------------

OUTAGES = {
    "503 to every request": {"outage": "http:503"},
    "502 to every request": {"outage": "http:502"},
    "every connection reset": {"outage": "reset"},
    "every answer cut off": {"outage": "truncated"},
    "every answer malformed": {"outage": "malformed"},
    "error 11 (service offline)": {"outage": "error:11"},
    "503 after 6 good answers": {"outage": "http:503", "outage_after": 6},
}


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_a_lastfm_outage_keeps_the_saved_snapshot(saved_lastfm, outage: str) -> None:
    settings, snapshot, digest = saved_lastfm
    failing = r"Last\.fm (is not answering|stopped|failed)"
    with (
        serve(LastfmHandler, **lastfm_state(**OUTAGES[outage])) as server,
        pytest.raises(SourceError, match=failing) as err,
    ):
        collect(settings, "lastfm", lastfm_options(server))
    assert "nothing was saved" in str(err.value) and "\n" not in str(err.value)
    assert tree_digest(settings.raw_dir) == digest
    assert raw.latest_sources(settings.raw_dir) == {"lastfm": snapshot}


def test_a_dead_proxy_keeps_the_saved_snapshot(saved_lastfm, monkeypatch) -> None:
    settings, snapshot, digest = saved_lastfm
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    with serve(LastfmHandler, **lastfm_state()) as server:
        with pytest.raises(SourceError, match="through the proxy"):
            collect(settings, "lastfm", lastfm_options(server))
        assert server.calls == []  # it never got past the proxy
    assert tree_digest(settings.raw_dir) == digest


def test_auto_falls_back_past_a_lastfm_outage(saved_lastfm) -> None:
    settings, snapshot, digest = saved_lastfm
    with serve(LastfmHandler, **lastfm_state(outage="http:503")) as server:
        outcome = collect(settings, "auto", lastfm_options(server))
    assert outcome.source == "synthetic"
    assert any(r.startswith("lastfm failed: Last.fm is not answering") for r in outcome.reasons)
    assert any(r.startswith("public failed:") for r in outcome.reasons)
    assert "collected lastfm" not in outcome.message
    kept = {k: v for k, v in tree_digest(settings.raw_dir).items() if k.startswith("lastfm/")}
    assert kept == digest
    assert set(raw.latest_sources(settings.raw_dir)) == {"lastfm", "synthetic"}


def test_an_empty_collection_is_never_saved(saved_lastfm) -> None:
    """Last.fm answers, but with nothing: an empty chart, no tag and no listener to follow."""
    settings, snapshot, digest = saved_lastfm
    empty = Options(lastfm={"mood_tags": [], "seed_users": [], "progress": False})
    with serve(LastfmHandler, **lastfm_state(chart=[])) as server:
        empty.lastfm["client"] = lastfm_options(server).lastfm["client"]
        message = f"lastfm delivered no tracks, artists or listening; the saved snapshot lastfm/{snapshot.name} is kept"
        with pytest.raises(SourceError, match=message):
            collect(settings, "lastfm", empty)
        outcome = collect(
            settings, "auto", Options(**{**vars(lastfm_options(server)), "lastfm": empty.lastfm})
        )
    assert outcome.source == "synthetic"
    assert any("lastfm failed: lastfm delivered no tracks" in r for r in outcome.reasons)
    kept = {k: v for k, v in tree_digest(settings.raw_dir).items() if k.startswith("lastfm/")}
    assert kept == digest


def test_an_empty_spotify_collection_keeps_last_weeks(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", spotify_client_id=CLIENT_ID, spotify_client_secret=SECRET
    )
    bundle = raw.RawBundle("spotify", artists=catalog.validate("artists", one_artist("X")))
    last_week = raw.write_snapshot(
        settings.raw_dir, bundle, dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    )
    digest = tree_digest(settings.raw_dir)
    with (
        serve(
            fake.SpotifyHandler, **fake.state(client_secret=SECRET, tracks_per_query=0)
        ) as server,
        pytest.raises(SourceError, match=f"the saved snapshot spotify/{last_week.name} is kept"),
    ):
        collect(settings, "spotify", spotify_options(server, playlists=[]))
    assert tree_digest(settings.raw_dir) == digest


def one_artist(name: str, listeners: int | None = None) -> pd.DataFrame:
    blank = {c.name: None for c in catalog.SCHEMAS["artists"]}
    row = blank | {"artist_id": name, "name": name, "genres": [], "tags": [], "track_count": 0}
    return pd.DataFrame([row | {"listeners": listeners, "source": "lastfm"}])


def test_a_replacement_cut_between_its_renames_keeps_the_week(saved_lastfm) -> None:
    """Re-collecting this week renames the saved snapshot aside, then the new one into place; a
    kill in between (made by hand: the window is two renames wide) still leaves the week's
    snapshot readable, and the next write restores it before replacing it."""
    settings, snapshot, digest = saved_lastfm
    aside = snapshot.with_name(snapshot.name + raw.REPLACED)
    snapshot.rename(aside)
    assert raw.latest_sources(settings.raw_dir) == {"lastfm": aside}
    assert raw.read_snapshot(aside).artists.shape[0] == 10
    with serve(LastfmHandler, **lastfm_state()) as server:
        again = collect(settings, "lastfm", lastfm_options(server)).snapshots[0]
    assert again == snapshot and not aside.exists()
    assert raw.read_snapshot(again).artists.shape[0] == 10


# ---- item 10: the Spotify Web API of 2026, for both kinds of app ----------------------------------


def spotify_options(server, playlists: list[str] | None = None, retries: Retries = FAST) -> Options:
    return Options(
        spotify={
            "api_base": server.url + "/v1",
            "token_url": server.url + "/api/token",
            "genres": GENRES,
            "years": YEARS,
            "playlists": [PLAYLIST] if playlists is None else playlists,
            "retries": retries,
            "progress": False,
        }
    )


@pytest.fixture
def spotify_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", spotify_client_id=CLIENT_ID, spotify_client_secret=SECRET
    )


def run_spotify(settings: Settings, mode: str, **overrides) -> tuple[object, raw.RawBundle, object]:
    with ExitStack() as stack:
        server = stack.enter_context(
            serve(fake.SpotifyHandler, **fake.state(client_secret=SECRET, mode=mode, **overrides))
        )
        outcome = collect(settings, "spotify", spotify_options(server))
    return outcome, raw.read_snapshot(outcome.snapshots[0]), server


EXPECTED = search_ids(GENRES, YEARS, 120) | playlist_ids(PLAYLIST, 230)


def test_a_development_mode_app_is_detected_and_collected_whole(spotify_settings) -> None:
    outcome, bundle, server = run_spotify(spotify_settings, fake.DEVELOPMENT)
    assert set(bundle.tracks["track_id"]) == EXPECTED and bundle.tracks["track_id"].is_unique
    assert set(bundle.artists["artist_id"]) == set(bundle.tracks["artist_id"])
    # it says so: in the snapshot's params and notes, and in the collection's message
    assert bundle.params["api_mode"] == "development"
    assert bundle.params["api_facts"] == {
        "refused_limit": 50, "page_size": 10, "no_popularity": True,
        "no_batch_artists": True, "no_followers": True,
    }  # fmt: skip
    assert bundle.notes[0].startswith("spotify: development-mode app (search refused 50")
    assert "development-mode app" in outcome.message
    # it adapted: pages of 10 after the one refusal, one request per artist, /items, no more 403s
    searches = [e for e in server.served if e["route"] == "search"]
    assert [int(e["limit"]) for e in searches[:2]] == [50, 10] and searches[0]["status"] == 400
    assert all(int(e["limit"]) <= 10 for e in searches[1:]) and len(searches) == 1 + 2 * 12
    assert server.calls["artists"] == 1 and server.calls["artist"] == len(bundle.artists)
    assert server.calls["audio-features"] == 1
    refused = [e for e in server.served if e["status"] and e["status"] >= 400]
    assert [e["route"] for e in refused] == ["search", "artists", "audio-features"]
    # what Spotify no longer gives is marked missing, not invented
    assert bundle.tracks["popularity"].isna().all()
    assert bundle.artists["popularity"].isna().all() and bundle.artists["listeners"].isna().all()
    assert set(bundle.tracks["features_source"]) == {"estimated"}
    assert bundle.artists["genres"].map(len).gt(0).any()  # genres still come, one artist at a time


def test_an_extended_quota_app_keeps_the_old_api(spotify_settings) -> None:
    outcome, bundle, server = run_spotify(spotify_settings, fake.EXTENDED)
    assert set(bundle.tracks["track_id"]) == EXPECTED
    assert bundle.params["api_mode"] == "extended" and bundle.notes == []
    limits = [int(e["limit"]) for e in server.served if e["route"] == "search"]
    assert max(limits) == 50 and limits.count(50) == 2 * 2  # 50, 50, then the last 20 of 120
    assert server.calls["artist"] == 0 and server.calls["artists"] == 1
    assert bundle.tracks["popularity"].notna().all() and bundle.artists["listeners"].notna().all()
    assert set(bundle.tracks["features_source"]) == {"measured"}


def test_both_kinds_of_app_collect_the_same_music(tmp_path: Path) -> None:
    bundles = {}
    for mode in (fake.DEVELOPMENT, fake.EXTENDED):
        settings = Settings(
            data_dir=tmp_path / mode, spotify_client_id=CLIENT_ID, spotify_client_secret=SECRET
        )
        bundles[mode] = run_spotify(settings, mode)[1]
    dev, ext = (bundles[m] for m in (fake.DEVELOPMENT, fake.EXTENDED))
    columns = ["track_id", "name", "artist_id", "album", "release_year", "duration_ms"]
    pd.testing.assert_frame_equal(
        dev.tracks[columns].sort_values("track_id", ignore_index=True),
        ext.tracks[columns].sort_values("track_id", ignore_index=True),
    )
    keep = ["artist_id", "name", "genres"]
    pd.testing.assert_frame_equal(
        dev.artists[keep].sort_values("artist_id", ignore_index=True).astype(str),
        ext.artists[keep].sort_values("artist_id", ignore_index=True).astype(str),
    )


def test_a_development_mode_run_resumes_with_what_it_learnt(spotify_settings) -> None:
    """A run cut off by an outage keeps its pages and what it found out about the app; the rerun
    asks for pages of 10 at once and fetches no saved page again."""
    with serve(
        fake.SpotifyHandler,
        **fake.state(client_secret=SECRET, mode=fake.DEVELOPMENT, faults={"search@60": [503] * 20}),
    ) as server:
        with pytest.raises(SourceError, match="run again to resume"):
            collect(spotify_settings, "spotify", spotify_options(server))
        first = len(server.served)
        server.faults["search@60"] = []
        outcome = collect(spotify_settings, "spotify", spotify_options(server))
        again = server.served[first:]
    bundle = raw.read_snapshot(outcome.snapshots[0])
    assert set(bundle.tracks["track_id"]) == EXPECTED
    assert all(
        int(e["limit"]) <= 10 for e in again if e["route"] == "search"
    )  # no 50 refused again
    resumed = served_work(again)
    assert not [
        w for w in resumed if w.startswith("search|genre:rock") and int(w.rsplit("|")[-1]) < 60
    ]
    assert bundle.params["api_facts"]["refused_limit"] == 50


def test_the_endpoints_a_development_app_lost_answer_403(spotify_settings) -> None:
    """The fake's development profile: the routes Spotify removed answer 403, the rest work."""
    import requests

    with serve(fake.SpotifyHandler, **fake.state(client_secret=SECRET, mode=fake.DEVELOPMENT)) as s:
        token = requests.post(
            s.url + "/api/token",
            data={"grant_type": "client_credentials"},
            auth=(CLIENT_ID, SECRET),
            timeout=5,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        artist = fake.artist_object("rock", 1)["id"]
        status = {
            path: requests.get(s.url + "/v1" + path, headers=headers, timeout=5).status_code
            for path in (
                f"/artists/{artist}/top-tracks", "/browse/new-releases", "/browse/categories",
                f"/playlists/{PLAYLIST}/tracks", f"/artists?ids={artist}", "/audio-features?ids=x",
                f"/playlists/{PLAYLIST}/items", f"/artists/{artist}",
                "/search?q=genre:rock%20year:2010&type=track&limit=11",
                "/search?q=genre:rock%20year:2010&type=track&limit=10",
            )
        }  # fmt: skip
    assert list(status.values()) == [403, 403, 403, 403, 403, 403, 200, 200, 400, 200]


def test_popularity_a_development_app_lacks_comes_from_lastfm_listeners(spotify_settings) -> None:
    """Assembled with Last.fm listener counts for some of its artists, a development-mode
    collection gets their popularity (and its tracks) from those; the others stay missing."""
    _, spotify, _ = run_spotify(spotify_settings, fake.DEVELOPMENT)
    names = spotify.artists["name"].tolist()
    listened = {name: 1000 * (i + 1) for i, name in enumerate(names[::2])}
    lastfm = raw.RawBundle(
        "lastfm",
        artists=catalog.validate(
            "artists", pd.concat([one_artist(n, c) for n, c in listened.items()], ignore_index=True)
        ),
    )
    cat = assemble([spotify, lastfm])
    artists = cat.artists.set_index("name")
    assert artists.loc[list(listened), "popularity"].notna().all()
    rest = [n for n in names if n not in listened]
    assert artists.loc[rest, "popularity"].isna().all()
    ranks = artists.loc[list(listened), "popularity"].to_numpy()
    assert np.all(np.diff(ranks) > 0)  # more listeners, more popular
    tracks = cat.tracks.merge(cat.artists[["artist_id", "popularity"]], on="artist_id")
    assert (tracks["popularity_x"].fillna(-1) == tracks["popularity_y"].fillna(-1)).all()


def test_lastfm_only_catalog_keeps_working(saved_lastfm, tmp_path: Path) -> None:
    """The build reads the kept snapshot after an outage exactly as before it."""
    settings, snapshot, _ = saved_lastfm
    before = raw.read_snapshot(snapshot)
    copy = tmp_path / "copy"
    shutil.copytree(snapshot, copy)
    with serve(LastfmHandler, **lastfm_state(outage="reset")) as server, pytest.raises(SourceError):
        collect(settings, "lastfm", lastfm_options(server))
    after = raw.read_snapshot(raw.latest_sources(settings.raw_dir)["lastfm"])
    pd.testing.assert_frame_equal(after.artists, before.artists)
    pd.testing.assert_frame_equal(after.interactions, before.interactions)
    assert tree_digest(copy) == tree_digest(snapshot)
