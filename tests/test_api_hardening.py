"""The hardening matrix's bad inputs (tests/test_hardening_input.py) sent through HTTP: each is a
4xx with one JSON line (the engine's or the store's own message where the value reaches them),
odd but usable input is answered, a sweep of hostile values into every field of every request is
never a 500, and nothing saved or loaded changes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.test_api import assert_error, copy_data
from tests.test_hardening_input import (
    BAD_CSVS,
    BAD_FILTERS,
    BAD_K,
    BAD_MOODS,
    BAD_PROFILES,
    BAD_RATINGS,
    BAD_STARS,
    GOOD_PROFILES,
    ODD_MOODS,
    db_state,
    fingerprint,
)
from tunescout.api import create_app
from tunescout.config import ApiSettings, load_settings
from tunescout.serving.engine import Engine
from tunescout.serving.ratings import RatingsStore

pytestmark = pytest.mark.hardening


@pytest.fixture(scope="module")
def setup(synthetic_dir: Path, engine: Engine, tmp_path_factory: pytest.TempPathFactory):
    """A client over a copy of the data dir with saved ratings; afterwards the engine's tables
    are checked to be what they were."""
    data = copy_data(synthetic_dir, tmp_path_factory.mktemp("api-hard") / "data")
    store = RatingsStore(load_settings(data).ratings_db)
    artist = str(engine.catalog.artists["artist_id"].iloc[0])
    store.rate("ana", artist, 5)
    before = fingerprint(engine)
    app = create_app(data, ApiSettings(rate=0, cache=0), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, store, engine, artist
    assert fingerprint(engine) == before


def send(client: TestClient, method: str, url: str, payload: object):
    """``payload`` as JSON the way any client may send it (NaN and lone surrogates included)."""
    body = json.dumps(payload, ensure_ascii=True, allow_nan=True)
    return client.request(method, url, content=body, headers={"content-type": "application/json"})


def jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


@pytest.mark.parametrize("text", list(ODD_MOODS.values()), ids=list(ODD_MOODS))
def test_odd_mood_text_still_answers(setup, text: str) -> None:
    client, *_ = setup
    r = send(client, "POST", "/search/mood", {"text": text, "k": 7})
    assert r.status_code == 200, r.text
    found = r.json()["items"]
    assert len(found) == 7 and len({i["track_id"] for i in found}) == 7
    assert all(isinstance(i["reason"], str) and i["reason"] for i in found)


JSON_MOODS = {k: v for k, v in BAD_MOODS.items() if jsonable(v[0])}  # what a client can send


@pytest.mark.parametrize(("text", "message"), list(JSON_MOODS.values()), ids=list(JSON_MOODS))
def test_bad_mood_text_is_refused(setup, text: object, message: str) -> None:
    client, _, _, artist = setup
    r = send(client, "POST", "/search/mood", {"text": text, "k": 5})
    body = assert_error(r, 400, "input")
    assert re.search(message, body["error"]) or body["error"].startswith("text:"), body
    if isinstance(text, str) and text.strip():
        r = send(client, "POST", "/recommendations", {"ratings": {artist: 5}, "mood": text})
        assert_error(r, 400, "input", "mood")


@pytest.mark.parametrize(("filters", "message"), list(BAD_FILTERS.values()), ids=list(BAD_FILTERS))
def test_bad_filters_are_refused(setup, filters: object, message: str) -> None:
    client, *_ = setup
    named = next(iter(filters)) if isinstance(filters, dict) else "filters"
    for url, payload in (
        ("/search/mood", {"text": "late night drive", "filters": filters}),
        ("/recommendations", {"ratings": {}, "filters": filters}),
    ):
        body = assert_error(send(client, "POST", url, payload), 400, "input")
        assert re.search(message, body["error"]) or named in body["error"], body


@pytest.mark.parametrize("k", BAD_K, ids=repr)
def test_bad_k_is_refused_everywhere(setup, k: object) -> None:
    client, _, engine, artist = setup
    track = str(engine.catalog.tracks["track_id"].iloc[0])
    for url, payload in (
        ("/search/mood", {"text": "chill", "k": k}),
        ("/recommendations", {"ratings": {artist: 5}, "k": k}),
        ("/recommendations/session", {"track_sequence": [track], "k": k}),
    ):
        body = assert_error(send(client, "POST", url, payload), 400, "input")
        assert body["error"].startswith("k") or "k must be" in body["error"], body
    if str(k) not in ("5", "3.0"):  # in a query string "5" is a number; "3.0" is not whole
        for url in (f"/similar/tracks/{track}", f"/similar/artists/{artist}"):
            assert_error(client.get(url, params={"k": str(k)}), 400, "input")


@pytest.mark.parametrize(
    ("ratings", "error", "message"), list(BAD_RATINGS.values()), ids=list(BAD_RATINGS)
)
def test_bad_ratings_are_refused(setup, ratings, error, message) -> None:
    client, _, _, artist = setup
    if isinstance(ratings, dict):
        ratings = {(artist if a == "A" else a): s for a, s in ratings.items()}
    for kind in ("artists", "tracks"):
        r = send(client, "POST", "/recommendations", {"ratings": ratings, "kind": kind})
        status = 404 if error.__name__ == "UnknownIdError" else 400
        body = assert_error(r, status, "unknown_id" if status == 404 else "input")
        assert re.search(message, body["error"]) or body["error"].startswith("ratings"), body


def test_hostile_ids_are_refused_by_name(setup) -> None:
    client, *_ = setup
    assert_error(client.get("/similar/artists/' OR 1=1 --"), 404, "unknown_id", "unknown ids")
    html = client.get("/similar/tracks/" + quote("<img src=x onerror=alert(1)>", safe=""))
    assert_error(html, 404, "unknown_id")
    assert_error(client.get("/similar/tracks/%00"), 404, "unknown_id")
    dots = client.get("/similar/tracks/" + quote("../../etc/passwd", safe=""))
    assert dots.status_code == 404 and "Traceback" not in dots.text
    long = client.get("/similar/tracks/" + "a" * 10_000)
    assert_error(long, 400, "input", "at most 1,000")
    session = send(client, "POST", "/recommendations/session", {"track_sequence": []})
    assert_error(session, 400, "input", "the session is empty")
    unknown = send(client, "POST", "/recommendations/session", {"track_sequence": ["nope"]})
    assert_error(unknown, 404, "unknown_id", "nope")
    assert_error(client.get("/users/nobody/recommendations"), 404, "unknown_id", "nobody")
    not_text = "not UTF-8 text"  # would otherwise be read with replacement characters
    assert_error(client.get("/profiles/a%ED%A0%80/ratings"), 400, "input", not_text)
    assert_error(client.get("/search/mood?q=%FF%FE"), 400, "input", not_text)


# ---- ratings: refusals change nothing --------------------------------------------------------


def unchanged(store: RatingsStore):
    class Same:
        def __enter__(self):
            self.before = db_state(store.path)

        def __exit__(self, *exc):
            assert db_state(store.path) == self.before

    return Same()


@pytest.mark.parametrize("name", list(GOOD_PROFILES.values()), ids=list(GOOD_PROFILES))
def test_odd_profile_names_work_through_the_url(setup, name: str) -> None:
    client, store, _, artist = setup
    url = f"/profiles/{quote(name, safe='')}/ratings"
    assert client.put(f"{url}/{artist}", json={"stars": 4}).status_code == 200
    assert store.ratings(name) == {artist: 4}
    listed = client.get(url).json()
    assert listed["profile"] == name and listed["ratings"][0]["stars"] == 4
    assert client.delete(url).json()["deleted"] == 1 and store.ratings("ana") == {artist: 5}


JSON_PROFILES = {k: v for k, v in BAD_PROFILES.items() if jsonable(v[0])}


@pytest.mark.parametrize(("name", "message"), list(JSON_PROFILES.values()), ids=list(JSON_PROFILES))
def test_bad_profile_names_change_nothing(setup, name: object, message: str) -> None:
    client, store, _, artist = setup
    with unchanged(store):
        r = send(
            client, "POST", "/feedback", {"profile": name, "item_id": artist, "action": "like"}
        )
        body = assert_error(r, 400, "input")
        assert message in body["error"] or body["error"].startswith("profile"), body
        if isinstance(name, str):
            raw = name.encode("utf-8", "surrogatepass")  # a lone surrogate as its bytes
            path = f"/profiles/{quote(raw, safe='')}/ratings"
            for answer in (client.put(f"{path}/{artist}", json={"stars": 3}), client.get(path)):
                assert answer.status_code in (400, 404, 405) and "Traceback" not in answer.text


@pytest.mark.parametrize("stars", BAD_STARS, ids=repr)
def test_out_of_range_stars_change_nothing(setup, stars: object) -> None:
    client, store, _, artist = setup
    with unchanged(store):
        body = assert_error(
            send(client, "PUT", f"/profiles/ana/ratings/{artist}", {"stars": stars}), 400, "input"
        )
        assert "stars" in body["error"], body


@pytest.mark.parametrize(("data", "message"), list(BAD_CSVS.values()), ids=list(BAD_CSVS))
def test_bad_csv_imports_change_nothing(setup, data: bytes, message: str) -> None:
    client, store, *_ = setup
    with unchanged(store):
        r = client.post(
            "/profiles/ana/ratings.csv", content=data, headers={"content-type": "text/csv"}
        )
        assert r.status_code in (400, 413), r.text
        assert "Traceback" not in r.text and "\n" not in r.json()["error"]


# ---- a sweep: hostile values into every field of every request ----------------------------------

HOSTILE = [None, True, -1, 0, 10**30, 1e308, float("nan"), "", "x" * 2000, "\ud800", [], {},
           [None], {"": None}, "'; DROP TABLE ratings; --"]  # fmt: skip


def requests_to_sweep(artist: str, track: str) -> dict[str, tuple[str, str, dict]]:
    return {
        "mood": (
            "POST",
            "/search/mood",
            {"text": "chill", "k": 3, "filters": {"genres": ["rock"]}},
        ),
        "session": ("POST", "/recommendations/session", {"track_sequence": [track], "k": 3}),
        "ratings": (
            "POST",
            "/recommendations",
            {
                "ratings": {artist: 5},
                "kind": "tracks",
                "k": 3,
                "mood": "calm",
                "weights": {"tags": 1},
                "fusion": "weighted",
                "diversity": 0.1,
                "familiarity": "any",
                "filters": {},
            },
        ),  # fmt: skip
        "profile": ("POST", "/profiles/ana/recommendations", {"k": 3, "mood": None}),
        "feedback": ("POST", "/feedback", {"profile": "ana", "item_id": track, "action": "skip"}),
        "rating": ("PUT", f"/profiles/ana/ratings/{artist}", {"stars": 5}),
    }


def test_hostile_values_in_every_field_are_never_a_server_error(setup) -> None:
    client, store, engine, artist = setup
    track = str(engine.catalog.tracks["track_id"].iloc[0])
    statuses: dict[int, int] = {}
    for name, (method, url, good) in requests_to_sweep(artist, track).items():
        for field in good:
            for value in HOSTILE:
                r = send(client, method, url, {**good, field: value})
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                assert r.status_code < 500, (name, field, value, r.text)
                if r.status_code >= 400:
                    assert "\n" not in r.json()["error"] and "Traceback" not in r.text
    assert statuses.get(400, 0) > 100, statuses
    store.rate("ana", artist, 5)  # the sweep's good feedback may have changed ana's rating
