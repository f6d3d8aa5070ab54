"""The Last.fm source against a local fake API: rows, pagination, faults, rate limit, the key."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from tests.fakes import serve
from tests.fakes.lastfm_server import (
    ARTISTS,
    CHART,
    FAKE_KEY,
    TOP_ARTISTS,
    LastfmHandler,
    state,
)
from tunescout import catalog
from tunescout.catalog import snapshots as raw
from tunescout.collect.sources.lastfm import (
    LastfmClient,
    artist_tags,
    collect_lastfm,
    reach_users,
    user_plays,
)
from tunescout.config import Settings
from tunescout.errors import SourceError

ATTEMPTS = 3


@pytest.fixture
def fake():
    with serve(LastfmHandler, **state()) as server:
        yield server


def client_for(server, **options) -> LastfmClient:
    """A client with short timeouts and back-off and, unless asked, no practical rate limit."""
    kwargs = {"timeout": 0.4, "attempts": ATTEMPTS, "backoff": 0.01, "calls_per_second": 1000}
    return LastfmClient(FAKE_KEY, server.url + "/2.0/", **{**kwargs, **options})


def calls(server, method: str, subject: str | None = None) -> list[dict]:
    return [
        p
        for _, p in server.calls
        if p["method"].lower() == method.lower()
        and subject in (None, p.get("artist"), p.get("user"), p.get("tag"))
    ]


def expected_tags(name: str) -> list[dict]:
    return [{"tag": t.lower(), "weight": float(c)} for t, c in ARTISTS[name]["tags"] if c > 0]


def test_collect_returns_artists_tags_listeners_and_plays(fake, tmp_path):
    settings = Settings(data_dir=tmp_path, lastfm_api_key=FAKE_KEY)
    bundle = collect_lastfm(
        settings,
        mood_tags=["sad", "chill", "happy", "no-such-tag"],
        seed_users=["alice"],
        max_users=10,
        pages=5,
        per_page=3,
        progress=False,
        client=client_for(fake),
    )

    artists = bundle.artists.set_index("artist_id")
    assert set(artists.index) == set(ARTISTS) | {"Ghost Artist"}
    assert catalog.as_list(artists.loc["Radiohead", "tags"]) == expected_tags("Radiohead")
    # Tags with count 0 carry no signal and are dropped; "Sad" is lower-cased.
    assert [t["tag"] for t in catalog.as_list(artists.loc["Daft Punk", "tags"])] == [
        "electronic",
        "dance",
        "happy",
    ]
    assert artists.loc["Radiohead", "listeners"] == 5_100_000  # from the chart
    assert artists.loc["Nujabes", "listeners"] == 900_000  # from artist.getInfo
    assert artists.loc["Ghost Artist", "tags"].tolist() == []
    assert (bundle.artists["source"] == "lastfm").all()
    assert (bundle.artists["track_count"] == 0).all()

    got = sorted(
        zip(
            bundle.interactions["user_id"],
            bundle.interactions["artist_id"],
            bundle.interactions["weight"],
            strict=True,
        )
    )
    want = sorted((f"lastfm:{u}", a, float(n)) for u, rows in TOP_ARTISTS.items() for a, n in rows)
    assert got == want
    assert (bundle.interactions["source"] == "lastfm").all()

    assert [p["page"] for p in calls(fake, "chart.getTopArtists")] == ["1", "2", "3"]
    info = sorted(p["artist"] for p in calls(fake, "artist.getInfo"))
    assert info == [
        "Ghost Artist",
        "Nujabes",
        "Sigur Rós",
    ]  # only where the chart gave no listeners
    back = raw.read_snapshot(raw.write_snapshot(tmp_path / "raw", bundle))
    assert len(back.artists) == 10 and len(back.interactions) == len(want)


def test_friend_search_stops_at_max_users(fake):
    client = client_for(fake)
    assert reach_users(client, ["alice"], 3, pages=1) == ["alice", "bob", "carol"]
    assert reach_users(client, ["alice"], 10, pages=1) == ["alice", "bob", "carol", "dave", "erin"]
    assert reach_users(client, ["dave", "carol"], 2, pages=1) == ["dave", "carol"]


@pytest.mark.parametrize("past_end", ["empty", "repeat"])
def test_pagination_ends_when_total_pages_lies(past_end):
    with serve(
        LastfmHandler, **state(total_pages={"chart.gettopartists": 1000}, past_end=past_end)
    ) as server:
        items = list(
            client_for(server).pages("chart.getTopArtists", "artists", "artist", 50, limit=3)
        )
        assert [a["name"] for a in items] == CHART
        assert [p["page"] for p in calls(server, "chart.getTopArtists")] == ["1", "2", "3", "4"]


@pytest.mark.parametrize("code", [29, 8, 11, 16])
def test_retryable_error_codes_are_retried(code):
    faults = {("artist.gettoptags", "Adele"): [f"error:{code}", f"error:{code}"]}
    with serve(LastfmHandler, **state(faults=faults)) as server:
        assert artist_tags(client_for(server), "Adele") == expected_tags("Adele")
        assert len(calls(server, "artist.getTopTags", "Adele")) == 3


@pytest.mark.parametrize("fault", ["http:500", "http:503", "malformed", "sleep:1.0"])
def test_transient_failure_then_success(fault):
    faults = {("artist.gettoptags", "Adele"): [fault]}
    with serve(LastfmHandler, **state(faults=faults)) as server:
        assert artist_tags(client_for(server), "Adele") == expected_tags("Adele")
        assert len(calls(server, "artist.getTopTags", "Adele")) == 2


@pytest.mark.parametrize("fault", ["http:503", "malformed", "sleep:1.0", "error:29"])
def test_persistent_failure_is_skipped_with_a_warning(fault, caplog):
    faults = {("artist.gettoptags", "Adele"): [fault] * 10}
    with serve(LastfmHandler, **state(faults=faults)) as server:
        client = client_for(server)
        assert artist_tags(client, "Adele") == []
        assert artist_tags(client, "Radiohead") == expected_tags("Radiohead")
        # Retries happen once, either in urllib3 or in the client, never multiplied.
        assert len(calls(server, "artist.getTopTags", "Adele")) == ATTEMPTS
    assert client.skipped == 1
    assert "'Adele' skipped" in caplog.text


def test_retry_after_is_honoured():
    faults = {("artist.gettoptags", "Adele"): ["http:429:1"]}
    with serve(LastfmHandler, **state(faults=faults)) as server:
        assert artist_tags(client_for(server), "Adele") == expected_tags("Adele")
        first, second = [t for t, p in server.calls if p.get("artist") == "Adele"]
    assert second - first >= 1.0


def test_not_found_is_skipped_without_retry(fake, caplog):
    client = client_for(fake)
    assert artist_tags(client, "Ghost Artist") == []
    assert len(calls(fake, "artist.getTopTags", "Ghost Artist")) == 1
    plays = user_plays(client, ["zed", "dave"], pages=1, per_page=50, progress=False)
    assert list(zip(plays["user_id"], plays["artist_id"], strict=True)) == [
        ("lastfm:dave", "Nujabes")
    ]
    assert "'Ghost Artist' skipped: not found" in caplog.text
    assert "user='zed' limit=50 page=1 skipped: not found (User not found)" in caplog.text


@pytest.mark.parametrize(
    ("server_state", "reason"),
    [({"api_key": "another-key"}, "invalid API key"), ({"suspended": True}, "suspended API key")],
)
def test_rejected_key_stops_without_revealing_it(server_state, reason, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    settings = Settings(data_dir=tmp_path, lastfm_api_key=FAKE_KEY)
    with (
        serve(LastfmHandler, **state(**server_state)) as server,
        pytest.raises(SourceError, match=reason) as info,
    ):
        collect_lastfm(settings, api_base=server.url + "/2.0/", progress=False)
    assert len(server.calls) == 1  # stops at once, no retries
    assert FAKE_KEY not in str(info.value) and FAKE_KEY not in repr(info.value)
    assert FAKE_KEY not in caplog.text


def test_key_never_logged_during_a_faulty_collection(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    faults = {
        ("artist.gettoptags", "Adele"): ["http:503", "malformed", "error:16"],
        ("user.gettopartists", "bob"): ["sleep:1.0"],
        ("chart.gettopartists", ""): ["error:29"],
    }
    settings = Settings(data_dir=tmp_path, lastfm_api_key=FAKE_KEY)
    with serve(LastfmHandler, **state(faults=faults)) as server:
        bundle = collect_lastfm(
            settings,
            mood_tags=["sad"],
            seed_users=["alice"],
            max_users=3,
            progress=False,
            client=client_for(server),
        )
    assert len(bundle.interactions) == 8
    assert "Retrying" in caplog.text or "Retry" in caplog.text  # urllib3 did log its retries
    assert FAKE_KEY not in caplog.text
    assert all(FAKE_KEY not in str(r.args) for r in caplog.records)


def test_rate_limit_holds_with_retries():
    faults = {("artist.gettoptags", "Adele"): ["http:500", "http:503"]}
    with serve(LastfmHandler, **state(faults=faults)) as server:
        client = client_for(server, calls_per_second=5)
        for name in [*ARTISTS, *ARTISTS][:14]:
            artist_tags(client, name)
        stamps = sorted(t for t, _ in server.calls)
    assert len(stamps) == 16
    windows = [later - early for early, later in zip(stamps, stamps[5:], strict=False)]
    assert min(windows) >= 1.0  # no six requests within one second


def test_unreachable_api_fails_fast():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LastfmClient(FAKE_KEY, f"http://127.0.0.1:{port}/2.0/", timeout=2.0)
    start = time.monotonic()
    with pytest.raises(SourceError, match="cannot reach the Last.fm API"):
        client.call("chart.getTopArtists")
    assert time.monotonic() - start < 2.0


def test_missing_key_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="LASTFM_API_KEY"):
        collect_lastfm(Settings(data_dir=tmp_path), progress=False)
