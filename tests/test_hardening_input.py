"""Bad-input matrix: odd and hostile queries, filters, k, ratings, profile names and imported CSVs.

Each bad input gets a tunescout error whose message says what is wrong; odd but usable input gets a
normal answer; and nothing already saved changes: the ratings database byte for byte, the catalog
and the current index build value for value.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunescout.errors import InputError, TunescoutError, UnknownIdError
from tunescout.indexes import store
from tunescout.serving.engine import MAX_K, MAX_TEXT, Engine
from tunescout.serving.pipeline import POOL
from tunescout.serving.ratings import MAX_IMPORT_BYTES, ImportRejected, RatingsStore, from_cell

pytestmark = pytest.mark.hardening

# ---- the engine: nothing it holds changes, whatever it is asked ---------------------------------


def fingerprint(engine: Engine) -> str:
    """A digest of every catalog table the engine holds, values and order."""
    digest = hashlib.sha256()
    for frame in [*engine.catalog.tables().values(), engine.tracks, engine.artists]:
        values = pd.util.hash_pandas_object(frame.astype(str), index=True).to_numpy()
        digest.update(values.tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def eng(engine: Engine):
    """The shared engine; after the module its tables, an answer and its build on disk are checked
    against what they were before any bad input reached it."""
    before, answer = fingerprint(engine), engine.search_mood("rainy heartbreak", k=10)
    yield engine
    assert fingerprint(engine) == before
    pd.testing.assert_frame_equal(engine.search_mood("rainy heartbreak", k=10), answer)
    store.open_build(engine.build.folder.parent, engine.build.id)  # every file's size and sha256


ODD_MOODS = {
    "emoji": "😢🌧️💔 heartbreak",
    "arabic (rtl)": "موسيقى حزينة للمطر",
    "hebrew (rtl)": "שיר עצוב ושקט",
    "rtl override": "\u202egnos das",
    "control characters": "sad\x00\x07\x1b[31m song\r\n\x7f",
    "zero-width": "\u200bsad\u200d \ufeffpiano",
    "combining marks": "e\u0301" * 40,
    "html/script": "<script>alert('x')</script> chill <img src=x onerror=alert(1)>",
    "sql": "'; DROP TABLE tracks; -- sad",
    "sql union": '" OR 1=1 UNION SELECT * FROM ratings --',
    "regex": r".*+?[](){}|^$\ chill",
    "format string": "{0} %s %n {__class__} chill",
    "path": "../../etc/passwd",
    "only punctuation": "!!! ??? ... ---",
    "digits": "1999 2000 120 bpm",
    "null words": "None null NaN undefined",
    "one long word": "a" * (MAX_TEXT - 1),
    "at the limit": ("rain " * MAX_TEXT)[:MAX_TEXT],
    "mixed case": "SAD Piano BALLAD",
    "cjk": "悲しい ピアノ 雨",
}


@pytest.mark.parametrize("text", list(ODD_MOODS.values()), ids=list(ODD_MOODS))
def test_odd_mood_text_still_answers(eng: Engine, text: str) -> None:
    found = eng.search_mood(text, k=7)
    assert len(found) == 7
    assert found["track_id"].is_unique and found["track_id"].isin(eng.tracks.index).all()
    assert found["score"].is_monotonic_decreasing
    assert found["why"].map(lambda w: isinstance(w, str) and w != "").all()


BAD_MOODS = {
    "empty": ("", "empty"),
    "whitespace": (" \t\n\u3000 ", "empty"),
    "10,000 characters": ("rainy heartbreak " * 600, "has 10,200 characters; at most 300"),
    "one over the limit": ("x" * (MAX_TEXT + 1), "at most 300"),
    "none": (None, "search text must be text, got NoneType"),
    "number": (123, "must be text, got int"),
    "bytes": (b"sad", "must be text, got bytes"),
    "list": (["sad"], "must be text, got list"),
}


@pytest.mark.parametrize(("text", "message"), list(BAD_MOODS.values()), ids=list(BAD_MOODS))
def test_bad_mood_text_is_refused(eng: Engine, text: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        eng.search_mood(text)  # type: ignore[arg-type]
    if text is not None and message != "empty":  # no mood, or a blank one, is allowed here
        ratings = {eng.catalog.artists["artist_id"].iloc[0]: 5}
        with pytest.raises(InputError, match=message.replace("search text", "mood")):
            eng.recommend(ratings, mood=text)  # type: ignore[arg-type]


BAD_FILTERS = {
    "inverted range": ({"features": {"energy": (0.9, 0.1)}}, "lower bound 0.9 is above"),
    "inverted years": ({"years": (2020, 1990)}, "lower bound 2020 is above"),
    "popularity above 100": ({"popularity": (150, 200)}, "outside the possible range 0.0..100.0"),
    "years in the future": ({"years": (2200, 2300)}, "outside the possible range 1800..2100"),
    "negative tempo": ({"features": {"tempo": (-5, -1)}}, "outside the possible range"),
    "nan bound": ({"popularity": (float("nan"), 50)}, "bounds must be numbers"),
    "text bounds": ({"popularity": ("a", "b")}, "bounds must be numbers"),
    "none bound": ({"years": (None, 2000)}, "bounds must be numbers"),
    "bool bound": ({"popularity": (True, 50)}, "bounds must be numbers"),
    "one number": ({"popularity": 5}, r"give a \(low, high\) pair, got 5"),
    "three numbers": ({"years": (1, 2, 3)}, r"give a \(low, high\) pair"),
    "unknown feature": ({"features": {"loudnesss": (0, 1)}}, r"unknown features \['loudnesss'\]"),
    "feature as a number": ({"features": {"energy": 0.5}}, r"energy: give a \(low, high\) pair"),
    "features as a list": ({"features": [("energy", (0, 1))]}, "give a dict"),
    "unknown filter": ({"genre": ["rock"]}, r"unknown filters \['genre'\]"),
    "genre as a number": ({"genres": [1]}, "genres: every value must be a string"),
    "genres as a dict": ({"genres": {"rock": 1}}, "genres: give a list of strings"),
    "exclude as a number": ({"exclude": 5}, "exclude: give a list of strings"),
    "not a dict": ("energy>0.5", "filters must be a Filters or a dict"),
}


@pytest.mark.parametrize(("filters", "message"), list(BAD_FILTERS.values()), ids=list(BAD_FILTERS))
def test_bad_filters_are_refused(eng: Engine, filters: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        eng.search_mood("late night drive", filters=filters)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=message):
        eng.recommend({}, filters=filters)  # type: ignore[arg-type]


def test_odd_but_usable_filters(eng: Engine) -> None:
    genre = eng.genres()[0]
    one = eng.search_mood("chill", k=5, filters={"genres": genre.upper()})  # one string, one genre
    assert len(one) == 5
    assert one["genres"].map(lambda g: genre in [x.casefold() for x in g]).all()
    assert eng.search_mood("chill", k=5, filters={"genres": ["no such genre"]}).empty
    numpy_years = {"years": (np.int64(1990), np.int64(2000))}
    years = eng.search_mood("chill", k=5, filters=numpy_years)["release_year"]
    assert len(years) == 5 and years.between(1990, 2000).all()
    everything = {"features": {"energy": (-math.inf, math.inf)}}
    assert len(eng.search_mood("chill", k=5, filters=everything)) == 5
    exact = eng.tracks["popularity"].dropna().iloc[0]
    pinned = eng.search_mood("chill", k=5, filters={"popularity": (exact, exact)})
    assert len(pinned) >= 1 and (pinned["popularity"] == exact).all()
    track = eng.search_mood("chill", k=1)["track_id"].iloc[0]
    assert track not in set(eng.search_mood("chill", k=50, filters={"exclude": track})["track_id"])


BAD_K = [0, -1, MAX_K + 1, 10**9, 2.5, 3.0, float("nan"), float("inf"), True, "5", None]
RESULT_IDS = {
    "search_mood": "track_id",
    "survey_artists": "artist_id",
    "recommend": "artist_id",
    "recommend_tracks": "track_id",
    "continue_session": "track_id",
    "recommend_for_user": "artist_id",
    "similar_tracks": "track_id",
    "similar_artists": "artist_id",
    "find_artists": "artist_id",
    "find_tracks": "track_id",
}


def with_k(engine: Engine, method: str, k: object) -> pd.DataFrame:
    """Call one public method that takes ``k`` with otherwise good arguments."""
    artist = engine.catalog.artists["artist_id"].iloc[0]
    track = engine.catalog.tracks["track_id"].iloc[0]
    arguments = {
        "search_mood": ("chill",),
        "recommend": ({artist: 5},),
        "recommend_tracks": ({artist: 5},),
        "continue_session": ([track],),
        "recommend_for_user": (engine.catalog.interactions["user_id"].iloc[0],),
        "similar_tracks": (track,),
        "similar_artists": (artist,),
        "find_artists": ("a",),
        "find_tracks": ("a",),
    }
    return getattr(engine, method)(*arguments.get(method, ()), k=k)


@pytest.mark.parametrize("method", list(RESULT_IDS))
@pytest.mark.parametrize("k", BAD_K, ids=repr)
def test_bad_k_is_refused_by_every_method(eng: Engine, method: str, k: object) -> None:
    with pytest.raises(InputError, match=f"k must be a whole number from 1 to {MAX_K}"):
        with_k(eng, method, k)


@pytest.mark.parametrize("method", list(RESULT_IDS))
@pytest.mark.parametrize("k", [1, np.int64(3), 40], ids=repr)
def test_small_k_is_respected_by_every_method(eng: Engine, method: str, k: int) -> None:
    found = with_k(eng, method, k)
    assert 1 <= len(found) <= k
    assert found[RESULT_IDS[method]].is_unique


def test_the_largest_k_is_served(eng: Engine) -> None:
    """Mood search returns ``k`` tracks whenever ``k`` qualify; artist recommendations come from
    pools of :data:`POOL` candidates per model, so at least that many (see docs/RELIABILITY.md)."""
    tracks = with_k(eng, "search_mood", MAX_K)
    assert len(tracks) == min(MAX_K, len(eng.tracks)) and tracks["track_id"].is_unique
    artists = with_k(eng, "recommend", MAX_K)
    assert min(POOL, len(eng.artists) - 1) <= len(artists) <= MAX_K
    assert artists["artist_id"].is_unique


BAD_RATINGS = {  # "A" stands for a real artist id
    "zero stars": ({"A": 0}, InputError, "must be 1–5 stars, got 0"),
    "six stars": ({"A": 6}, InputError, "got 6"),
    "negative": ({"A": -1}, InputError, "got -1"),
    "half star": ({"A": 2.5}, InputError, "got 2.5"),
    "text stars": ({"A": "5"}, InputError, "got '5'"),
    "none stars": ({"A": None}, InputError, "got None"),
    "nan stars": ({"A": float("nan")}, InputError, "got nan"),
    "infinite stars": ({"A": float("inf")}, InputError, "got inf"),
    "bool stars": ({"A": True}, InputError, "got True"),
    "unknown artist": ({"no-such": 5}, UnknownIdError, r"unknown ids: \['no-such'\]"),
    "html artist": ({"<b>x</b>": 4}, UnknownIdError, "unknown ids"),
    "a list": (["A"], InputError, "ratings must map artist ids to 1–5 stars"),
    "a string": ("A", InputError, "ratings must map artist ids"),
}


@pytest.mark.parametrize(
    ("ratings", "error", "message"), list(BAD_RATINGS.values()), ids=list(BAD_RATINGS)
)
def test_bad_ratings_are_refused(eng: Engine, ratings, error, message) -> None:
    artist = eng.catalog.artists["artist_id"].iloc[0]
    if isinstance(ratings, dict):
        ratings = {(artist if a == "A" else a): s for a, s in ratings.items()}
    for call in (eng.recommend, eng.recommend_tracks):
        with pytest.raises(error, match=message):
            call(ratings)


def test_whole_float_stars_count_like_ints(eng: Engine) -> None:
    artists = eng.survey_artists(k=3)["artist_id"]
    as_int = eng.recommend(dict.fromkeys(artists, 5), k=5)
    pd.testing.assert_frame_equal(eng.recommend(dict.fromkeys(artists, 5.0), k=5), as_int)


BAD_ARGUMENTS = {  # a call with (engine, an artist id, a track id), the error, its message
    "weights not a dict": (
        lambda e, a, t: e.recommend({a: 5}, weights=[1, 2]),
        InputError,
        "weights must map model names",
    ),
    "weight as text": (
        lambda e, a, t: e.recommend({a: 5}, weights={"als": "a"}),
        InputError,
        "weight of als must be a number",
    ),
    "negative weight": (
        lambda e, a, t: e.recommend({a: 5}, weights={"als": -1}),
        InputError,
        "weight of als must be a number of at least 0",
    ),
    "nan weight": (
        lambda e, a, t: e.recommend({a: 5}, weights={"content": float("nan")}),
        InputError,
        "weight of content",
    ),
    "unknown model weight": (
        lambda e, a, t: e.recommend({a: 5}, weights={"magic": 1}),
        InputError,
        "unknown model weights",
    ),
    "diversity above 1": (
        lambda e, a, t: e.recommend({a: 5}, diversity=5),
        InputError,
        "diversity must be a number from 0 to 1",
    ),
    "diversity as text": (
        lambda e, a, t: e.recommend_tracks({a: 5}, diversity="a"),
        InputError,
        "diversity must be a number",
    ),
    "unknown fusion": (
        lambda e, a, t: e.recommend({a: 5}, fusion="max"),
        InputError,
        "fusion must be 'weighted' or 'rrf'",
    ),
    "unknown model": (
        lambda e, a, t: e.similar_artists(a, model="magic"),
        InputError,
        "unknown model",
    ),
    "session as one string": (
        lambda e, a, t: e.continue_session(t),
        InputError,
        "the session must be a list of ids",
    ),
    "session of nothing": (
        lambda e, a, t: e.continue_session(None),
        InputError,
        "the session must be a list of ids, got None",
    ),
    "empty session": (lambda e, a, t: e.continue_session([]), InputError, "the session is empty"),
    "unknown track in session": (
        lambda e, a, t: e.continue_session([t, "nope"]),
        UnknownIdError,
        r"unknown ids: \['nope'\]",
    ),
    "unknown track": (
        lambda e, a, t: e.similar_tracks("../../etc/passwd"),
        UnknownIdError,
        "unknown ids",
    ),
    "unknown artist": (
        lambda e, a, t: e.similar_artists("' OR 1=1 --"),
        UnknownIdError,
        "unknown ids",
    ),
    "unknown user": (
        lambda e, a, t: e.recommend_for_user("nobody"),
        UnknownIdError,
        "unknown user id: 'nobody'",
    ),
    "track ids as one string": (
        lambda e, a, t: e.track_info(t),
        InputError,
        "track ids must be a list of ids",
    ),
    "survey pool of zero": (
        lambda e, a, t: e.survey_artists(pool=0),
        InputError,
        "pool must be a whole number of at least 1",
    ),
    "survey seed as text": (
        lambda e, a, t: e.survey_artists(seed="x"),
        InputError,
        "seed must be a whole number",
    ),
    "survey exclude as one string": (
        lambda e, a, t: e.survey_artists(exclude=a),
        InputError,
        "exclude must be a list of ids",
    ),
    "find nothing": (
        lambda e, a, t: e.find_artists(None),
        InputError,
        "the name to find must be text",
    ),
    "find a number": (
        lambda e, a, t: e.find_tracks(5),
        InputError,
        "the name to find must be text, got int",
    ),
    "find a 10,000-character name": (
        lambda e, a, t: e.find_tracks("a" * 10_000),
        InputError,
        "at most 300",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_are_refused(eng: Engine, case: str) -> None:
    call, error, message = BAD_ARGUMENTS[case]
    artist = eng.catalog.artists["artist_id"].iloc[0]
    track = eng.catalog.tracks["track_id"].iloc[0]
    with pytest.raises(error, match=message):
        call(eng, artist, track)


SAVED = {"ana": {"ar1": 5, "ar2": 3, "ar3": 1}, "bob": {"ar1": 2}}


def db_state(path: Path) -> tuple[str, str]:
    """The database file's sha256 after folding the WAL in, and a dump of every row and table."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dump = "\n".join(conn.iterdump())
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest(), dump


@pytest.fixture
def saved(tmp_path: Path) -> RatingsStore:
    ratings = RatingsStore(tmp_path / "ratings.sqlite")
    for profile, rows in SAVED.items():
        for artist, stars in rows.items():
            ratings.rate(profile, artist, stars)
    ratings.enqueue("ana", "t1")
    return ratings


def refused_without_change(
    saved: RatingsStore, call: Callable[[], object], error: type, message: str
) -> None:
    before = db_state(saved.path)
    with pytest.raises(error, match=message):
        call()
    assert db_state(saved.path) == before


GOOD_PROFILES = {
    "apostrophe": "O'Brien",
    "double quotes": 'say "hi"',
    "sql": "x'); DROP TABLE ratings;--",
    "percent and underscore": "100%_fan",
    "accents": "Zoë",
    "japanese": "音楽好き",
    "arabic": "مستمع الموسيقى",
    "emoji": "🎧 fan",
    "html": "<img src=x onerror=alert(1)>",
    "markdown": "**[x](y)**",
    "dots inside": "a..b",
    "64 characters": "q" * 64,
}


@pytest.mark.parametrize("name", list(GOOD_PROFILES.values()), ids=list(GOOD_PROFILES))
def test_odd_profile_names_are_stored_as_text(saved: RatingsStore, name: str) -> None:
    saved.rate(name, "ar9", 4)
    saved.enqueue(name, "t9")
    assert saved.ratings(name) == {"ar9": 4} and saved.queue(name) == ["t9"]
    for profile, rows in SAVED.items():
        assert saved.ratings(profile) == rows
    assert saved.queue("ana") == ["t1"]
    assert name in saved.profiles()


def test_composed_and_decomposed_names_are_one_profile(saved: RatingsStore) -> None:
    saved.rate("Zoe\u0308", "ar1", 4)  # "e" + combining diaeresis
    assert saved.ratings("Zoë") == {"ar1": 4}
    assert saved.profiles().count("Zoë") == 1


BAD_PROFILES = {
    "empty": ("", "needs 1 to 64 characters, got 0"),
    "too long": ("a" * 65, "got 65"),
    "parent dir": ("../etc", "cannot contain '/'"),
    "windows parent": ("..\\x", "cannot contain '/'"),
    "absolute": ("/tmp/x", "cannot contain '/'"),
    "dot dot": ("..", "or be '.' or '..'"),
    "leading space": (" ana", "cannot start or end with a space"),
    "nul": ("a\x00b", "control or invisible"),
    "newline": ("ana\nbob", "control or invisible"),
    "rtl override": ("\u202eevil", "control or invisible"),
    "zero-width joiner": ("a\u200db", "control or invisible"),
    "lone surrogate": ("a\ud800", "control or invisible"),
    "number": (42, "must be text, got int"),
    "none": (None, "must be text, got NoneType"),
    "bytes": (b"ana", "must be text, got bytes"),
}


def profile_calls(saved: RatingsStore, name: object) -> list[Callable[[], object]]:
    return [
        lambda: saved.rate(name, "ar1", 3),
        lambda: saved.import_csv(name, "artist_id,stars\nar1,4\n"),
        lambda: saved.delete_profile(name),
        lambda: saved.forget(name, "ar1"),
        lambda: saved.enqueue(name, "t1"),
        lambda: saved.clear_queue(name),
    ]


@pytest.mark.parametrize(("name", "message"), list(BAD_PROFILES.values()), ids=list(BAD_PROFILES))
def test_bad_profile_names_change_nothing(saved: RatingsStore, name, message) -> None:
    for call in profile_calls(saved, name):
        refused_without_change(saved, call, InputError, message)


BAD_STARS = [0, 6, -1, 2.5, 4.0, "5", None, True, float("nan"), float("inf"), 10**100]


@pytest.mark.parametrize("stars", BAD_STARS, ids=repr)
def test_out_of_range_stars_change_nothing(saved: RatingsStore, stars: object) -> None:
    message = "stars must be a whole number from 1 to 5"
    refused_without_change(saved, lambda: saved.rate("ana", "ar1", stars), InputError, message)


@pytest.mark.parametrize("artist", ["", "   ", None, 5, b"ar1"], ids=repr)
def test_bad_artist_ids_change_nothing(saved: RatingsStore, artist: object) -> None:
    message = "artist_id must be a non-empty string"
    refused_without_change(saved, lambda: saved.rate("ana", artist, 4), InputError, message)


def test_double_submits_keep_one_rating(saved: RatingsStore) -> None:
    for _ in range(3):
        saved.rate("ana", "ar7", 4)
    saved.rate("ana", "ar2", 5)
    saved.rate("ana", "ar2", 5)
    table = saved.table("ana")
    assert table["artist_id"].is_unique and len(table) == 4
    assert saved.ratings("ana") == {"ar1": 5, "ar2": 5, "ar3": 1, "ar7": 4}
    csv = "artist_id,stars\nar1,2\nar8,3\n"
    assert saved.import_csv("ana", csv) == saved.import_csv("ana", csv) == 2
    after_twice = saved.ratings("ana")
    assert after_twice == {"ar1": 2, "ar2": 5, "ar3": 1, "ar7": 4, "ar8": 3}
    assert len(saved.table("ana")) == 5


KNOWN = {"ar1", "ar2", "ar3", "ar4"}
BAD_CSVS = {
    "utf-16": ("artist_id,stars\nar1,5\n".encode("utf-16"), "not UTF-8 text"),
    "latin-1": ("artist_id,stars\nBjörk,5\n".encode("latin-1"), "not UTF-8 text"),
    "binary garbage": (bytes(range(256)) * 4, "not UTF-8 text"),
    "nul bytes": (b"artist_id,stars\nar1\x00,5\n", r"artist 'ar1\\x00' is not in the catalog"),
    "too big": (b"artist_id,stars\n" + b"ar1,5\n" * (MAX_IMPORT_BYTES // 6 + 1), "larger than"),
    "bom only": (b"\xef\xbb\xbf", "empty"),
    "blank header": (b"  ,  \nar1,5\n", "empty: expected a header"),
    "tab separated": (b"artist_id\tstars\nar1\t5\n", "missing column"),
    "json": (b'[{"artist_id": "ar1", "stars": 5}]', "missing column"),
    "stars column missing": (b"artist_id,rating\nar1,5\n", r"missing column\(s\) \['stars'\]"),
    "id column missing": (b"id,stars\nar1,5\n", r"missing column\(s\) \['artist_id'\]"),
    "stars as words": (b"artist_id,stars\nar1,five\n", "stars 'five' is not a number"),
    "stars as hex": (b"artist_id,stars\nar1,0x5\n", "not a number"),
    "stars infinite": (b"artist_id,stars\nar1,inf\n", "not a whole number from 1 to 5"),
    "stars negative": (b"artist_id,stars\nar1,-1\n", "not a whole number from 1 to 5"),
    "stars exponent": (b"artist_id,stars\nar1,1e1\n", "not a whole number from 1 to 5"),
    "stars half": (b"artist_id,stars\nar1,4.5\n", "not a whole number"),
    "nan": (b"artist_id,stars\nar1,NaN\n", "stars is missing"),
    "null": (b"artist_id,stars\nar1,NULL\n", "stars is missing"),
    "none": (b"artist_id,stars\nar1,None\n", "stars is missing"),
    "empty stars": (b"artist_id,stars\nar1,\n", "stars is missing"),
    "duplicate id": (b"artist_id,stars\nar1,5\nar1,4\n", "'ar1' appears more than once"),
    "duplicate id with spaces": (b"artist_id,stars\nar1,5\n ar1 ,4\n", "appears more than once"),
    "unknown artist": (b"artist_id,stars\nar1,5\nnobody,3\n", "'nobody' is not in the catalog"),
    "formula as artist": (b'artist_id,stars\n"=HYPERLINK(""x"")",5\n', "not in the catalog"),
    "truncated last line": (b"artist_id,stars,updated_at\nar1,5,2024\nar2", "line 3: has 1 field"),
    "truncated in a quote": (b'artist_id,stars\nar1,5\n"ar2,4\n', "not valid CSV"),
    "extra field": (b"artist_id,stars\nar1,5,extra\n", "has 3 field"),
    "header only": (b"artist_id,stars\n", "no ratings"),
    "empty file": (b"", "empty"),
    "one bad among good": (b"artist_id,stars\nar1,5\nar2,4\nar3,9\nar4,1\n", "line 4"),
}


@pytest.mark.parametrize(("data", "message"), list(BAD_CSVS.values()), ids=list(BAD_CSVS))
@pytest.mark.parametrize("replace", [False, True], ids=["merge", "replace"])
def test_bad_csv_imports_change_nothing(saved, data: bytes, message: str, replace: bool) -> None:
    def call() -> int:
        return saved.import_csv("ana", data, known=KNOWN, replace=replace)

    refused_without_change(saved, call, ImportRejected, message)


GOOD_CSVS = {
    "crlf": (b"artist_id,stars\r\nar1,4\r\nar4,2\r\n", {"ar1": 4, "ar4": 2}),
    "bom": ("\ufeffartist_id,stars\nar4,3\n".encode(), {"ar4": 3}),
    "whole floats": (b"artist_id,stars\nar4,3.0\n", {"ar4": 3}),
    "padded": (b" artist_id , stars \n ar4 , 5 \n", {"ar4": 5}),
    "reordered and extra columns": (b"name,stars,artist_id\nX,2,ar4\n", {"ar4": 2}),
    "quoted": (b'"artist_id","stars"\n"ar4","1"\n', {"ar4": 1}),
    "blank lines": (b"artist_id,stars\n\nar4,4\n\n", {"ar4": 4}),
    "no final newline": (b"artist_id,stars\nar4,4", {"ar4": 4}),
}


@pytest.mark.parametrize(("data", "wanted"), list(GOOD_CSVS.values()), ids=list(GOOD_CSVS))
def test_odd_but_valid_csvs_import_exactly(saved: RatingsStore, data: bytes, wanted: dict) -> None:
    assert saved.import_csv("ana", data, known=KNOWN) == len(wanted)
    assert saved.ratings("ana") == {**SAVED["ana"], **wanted}
    assert saved.ratings("bob") == SAVED["bob"]


def test_every_refusal_is_a_tunescout_error() -> None:
    """The app shows these one-line errors; anything else would be a stack trace on the page."""
    for error in (InputError, UnknownIdError, ImportRejected):
        assert issubclass(error, TunescoutError)


def test_a_10000_character_search_link_opens_the_page(synthetic_dir: Path, monkeypatch) -> None:
    """``?q=`` comes from a link, so it can be anything: the field keeps the text (Streamlit would
    empty a field with ``max_chars`` under it), the search reads its first 300 characters and says
    so, and the link is rewritten to what was searched."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TUNESCOUT_DATA_DIR", str(synthetic_dir))
    app = Path(__file__).resolve().parents[1] / "app.py"
    at = AppTest.from_file(str(app), default_timeout=300)
    at.query_params.update(profile="long-link", q="rainy heartbreak " * 600)
    at.run()
    at.switch_page("pages/mood_search.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.text_input(key="mood_text").value) == len("rainy heartbreak " * 600)
    assert any(f"the search used the first {MAX_TEXT}" in i.value for i in at.info)
    assert len(at.query_params["q"]) <= MAX_TEXT
    assert len(at.dataframe[0].value) == 10


# ---- hostile but well-typed arguments (issue #15, item 6): one validation path -------------------

HUGE = 10**400  # an int no float holds


def hostile_calls(e: Engine, a: str, t: str) -> dict[str, tuple[Callable[[], object], str]]:
    """Calls with values of the right type that are still unusable, and the refusal each gets."""
    return {
        "filter popularity up to 10**400": (
            lambda: e.search_mood("chill", filters={"popularity": (0, HUGE)}),
            "filter popularity: bounds must be numbers a float can hold",
        ),
        "filter years from -10**400": (
            lambda: e.recommend({a: 5}, filters={"years": (-HUGE, 2000)}),
            "filter years: bounds must be numbers a float can hold",
        ),
        "filter feature 10**400 on a session": (
            lambda: e.continue_session([t], filters={"features": {"energy": (0, HUGE)}}),
            "filter energy: bounds must be numbers",
        ),
        "weight 10**400": (
            lambda: e.recommend({a: 5}, weights={"als": HUGE}),
            "the weight of als must be a number of at least 0 that a float can hold",
        ),
        "weight 10**400 on tracks": (
            lambda: e.recommend_tracks({a: 5}, weights={"audio": HUGE}),
            "the weight of audio must be a number",
        ),
        "diversity 10**400": (
            lambda: e.recommend({a: 5}, diversity=HUGE),
            "diversity must be a number from 0 to 1",
        ),
        "survey seed -1": (
            lambda: e.survey_artists(seed=-1),
            "seed must be a whole number of at least 0",
        ),
        "survey seed -10**400": (lambda: e.survey_artists(seed=-HUGE), "at least 0"),
        "model as a list": (lambda: e.similar_artists(a, model=["als"]), "model name must be text"),
        "model as a list, tracks": (lambda: e.similar_tracks(t, model=["als"]), "must be text"),
        "k 10**400": (lambda: e.search_mood("chill", k=HUGE), "k must be a whole number from 1"),
        "stars 10**400": (lambda: e.recommend({a: HUGE}), "must be 1–5 stars, got 1000"),
        "stars numpy 6": (lambda: e.recommend({a: np.int64(6)}), "must be 1–5 stars"),
        "stars Fraction 9/2": (lambda: e.recommend({a: Fraction(9, 2)}), "must be 1–5 stars"),
        "lone surrogate in a mood": (
            lambda: e.search_mood("sad \ud800 piano"),
            "the search text is not valid Unicode",
        ),
        "lone surrogate in recommend's mood": (
            lambda: e.recommend({a: 5}, mood="rain \udfff"),
            "the mood is not valid Unicode",
        ),
        "lone surrogate in an artist name search": (
            lambda: e.find_artists("Bj\ud800rk"),
            "the name to find is not valid Unicode",
        ),
        "lone surrogate in a track name search": (
            lambda: e.find_tracks("\udcff"),
            "the name to find is not valid Unicode",
        ),
        "lone surrogate in an exclusion": (
            lambda: e.survey_artists(exclude=["\ud800"]),
            "an id in exclude is not valid Unicode",
        ),
        "lone surrogate in track ids": (
            lambda: e.track_info([t, "\ud800"]),
            "an id in track ids is not valid Unicode",
        ),
        "lone surrogate as a rated artist": (
            lambda: e.recommend({"\ud800": 5}),
            "not valid Unicode",
        ),
    }


HOSTILE_CASES = [
    "filter popularity up to 10**400", "filter years from -10**400",
    "filter feature 10**400 on a session", "weight 10**400", "weight 10**400 on tracks",
    "diversity 10**400", "survey seed -1", "survey seed -10**400", "model as a list",
    "model as a list, tracks", "k 10**400", "stars 10**400", "stars numpy 6", "stars Fraction 9/2",
    "lone surrogate in a mood", "lone surrogate in recommend's mood",
    "lone surrogate in an artist name search", "lone surrogate in a track name search",
    "lone surrogate in an exclusion", "lone surrogate in track ids",
    "lone surrogate as a rated artist",
]  # fmt: skip


@pytest.mark.parametrize("case", HOSTILE_CASES)
def test_hostile_but_well_typed_arguments_are_one_line_refusals(eng: Engine, case: str) -> None:
    artist = eng.catalog.artists["artist_id"].iloc[0]
    track = eng.catalog.tracks["track_id"].iloc[0]
    call, message = hostile_calls(eng, artist, track)[case]
    with pytest.raises(InputError, match=re.escape(message)) as refused:
        call()
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 300


def test_every_number_type_reads_the_same(eng: Engine) -> None:
    """``int``, numpy integers and whole floats, ``Fraction`` and ``Decimal`` are the same stars,
    weights, bounds and diversity as their plain values."""
    artists = list(eng.survey_artists(k=3)["artist_id"])
    plain = eng.recommend(dict.fromkeys(artists, 5), k=5, weights={"audio": 0.5}, diversity=0.25)
    for five, half, quarter in [
        (np.int64(5), np.float32(0.5), np.float64(0.25)),
        (5.0, Fraction(1, 2), Fraction(1, 4)),
        (Fraction(5), Decimal("0.5"), Decimal("0.25")),
        (np.uint8(5), 0.5, 0.25),
    ]:
        got = eng.recommend(
            dict.fromkeys(artists, five), k=5, weights={"audio": half}, diversity=quarter
        )
        pd.testing.assert_frame_equal(got, plain)
    bounds = eng.search_mood("chill", k=5, filters={"popularity": (20, 80), "years": (1990, 2010)})
    for odd in [
        {"popularity": (Fraction(20), np.float32(80)), "years": (np.int16(1990), Decimal(2010))},
        {"popularity": (np.int64(20), 80.0), "years": (1990.0, np.uint16(2010))},
    ]:
        pd.testing.assert_frame_equal(eng.search_mood("chill", k=5, filters=odd), bounds)


# ---- ratings export and import (item 7): a round trip, safe in a spreadsheet ----------------------

ODD_IDS = [
    "plain", "with,comma", 'with "quotes"', "carriage\rreturn", "line\nfeed", "crlf\r\nend",
    " leading space", "trailing space ", "\ttab first", "line\u2028separator", "para\u2029sep",
    "end\u2028", "=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "＝1+1", " =1+1",
    "'quoted", "''=x", "\ufeffbom", "emoji 🎧", "Zoë", "NUL\x00inside", "x" * 200,
]  # fmt: skip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def test_the_export_round_trips_every_id_and_is_safe_in_a_spreadsheet(tmp_path: Path) -> None:
    store = RatingsStore(tmp_path / "ratings.sqlite")
    wanted = {artist: 1 + i % 5 for i, artist in enumerate(ODD_IDS)}
    for artist, stars in wanted.items():
        store.rate("ana", artist, stars)
    names = {artist: f"=cmd|' /C calc'!A{i}" for i, artist in enumerate(ODD_IDS[:5])}
    text = store.export_csv("ana", names=names)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["artist_id", "artist_name", "stars", "updated_at"]
    for row in rows[1:]:
        for cell in row:
            assert not cell.lstrip().startswith(FORMULA_START), cell  # no cell runs as a formula
    shown = {from_cell(r[0]): from_cell(r[1]) for r in rows[1:]}
    assert {a: n for a, n in shown.items() if n} == names  # artist names in the export
    for data in (text, text.encode("utf-8"), text.encode("utf-8-sig")):
        store.import_csv("copy", data, known=set(ODD_IDS), replace=True)
        assert store.ratings("copy") == wanted
    assert store.ratings("ana") == wanted


@pytest.mark.parametrize("size", [MAX_IMPORT_BYTES + 1, 40_000_000], ids=["just over", "40 MB"])
def test_text_imports_count_against_the_cap(saved: RatingsStore, size: int) -> None:
    """A str is held to the 2 MB of a file: refused at once, before it is parsed into rows."""
    rows = "ar1,5\n" * (size // 6 + 1)
    started = time.perf_counter()
    refused_without_change(
        saved, lambda: saved.import_csv("ana", "artist_id,stars\n" + rows), ImportRejected, "larger"
    )
    assert time.perf_counter() - started < 2.0


def test_text_just_under_the_cap_imports(saved: RatingsStore) -> None:
    lines = [f"a{i:07d},{1 + i % 5}" for i in range((MAX_IMPORT_BYTES - 20) // 11)]
    text = "artist_id,stars\n" + "\n".join(lines)
    assert len(text.encode()) <= MAX_IMPORT_BYTES
    assert saved.import_csv("big", text) == len(lines)


@pytest.mark.parametrize(
    "timeout", [float("nan"), float("inf"), -1, 3601, HUGE, "10", True, 1j], ids=repr
)
def test_a_bad_timeout_is_refused(tmp_path: Path, timeout: object) -> None:
    with pytest.raises(InputError, match="the ratings database's timeout must be a number"):
        RatingsStore(tmp_path / "ratings.sqlite", timeout=timeout)  # type: ignore[arg-type]
    assert not (tmp_path / "ratings.sqlite").exists()


@pytest.mark.parametrize(
    "row", [("ana", "ar9", "x", "2024"), ("ana", "ar9", 7, "2024"), ("ana", "ar9", 2.5, "2024"),
            ("ana", b"ar9", 4, "2024"), ("ana", "ar9", None, None), ("ana", "ar9", b"5", "2024")],
    ids=["stars x", "stars 7", "stars 2.5", "id bytes", "nulls", "stars bytes"],
)  # fmt: skip
def test_a_row_no_write_makes_is_left_out_when_read(saved: RatingsStore, row: tuple) -> None:
    """A database edited by hand (or by an older schema without the CHECK): reading skips the row,
    nothing else changes."""
    with sqlite3.connect(saved.path) as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute("DROP TABLE IF EXISTS plain")
        conn.execute("CREATE TABLE plain AS SELECT * FROM ratings")  # no constraints at all
        conn.execute("DROP TABLE ratings")
        conn.execute("ALTER TABLE plain RENAME TO ratings")
        conn.execute("INSERT INTO ratings VALUES (?, ?, ?, ?)", row)
    conn.close()
    assert saved.ratings("ana") == SAVED["ana"]
    assert list(saved.table("ana")["artist_id"]) == list(SAVED["ana"])
    assert saved.export_csv("ana").count("\n") == 1 + len(SAVED["ana"])
    assert saved.ratings("bob") == SAVED["bob"]


@pytest.mark.parametrize("call", ["rate", "forget", "enqueue"])
def test_ids_that_sqlite_cannot_store_are_refused(saved: RatingsStore, call: str) -> None:
    calls = {
        "rate": lambda: saved.rate("ana", "ar\ud800", 4),
        "forget": lambda: saved.forget("ana", "\udfff"),
        "enqueue": lambda: saved.enqueue("ana", "t\ud800"),
    }
    refused_without_change(saved, calls[call], InputError, "not valid Unicode")


# ---- every public method × every argument × hostile values: refusals are TunescoutErrors --------

HOSTILE_VALUES = {
    "10**400": HUGE,
    "-10**400": -HUGE,
    "Fraction(1, 3)": Fraction(1, 3),
    "Decimal('NaN')": Decimal("NaN"),
    "np.int64(5)": np.int64(5),
    "np.float32(nan)": np.float32("nan"),
    "-1": -1,
    "True": True,
    "inf": float("inf"),
    "lone surrogate": "a\ud800b",
    "['als']": ["als"],
    "{'a': 1}": {"a": 1},
    "None": None,
    "b'x'": b"x",
    "object()": object(),
    "10,000 characters": "x" * 10_000,
}


def public_calls(e: Engine) -> dict[str, tuple[Callable[..., object], dict[str, object]]]:
    """Each public method with good arguments, by name (a hostile value replaces one at a time)."""
    artist = e.catalog.artists["artist_id"].iloc[0]
    track = e.catalog.tracks["track_id"].iloc[0]
    user = e.catalog.interactions["user_id"].iloc[0]
    good_filter = {"popularity": (0, 100)}
    return {
        "search_mood": (e.search_mood, {"text": "chill", "k": 5, "filters": good_filter}),
        "recommend": (
            e.recommend,
            {
                "ratings": {artist: 5},
                "k": 5,
                "mood": "calm",
                "weights": {"audio": 1.0},
                "filters": good_filter,
                "diversity": 0.2,
                "fusion": "weighted",
            },
        ),  # fmt: skip
        "recommend_tracks": (
            e.recommend_tracks,
            {
                "ratings": {artist: 5},
                "k": 5,
                "mood": "calm",
                "weights": {"audio": 1.0},
                "filters": good_filter,
                "diversity": 0.2,
            },
        ),  # fmt: skip
        "continue_session": (e.continue_session, {"track_ids": [track], "k": 5, "filters": None}),
        "recommend_for_user": (e.recommend_for_user, {"user_id": user, "k": 5}),
        "similar_tracks": (e.similar_tracks, {"track_id": track, "k": 5, "model": "hybrid"}),
        "similar_artists": (e.similar_artists, {"artist_id": artist, "k": 5, "model": "audio"}),
        "survey_artists": (e.survey_artists, {"k": 5, "exclude": [], "pool": 50, "seed": 0}),
        "find_artists": (e.find_artists, {"text": "a", "k": 5}),
        "find_tracks": (e.find_tracks, {"text": "a", "k": 5}),
        "track_info": (e.track_info, {"ids": [track]}),
        "artist_info": (e.artist_info, {"ids": [artist]}),
    }


def variants(arguments: dict[str, object], value: object) -> list[tuple[str, dict[str, object]]]:
    """The good arguments with ``value`` in each place: as the argument, and inside it (a star, a
    weight, a bound, an id of a list)."""
    out = []
    for name, good in arguments.items():
        out.append((name, {**arguments, name: value}))
        if isinstance(good, dict) and name == "ratings":
            out.append((f"{name} stars", {**arguments, name: dict.fromkeys(good, value)}))
            out.append(
                (
                    f"{name} id",
                    {**arguments, name: {value if isinstance(value, str) else str(value): 5}},
                )
            )
        elif name == "weights":
            out.append((f"{name} value", {**arguments, name: {"audio": value}}))
        elif name == "filters":
            out.append((f"{name} bound", {**arguments, name: {"popularity": (0, value)}}))
            out.append((f"{name} genre", {**arguments, name: {"genres": [value]}}))
        elif isinstance(good, list):
            out.append((f"{name} item", {**arguments, name: [value]}))
    return out


@pytest.mark.parametrize("method", list(RESULT_IDS) + ["track_info", "artist_info"])
def test_no_hostile_argument_raises_a_raw_exception(eng: Engine, method: str) -> None:
    """Every argument of every public method, and every star, weight, bound and list item inside
    them, replaced by each of :data:`HOSTILE_VALUES`: the answer is a table or a one-line
    TunescoutError, never another exception."""
    call, arguments = public_calls(eng)[method]
    raw, tried = [], 0
    for shown_value, value in HOSTILE_VALUES.items():
        for where, kwargs in variants(arguments, value):
            tried += 1
            try:
                found = call(**kwargs)
            except TunescoutError as exc:
                assert "\n" not in str(exc), (where, shown_value)  # one line (long ids are quoted)
                continue
            except Exception as exc:  # noqa: BLE001 - what this test counts
                raw.append(f"{where}={shown_value}: {type(exc).__name__}: {str(exc)[:80]}")
                continue
            assert isinstance(found, pd.DataFrame), (where, shown_value)
    assert raw == [], f"{len(raw)} raw exceptions in {tried} calls"
