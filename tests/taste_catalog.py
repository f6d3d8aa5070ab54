"""A small catalog built for recommendation tests with known answers (like implicit's checkerboards).

Three clusters of eight artists, three tracks each, that differ in every model's eyes:

* folk: calm, acoustic, slow; tagged folk/acoustic/mellow;
* metal: loud, fast; tagged metal/heavy/loud;
* disco: danceable, happy; tagged disco/dance/funky.

Listening: 24 listeners play folk and metal, 24 play folk and disco, 12 play metal only and 12
disco only, so a folk lover's neighbours lie in both metal and disco. One more artist, "odd",
disagrees with itself across models: metal listeners play it, it sounds like disco, and it is
tagged folk; another, "cold", has no listeners at all (disco in sound and tags). Artist popularity and listener counts grow with the artist's number in its cluster,
so familiarity bands are known too. The engine embeds text with the contract suite's
:class:`HashingEncoder` (no MiniLM).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from tests.contracts.test_index_contract import HashingEncoder
from tunescout.catalog import Catalog, empty, validate
from tunescout.indexes.base import registry
from tunescout.serving.engine import Engine

CLUSTERS = ("folk", "metal", "disco")
ARTISTS, TRACKS = 8, 3
SOUND = {
    "folk": {"danceability": 0.3, "energy": 0.15, "valence": 0.45, "acousticness": 0.9,
             "instrumentalness": 0.1, "speechiness": 0.04, "liveness": 0.1, "tempo": 80.0,
             "loudness": -16.0},
    "metal": {"danceability": 0.35, "energy": 0.95, "valence": 0.25, "acousticness": 0.02,
              "instrumentalness": 0.2, "speechiness": 0.08, "liveness": 0.2, "tempo": 170.0,
              "loudness": -4.0},
    "disco": {"danceability": 0.9, "energy": 0.7, "valence": 0.9, "acousticness": 0.1,
              "instrumentalness": 0.05, "speechiness": 0.05, "liveness": 0.1, "tempo": 120.0,
              "loudness": -6.0},
}  # fmt: skip
TAGS = {
    "folk": ["folk", "acoustic", "mellow", "singer-songwriter"],
    "metal": ["metal", "heavy", "loud", "thrash"],
    "disco": ["disco", "dance", "funky", "groove"],
}
ODD = "odd"
COLD = "cold"


def artist_ids(cluster: str) -> list[str]:
    return [f"{cluster}-{i}" for i in range(ARTISTS)]


def cluster_of(item: str) -> str:
    return item.split("-")[0]


@functools.cache
def taste_catalog() -> Catalog:
    rng = np.random.default_rng(11)
    tracks, artists, plays = [], [], []

    def add_artist(artist: str, sound: str, tags: str, popularity: float) -> None:
        artists.append(
            {"artist_id": artist, "name": artist.replace("-", " ").title(), "genres": [tags],
             "tags": [{"tag": t, "weight": 50.0 - 5 * n} for n, t in enumerate(TAGS[tags])],
             "popularity": popularity, "listeners": int(100 * popularity),
             "track_count": TRACKS, "source": "test"}
        )  # fmt: skip
        for j in range(TRACKS):
            features = {
                f: v + rng.uniform(-1, 1) * (5.0 if f == "tempo" else 0.03)
                for f, v in SOUND[sound].items()
            }
            for f in features:
                if f not in ("tempo", "loudness"):
                    features[f] = float(np.clip(features[f], 0, 1))
            tracks.append(
                {"track_id": f"{artist}-t{j}", "name": f"{artist} song {j}", "artist_id": artist,
                 "artist_name": artist.replace("-", " ").title(), "album": None,
                 "release_year": 2000 + j, "popularity": popularity - 2.0 * j,
                 "duration_ms": 200_000, "genres": [tags], **features,
                 "key": int(rng.integers(0, 12)), "mode": 1, "features_source": "measured",
                 "source": "test"}
            )  # fmt: skip

    for cluster in CLUSTERS:
        for i, artist in enumerate(artist_ids(cluster)):
            add_artist(artist, cluster, cluster, 10.0 + 11.0 * i)
    add_artist(ODD, "disco", "folk", 50.0)
    add_artist(COLD, "disco", "disco", 40.0)  # nobody listens to it

    def listen(user: str, artist: str) -> None:
        plays.append({"user_id": user, "artist_id": artist, "track_id": None,
                      "weight": float(rng.integers(5, 60))})  # fmt: skip

    def chosen(cluster: str, n: int) -> list[str]:
        # more popular artists (higher numbers) have more listeners
        weights = np.arange(1, ARTISTS + 1, dtype=float)
        picks = rng.choice(ARTISTS, size=n, replace=False, p=weights / weights.sum())
        return [f"{cluster}-{i}" for i in picks]

    for u in range(24):
        for a in chosen("folk", 4) + chosen("metal", 3):
            listen(f"fm{u}", a)
        for a in chosen("folk", 4) + chosen("disco", 3):
            listen(f"fd{u}", a)
    for u in range(12):
        for a in chosen("metal", 4):
            listen(f"m{u}", a)
        for a in chosen("disco", 4):
            listen(f"d{u}", a)
    for u in range(8):  # metal listeners also play the odd artist
        listen(f"m{u}", ODD)
    interactions = pd.DataFrame(plays).assign(timestamp=pd.NaT, source="test")
    frame = pd.DataFrame(artists).reindex(columns=list(empty("artists").columns), fill_value=None)
    return Catalog(
        tracks=validate("tracks", pd.DataFrame(tracks)),
        artists=validate("artists", frame),
        artist_map=empty("artist_map"),
        interactions=validate("interactions", interactions),
    )


OPTIONS = {
    "audio": {"method": "exact"},
    "semantic": {"method": "exact"},
    "als": {"factors": 3, "regularization": 1.0, "iterations": 15, "random_state": 3,
            "num_threads": 1},
    "coplay": {"l2": 5.0, "dropout": 0.5, "history_l2": 20.0},
    "tags": {},
}  # fmt: skip


@functools.cache
def taste_engine() -> Engine:
    """The engine over :func:`taste_catalog` (built once per test session)."""
    cat = taste_catalog()
    classes = registry()
    indexes = {}
    for name, options in OPTIONS.items():
        extra = {"encoder": HashingEncoder()} if name == "semantic" else {}
        try:
            indexes[name] = classes[name].build(cat, **options, **extra)
        except AttributeError:  # an encoder interface the test encoder lacks: no MiniLM space
            if name != "semantic":
                raise
    return Engine(cat, indexes)
