"""The Spotify collector against a local fake of the Web API: paging, faults, resume, fallbacks."""

from __future__ import annotations

import base64
import json
import logging
import time
import traceback
from contextlib import ExitStack

import numpy as np
import pandas as pd
import pytest

from tests.fakes import serve
from tests.fakes import spotify_server as fake
from tunescout import catalog
from tunescout.collect.sources.spotify import (
    Checkpoint,
    Retries,
    collect_spotify,
    fill_features,
    parse_artist,
    parse_track,
)
from tunescout.config import Settings
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.domain.genres import estimate_features
from tunescout.errors import SourceError

CLIENT_ID = "fake-client-id"
SECRET = "s3cr3t-DO-NOT-LOG-42"
FAST = Retries(timeout=0.3, status_retries=4, backoff=0.01, max_retry_after=5.0, attempts=4)
GENRES = ["rock", "hip hop"]
YEARS = ["2010-2019"]


def search_ids(genres: list[str], years: list[str], n: int) -> set[str]:
    return {fake.search_track(g, y, i)[0]["id"] for g in genres for y in years for i in range(n)}


def playlist_ids(pid: str, n: int) -> set[str]:
    tracks = (fake.playlist_item(pid, i)[0]["track"] for i in range(n))
    return {t["id"] for t in tracks if t and t["id"]}


def served(server, route: str, status: int | None = None) -> list[dict]:
    return [e for e in server.served if e["route"] == route and status in (None, e["status"])]


@pytest.fixture
def start():
    """Start a fake Spotify with state overrides; stopped after the test."""
    with ExitStack() as stack:

        def _start(**overrides):
            state = fake.state(client_secret=SECRET, **overrides)
            return stack.enter_context(serve(fake.SpotifyHandler, **state))

        yield _start


@pytest.fixture
def collect(tmp_path):
    """Run the collector against ``server`` with fast retries and test defaults."""

    def _collect(server, secret: str = SECRET, **kwargs):
        settings = Settings(
            data_dir=tmp_path, spotify_client_id=CLIENT_ID, spotify_client_secret=secret
        )
        options = {"genres": GENRES, "years": YEARS, "retries": FAST, "progress": False, **kwargs}
        return collect_spotify(
            settings, api_base=server.url + "/v1", token_url=server.url + "/api/token", **options
        )

    return _collect


def test_collects_every_track_and_artist_exactly_once(start, collect, tmp_path):
    server = start()
    bundle = collect(server, playlists=["plA"])

    # 2 × 120 search results sharing every 10th track, plus 230 playlist items less 2 unusable
    assert len(bundle.tracks) == 240 - 12 + 228
    assert set(bundle.tracks["track_id"]) == search_ids(GENRES, YEARS, 120) | playlist_ids(
        "plA", 230
    )
    assert bundle.tracks["track_id"].is_unique
    catalog.validate("tracks", bundle.tracks)
    catalog.validate("artists", bundle.artists)
    assert len(bundle.artists) == 4 * fake.ARTISTS_PER_GENRE  # shared, rock, hip hop, jazz
    assert set(bundle.artists["artist_id"]) == set(bundle.tracks["artist_id"])
    assert served(server, "search", 200) and len(served(server, "search")) == 6
    assert not (tmp_path / "raw" / "spotify" / "_work").exists()


def test_tracks_carry_artist_facts_dates_and_measured_features(start, collect):
    bundle = collect(start())
    tracks = bundle.tracks.set_index("track_id")

    track, artist = fake.search_track("rock", "2010-2019", 13)
    row = tracks.loc[track["id"]]
    assert row["artist_id"] == artist["id"]
    assert list(row["genres"]) == ["rock", "rock revival"]
    assert row["release_year"] == 2013  # precision "month": 2013-04
    assert row["duration_ms"] == 180_013 and row["popularity"] == 13
    measured = fake.audio_features(track["id"])
    assert row[AUDIO_FEATURES].to_numpy(float) == pytest.approx(
        [measured[f] for f in AUDIO_FEATURES], abs=1e-6
    )
    assert (row["key"], row["mode"]) == (measured["key"], measured["mode"])
    assert set(bundle.tracks["features_source"]) == {"measured"}
    years = {fake.search_track("rock", "2010-2019", i)[0]["id"]: 2010 + i % 10 for i in range(120)}
    assert tracks.loc[list(years), "release_year"].tolist() == list(years.values())

    artists = bundle.artists.set_index("artist_id")
    assert artists.loc[artist["id"], "listeners"] == artist["followers"]["total"]
    assert artists.loc[artist["id"], "popularity"] == artist["popularity"]
    assert list(artists.loc[artist["id"], "tags"]) == []
    rock2 = tracks[tracks["artist_id"] == artist["id"]]
    assert artists.loc[artist["id"], "track_count"] == len(rock2)


def test_search_stops_at_the_api_cap_and_at_max_per_query(start, collect):
    server = start(tracks_per_query=1300)
    bundle = collect(server, genres=["metal"])
    assert len(bundle.tracks) == 1000
    offsets = [int(e["offset"]) for e in served(server, "search")]
    assert offsets == list(range(0, 1000, 50))

    server = start(tracks_per_query=1300)
    bundle = collect(server, genres=["metal"], max_per_query=120)
    assert len(bundle.tracks) == 120
    pages = [(int(e["offset"]), int(e["limit"])) for e in served(server, "search")]
    assert pages == [(0, 50), (50, 50), (100, 20)]


def test_closed_audio_features_asked_once_then_estimated(start, collect, caplog):
    server = start(features_closed=True, tracks_per_query=300)  # 2 × 300 tracks: 6 batches
    by_track_id = fake.search_track("rock", "2010-2019", 1)[0]["id"]
    by_track = pd.DataFrame(
        [{"track_id": by_track_id, **dict.fromkeys(AUDIO_FEATURES, 0.25), "key": 3, "mode": 1}]
    ).assign(tempo=99.0, loudness=-9.0)
    by_artist = pd.DataFrame(
        [{"artists": "ROCK Artist 2 ", **dict.fromkeys(AUDIO_FEATURES, 0.5)}]
    ).assign(tempo=111.0, loudness=-11.0)

    with caplog.at_level(logging.WARNING, logger="tunescout.collect.sources.spotify"):
        bundle = collect(server, features_by_track=by_track, features_by_artist=by_artist)

    assert server.calls["audio-features"] == 1
    closed = [r for r in caplog.records if "403 to audio-features" in r.getMessage()]
    assert len(closed) == 1
    assert set(bundle.tracks["features_source"]) == {"estimated"}
    tracks = bundle.tracks.set_index("track_id")
    assert tracks.loc[by_track_id, AUDIO_FEATURES].tolist() == pytest.approx(
        [0.25] * 7 + [99.0, -9.0]
    )
    assert (tracks.loc[by_track_id, "key"], tracks.loc[by_track_id, "mode"]) == (3, 1)

    rock2 = fake.artist_object("rock", 2)["id"]
    from_artist = tracks[(tracks["artist_id"] == rock2) & (tracks.index != by_track_id)]
    assert len(from_artist) > 10
    assert np.allclose(from_artist[AUDIO_FEATURES].to_numpy(float), [0.5] * 7 + [111.0, -11.0])

    rest = tracks[(tracks["artist_id"] != rock2) & (tracks.index != by_track_id)]
    for _, row in rest.iterrows():
        # shared artists have no genres: the prior of the genre searched first (rock) stands in
        genres = list(row["genres"]) or ["rock"]
        prior = estimate_features(genres)
        assert row[AUDIO_FEATURES].tolist() == pytest.approx([prior[f] for f in AUDIO_FEATURES])
    counts = bundle.params["features"]
    assert counts == {
        "measured": 0,
        "by_track": 1,
        "by_artist": len(from_artist),
        "by_genre": len(rest),
    }
    assert any("403" in note for note in bundle.notes)


def test_closed_artists_endpoint_is_asked_once(start, collect, caplog):
    genres = ["rock", "hip hop", "metal", "folk", "classical", "pop"]  # 48 artists: 2 batches
    server = start(faults={"artists": [403]}, tracks_per_query=60)
    with caplog.at_level(logging.WARNING, logger="tunescout.collect.sources.spotify"):
        bundle = collect(server, genres=genres, playlists=["plA"])
    assert server.calls["artists"] == 1
    assert sum("403 to artists" in r.getMessage() for r in caplog.records) == 1
    assert len(bundle.artists) == 55 and bundle.artists["listeners"].isna().all()
    assert set(bundle.artists["name"]) >= {"Rock Artist 3", "Jazz Artist 6", "Shared Artist 0"}
    assert bundle.tracks["genres"].map(len).eq(0).all()
    assert set(bundle.tracks["features_source"]) == {"measured"}
    assert any(note.startswith("artists: 403") for note in bundle.notes)


def test_development_mode_page_size_and_missing_fields(start, collect):
    server = start(tracks_per_query=35)
    bundle = collect(server, genres=["rock"], page_size=10)
    pages = [(int(e["offset"]), int(e["limit"])) for e in served(server, "search")]
    assert pages == [(0, 10), (10, 10), (20, 10), (30, 5)]
    assert len(bundle.tracks) == 35

    # development-mode apps no longer get track popularity nor artist followers and popularity
    track = {"id": "t1", "type": "track", "artists": [{"id": "a1", "name": "A"}], "album": {}}
    assert parse_track(track)["popularity"] is None and parse_track(track)["release_year"] is None
    assert parse_track({**track, "album": {"release_date": "0000"}})["release_year"] is None
    artist = parse_artist({"id": "a1", "name": "A", "genres": ["jazz"]})
    assert artist["listeners"] is None and artist["popularity"] is None


def test_rate_limit_waits_for_retry_after(start, collect):
    server = start(faults={"search@50": [429]}, retry_after=1)
    bundle = collect(server, genres=["rock"])
    tries = [e for e in served(server, "search") if e["offset"] == "50"]
    assert [e["status"] for e in tries] == [429, 200]
    assert tries[1]["at"] - tries[0]["at"] >= 0.99
    assert len(bundle.tracks) == 120


def test_retry_after_is_capped(start, collect):
    server = start(faults={"search@0": [429]}, retry_after=10)
    began = time.monotonic()
    bundle = collect(server, genres=["rock"], retries=Retries(timeout=0.3, max_retry_after=0.2))
    assert time.monotonic() - began < 5
    assert len(bundle.tracks) == 120


def test_server_errors_are_retried_then_succeed(start, collect):
    server = start(faults={"search@50": [500, 502, 503]})
    bundle = collect(server, genres=["rock"])
    tries = [e["status"] for e in served(server, "search") if e["offset"] == "50"]
    assert tries == [500, 502, 503, 200]
    assert len(bundle.tracks) == 120


def test_timeout_is_retried(start, collect):
    server = start(faults={"artists": ["slow"]}, delay=1.0)
    bundle = collect(server)
    assert server.calls["artists"] == 2
    assert len(bundle.artists) == 3 * fake.ARTISTS_PER_GENRE
    assert bundle.artists["name"].str.contains("Artist").all()
    assert bundle.artists["genres"].map(len).gt(0).sum() == 2 * fake.ARTISTS_PER_GENRE


def test_malformed_json_is_retried(start, collect):
    server = start(faults={"search@50": ["malformed", "malformed"]})
    bundle = collect(server, genres=["rock"])
    assert server.calls["search"] == 5
    assert set(bundle.tracks["track_id"]) == search_ids(["rock"], YEARS, 120)
    assert bundle.notes == []


def test_page_that_stays_malformed_is_skipped_with_a_warning(start, collect, caplog):
    server = start(faults={"search@50": ["malformed"] * FAST.attempts})
    with caplog.at_level(logging.WARNING, logger="tunescout.collect.sources.spotify"):
        bundle = collect(server, genres=["rock"])
    lost = {fake.search_track("rock", "2010-2019", i)[0]["id"] for i in range(50, 100)}
    assert set(bundle.tracks["track_id"]) == search_ids(["rock"], YEARS, 120) - lost
    messages = [r.getMessage() for r in caplog.records]
    assert any("skipping search|genre:rock year:2010-2019|50" in m for m in messages)
    assert any("skipped" in note for note in bundle.notes)


def test_expired_token_is_renewed(start, collect):
    server = start(faults={"search@50": ["expire"]})
    bundle = collect(server, genres=["rock"])
    assert server.issued == 2
    assert len(bundle.tracks) == 120


def test_unknown_playlist_is_skipped(start, collect):
    bundle = collect(start(), genres=["rock"], playlists=["missing"])
    assert len(bundle.tracks) == 120
    assert any("playlist missing" in note for note in bundle.notes)


@pytest.mark.parametrize(
    ("route", "plan"),
    [("search@50", [500, 500]), ("artists", ["ok", 503, 503]), ("audio-features", [502, 502])],
)
def test_interrupted_run_resumes_without_duplicates_or_gaps(start, collect, tmp_path, route, plan):
    genres = ["rock", "hip hop", "metal", "folk", "classical", "pop"]
    server = start(faults={route: plan}, tracks_per_query=60)
    once = Retries(timeout=0.3, status_retries=1, backoff=0.01)
    with pytest.raises(SourceError, match="run again to resume"):
        collect(server, genres=genres, playlists=["plA"], retries=once)
    assert (tmp_path / "raw" / "spotify" / "_work" / "pages.jsonl").exists()

    bundle = collect(server, genres=genres, playlists=["plA"], retries=once)

    expected = search_ids(genres, YEARS, 60) | playlist_ids("plA", 230)
    assert len(bundle.tracks) == len(expected) and set(bundle.tracks["track_id"]) == expected
    assert len(bundle.artists) == 7 * fake.ARTISTS_PER_GENRE + 6  # six shared artists in 60
    assert set(bundle.tracks["features_source"]) == {"measured"}
    pages = [(e["q"], e["offset"]) for e in served(server, "search", 200)]
    assert len(pages) == len(set(pages)) == 6 * 2
    artist_ids = [i for e in served(server, "artists", 200) for i in e["ids"].split(",")]
    assert sorted(artist_ids) == sorted(set(artist_ids))
    feature_ids = [i for e in served(server, "audio-features", 200) for i in e["ids"].split(",")]
    assert sorted(feature_ids) == sorted(expected)
    assert not (tmp_path / "raw" / "spotify" / "_work").exists()


def test_checkpoint_drops_a_torn_record_and_stale_work(tmp_path):
    store = Checkpoint(tmp_path / "work", {"genres": ["rock"]})
    store.add("pages", {"key": "a"})
    with (tmp_path / "work" / "pages.jsonl").open("a") as fh:
        fh.write('{"key": "b", "tra')  # a crash in the middle of a write
    assert Checkpoint(tmp_path / "work", {"genres": ["rock"]}).load("pages") == [{"key": "a"}]
    store.add("pages", {"key": "c"})
    assert [r["key"] for r in store.load("pages")] == ["a", "c"]

    fresh = Checkpoint(tmp_path / "work", {"genres": ["jazz"]})
    assert fresh.load("pages") == []
    assert json.loads((tmp_path / "work" / "params.json").read_text()) == {"genres": ["jazz"]}


def test_secret_never_appears_in_logs_or_errors(start, collect, caplog):
    server = start(faults={"search@50": ["expire", 500], "artists": ["slow"]})
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    with caplog.at_level(logging.DEBUG):
        collect(server)
        with pytest.raises(SourceError) as refused:
            collect(server, secret=SECRET + "-wrong", genres=["jazz"])
        with pytest.raises(SourceError) as failed:
            collect(start(faults={"search": [500] * 10}), retries=Retries(status_retries=1))
    assert "Bearer" in caplog.text  # spotipy's header dumps were captured, and redacted
    texts = [caplog.text]
    for err in (refused.value, failed.value):
        texts.append("".join(traceback.format_exception(err)))
    for text in texts:
        assert SECRET not in text and basic not in text and "token1" not in text
    assert "SPOTIFY_CLIENT_SECRET" in str(refused.value)


def test_missing_credentials_are_reported(tmp_path):
    with pytest.raises(SourceError, match="SPOTIFY_CLIENT_ID"):
        collect_spotify(Settings(data_dir=tmp_path), progress=False)


@pytest.mark.slow
def test_public_data_sets_fill_features_by_track_and_by_artist(shared_data):
    songs = pd.read_csv(shared_data / "spotify-tracks" / "spotify_songs.csv")
    profiles = pd.read_csv(shared_data / "spotify-1921-2020-artists" / "data_w_genres.csv")
    sample = songs.drop_duplicates("track_id").head(100)
    tracks = pd.DataFrame(
        {
            "track_id": [*sample["track_id"], "unknown1", "unknown2"],
            "artist_id": "a",
            "artist_name": [*sample["track_artist"], "radiohead", "No Such Artist"],
            "genres": [[]] * 101 + [["jazz"]],
            **{f: np.nan for f in [*AUDIO_FEATURES, "key", "mode"]},
        }
    )
    counts = fill_features(tracks, by_track=songs, by_artist=profiles)

    assert counts == {"measured": 0, "by_track": 100, "by_artist": 1, "by_genre": 1}
    assert tracks[AUDIO_FEATURES].to_numpy(float)[:100] == pytest.approx(
        sample[AUDIO_FEATURES].to_numpy(float)
    )
    assert tracks["key"].iloc[:100].tolist() == sample["key"].tolist()
    radiohead = profiles.loc[profiles["artists"] == "Radiohead", AUDIO_FEATURES]
    assert tracks.loc[100, AUDIO_FEATURES].to_numpy(float) == pytest.approx(
        radiohead.to_numpy(float)[0]
    )
    jazz = estimate_features(["jazz"])
    assert tracks.loc[101, AUDIO_FEATURES].tolist() == pytest.approx(
        [jazz[f] for f in AUDIO_FEATURES]
    )
    assert set(tracks["features_source"]) == {"estimated"}
