"""The index contract (:class:`tunescout.indexes.base.Index`), checked on every registered index.

One suite, in the style of implicit's ``RecommenderBaseTestMixin``: :class:`IndexContract` holds
every check, and a subclass supplies the ``case`` fixture, the factory hook that says how to build
one index on the shared catalog below. :class:`TestIndexContract` runs it over every registered
model; tests/contracts/test_toy_index.py runs the same class over a toy fourth index.

The catalog has two clusters whose answers are known: six folk artists (acoustic, quiet, slow;
documents about folk, guitars and calm) and six metal artists (loud, fast, electric; documents about
metal and aggression), three tracks each, and 24 listeners who only play artists of one cluster.
The semantic index embeds with :class:`HashingEncoder`, a deterministic bag of words, so the suite
needs no MiniLM.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tunescout.catalog import Catalog, empty, validate
from tunescout.errors import ArtifactError, InputError
from tunescout.indexes.base import Index, registry
from tunescout.vocabulary import KINDS, Kind

CLUSTERS = ("folk", "metal")
ARTISTS_PER_CLUSTER, TRACKS_PER_ARTIST, USERS_PER_CLUSTER = 6, 3, 12
STYLE: dict[str, dict[str, Any]] = {
    "folk": {
        "features": {
            "danceability": 0.35,
            "energy": 0.15,
            "valence": 0.55,
            "acousticness": 0.92,
            "instrumentalness": 0.10,
            "speechiness": 0.04,
            "liveness": 0.10,
            "tempo": 82.0,
            "loudness": -15.0,
        },
        "genres": ["folk", "acoustic folk", "singer songwriter"],
        "tags": ["acoustic", "guitar", "mellow", "campfire"],
    },
    "metal": {
        "features": {
            "danceability": 0.40,
            "energy": 0.96,
            "valence": 0.20,
            "acousticness": 0.02,
            "instrumentalness": 0.25,
            "speechiness": 0.08,
            "liveness": 0.20,
            "tempo": 165.0,
            "loudness": -4.0,
        },
        "genres": ["metal", "heavy metal", "thrash metal"],
        "tags": ["heavy", "loud", "distortion", "headbanging"],
    },
}
JITTER = {"tempo": 6.0, "loudness": 1.0}  # other features vary by ±0.04
NAMES = ["Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kit", "Lu"]


def artist_ids(cluster: str) -> list[str]:
    return [f"{cluster}-{i}" for i in range(ARTISTS_PER_CLUSTER)]


def track_ids(cluster: str) -> list[str]:
    return [f"{a}-t{j}" for a in artist_ids(cluster) for j in range(TRACKS_PER_ARTIST)]


def cluster_of(item_id: str) -> str:
    """``folk-2`` and ``folk-2-t1`` are folk (ids carry their cluster; documents do not)."""
    return item_id.split("-")[0]


def members(cluster: str, kind: Kind) -> list[str]:
    return artist_ids(cluster) if kind == "artists" else track_ids(cluster)


def artist_popularity(cluster: str, i: int) -> float:
    """Distinct popularities interleaved across the clusters (folk-0 10, metal-0 17, folk-1 24…)."""
    return 10.0 + 14.0 * i + (7.0 if cluster == "metal" else 0.0)


@functools.cache
def contract_catalog() -> Catalog:
    """The two-cluster catalog (built once; tests must not change it)."""
    rng = np.random.default_rng(7)
    tracks, artists, listens = [], [], []
    for c, cluster in enumerate(CLUSTERS):
        style = STYLE[cluster]
        for i, artist in enumerate(artist_ids(cluster)):
            name = NAMES[c * ARTISTS_PER_CLUSTER + i]
            popularity = artist_popularity(cluster, i)
            artists.append(
                {
                    "artist_id": artist,
                    "name": name,
                    "genres": style["genres"][:1],
                    "tags": [
                        {"tag": t, "weight": 100.0 - 10 * n} for n, t in enumerate(style["tags"])
                    ],
                    "popularity": popularity,
                    "listeners": int(1000 * popularity),
                    "track_count": TRACKS_PER_ARTIST,
                    "source": "test",
                }
            )
            for j in range(TRACKS_PER_ARTIST):
                features = {
                    f: v + rng.uniform(-1, 1) * JITTER.get(f, 0.04)
                    for f, v in style["features"].items()
                }
                for f in set(features) - set(JITTER):
                    features[f] = float(np.clip(features[f], 0.0, 1.0))
                tracks.append(
                    {
                        "track_id": f"{artist}-t{j}",
                        "name": f"Song {len(tracks)}",
                        "artist_id": artist,
                        "artist_name": name,
                        "album": None,
                        "release_year": 2011,
                        "popularity": popularity - 3.0 * j,
                        "duration_ms": 200_000,
                        "genres": style["genres"],
                        **features,
                        "key": int(rng.integers(0, 12)),
                        "mode": 1,
                        "features_source": "measured",
                        "source": "test",
                    }
                )
        for u in range(USERS_PER_CLUSTER):
            for j in range(4):  # four of the cluster's six artists, two tracks of each
                a = (u + j) % ARTISTS_PER_CLUSTER
                for t in range(2):
                    listens.append(
                        {
                            "user_id": f"{cluster}-user{u}",
                            "artist_id": f"{cluster}-{a}",
                            "track_id": f"{cluster}-{a}-t{(u + t) % TRACKS_PER_ARTIST}",
                            "weight": float(3 + (7 * u + a + t) % 10),
                        }
                    )
    interactions = pd.DataFrame(listens).assign(timestamp=pd.NaT, source="test")
    artist_frame = pd.DataFrame(artists).reindex(
        columns=list(empty("artists").columns), fill_value=None
    )
    return Catalog(
        tracks=validate("tracks", pd.DataFrame(tracks)),
        artists=validate("artists", artist_frame),
        artist_map=empty("artist_map"),
        interactions=validate("interactions", interactions),
    )


def artist_listening(cat: Catalog) -> Catalog:
    """The same catalog with listening known per artist only (no interaction names a track)."""
    per_artist = cat.interactions.groupby(["user_id", "artist_id"], as_index=False, observed=True)
    interactions = per_artist["weight"].sum().assign(track_id=None, timestamp=pd.NaT, source="test")
    return Catalog(cat.tracks, cat.artists, cat.artist_map, validate("interactions", interactions))


class HashingEncoder:
    """A deterministic bag-of-words encoder with the interface the semantic index uses.

    Each lower-cased word adds ±1 at a BLAKE2b-chosen coordinate, so documents sharing words are
    close and nothing is downloaded. ``texts`` records every document it was asked to embed.
    """

    name, backend, document_precision = "hashing-bow", "test", "fp32"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.texts: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        out = np.zeros(self.dim, dtype=np.float32)
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
            out[digest % self.dim] += 1.0 if (digest >> 32) & 1 else -1.0
        norm = np.linalg.norm(out)
        return out / norm if norm else out

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        self.texts += list(texts)
        return self.encode(texts)


@dataclass(frozen=True)
class Case:
    """How to build one model for the suite (the factory hook) and what it promises.

    Attributes:
        model: Its registry name.
        options: Keyword arguments of its ``build`` (small and deterministic).
        needs_track_listening: It covers tracks only when interactions name tracks.
    """

    model: str
    options: Mapping[str, Any] = field(default_factory=dict)
    needs_track_listening: bool = False

    def build(self, cat: Catalog, previous: Index | None = None) -> Index:
        return registry()[self.model].build(cat, previous=previous, **self.options)

    def __str__(self) -> str:
        return self.model


ALS_OPTIONS = {
    "factors": 2,  # the rank of two clusters: more factors fit noise on a catalog this small
    "regularization": 1.0,
    "alpha": 5.0,
    "iterations": 15,
    "random_state": 3,
    "num_threads": 1,
}
COPLAY_OPTIONS = {"l2": 5.0, "dropout": 0.5, "history_l2": 20.0}  # small λ for 12 listeners
CASES: dict[str, Case] = {
    "audio": Case("audio", {"method": "exact"}),
    "als": Case("als", ALS_OPTIONS, needs_track_listening=True),
    "semantic": Case("semantic", {"encoder": HashingEncoder(), "method": "exact"}),
    "coplay": Case("coplay", COPLAY_OPTIONS, needs_track_listening=True),
    "tags": Case("tags"),
}


def _sorted_desc(scores: np.ndarray) -> bool:
    return bool(np.all(np.diff(scores) <= 1e-6))


class IndexContract:
    """Every check of the index contract; subclasses provide the ``case`` fixture."""

    @pytest.fixture(scope="class")
    def cat(self) -> Catalog:
        return contract_catalog()

    @pytest.fixture(scope="class")
    def index(self, case: Case, cat: Catalog) -> Index:
        return case.build(cat)

    # ---- identity ------------------------------------------------------------------------

    def test_model_is_registered_under_its_name(self, case: Case, index: Index) -> None:
        assert isinstance(index, Index)
        assert index.model == case.model
        assert registry()[case.model] is type(index)

    @pytest.mark.parametrize("kind", KINDS)
    def test_ids_are_the_catalog_ids_once_each(
        self, index: Index, cat: Catalog, kind: Kind
    ) -> None:
        ids = index.ids(kind)
        assert index.covers(kind)
        assert pd.Index(ids).is_unique
        table = cat.tracks["track_id"] if kind == "tracks" else cat.artists["artist_id"]
        assert sorted(ids) == sorted(table)  # every item here is listened to and described
        np.testing.assert_array_equal(ids, index.vectors(kind).ids)
        assert all(index.holds(i, kind) for i in ids)
        assert not index.holds("nope", kind)

    def test_an_unknown_kind_is_refused(self, index: Index) -> None:
        with pytest.raises(InputError, match="albums"):
            index.covers("albums")
        with pytest.raises(InputError):
            index.ids("albums")

    # ---- neighbours ----------------------------------------------------------------------

    @pytest.mark.parametrize("kind", KINDS)
    def test_similar_never_returns_the_seed_and_respects_a_mask(
        self, index: Index, kind: Kind
    ) -> None:
        ids = index.ids(kind)
        seed = ids[0]
        found, scores = index.similar([seed], 4, kind)
        assert len(found) == 4 and seed not in found and _sorted_desc(scores)
        mask = np.zeros(len(ids), dtype=bool)
        mask[::3] = True  # the seed itself is allowed too: it must still not come back
        allowed = set(ids[mask])
        found, _ = index.similar([seed], 3, kind, mask)
        assert len(found) == 3 and set(found) <= allowed - {seed}
        everything, _ = index.similar([seed], len(ids), kind, mask)
        assert sorted(everything) == sorted(allowed - {seed})
        nothing, _ = index.similar([seed], 3, kind, np.zeros(len(ids), dtype=bool))
        assert len(nothing) == 0
        with pytest.raises(InputError):
            index.similar([seed], 3, kind, mask[:-1])

    @pytest.mark.parametrize("kind", KINDS)
    def test_similar_of_ids_not_held_is_empty(self, index: Index, kind: Kind) -> None:
        ids, scores = index.similar(["nope"], 3, kind)
        assert len(ids) == 0 and len(scores) == 0
        found, _ = index.similar(["nope", index.ids(kind)[0]], 3, kind)  # the held one counts
        assert len(found) == 3

    # ---- profiles, scores and search -----------------------------------------------------

    @pytest.mark.parametrize("kind", KINDS)
    def test_profile_is_none_without_a_held_id_and_scores_are_nan_for_unknown_ids(
        self, index: Index, kind: Kind
    ) -> None:
        assert index.profile({}, kind) is None
        assert index.profile({"nope": 1.0, "nada": 2.0}, kind) is None
        held = index.ids(kind)[0]
        vector = index.profile({held: 1.0, "nope": 1.0}, kind)
        assert vector is not None and np.isfinite(vector).all()
        scores = index.score(vector, ["nope", held, "nada"], kind)
        assert scores.shape == (3,)
        assert np.isnan(scores[0]) and np.isfinite(scores[1]) and np.isnan(scores[2])

    @pytest.mark.parametrize("kind", KINDS)
    def test_search_vector_respects_k_and_mask(self, index: Index, kind: Kind) -> None:
        ids = index.ids(kind)
        vector = index.profile({ids[0]: 1.0, ids[-1]: 1.0}, kind)
        found, scores = index.search_vector(vector, 5, kind)
        assert len(found) == 5 and pd.Index(found).is_unique and _sorted_desc(scores)
        # search_vector's scores are score()'s, and nothing left out scores better
        np.testing.assert_allclose(index.score(vector, found, kind), scores, rtol=1e-4, atol=1e-5)
        assert np.nanmax(index.score(vector, ids, kind)) <= scores[0] + 1e-5
        every, _ = index.search_vector(vector, len(ids) + 10, kind)
        assert sorted(every) == sorted(ids)
        mask = np.zeros(len(ids), dtype=bool)
        mask[1::4] = True
        found, _ = index.search_vector(vector, 3, kind, mask)
        assert len(found) == 3 and set(found) <= set(ids[mask])
        found, _ = index.search_vector(vector, len(ids), kind, mask)
        assert sorted(found) == sorted(ids[mask])
        with pytest.raises(InputError):
            index.search_vector(vector, 3, kind, np.ones(len(ids) + 1, dtype=bool))

    # ---- artifacts -----------------------------------------------------------------------

    def test_save_load_round_trip(self, index: Index, tmp_path: Path) -> None:
        info = index.save(tmp_path / "saved")
        assert set(info) == {"params", "rows"}
        assert json.loads(json.dumps(info)) == info
        assert all(isinstance(n, int) for n in info["rows"].values())
        loaded = type(index).load(tmp_path / "saved")
        assert loaded.model == index.model
        for kind in KINDS:
            assert loaded.covers(kind) == index.covers(kind)
            ids = index.ids(kind)
            np.testing.assert_array_equal(loaded.ids(kind), ids)
            weights = {ids[0]: 1.0, ids[2]: 2.0, ids[-1]: -0.5}
            vector = index.profile(weights, kind)
            np.testing.assert_allclose(loaded.profile(weights, kind), vector, atol=1e-6)
            np.testing.assert_array_equal(
                loaded.score(vector, ids, kind), index.score(vector, ids, kind)
            )
            for seed in (ids[0], ids[-1]):
                got, want = loaded.similar([seed], 5, kind), index.similar([seed], 5, kind)
                np.testing.assert_array_equal(got[0], want[0])
                np.testing.assert_allclose(got[1], want[1], rtol=1e-6)

    def test_load_of_an_empty_folder_names_the_rebuild(self, index: Index, tmp_path: Path) -> None:
        with pytest.raises(ArtifactError, match="scripts/build.py"):
            type(index).load(tmp_path)

    def test_build_from_a_previous_build(
        self, case: Case, index: Index, cat: Catalog, tmp_path: Path
    ) -> None:
        index.save(tmp_path)
        rebuilt = case.build(cat, previous=type(index).load(tmp_path))
        assert type(rebuilt) is type(index)
        for kind in KINDS:
            ids = index.ids(kind)
            np.testing.assert_array_equal(rebuilt.ids(kind), ids)
            got, want = rebuilt.similar([ids[1]], 5, kind), index.similar([ids[1]], 5, kind)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6)

    def test_covers_is_honest(self, case: Case, index: Index, cat: Catalog) -> None:
        for kind in KINDS:
            assert index.covers(kind) == (len(index.ids(kind)) > 0)
        partial = case.build(artist_listening(cat))
        assert partial.covers("artists")
        assert partial.covers("tracks") is not case.needs_track_listening
        if partial.covers("tracks"):
            return
        # A kind not covered answers "nothing" everywhere, and vectors() says why.
        assert len(partial.ids("tracks")) == 0
        assert not partial.holds(cat.tracks["track_id"].iloc[0], "tracks")
        with pytest.raises(InputError, match="no tracks"):
            partial.vectors("tracks")
        track = cat.tracks["track_id"].iloc[0]
        assert partial.profile({track: 1.0}, "tracks") is None
        vector = partial.profile({"folk-0": 1.0}, "artists")
        assert np.isnan(partial.score(vector, [track], "tracks")).all()
        assert len(partial.search_vector(vector, 3, "tracks")[0]) == 0
        assert len(partial.similar([track], 3, "tracks")[0]) == 0


class TasteContract:
    """The cluster checks, for models whose neighbours and profiles follow taste (a model of
    popularity, say, does not: it takes :class:`IndexContract` alone)."""

    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("cluster", CLUSTERS)
    def test_similar_returns_the_seed_cluster_first(
        self, index: Index, kind: Kind, cluster: str
    ) -> None:
        same = members(cluster, kind)
        seed = same[1]
        ids, scores = index.similar([seed], len(same) - 1, kind)
        assert sorted(ids) == sorted(set(same) - {seed})
        assert _sorted_desc(scores)

    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("cluster", CLUSTERS)
    def test_profile_of_liked_items_scores_their_cluster_first(
        self, index: Index, kind: Kind, cluster: str
    ) -> None:
        liked = members(cluster, kind)[:2]
        vector = index.profile(dict.fromkeys(liked, 1.0), kind)
        rest = [i for i in index.ids(kind) if i not in liked]
        scores = pd.Series(index.score(vector, rest, kind), index=rest)
        inside = scores[[cluster_of(i) == cluster for i in rest]]
        assert inside.min() > scores.drop(inside.index).max()


class SharedSpaceContract:
    """For models that put tracks and artists in one space (``shared_space``)."""

    def test_a_profile_of_rated_artists_scores_tracks_in_a_shared_space(self, index: Index) -> None:
        vector = index.profile({"metal-0": 1.0, "metal-3": 1.0}, "artists")
        tracks = list(index.ids("tracks"))
        scores = pd.Series(index.score(vector, tracks, "tracks"), index=tracks)
        metal = scores[[cluster_of(t) == "metal" for t in tracks]]
        assert metal.min() > scores.drop(metal.index).max()


@pytest.mark.parametrize("case", list(CASES.values()), ids=str, scope="class")
class TestIndexContract(IndexContract, TasteContract):
    """The contract over the built-in indexes: audio, ALS, semantic, co-listening and tags."""


SHARED = [c for c in CASES.values() if registry()[c.model].shared_space]


@pytest.mark.parametrize("case", SHARED, ids=str, scope="class")
class TestSharedSpace(SharedSpaceContract):
    """Artist profiles score tracks where the model's space holds both."""

    @pytest.fixture(scope="class")
    def cat(self) -> Catalog:
        return contract_catalog()

    @pytest.fixture(scope="class")
    def index(self, case: Case, cat: Catalog) -> Index:
        return case.build(cat)


def test_every_registered_index_has_a_case() -> None:
    """A model added to the registry must be added to this suite too."""
    assert set(registry()) == set(CASES)
