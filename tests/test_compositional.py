"""Tests for the listener-centred mood-search evaluation: song keys, constraints, list metrics,
the query-file validator, Deezer matching and quadrant lift, and the real query files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunescout.catalog import Catalog
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.domain.songs import first_per_song, song_key
from tunescout.errors import InputError
from tunescout.research.compositional import distinct_share, evaluate, score_lists, summarise
from tunescout.research.deezer import deezer_labels, quadrant_lift
from tunescout.research.facts import Facts, colistening_lift
from tunescout.research.requests import MIN_SONGS, load_queries, parse_queries

DATA = Path(__file__).resolve().parents[1] / "src" / "tunescout" / "research" / "data"

# --------------------------------------------------------------------------- song keys

SAME_SONG = [
    ("Queen", "Don't Stop Me Now - Remastered 2011", "Queen", "Don't Stop Me Now"),
    ("The Beatles", "Yesterday - 2009 Remaster", "Beatles", "Yesterday"),
    ("DNCE", "Cake By The Ocean", "DNCE", "Cake by the Ocean"),
    ("Zara Larsson", "All the Time - Don Diablo Remix", "Zara Larsson", "All the Time"),
    ("Calvin Harris", "Feel So Close - Radio Edit", "Calvin Harris", "Feel So Close"),
    ("Nirvana", "Lithium (Live)", "Nirvana", "Lithium"),
    ("Drake", "Nonstop (feat. Future)", "Drake", "Nonstop"),
    ("Ginuwine", "Pony - Single Version", "Ginuwine", "Pony"),
    ("3 Doors Down", "Here Without You (Acoustic Version)", "3 Doors Down", "Here Without You"),
    (
        "Ed Sheeran",
        "I Don't Care (with Justin Bieber) - Loud Luxury Remix",
        "Ed Sheeran",
        "I Don't Care",
    ),
    ("Beyoncé", "Halo", "BEYONCE", "Halo"),
    ("Motley Crue", "Kickstart My Heart", "Mötley Crüe", "Kickstart My Heart - 1999 Remaster"),
    ("Boney M.", 'Rasputin - 7" Version', "Boney M", "Rasputin"),
    ("Nirvana", "Heart-Shaped Box", "Nirvana", "Heart Shaped Box"),
    ("Avicii", "Levels [Radio Edit]", "Avicii", "Levels"),
    ("Pink Floyd", "Money - 2011 - Remaster", "Pink Floyd", "Money"),
    ("Mariah Carey feat. Boyz II Men", "One Sweet Day", "Mariah Carey", "One Sweet Day"),
    ("Selena Gomez", 'Rare - From "Soundtrack"', "Selena Gomez", "Rare"),
]
DIFFERENT_SONG = [
    (
        "Pink Floyd",
        "Another Brick in the Wall, Pt. 2",
        "Pink Floyd",
        "Another Brick in the Wall, Pt. 1",
    ),
    ("Radiohead", "Creep", "TLC", "Creep"),  # a cover or namesake by another artist
    ("Simple Minds", "Don't You (Forget About Me)", "Simple Minds", "Don't You"),
    ("Eminem", "Numb (Interlude)", "Eminem", "Numb"),
    ("Queen", "Bohemian Rhapsody", "Queen", "Killer Queen"),
]


@pytest.mark.parametrize(("artist_a", "title_a", "artist_b", "title_b"), SAME_SONG)
def test_song_key_folds_versions_of_one_song(artist_a, title_a, artist_b, title_b) -> None:
    assert song_key(artist_a, title_a) == song_key(artist_b, title_b)


@pytest.mark.parametrize(("artist_a", "title_a", "artist_b", "title_b"), DIFFERENT_SONG)
def test_song_key_keeps_different_songs_apart(artist_a, title_a, artist_b, title_b) -> None:
    assert song_key(artist_a, title_a) != song_key(artist_b, title_b)


def test_song_key_keeps_a_title_that_is_only_a_version_word() -> None:
    assert song_key("X", "Remix") == "x|remix"
    assert song_key(None, None) == "|"


def test_first_per_song_keeps_the_first_occurrence() -> None:
    keys = ["a|x", "b|y", "a|x", "c|z", "b|y"]
    assert first_per_song(keys).tolist() == [True, True, False, True, False]
    assert first_per_song([]).tolist() == []


# --------------------------------------------------------------------------- a tiny catalog

N_USERS = 20


def _listeners() -> dict[str, list[int]]:
    """HetRec users per artist, with U = 20 users and L(ref) = {0..4}.

    friend: shares 4, lift (4/5)/(4/20) = 4 -> co-listened.
    pal: shares 3, lift (3/5)/(3/20) = 4 -> co-listened.
    edge: shares 3, lift (3/5)/(6/20) = 2.0 exactly -> co-listened (>= 2).
    crowd: shares 3, lift (3/5)/(13/20) = 0.92 -> not (too popular).
    rare: shares 2, lift 4 -> not (fewer than 3 shared listeners).
    """
    return {
        "ref": [0, 1, 2, 3, 4],
        "friend": [0, 1, 2, 3],
        "pal": [0, 1, 2],
        "edge": [0, 1, 2, 15, 16, 17],
        "crowd": [0, 1, 2, *range(10, 20)],
        "rare": [0, 1],
        "filler": list(range(5, 10)),
    }


ARTISTS = {  # id: (name, genres, tags)
    "ref": ("Réf Artist", ["rock"], [("britpop", 3.0)]),
    "friend": ("Friend", ["rock", "album rock"], [("Britpop", 1.0)]),
    "pal": ("Pal", ["rap"], []),
    "edge": ("Edge", ["latin"], []),
    "crowd": ("Crowd", ["pop"], []),
    "rare": ("Rare", ["pop"], []),
    "filler": ("Filler", ["edm"], []),
}

# id, name, artist, year, own genres, valence, energy, tempo, instrumentalness
TRACKS = [
    ("r1", "Ref Song", "ref", 1995, [], 0.30, 0.60, 120.0, 0.0),
    ("r2", "Ref Song - Remastered 2011", "ref", 2011, [], 0.30, 0.60, 120.0, 0.0),
    ("r3", "Other Ref", "ref", 1996, [], 0.50, 0.80, 140.0, 0.0),
    ("f1", "Friend Happy", "friend", 1994, ["hard rock"], 0.90, 0.50, 100.0, 0.0),
    ("f2", "Friend Sad", "friend", 2019, [], 0.10, 0.90, 160.0, 0.0),
    ("p1", "Pal Rap", "pal", 1999, ["trap"], 0.80, 0.95, 90.0, 0.0),
    ("e1", "Edge Latin", "edge", 2005, [], 0.45, 0.20, 124.0, 0.9),
    ("c1", "Crowd Pop", "crowd", 1990, [], 0.70, 0.30, 110.0, 0.8),
    ("d1", "Rare Pop", "rare", 1989, [], 0.60, 0.40, 118.0, 0.7),
    ("x1", "Filler Beat", "filler", None, [], 0.20, 0.10, 128.0, 0.6),
]


def tiny_catalog() -> Catalog:
    """Seven artists, ten tracks and hand-made HetRec listening (see :func:`_listeners`)."""
    artists = pd.DataFrame(
        {
            "artist_id": list(ARTISTS),
            "name": [v[0] for v in ARTISTS.values()],
            "genres": [v[1] for v in ARTISTS.values()],
            "tags": [[{"tag": t, "weight": w} for t, w in v[2]] for v in ARTISTS.values()],
        }
    )
    rows = []
    for tid, name, artist, year, genres, valence, energy, tempo, instr in TRACKS:
        row = dict.fromkeys(AUDIO_FEATURES, 0.5)
        row.update(valence=valence, energy=energy, tempo=tempo, instrumentalness=instr)
        row.update(loudness=-6.0, track_id=tid, name=name, artist_id=artist)
        row.update(artist_name=ARTISTS[artist][0], release_year=year, genres=genres)
        rows.append(row)
    tracks = pd.DataFrame(rows)
    tracks["release_year"] = pd.array(tracks["release_year"], dtype="Int32")
    inter = [
        {
            "user_id": f"hetrec:{u}",
            "artist_id": a,
            "track_id": None,
            "weight": 1.0,
            "source": "hetrec",
        }
        for a, users in _listeners().items()
        for u in users
    ]
    return Catalog(
        tracks=tracks,
        artists=artists,
        artist_map=pd.DataFrame(),
        interactions=pd.DataFrame(inter),
    )


@pytest.fixture(scope="module")
def facts() -> Facts:
    return Facts.from_catalog(tiny_catalog())


def make_request(constraints: dict, rid: str = "t-01"):
    doc = query_doc()
    doc["requests"] = [{"id": rid, "text": "a request", "constraints": constraints}]
    return parse_queries(doc).requests[0]


def query_doc() -> dict:
    return {
        "version": 1,
        "split": "dev",
        "author": "test",
        "written": "2026-12-01",
        "requests": [
            {"id": "t-01", "text": "90s rock", "constraints": {"years": [1990, 1999]}},
            {
                "id": "t-02",
                "text": "like ref but happier",
                "constraints": {"like": "Réf Artist", "relative": {"valence": "higher"}},
                "notes": "n",
            },
        ],
        "quadrants": {"happy": ["happy"], "angry": ["angry"], "sad": ["sad"], "calm": ["calm"]},
    }


def met(facts: Facts, constraints: dict) -> set[str]:
    ids = [t[0] for t in TRACKS]
    ok = facts.meets(make_request(constraints), ids)
    return {t for t, flag in zip(ids, ok, strict=True) if flag}


# --------------------------------------------------------------------------- constraints


def test_colistening_lift_hand_computed() -> None:
    lift, artists = colistening_lift(tiny_catalog().interactions)
    dense = pd.DataFrame(lift.toarray(), index=artists, columns=artists)
    assert dense.loc["ref", "friend"] == pytest.approx(4.0)
    assert dense.loc["ref", "edge"] == pytest.approx(2.0)
    assert dense.loc["ref", "crowd"] == pytest.approx(3 * 20 / (5 * 13))
    assert dense.loc["ref", "rare"] == 0.0  # only 2 shared listeners: left out
    assert dense.loc["ref", "ref"] == 0.0
    assert np.allclose(dense.to_numpy(), dense.to_numpy().T)


def test_colistened_applies_both_thresholds(facts: Facts) -> None:
    assert set(facts.colistened("ref")) == {"friend", "pal", "edge"}
    assert len(facts.colistened("nobody")) == 0


@pytest.mark.parametrize(
    ("constraints", "expected"),
    [
        ({"years": [1990, 1999]}, {"r1", "r3", "f1", "p1", "c1"}),  # x1 has no year: fails
        ({"years": [2011, 2011]}, {"r2"}),
        ({"genres": ["hard rock"]}, {"f1"}),  # the track's own label
        ({"genres": ["rock"]}, {"r1", "r2", "r3", "f1", "f2"}),  # the artist's label
        ({"genres": ["trap", "latin"]}, {"p1", "e1"}),  # any one of the labels
        ({"not_genres": ["rock", "rap"]}, {"e1", "c1", "d1", "x1"}),
        ({"not_genres": ["trap"]}, {t[0] for t in TRACKS} - {"p1"}),
        ({"tags": ["BRITPOP"]}, {"r1", "r2", "r3", "f1", "f2"}),  # casefolded both sides
        ({"like": "Réf Artist"}, {"f1", "f2", "p1", "e1"}),  # never the reference itself
        ({"not_artists": ["Friend", "Pal"]}, {t[0] for t in TRACKS} - {"f1", "f2", "p1"}),
        ({"features": {"instrumentalness": "high"}}, {"e1", "c1", "d1", "x1"}),
        ({"features": {"valence": "low", "energy": "high"}}, {"r1", "r2", "f2"}),
    ],
)
def test_each_constraint_passes_and_fails_where_it_should(facts, constraints, expected) -> None:
    assert met(facts, constraints) == expected


def test_relative_compares_with_the_reference_artist_mean(facts: Facts) -> None:
    # Ref's mean valence is (0.3 + 0.3 + 0.5) / 3 = 0.3667; higher by 0.05 means >= 0.4167.
    happier = {"like": "Réf Artist", "relative": {"valence": "higher"}}
    assert met(facts, happier) == {"f1", "p1", "e1"}
    # Ref's mean tempo is 126.67: slower by 5 BPM means <= 121.67.
    slower = {"like": "Réf Artist", "relative": {"tempo": "lower"}}
    assert met(facts, slower) == {"f1", "p1"}


def test_like_track_excludes_every_recording_of_the_reference(facts: Facts) -> None:
    request = {"like_track": ["Ref Song", "Réf Artist"]}
    assert met(facts, request) == {"f1", "f2", "p1", "e1"}
    # No track is titled "Ref Song (Live)": the reference is the song, both recordings of it.
    calmer = {"like_track": ["Ref Song (Live)", "Réf Artist"], "relative": {"energy": "lower"}}
    assert met(facts, calmer) == {"f1", "e1"}  # reference energy 0.6: <= 0.55


def test_failures_name_the_failing_constraints(facts: Facts) -> None:
    request = make_request({"years": [1990, 1999], "genres": ["rock"]})
    detail = facts.failures(request, ["f1", "f2", "c1", "nope"]).set_index("track_id")
    assert detail["meets"].tolist() == [True, False, False, False]
    assert detail.loc["f2", "failed"] == "years"
    assert detail.loc["c1", "failed"] == "genres"
    assert detail.loc["nope", "failed"] == "not in catalog"
    assert facts.failures(request, []).empty


def test_songs_meeting_counts_distinct_songs(facts: Facts) -> None:
    assert facts.songs_meeting(make_request({"genres": ["rock"]})) == 4  # r1 and r2 are one song


def test_names_the_catalog_lacks_are_refused_with_the_request_id(facts: Facts) -> None:
    for constraints, word in [
        ({"like": "Ref Artist"}, "like"),  # accents matter: the catalog spells Réf
        ({"genres": ["rokc"]}, "genres"),
        ({"tags": ["no such tag"]}, "tags"),
        ({"not_artists": ["Nobody"]}, "not_artists"),
        ({"like_track": ["No Song", "Friend"]}, "like_track"),
    ]:
        with pytest.raises(InputError, match=rf"t-07: {word}"):
            facts.meets(make_request(constraints, rid="t-07"), ["f1"])


# --------------------------------------------------------------------------- list metrics


def test_missing_rows_and_lists_count_as_failures(facts: Facts) -> None:
    request = make_request({"genres": ["rock"]}, rid="q1")
    other = make_request({"genres": ["pop"]}, rid="q2")
    results = {"q1": pd.DataFrame({"track_id": ["f1", "f2", "r3"], "why": ["a", "b", "c"]})}
    scores = score_lists(facts, [request, other], results, k=10).set_index("id")
    assert scores.loc["q1", "share"] == pytest.approx(0.3)
    assert scores.loc["q1", "failed"]["missing"] == 7
    assert scores.loc["q2", "share"] == 0.0
    assert scores.loc["q2", "n"] == 0
    assert np.isnan(scores.loc["q2", "distinct_why"])


def test_only_the_top_k_counts(facts: Facts) -> None:
    request = make_request({"genres": ["rock"]}, rid="q1")
    frame = pd.DataFrame({"track_id": ["c1", "f1", "f2", "r3"], "why": list("wxyz")})
    scores = score_lists(facts, [request], {"q1": frame}, k=2)
    assert scores.loc[0, "share"] == pytest.approx(0.5)


def test_repeated_song_detected_across_recordings(facts: Facts) -> None:
    request = make_request({"genres": ["rock"]}, rid="q1")
    dup = pd.DataFrame({"track_id": ["r1", "f1", "r2"], "why": ["a", "b", "c"]})
    clean = pd.DataFrame({"track_id": ["r1", "f1", "r3"], "why": ["a", "b", "c"]})
    assert bool(score_lists(facts, [request], {"q1": dup}).loc[0, "repeat"])
    assert not bool(score_lists(facts, [request], {"q1": clean}).loc[0, "repeat"])


def test_distinct_why_share() -> None:
    assert distinct_share(["same", "same", "other", "third"]) == pytest.approx(0.75)
    assert distinct_share(["same"] * 10) == pytest.approx(0.1)
    assert np.isnan(distinct_share([]))


def test_reason_column_is_accepted_and_summary_aggregates(facts: Facts) -> None:
    rock = make_request({"genres": ["rock"]}, rid="q1")
    era = make_request(
        {"years": [1990, 1999], "tags": ["britpop"], "not_genres": ["rap"]}, rid="q2"
    )
    results = {
        "q1": pd.DataFrame({"track_id": ["r1", "r2"], "reason": ["same", "same"]}),
        "q2": pd.DataFrame({"track_id": ["f1", "f2"], "reason": ["a", "b"]}),
    }
    summary = summarise(score_lists(facts, [rock, era], results, k=2))
    assert summary["mean_share"] == pytest.approx((1.0 + 0.5) / 2)
    assert summary["lists_with_repeat"] == 1
    assert summary["mean_distinct_why"] == pytest.approx((0.5 + 1.0) / 2)
    assert summary["constraint_failures"]["years"] == pytest.approx(0.5)
    assert summary["constraint_failures"]["genres"] == 0.0
    assert summary["constraint_failures"]["not_genres"] == 0.0
    assert set(summary["by_category"]) == {"genre", "multi-part"}


def test_evaluate_calls_search_with_each_text(facts: Facts) -> None:
    queries = parse_queries(query_doc())
    calls = []

    def search(text: str, k: int) -> pd.DataFrame:
        calls.append((text, k))
        return pd.DataFrame({"track_id": ["f1", "p1"], "why": ["one", "two"]})

    out = evaluate(search, facts, queries, k=5)
    assert calls == [("90s rock", 5), ("like ref but happier", 5)]
    assert out["summary"]["requests"] == 2
    # t-01 (1990s): f1 and p1 both meet -> 2/5; t-02: f1 (0.9) and p1 (0.8) happier -> 2/5.
    assert [r["share"] for r in out["requests"]] == pytest.approx([0.4, 0.4])
    json.dumps(out)  # JSON-ready


# --------------------------------------------------------------------------- Deezer


def write_deezer(folder: Path) -> Path:
    rows = [
        ("REF ARTIST", "Ref Song", 1.0, 1.0),  # matches r1 and r2 (one song)
        ("Friend", "Friend Happy (Radio Edit)", 2.0, 1.0),
        ("Friend", "Friend Sad", -2.0, -1.0),
        ("Edge", "Edge Latin", 0.0, -2.0),
        ("Nobody", "Unknown Song", 5.0, 5.0),
    ]
    frame = pd.DataFrame(rows, columns=["artist_name", "track_name", "valence", "arousal"])
    frame.insert(0, "dzr_sng_id", range(len(frame)))
    frame.to_csv(folder / "train.csv", index=False)
    return folder


def test_deezer_labels_match_by_song_and_standardise_over_songs(tmp_path: Path) -> None:
    labels = deezer_labels(tiny_catalog(), write_deezer(tmp_path)).set_index("track_id")
    assert set(labels.index) == {"r1", "r2", "f1", "f2", "e1"}
    songs = labels.drop_duplicates("song")
    assert songs["valence"].mean() == pytest.approx(0.0)
    assert songs["valence"].std(ddof=0) == pytest.approx(1.0)
    # raw valence over the four songs: 1, 2, -2, 0 -> mean 0.25, sd sqrt(2.1875)
    assert labels.loc["f1", "valence"] == pytest.approx((2.0 - 0.25) / np.sqrt(2.1875))
    assert labels.loc["r1", "valence"] == labels.loc["r2", "valence"]


def test_deezer_labels_refuse_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no Deezer"):
        deezer_labels(tiny_catalog(), tmp_path)


def test_quadrant_lift_sign(tmp_path: Path) -> None:
    labels = deezer_labels(tiny_catalog(), write_deezer(tmp_path))
    seen = []

    def by_valence(descending: bool):
        def search(text: str, k: int, allowed: frozenset[str]) -> pd.DataFrame:
            seen.append(allowed)
            ranked = labels.sort_values("valence", ascending=not descending)
            return ranked[["track_id"]].head(k)

        return search

    quadrants = {"happy": ["joyful"], "sad": ["gloomy"]}
    good = quadrant_lift(by_valence(True), labels, {"happy": ["joyful"]}, k=1)
    bad = quadrant_lift(by_valence(False), labels, quadrants, k=1)
    assert seen[0] == frozenset(labels["track_id"])
    assert good["by_quadrant"]["happy"] > 0  # f1: v +1.18, a +0.96 -> lift +1.07
    assert bad["by_quadrant"]["happy"] < 0  # f2 is the saddest
    assert bad["by_quadrant"]["sad"] > 0
    assert bad["overall"] == pytest.approx(np.mean([r["lift"] for r in bad["requests"]]))
    with pytest.raises(InputError, match="unknown quadrant"):
        quadrant_lift(by_valence(True), labels, {"joy": ["x"]})


# --------------------------------------------------------------------------- validator


def _broken(edit) -> dict:
    doc = copy.deepcopy(query_doc())
    edit(doc)
    return doc


BAD_FILES = [
    (lambda d: d["requests"][1]["constraints"].update(genre=["rock"]), r"t-02: unknown constraint"),
    (lambda d: d["requests"][0]["constraints"].update(years=[1999, 1990]), r"t-01: years"),
    (lambda d: d["requests"][0]["constraints"].update(years=["1990", 1999]), r"t-01: years"),
    (lambda d: d["requests"][1]["constraints"].pop("like"), r"t-02: relative needs a reference"),
    (lambda d: d["requests"][1]["constraints"]["relative"].update(valence="up"), r"t-02: relative"),
    (
        lambda d: d["requests"][0]["constraints"].update(features={"mood": "high"}),
        r"t-01: features",
    ),
    (lambda d: d["requests"][0]["constraints"].update(genres=[]), r"t-01: genres"),
    (
        lambda d: d["requests"][0]["constraints"].update(like_track=["Only Title"]),
        r"t-01: like_track",
    ),
    (lambda d: d["requests"][0].update(constraints={}), r"t-01: constraints are empty"),
    (lambda d: d["requests"][0].pop("constraints"), r"t-01: constraints are missing"),
    (lambda d: d["requests"][0].update(text=""), r"t-01: text"),
    (lambda d: d["requests"][0].update(category="era"), r"t-01: unknown key"),
    (lambda d: d["requests"][1].update(id="t-01"), r"t-01: id is used"),
    (lambda d: d["requests"][1].pop("id"), r"request #2: id"),
    (lambda d: d.update(split="test"), r"split"),
    (lambda d: d.update(version=2), r"version"),
    (lambda d: d.update(requests=[]), r"requests"),
    (lambda d: d["quadrants"].pop("calm"), r"quadrants"),
    (lambda d: d["quadrants"].update(sad=[]), r"quadrants.sad"),
]


@pytest.mark.parametrize(("edit", "message"), BAD_FILES)
def test_validator_refuses_bad_files(edit, message) -> None:
    with pytest.raises(InputError, match=message):
        parse_queries(_broken(edit))


def test_load_queries_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(query_doc()))
    queries = load_queries(good)
    assert [r.id for r in queries.requests] == ["t-01", "t-02"]
    assert queries.requests[1].category == "artist reference + relative"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json: not valid JSON"):
        load_queries(bad)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(_broken(lambda d: d["requests"][0].update(text=""))))
    with pytest.raises(InputError, match="broken.json: t-01"):
        load_queries(broken)
    with pytest.raises(InputError, match="no such query file"):
        load_queries(tmp_path / "absent.json")


def test_dev_file_is_valid_and_balanced() -> None:
    queries = load_queries(DATA / "compositional_dev.json")
    assert queries.split == "dev"
    assert len(queries.requests) >= 44
    assert all(len(texts) == 8 for texts in queries.quadrants.values())


# --------------------------------------------------------------------------- the real query files


@pytest.mark.slow
def test_every_real_request_is_satisfiable(real_engine) -> None:
    facts = Facts.from_catalog(real_engine.catalog)
    problems = []
    for name in ("compositional_dev.json", "compositional_blind.json"):
        queries = load_queries(DATA / name)
        for request in queries.requests:
            try:
                n = facts.songs_meeting(request)
            except InputError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if n < MIN_SONGS:
                problems.append(f"{name}: {request.id} is met by {n} songs (< {MIN_SONGS})")
    assert not problems, "\n".join(problems)
