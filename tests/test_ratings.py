"""Ratings store: round trips, persistence, concurrent writers, and all-or-nothing CSV imports."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tunescout.errors import InputError
from tunescout.serving.ratings import (
    LIKE_STARS,
    WEAK_NO,
    ImportRejected,
    RatingsStore,
    parse_ratings_csv,
    validate_profile,
)

SAVED = {"ar1": 5, "ar2": 3, "ar3": 1}


@pytest.fixture
def store(tmp_path: Path) -> RatingsStore:
    store = RatingsStore(tmp_path / "db" / "ratings.sqlite")
    for artist, stars in SAVED.items():
        store.rate("ana", artist, stars)
    return store


def test_round_trip_and_upsert(store: RatingsStore) -> None:
    assert store.ratings("ana") == SAVED
    store.rate("ana", "ar2", 4)
    assert store.ratings("ana")["ar2"] == 4
    assert len(store.table("ana")) == 3
    assert store.ratings("bob") == {}


def test_forget_and_delete_profile(store: RatingsStore) -> None:
    store.rate("bob", "ar1", 2)
    store.enqueue("ana", "t1")
    assert store.forget("ana", "ar1") is True
    assert store.forget("ana", "ar1") is False
    assert store.ratings("ana") == {"ar2": 3, "ar3": 1}
    assert store.delete_profile("ana") == 2
    assert store.ratings("ana") == {} and store.queue("ana") == []
    assert store.ratings("bob") == {"ar1": 2}
    assert store.profiles() == ["bob"]


def test_persists_across_connections_and_wal(store: RatingsStore) -> None:
    again = RatingsStore(store.path)
    assert again.ratings("ana") == SAVED
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    store = RatingsStore(tmp_path / "ratings.sqlite", timeout=30)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(40):
                store.rate(f"user{worker}", f"ar{i}", 1 + (i + worker) % 5)
                store.rate("shared", f"w{worker}-ar{i}", 1 + i % 5)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for w in range(6):
        assert store.ratings(f"user{w}") == {f"ar{i}": 1 + (i + w) % 5 for i in range(40)}
    assert len(store.ratings("shared")) == 6 * 40


@pytest.mark.parametrize("name", ["ana", "Zoë", "音楽好き", "a" * 64, "DJ Shadow fan #1"])
def test_valid_profiles(name: str) -> None:
    assert validate_profile(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * 65,
        " ana",
        "ana\n",
        "a\x00b",
        "bell\x07",
        "zero\u200bwidth",
        "../etc",
        "a/b",
        "a\\b",
        "..",
        5,
    ],
)
def test_invalid_profiles(tmp_path: Path, name: object) -> None:
    with pytest.raises(InputError):
        validate_profile(name)
    with pytest.raises(InputError):
        RatingsStore(tmp_path / "r.sqlite").rate(name, "ar1", 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("stars", [0, 6, 2.5, True, "5", None])
def test_rate_rejects_bad_stars(store: RatingsStore, stars: object) -> None:
    with pytest.raises(InputError):
        store.rate("ana", "ar9", stars)  # type: ignore[arg-type]
    assert store.ratings("ana") == SAVED


def test_export_import_round_trip(store: RatingsStore) -> None:
    text = store.export_csv("ana")
    assert text.splitlines()[0] == "artist_id,artist_name,stars,updated_at"
    assert store.import_csv("copy", text.encode("utf-8")) == 3
    assert store.ratings("copy") == SAVED


def test_import_merges_or_replaces(store: RatingsStore) -> None:
    assert store.import_csv("ana", "artist_id,stars\nar2,5\nar4,2\n") == 2
    assert store.ratings("ana") == {"ar1": 5, "ar2": 5, "ar3": 1, "ar4": 2}
    store.import_csv("ana", "\ufeffstars,artist_id,name\n4,ar7,Somebody\n", replace=True)
    assert store.ratings("ana") == {"ar7": 4}


BAD_FILES = {
    "missing column": (b"artist_id,rating\nar1,5\n", "missing column"),
    "wrong type": (b"artist_id,stars\nar1,five\nar2,4\n", "line 2: stars 'five' is not a number"),
    "not whole": (b"artist_id,stars\nar1,4.5\n", "not a whole number"),
    "out of range": (b"artist_id,stars\nar1,9\n", "not a whole number from 1 to 5"),
    "nan": (b"artist_id,stars\nar1,NaN\nar2,\n", "line 3: stars is missing"),
    "duplicate": (
        b"artist_id,stars\nar1,5\nar1,4\n",
        "line 3: artist 'ar1' appears more than once",
    ),
    "empty id": (b"artist_id,stars\n,5\n", "artist_id is empty"),
    "encoding": ("artist_id,stars\nBjörk,5\n".encode("latin-1"), "not UTF-8"),
    "truncated line": (b"artist_id,stars,updated_at\nar1,5,2024\nar2", "line 3: has 1 field"),
    "open quote": (b'artist_id,stars\n"ar1,5\n', "not valid CSV"),
    "empty": (b"", "empty"),
    "header only": (b"artist_id,stars\n", "no ratings"),
    "unknown artist": (b"artist_id,stars\nar1,5\nnobody,3\n", "'nobody' is not in the catalog"),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_import_changes_nothing(store: RatingsStore, kind: str) -> None:
    data, expected = BAD_FILES[kind]
    before = store.table("ana")
    with pytest.raises(ImportRejected, match=expected):
        store.import_csv("ana", data, known={"ar1", "ar2", "ar3"}, replace=True)
    assert store.table("ana").equals(before)


def test_bad_rows_are_all_listed() -> None:
    with pytest.raises(ImportRejected) as info:
        parse_ratings_csv("artist_id,stars\nar1,5\nar2,0\nar3,x\nar1,2\nar4\n")
    assert [p.split(":")[0] for p in info.value.problems] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]
    assert "4 bad row(s)" in str(info.value)


def test_queue_survives_and_moves_repeats_to_the_end(store: RatingsStore) -> None:
    for track in ["t1", "t2", "t3", "t1"]:
        store.enqueue("ana", track)
    assert RatingsStore(store.path).queue("ana") == ["t2", "t3", "t1"]
    assert store.remove_from_queue("ana", "t3") == ["t2", "t1"]
    store.clear_queue("ana")
    assert store.queue("ana") == []


def test_queue_keeps_the_most_recent(store: RatingsStore) -> None:
    for i in range(60):
        store.enqueue("ana", f"t{i}")
    assert store.queue("ana") == [f"t{i}" for i in range(10, 60)]


# ---- likes and skips of tracks -------------------------------------------------------------------


def test_a_liked_track_likes_its_artist_until_the_last_like_is_taken_back(tmp_path: Path) -> None:
    store = RatingsStore(tmp_path / "ratings.sqlite")
    store.mark_track("ana", "t1", "arA", "like")
    store.mark_track("ana", "t2", "arA", "like")
    assert store.ratings("ana") == {"arA": LIKE_STARS}
    store.mark_track("ana", "t1", "arA", None)
    assert store.ratings("ana") == {"arA": LIKE_STARS}  # t2 is still liked
    store.mark_track("ana", "t2", "arA", "skip")  # a like taken back by a skip
    assert store.ratings("ana") == {}
    assert store.track_feedback("ana") == {"t2": ("arA", "skip")}


def test_taking_a_like_back_keeps_stars_the_listener_set_since(tmp_path: Path) -> None:
    store = RatingsStore(tmp_path / "ratings.sqlite")
    store.mark_track("ana", "t1", "arA", "like")
    store.rate("ana", "arA", 4)
    store.mark_track("ana", "t1", "arA", None)
    assert store.ratings("ana") == {"arA": 4}


def test_a_skip_is_not_this_track_and_two_are_a_weak_no_for_the_artist(tmp_path: Path) -> None:
    store = RatingsStore(tmp_path / "ratings.sqlite")
    store.rate("ana", "arKept", 5)
    store.mark_track("ana", "t1", "arB", "skip")
    store.mark_track("ana", "k1", "arKept", "skip")
    store.mark_track("ana", "k2", "arKept", "skip")
    assert store.ratings("ana") == {"arKept": 5}  # a skip never touches a rating
    assert store.effective_ratings("ana") == {"arKept": 5}  # one skip of arB: not this track
    store.mark_track("ana", "t2", "arB", "skip")
    assert store.effective_ratings("ana") == {"arKept": 5, "arB": WEAK_NO}
    store.mark_track("ana", "t3", "arB", "like")  # a like of any of its tracks wins
    assert store.effective_ratings("ana") == {"arKept": 5, "arB": LIKE_STARS}
    assert store.ratings("bob") == store.effective_ratings("bob") == {}


def test_track_feedback_refuses_unknown_actions_and_goes_with_the_profile(tmp_path: Path) -> None:
    store = RatingsStore(tmp_path / "ratings.sqlite")
    with pytest.raises(InputError, match="liked, skipped or cleared"):
        store.mark_track("ana", "t1", "arA", "love")
    store.mark_track("ana", "t1", "arA", "skip")
    store.delete_profile("ana")
    assert store.track_feedback("ana") == {}


def test_a_queue_is_reordered_and_trimmed_in_one_write(tmp_path: Path) -> None:
    store = RatingsStore(tmp_path / "ratings.sqlite")
    for track in ("t1", "t2", "t3"):
        store.enqueue("ana", track)
    assert store.replace_queue("ana", ["t3", "t1", "t3"]) == ["t3", "t1"]
    assert store.queue("ana") == ["t3", "t1"]
    assert store.replace_queue("ana", []) == [] and store.queue("ana") == []


def test_taking_a_like_back_puts_back_the_stars_the_artist_had(tmp_path: Path) -> None:
    store = RatingsStore(tmp_path / "ratings.sqlite")
    store.rate("ana", "arA", 3)
    store.rate("ana", "arB", 5)
    for track, artist in (("a1", "arA"), ("a2", "arA"), ("b1", "arB")):
        store.mark_track("ana", track, artist, "like")
    assert store.ratings("ana") == {"arA": LIKE_STARS, "arB": LIKE_STARS}
    store.mark_track("ana", "a1", "arA", None)
    store.mark_track("ana", "a2", "arA", "skip")
    store.mark_track("ana", "b1", "arB", None)
    assert store.ratings("ana") == {"arA": 3, "arB": 5}  # a survey's five stars are kept
