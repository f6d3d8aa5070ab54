"""The HTTP API through the ASGI test client: every endpoint answers as the engine does, ratings go
to the app's own database both ways, errors are one-line JSON, metrics count what happened."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tunescout.api import create_app
from tunescout.api.models import (
    FeedbackOut,
    HealthOut,
    ItemsOut,
    MoodOut,
    RatingsOut,
    RecommendationsOut,
    SimilarOut,
)
from tunescout.config import ApiSettings, load_settings
from tunescout.errors import TunescoutError
from tunescout.serving.engine import Engine
from tunescout.serving.ratings import RatingsStore
from tunescout.vocabulary import HYBRID

OPEN = ApiSettings(rate=0)


def copy_data(source: Path, target: Path) -> Path:
    """The data dir without its ratings and jobs, hard-linked (nothing here rewrites a file)."""
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns("ratings.sqlite*", "jobs"),
        copy_function=os.link,
    )
    return target


@pytest.fixture(scope="module")
def data_dir(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_data(synthetic_dir, tmp_path_factory.mktemp("api") / "data")


@pytest.fixture(scope="module")
def client(data_dir: Path, engine: Engine):
    app = create_app(data_dir, OPEN, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def store(data_dir: Path) -> RatingsStore:
    """The ratings database as the app opens it (``ui.state.store``)."""
    return RatingsStore(load_settings(data_dir).ratings_db)


@pytest.fixture(scope="module")
def ids(engine: Engine) -> dict[str, str]:
    """A well-listened artist (every model holds it), one of its tracks, a listener."""
    plays = engine.catalog.interactions
    artist = plays.groupby("artist_id", observed=True)["user_id"].nunique().idxmax()
    tracks = engine.catalog.tracks
    track = tracks[tracks["artist_id"] == artist]["track_id"].iloc[0]
    return {"artist": str(artist), "track": str(track), "user": str(plays["user_id"].iloc[0])}


def options_of(body: dict) -> dict:
    """The engine's keyword arguments of a request's options (``kind`` chooses the method)."""
    return {k: v for k, v in body.items() if k != "kind"}


def item_ids(response, key: str) -> list[str]:
    return [item[key] for item in response.json()["items"]]


def assert_error(response, status: int, kind: str, text: str = "") -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status and body["kind"] == kind, body
    assert "\n" not in body["error"] and "Traceback" not in response.text
    assert text in body["error"], body["error"]
    return body


# ---- health, docs and the catalog ----------------------------------------------------------------


def test_health_says_what_is_served(client: TestClient, engine: Engine) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    health = HealthOut.model_validate(r.json())
    assert health.status == "ok" and health.build_id == engine.build.id
    assert health.synthetic is True and health.sources == ["synthetic"]
    assert health.counts["tracks"] == len(engine.tracks)
    assert health.counts["artists"] == len(engine.artists)
    assert health.counts["listeners"] == engine.catalog.interactions["user_id"].nunique()
    assert all(health.indexes[m] for m in engine.indexes)
    assert health.models == [*engine.indexes, HYBRID]


def test_openapi_docs_list_every_endpoint(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/similar/tracks/{track_id}",
        "/similar/artists/{artist_id}",
        "/recommendations/session",
        "/recommendations",
        "/profiles/{profile}/recommendations",
        "/users/{user_id}/recommendations",
        "/search/mood",
        "/profiles/{profile}/ratings",
        "/profiles/{profile}/ratings/{artist_id}",
        "/profiles/{profile}/ratings.csv",
        "/feedback",
        "/health",
        "/metrics",
    ):
        assert path in paths, path
    schema = paths["/recommendations"]["post"]["requestBody"]["content"]["application/json"]
    assert schema["schema"]["$ref"].endswith("RatingsIn")


def test_catalog_lookups(client: TestClient, engine: Engine, ids: dict) -> None:
    track = client.get(f"/tracks/{ids['track']}").json()
    assert track["track_id"] == ids["track"] and set(track["features"]) >= {"energy", "tempo"}
    assert client.get(f"/artists/{ids['artist']}").json()["artist_id"] == ids["artist"]
    name = engine.artists.at[ids["artist"], "name"]
    found = client.get("/search/artists", params={"q": name[:4], "k": 5})
    assert item_ids(found, "artist_id") == engine.find_artists(name[:4], 5)["artist_id"].tolist()
    tracks = client.get("/search/tracks", params={"q": "a", "k": 3})
    ItemsOut.model_validate(tracks.json())
    assert item_ids(tracks, "track_id") == engine.find_tracks("a", 3)["track_id"].tolist()
    survey = client.get("/survey", params={"k": 4, "seed": 1})
    assert item_ids(survey, "artist_id") == engine.survey_artists(4, seed=1)["artist_id"].tolist()


# ---- similar -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tracks", "artists"])
def test_similar_by_id_per_model_and_hybrid(
    client: TestClient, engine: Engine, ids: dict, kind: str
) -> None:
    item = ids["track" if kind == "tracks" else "artist"]
    find = engine.similar_tracks if kind == "tracks" else engine.similar_artists
    key = f"{kind[:-1]}_id"
    for model in [*engine.indexes, HYBRID]:
        r = client.get(f"/similar/{kind}/{item}", params={"k": 5, "model": model})
        try:
            wanted = find(item, k=5, model=model)
        except TunescoutError as exc:  # a model without data for it: the engine's own message
            assert_error(r, 404, "data_missing", str(exc))
            continue
        assert r.status_code == 200, (model, r.text)
        answer = SimilarOut.model_validate(r.json())
        assert answer.model == model and answer.kind == kind and answer.k == 5
        assert getattr(answer.seed, key) == item
        assert item_ids(r, key) == wanted[key].tolist()
        scores = [i["score"] for i in r.json()["items"]]
        assert scores == pytest.approx(wanted["score"].tolist())


def test_identical_requests_are_answered_from_the_cache(client: TestClient, ids: dict) -> None:
    url = f"/similar/artists/{ids['artist']}?k=7&model=audio"
    first, again = client.get(url), client.get(url)
    assert again.headers["x-cache"] == "hit" and again.content == first.content


# ---- recommendations ---------------------------------------------------------------------------


def test_session_recommendations(client: TestClient, engine: Engine, ids: dict) -> None:
    played = engine.find_tracks("a", 3)["track_id"].tolist()
    r = client.post("/recommendations/session", json={"track_sequence": played, "top_k": 6})
    assert r.status_code == 200, r.text
    answer = RecommendationsOut.model_validate(r.json())
    assert answer.source == "session" and answer.kind == "tracks" and answer.k == 6
    assert item_ids(r, "track_id") == engine.continue_session(played, 6)["track_id"].tolist()
    assert set(answer.weights) <= {*engine.indexes, "popularity"} and answer.weights
    assert all(i.reason for i in answer.items)
    genre = engine.genres()[0]
    filtered = client.post(
        "/recommendations/session",
        json={"track_ids": played, "k": 4, "filters": {"genres": [genre]}},
    )
    wanted = engine.continue_session(played, 4, filters={"genres": [genre]})
    assert item_ids(filtered, "track_id") == wanted["track_id"].tolist()


def test_session_takes_no_options_the_engine_lacks(client: TestClient, ids: dict) -> None:
    for extra in ({"mood": "calm"}, {"weights": {"audio": 1}}, {"fusion": "rrf"}):
        r = client.post(
            "/recommendations/session", json={"track_sequence": [ids["track"]], **extra}
        )
        assert_error(r, 400, "input", "is not a field of this request")


def test_ratings_recommendations_with_every_option(
    client: TestClient, engine: Engine, ids: dict
) -> None:
    survey = engine.survey_artists(4)["artist_id"].tolist()
    ratings = {survey[0]: 5, survey[1]: 4, survey[2]: 1}
    options = {
        "k": 6,
        "mood": "late night drive",
        "weights": {"tags": 2, "audio": 1},
        "filters": {"popularity": [0, 100], "features": {"energy": [0.0, 1.0]}},
        "diversity": 0.3,
        "fusion": "rrf",
        "familiarity": "any",
    }
    r = client.post("/recommendations", json={"ratings": ratings, **options})
    assert r.status_code == 200, r.text
    answer = RecommendationsOut.model_validate(r.json())
    wanted = engine.recommend(ratings, **options)
    assert item_ids(r, "artist_id") == wanted["artist_id"].tolist()
    assert answer.fusion == "rrf" and answer.diversity == 0.3 and answer.ratings_used == 3
    assert answer.weights["tags"] == pytest.approx(2 * answer.weights["audio"])
    assert sum(answer.weights.values()) == pytest.approx(1.0)
    first = r.json()["items"][0]
    assert first["reason"] and set(first["scores"]) >= set(engine.indexes)
    tracks = client.post("/recommendations", json={"ratings": ratings, "kind": "tracks", "k": 5})
    answer = RecommendationsOut.model_validate(tracks.json())
    wanted = engine.recommend_tracks(ratings, k=5)
    assert item_ids(tracks, "track_id") == wanted["track_id"].tolist()
    assert answer.track_weights and all(i.reason for i in answer.items)


def test_listener_recommendations(client: TestClient, engine: Engine, ids: dict) -> None:
    r = client.get(f"/users/{ids['user']}/recommendations", params={"k": 5})
    RecommendationsOut.model_validate(r.json())
    wanted = engine.recommend_for_user(ids["user"], k=5)
    assert item_ids(r, "artist_id") == wanted["artist_id"].tolist()
    assert_error(client.get("/users/nobody/recommendations"), 404, "unknown_id", "nobody")


# ---- mood search -------------------------------------------------------------------------------


def test_mood_search_says_how_it_understood(client: TestClient, engine: Engine) -> None:
    text = "sad 90s rock, no rap"
    r = client.post("/search/mood", json={"text": text, "k": 5})
    answer = MoodOut.model_validate(r.json())
    wanted = engine.search_mood(text, k=5)
    assert item_ids(r, "track_id") == wanted["track_id"].tolist()
    assert answer.understood == wanted.attrs["understood"] and "1990s" in answer.understood
    assert answer.notes == list(wanted.attrs["notes"])
    assert all(i.reason for i in answer.items)
    quick = client.get("/search/mood", params={"q": text, "k": 5})
    assert item_ids(quick, "track_id") == item_ids(r, "track_id")
    few = client.post("/search/mood", json={"q": "1950s reggaeton", "k": 5})
    assert few.status_code == 200 and len(few.json()["items"]) < 5
    assert few.json()["notes"] == engine.search_mood("1950s reggaeton", 5).attrs["notes"] != []


# ---- ratings and feedback: the app and the API share them ---------------------------------------


def test_a_rating_saved_by_the_app_shows_up_through_the_api(
    client: TestClient, store: RatingsStore, engine: Engine, ids: dict
) -> None:
    store.rate("app user", ids["artist"], 4)  # what the app's Rate artists page does
    r = client.get("/profiles/app user/ratings")
    answer = RatingsOut.model_validate(r.json())
    assert [(x.artist_id, x.stars) for x in answer.ratings] == [(ids["artist"], 4)]
    assert answer.ratings[0].artist_name == engine.artists.at[ids["artist"], "name"]
    csv = client.get("/profiles/app user/ratings.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == store.export_csv("app user", engine.artists["name"])
    recs = client.get("/profiles/app user/recommendations", params={"k": 5})
    assert recs.json()["source"] == "profile" and recs.json()["ratings_used"] == 1
    wanted = engine.recommend({ids["artist"]: 4}, k=5)
    assert item_ids(recs, "artist_id") == wanted["artist_id"].tolist()
    options = {"kind": "tracks", "k": 4, "mood": "calm", "diversity": 0.2}
    posted = client.post("/profiles/app user/recommendations", json=options)
    wanted = engine.recommend_tracks({ids["artist"]: 4}, **options_of(options))
    assert item_ids(posted, "track_id") == wanted["track_id"].tolist()
    assert posted.json()["mood"] == "calm" and posted.json()["track_weights"]


def test_a_rating_put_through_the_api_shows_up_in_the_app(
    client: TestClient, store: RatingsStore, ids: dict
) -> None:
    r = client.put(f"/profiles/api user/ratings/{ids['artist']}", json={"stars": 3})
    assert r.status_code == 200 and r.json()["stars"] == 3
    assert store.ratings("api user") == {ids["artist"]: 3}  # what the app reads
    assert client.delete(f"/profiles/api user/ratings/{ids['artist']}").status_code == 204
    assert store.ratings("api user") == {}
    gone = client.delete(f"/profiles/api user/ratings/{ids['artist']}")
    assert_error(gone, 404, "unknown_id", "no rating")
    assert_error(
        client.put("/profiles/api user/ratings/not-an-artist", json={"stars": 3}),
        404,
        "unknown_id",
    )
    assert store.ratings("api user") == {}


def test_feedback_saves_what_the_app_buttons_save(
    client: TestClient, store: RatingsStore, engine: Engine, ids: dict
) -> None:
    tracks = engine.tracks
    artist_of_track = tracks.at[ids["track"], "artist_id"]
    like = client.post(
        "/feedback", json={"profile": "fb", "item_id": ids["track"], "action": "like"}
    )
    answer = FeedbackOut.model_validate(like.json())
    assert answer.artist_id == artist_of_track and answer.stars == 5 and answer.kind == "track"
    assert store.ratings("fb") == {artist_of_track: 5}
    assert store.track_feedback("fb") == {ids["track"]: (artist_of_track, "like")}
    # A skipped track is "not this track": its artist's rating is not touched...
    others = tracks.index[(tracks["artist_id"] == artist_of_track) & (tracks.index != ids["track"])]
    skip = client.post("/feedback", json={"profile": "fb", "track_id": others[0], "action": "skip"})
    assert skip.json()["stars"] == 5 and store.ratings("fb") == {artist_of_track: 5}
    # ... and two skipped tracks of an artist nobody rated are a weak no, never saved.
    other_artist = tracks.loc[tracks["artist_id"] != artist_of_track, "artist_id"].value_counts()
    artist = other_artist.index[0]
    two = tracks.index[tracks["artist_id"] == artist][:2]
    answers = [
        client.post("/feedback", json={"profile": "fb", "item_id": t, "action": "skip"}).json()
        for t in two
    ]
    assert [a["stars"] for a in answers] == [None, None]
    assert [a["effective_stars"] for a in answers] == [None, 2]
    assert artist not in store.ratings("fb") and store.effective_ratings("fb")[artist] == 2
    # An artist's skip is 2 stars ("not for me"), as the app's 👎 on an artist row.
    skip = client.post(
        "/feedback",
        json={"profile": "fb", "artist_id": ids["artist"], "action": "skip", "kind": "artist"},
    )
    assert skip.json()["stars"] == 2 and store.ratings("fb")[ids["artist"]] == 2
    assert_error(
        client.post("/feedback", json={"profile": "fb", "item_id": "nope", "action": "like"}),
        404,
        "unknown_id",
    )
    bad = client.post(
        "/feedback", json={"profile": "fb", "item_id": ids["track"], "action": "love"}
    )
    assert_error(bad, 400, "input", "action")


def test_import_and_profile_delete(client: TestClient, store: RatingsStore, ids: dict) -> None:
    csv = f"artist_id,stars\n{ids['artist']},5\n"
    r = client.post(
        "/profiles/importer/ratings.csv", content=csv, headers={"content-type": "text/csv"}
    )
    assert r.json() == {"profile": "importer", "imported": 1, "replaced": False}
    assert store.ratings("importer") == {ids["artist"]: 5}
    bad = client.post("/profiles/importer/ratings.csv", content=b"artist_id,stars\nnobody,9\n")
    body = assert_error(bad, 400, "input", "nothing imported")
    assert body["problems"] and store.ratings("importer") == {ids["artist"]: 5}
    assert client.delete("/profiles/importer/ratings").json() == {
        "profile": "importer",
        "deleted": 1,
    }
    assert store.ratings("importer") == {}


# ---- errors --------------------------------------------------------------------------------------


def test_errors_are_one_line_json_with_their_status(client: TestClient, ids: dict) -> None:
    assert_error(client.get("/similar/tracks/nope"), 404, "unknown_id", "unknown ids: ['nope']")
    assert_error(client.get(f"/similar/tracks/{ids['track']}?k=0"), 400, "input", "k must be")
    assert_error(client.get(f"/similar/tracks/{ids['track']}?k=x"), 400, "input", "k:")
    assert_error(client.get(f"/similar/tracks/{ids['track']}?model=magic"), 400, "input", "magic")
    as_json = {"content-type": "application/json"}
    broken = client.post("/search/mood", content=b"{", headers=as_json)
    assert_error(broken, 400, "input", "the body: is not valid JSON")
    assert_error(client.post("/search/mood", content=b"{}"), 400, "input", "a JSON object")
    assert_error(client.post("/search/mood", json=[1]), 400, "input", "a JSON object")
    assert_error(client.post("/search/mood", json={"k": 3}), 400, "input", "text: is required")
    assert_error(client.get("/no/such/path"), 404, "not_found")
    assert_error(client.delete("/health"), 405, "method_not_allowed")


def test_an_unexpected_failure_is_logged_not_shown(
    client: TestClient, ids: dict, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    from tunescout.api.routes import similar

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail at /root/private/path")

    monkeypatch.setattr(similar, "similar", broken)
    r = client.get(f"/similar/tracks/{ids['track']}?k=11&model=audio")  # beyond the table
    assert_error(r, 500, "internal", "server's log")
    assert "secret" not in r.text and "/root" not in r.text
    assert "secret detail" in caplog.text  # the traceback went to the log
    monkeypatch.setattr(similar.fast, "similar", broken)  # the table's path, in the event loop
    r = client.get(f"/similar/tracks/{ids['track']}?k=9&model=audio")
    assert_error(r, 500, "internal", "server's log")
    assert "secret" not in r.text and "/root" not in r.text


# ---- metrics and CORS ----------------------------------------------------------------------------


def test_metrics_count_requests_latency_errors_and_loads(client: TestClient, ids: dict) -> None:
    client.get(f"/similar/artists/{ids['artist']}?k=3")
    client.get("/similar/artists/nobody")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    endpoint = 'endpoint="/similar/artists/{artist_id}"'
    assert f'tunescout_api_requests_total{{{endpoint},method="GET",status="200"}}' in text
    assert f"tunescout_api_request_duration_seconds_bucket{{{endpoint}," in text
    assert f'tunescout_api_errors_total{{{endpoint},kind="unknown_id"}}' in text
    assert "tunescout_engine_load_seconds_count" in text
    assert "tunescout_api_requests_in_flight" in text


def test_cors_is_off_unless_configured(data_dir: Path, engine: Engine, client: TestClient) -> None:
    asked = {"Origin": "https://player.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in client.get("/health", headers=asked).headers
    app = create_app(data_dir, ApiSettings(rate=0, cors_origins=("https://player.example",)),
                     engine=engine)  # fmt: skip
    with TestClient(app) as open_to_one:
        r = open_to_one.options("/similar/tracks/x", headers=asked)
        assert r.headers["access-control-allow-origin"] == "https://player.example"
        other = open_to_one.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_frames_become_plain_json() -> None:
    import numpy as np

    from tunescout.api.convert import items

    frame = pd.DataFrame(
        {
            "track_id": ["t1"],
            "genres": [np.array(["rock"], dtype=object)],
            "energy": [np.float32("nan")],
            "score_audio": [np.float64(0.5)],
            "why": ["because"],
            "release_year": [pd.NA],
        }
    )
    assert items(frame) == [
        {
            "track_id": "t1",
            "genres": ["rock"],
            "reason": "because",
            "release_year": None,
            "features": {"energy": None},
            "scores": {"audio": 0.5},
        }
    ]
