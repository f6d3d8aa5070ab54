"""A fourth index added by writing one file (toy_popularity.py) and registering it.

It passes the contract suite's checks that apply to a model that ignores taste, the registry-driven
build puts it into the build manifest, the engine loads it, and a fusion weight on it alone
recommends the most popular artists. Nothing outside tests/contracts names it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.contracts.test_index_contract import Case, HashingEncoder, IndexContract
from tunescout import Engine
from tunescout.catalog import Catalog
from tunescout.config import Settings
from tunescout.indexes import store
from tunescout.indexes.base import Index, register, registry, unregister
from tunescout.indexes.build import build_indexes, components

MODULE = "tests.contracts.toy_popularity"
MODEL = "popularity_toy"
N_TRACKS, N_USERS = 600, 80


@pytest.fixture(scope="module")
def toy() -> Iterator[type[Index]]:
    """The toy index, registered for this module only (importing its file registers it)."""
    module = importlib.import_module(MODULE)
    register(module.PopularityIndex)  # again, when an earlier module unregistered it
    assert registry()[MODEL] is module.PopularityIndex
    yield module.PopularityIndex
    unregister(MODEL)
    assert MODEL not in registry()


@pytest.mark.usefixtures("toy")
@pytest.mark.parametrize("case", [Case(MODEL)], ids=str, scope="class")
class TestToyContract(IndexContract):
    """The same contract class as the built-in indexes (without the taste checks: the toy models
    popularity, not taste)."""

    def test_score_grows_with_popularity(self, index: Index, cat: Catalog) -> None:
        for kind, table, column in (
            ("artists", cat.artists, "artist_id"),
            ("tracks", cat.tracks, "track_id"),
        ):
            by_popularity = table.sort_values("popularity")[column].tolist()
            vector = index.profile({"folk-0": 1.0, "folk-0-t0": 1.0}, kind)
            scores = index.score(vector, by_popularity, kind)
            assert np.all(np.diff(scores) > 0)
            best, _ = index.search_vector(vector, 3, kind)
            assert best.tolist() == by_popularity[::-1][:3]

    def test_similar_means_of_about_the_same_popularity(self, index: Index) -> None:
        # folk-2 has popularity 38; metal-1 31 and metal-2 45 are nearest, whatever the genre
        ids, _ = index.similar(["folk-2"], 2, "artists")
        assert sorted(ids) == ["metal-1", "metal-2"]


@pytest.fixture(scope="module")
def toy_dir(toy: type[Index], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic data dir built with the toy registered (a hashing encoder keeps the
    semantic index fast)."""
    from tunescout.catalog.assemble import build_catalog
    from tunescout.collect.runner import Options, collect

    settings = Settings(data_dir=tmp_path_factory.mktemp("toy") / "data")
    collect(settings, "synthetic", Options(synthetic_tracks=N_TRACKS, synthetic_users=N_USERS))
    build_catalog(settings)
    build_indexes(settings, progress=False, options={"semantic": {"encoder": HashingEncoder()}})
    return settings.data_dir


@pytest.fixture(scope="module")
def engine(toy_dir: Path) -> Engine:
    return Engine.load(toy_dir)


def test_the_registry_driven_build_holds_the_toy(toy: type[Index], toy_dir: Path) -> None:
    assert components()[-1] == MODEL  # registered after the built-in indexes
    build = store.open_current(Settings(data_dir=toy_dir).index_dir)
    assert set(build.models) == set(components())
    entry = build.manifest["components"][MODEL]
    assert entry["params"] == {"method": "exact", "dim": 2}
    assert entry["rows"]["tracks"] == N_TRACKS and entry["rows"]["artists"] > 0
    files = sorted(f for f in build.manifest["files"] if f.startswith(f"{MODEL}/"))
    assert files == [
        f"{MODEL}/{name}"
        for name in (
            "artists.faiss",
            "artists.ids.npy",
            "popularity.json",
            "tracks.faiss",
            "tracks.ids.npy",
        )
    ]


def test_the_engine_loads_the_toy(toy: type[Index], engine: Engine) -> None:
    assert set(engine.indexes) == set(components())
    assert isinstance(engine.indexes[MODEL], toy)
    assert len(engine.indexes[MODEL].ids("artists")) == len(engine.catalog.artists)


def _rated(engine: Engine) -> dict[str, int]:
    """Five mid-popularity artists: four liked, one disliked."""
    middle = engine.catalog.artists.sort_values("popularity", kind="stable")["artist_id"]
    picked = middle.iloc[len(middle) // 2 : len(middle) // 2 + 5].tolist()
    return dict(zip(picked, [5, 4, 5, 4, 1], strict=True))


def test_weight_on_the_toy_alone_recommends_the_most_popular_artists(engine: Engine) -> None:
    ratings = _rated(engine)
    only_toy = {**dict.fromkeys([*engine.indexes, "popularity"], 0.0), MODEL: 1.0}
    out = engine.recommend(ratings, k=10, weights=only_toy, diversity=0.0)
    popularity = engine.catalog.artists.set_index("artist_id")["popularity"].drop(list(ratings))
    assert len(out) == 10 and not set(out["artist_id"]) & set(ratings)
    chosen = popularity[out["artist_id"]].to_numpy()
    assert np.all(np.diff(chosen) <= 0)  # best first
    assert chosen.min() >= popularity.drop(out["artist_id"]).max()
    assert f"score_{MODEL}" in out and out[f"score_{MODEL}"].iloc[0] == 1.0
    # Its weight is what decides: the same ratings on the audio model alone pick others.
    by_audio = engine.recommend(
        ratings, k=10, weights={**only_toy, MODEL: 0.0, "audio": 1.0}, diversity=0.0
    )
    assert set(by_audio["artist_id"]) != set(out["artist_id"])


def test_default_weights_leave_the_toy_silent(engine: Engine) -> None:
    """A registered model no weights row names takes part only when asked to."""
    ratings = _rated(engine)
    default = engine.recommend(ratings, k=10)
    zero = engine.recommend(ratings, k=10, weights={MODEL: 0.0})
    assert default["artist_id"].tolist() == zero["artist_id"].tolist()
