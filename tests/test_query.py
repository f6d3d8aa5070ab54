"""Query understanding as literal tables: eras, references (typos, accents, song titles),
exclusions, relative modifiers and genres, on a small hand-made catalog vocabulary."""

from __future__ import annotations

import pandas as pd
import pytest

from tunescout.serving.names import Vocabulary, genre_families, related_labels
from tunescout.serving.query import parse

ARTISTS = [
    # id, name, genres, tags, popularity, listeners
    ("a-rh", "Radiohead", ["permanent wave", "rock"], ["alternative", "rock"], 80.0, 1500),
    ("a-cp", "Coldplay", ["permanent wave", "pop"], ["britpop", "rock"], 90.0, 1400),
    ("a-bj", "Björk", ["art pop"], ["electronic", "icelandic"], 60.0, 700),
    ("a-by", "Beyoncé", ["dance pop", "r&b"], ["rnb", "pop"], 90.0, 900),
    ("a-nv", "Nirvana", ["hard rock", "rock"], ["grunge", "rock"], 85.0, 1200),
    ("a-nd", "No Doubt", ["pop", "rock"], ["ska", "rock"], 70.0, 400),
    ("a-kp", "Katy Perry", ["dance pop", "pop"], ["pop"], 88.0, 1000),
    ("a-mc", "Mötley Crüe", ["hard rock", "rock"], ["hair metal", "hard rock"], 65.0, 300),
    ("a-dj", "DJ Rain", ["edm"], ["house"], 20.0, 5),
    ("a-ta", "Tupac", ["gangster rap", "rap"], ["hip-hop", "rap"], 75.0, 500),
    ("a-gr", "Grunge Band", ["hard rock"], ["grunge"], 10.0, 9),
]
TRACKS = [
    # id, title, artist id, genres
    ("t-sl", "Smells Like Teen Spirit", "a-nv", ["rock", "hard rock"]),
    ("t-sl2", "Smells Like Teen Spirit - Remastered", "a-nv", ["rock"]),
    ("t-cr", "Creep", "a-rh", ["rock", "permanent wave"]),
    ("t-ys", "Yellow", "a-cp", ["pop", "permanent wave"]),
    ("t-hy", "Hyperballad", "a-bj", ["art pop"]),
    ("t-sm", "Summer", "a-dj", ["edm"]),
    ("t-ca", "California Love", "a-ta", ["rap", "gangster rap"]),
    ("t-hp", "Happy Song", "a-kp", ["pop", "dance pop"]),
]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    artists = pd.DataFrame(
        [
            {
                "artist_id": a,
                "name": n,
                "genres": g,
                "tags": [{"tag": t, "weight": 1.0} for t in tags],
                "popularity": pop,
                "listeners": listeners,
            }
            for a, n, g, tags, pop, listeners in ARTISTS
        ]
    )
    names = dict(zip(artists["artist_id"], artists["name"], strict=True))
    tracks = pd.DataFrame(
        [
            {"track_id": t, "name": n, "artist_id": a, "artist_name": names[a], "genres": g,
             "popularity": 50.0}
            for t, n, a, g in TRACKS
        ]
    )  # fmt: skip
    return Vocabulary(tracks, artists, min_tag_artists=1)


@pytest.mark.parametrize(
    ("text", "years", "era"),
    [
        ("90s road trip singalong", (1990, 1999), "1990s"),
        ("songs from the '80s", (1980, 1989), "1980s"),
        ("80's hair metal", (1980, 1989), "1980s"),
        ("the eighties", (1980, 1989), "1980s"),
        ("early 2000s rock", (2000, 2003), "2000s"),
        ("late 90s", (1996, 1999), "1990s"),
        ("something from 2005", (2005, 2100), "from 2005"),
        ("released before 1970", (1800, 1969), "before 1970"),
        ("sad songs between 1995 and 2005", (1995, 2005), "1995–2005"),
        ("music from the sixties and seventies", (1960, 1979), "1960s or 1970s"),
        ("60s and 70s soul", (1960, 1979), "1960s–1970s"),
        ("2010s dance", (2010, 2019), "2010s"),
        ("old school hip hop", (1800, 1999), "old school"),
        ("rainy heartbreak", None, None),
    ],
)
def test_eras(vocab: Vocabulary, text: str, years, era) -> None:
    query = parse(text, vocab)
    assert query.years == years
    assert query.era == era


@pytest.mark.parametrize(
    ("text", "kind", "name", "exact"),
    [
        ("something like Radiohead but happier", "artists", "Radiohead", True),
        ("like radiohead", "artists", "Radiohead", True),
        ("like radiohed", "artists", "Radiohead", False),  # typo
        ("coldpaly vibes", "artists", "Coldplay", False),
        ("beyonce but more upbeat", "artists", "Beyoncé", True),  # accent missing
        ("bjork but more acoustic", "artists", "Björk", True),
        ("motley crue but softer", "artists", "Mötley Crüe", True),
        ("similar to the band nirvana", "artists", "Nirvana", True),
        ("songs like Smells Like Teen Spirit", "tracks", "Smells Like Teen Spirit — Nirvana", True),
        ("like No Doubt", "artists", "No Doubt", True),  # "no" is part of the name
        ("sounds like coldplay from the 2000s", "artists", "Coldplay", True),
    ],
)
def test_references(vocab: Vocabulary, text: str, kind: str, name: str, exact: bool) -> None:
    reference = parse(text, vocab).reference
    assert reference is not None
    assert (reference.kind, reference.name) == (kind, name)
    assert (reference.confidence == 1.0) is exact
    assert 0.8 <= reference.confidence <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "feel like dancing",  # "like" after "feel" is not a reference
        "songs i like",
        "music that feels like summer",
        "happy songs",
        "something like zzqxv",  # no catalog name close enough
    ],
)
def test_no_reference(vocab: Vocabulary, text: str) -> None:
    assert parse(text, vocab).reference is None


@pytest.mark.parametrize(
    ("text", "relative", "rest"),
    [
        ("like Radiohead but happier", {"valence": 1}, ""),
        ("radiohead but slower and calmer", {"tempo": -1, "energy": -1}, ""),
        ("like Coldplay but more danceable", {"danceability": 1}, ""),
        ("like Nirvana but darker", {"valence": -1}, ""),
        # Without a reference, a comparative is just a mood word.
        ("something happier", {}, "happy"),
        ("slower songs for the evening", {}, "slow evening"),
    ],
)
def test_relative_modifiers(vocab: Vocabulary, text: str, relative: dict, rest: str) -> None:
    query = parse(text, vocab)
    assert query.relative == relative
    assert query.rest == rest


@pytest.mark.parametrize(
    ("text", "not_genres", "not_artists", "avoid"),
    [
        ("happy songs, no rap", {"rap", "gangster rap"}, set(), {}),
        ("party music without hip-hop", {"rap", "gangster rap"}, set(), {}),
        ("happy pop but not katy perry", set(), {"a-kp"}, {}),
        ("focus music without vocals", set(), set(), {"instrumentalness": "low"}),
        ("early 2000s rock, not too loud", set(), set(), {"loudness": "high"}),
        ("nothing slow please", set(), set(), {"tempo": "low"}),
    ],
)
def test_exclusions(vocab: Vocabulary, text, not_genres, not_artists, avoid) -> None:
    query = parse(text, vocab)
    assert set(query.not_genres) >= not_genres
    assert set(query.not_artists) == not_artists
    assert query.avoid == avoid
    assert not set(query.genres) & not_genres  # an excluded genre is never also asked for


def test_an_exclusion_it_cannot_place_is_said(vocab: Vocabulary) -> None:
    query = parse("chill music, no zzqxv", vocab)
    assert query.notes and "zzqxv" in query.notes[0]


@pytest.mark.parametrize(
    ("text", "genres", "tags", "rest"),
    [
        ("some rock for the car", {"rock", "hard rock"}, (), "car"),
        ("hip-hop for the gym", {"rap", "gangster rap"}, (), "gym"),
        ("gloomy grunge", set(), ("grunge",), "gloomy"),
        ("rainy heartbreak", set(), (), "rainy heartbreak"),
    ],
)
def test_genres_and_tags(vocab: Vocabulary, text, genres, tags, rest) -> None:
    query = parse(text, vocab)
    assert set(query.genres) == genres
    assert query.tags == tags
    assert query.rest == rest


def test_a_request_reads_back_as_a_label(vocab: Vocabulary) -> None:
    query = parse("90s rock like Radiohead but happier, no rap", vocab)
    assert (
        query.label(["singalong"]) == "1990s · rock · singalong — like Radiohead, happier · no rap"
    )


def test_fame_words(vocab: Vocabulary) -> None:
    assert parse("90s singalong hits", vocab).fame == 1
    assert parse("deep cuts from the 70s", vocab).fame == -1
    assert parse("rainy heartbreak", vocab).fame == 0


def test_genre_families_follow_labels_and_co_occurrence() -> None:
    genres = pd.Series(
        [["rock", "album rock"], ["rock", "permanent wave"], ["rock", "permanent wave"],
         ["pop"], ["rock"], ["latin", "latin hip hop"], ["rap", "hip hop"], ["rap"]]
    )  # fmt: skip
    families = genre_families(genres)
    assert set(families["rock"]) == {"rock", "album rock", "permanent wave"}
    assert families["pop"] == ("pop",)
    assert "latin hip hop" not in families["hip hop"]  # listed under latin, not hip hop
    # ... but "no hip hop" leaves it out too: its name says what it is.
    assert related_labels("hip hop", families) == ["latin hip hop"]
