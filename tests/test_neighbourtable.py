"""The build's table of every item's neighbours: what it holds, that it answers as the engine's
own search does, how it is verified and when a build writes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tunescout.api import fast
from tunescout.api.convert import dumps
from tunescout.api.routes.similar import similar as slow_similar
from tunescout.config import Settings
from tunescout.errors import ArtifactError, InputError, UnknownIdError
from tunescout.indexes import store
from tunescout.indexes.build import TABLE, build_indexes
from tunescout.serving.engine import Engine
from tunescout.serving.neighbours import TABLE_K
from tunescout.serving.neighbourtable import NeighbourTable
from tunescout.vocabulary import HYBRID

SAMPLE = 40


@pytest.fixture(scope="module")
def searched(engine: Engine) -> Engine:
    """The same indexes without the table: every answer searched and fused per request."""
    return Engine(engine.catalog, engine.indexes)


def _sample(engine: Engine, kind: str) -> list[str]:
    ids = engine.context.lookup.table(kind).index.to_numpy()
    return list(np.random.default_rng(7).choice(ids, SAMPLE, replace=False))


def test_the_build_holds_a_verified_table_of_every_item(synthetic_dir: Path, engine: Engine):
    build = store.open_current(Path(synthetic_dir) / "indexes")
    assert TABLE in build.components
    files = [f for f in build.manifest["files"] if f.startswith(f"{TABLE}/")]
    assert sorted(files) == sorted(
        f"{TABLE}/{kind}.{part}.npy"
        for kind in ("artists", "tracks")
        for part in ("rows", "scores")
    )
    table = engine.context.table
    assert table is not None and table.k == TABLE_K
    for kind in ("tracks", "artists"):
        assert sorted(table.models[kind]) == sorted([*engine.indexes, HYBRID])
        assert table.rows[kind].shape[1] == len(engine.context.lookup.table(kind))
        # nearly every item has hybrid neighbours, and never itself among them
        hybrid = table.rows[kind][-1]
        assert (hybrid[:, 0] >= 0).mean() > 0.95
        assert not (hybrid == np.arange(len(hybrid))[:, None]).any()


@pytest.mark.parametrize("kind", ["tracks", "artists"])
def test_the_table_answers_as_the_search_does(engine: Engine, searched: Engine, kind: str):
    """Every model and the hybrid, ``k`` = 10 and 4: the same items with the same scores (ties
    are settled by catalog position either way; scores differ in the last float bits)."""
    key = f"{kind[:-1]}_id"
    for model in [*engine.indexes, HYBRID]:
        same = compared = 0
        for item in _sample(engine, kind):
            find = searched.similar_tracks if kind == "tracks" else searched.similar_artists
            try:
                expected = find(item, 10, model)
            except Exception:  # the model knows nothing of the item: the table has no list
                r, _ = engine.context.table.get(
                    kind, model, engine.context.lookup.position(item, kind), 10
                )
                assert not len(r) or model in ("als", "coplay"), (model, item)
                continue
            got = (engine.similar_tracks if kind == "tracks" else engine.similar_artists)(
                item, 10, model
            )
            compared += 1
            same += got[key].tolist() == expected[key].tolist()
            assert got["score"].to_numpy() == pytest.approx(
                expected["score"].to_numpy(), abs=1e-4
            ), (model, item)
            shorter = (engine.similar_tracks if kind == "tracks" else engine.similar_artists)(
                item, 4, model
            )
            assert shorter[key].tolist() == got[key].tolist()[:4]
        assert compared >= SAMPLE // 4, model
        assert same / compared >= 0.9, (model, same, compared)


def test_a_k_beyond_the_table_is_searched(engine: Engine) -> None:
    track = _sample(engine, "tracks")[0]
    found = engine.similar_tracks(track, TABLE_K + 5, "audio")
    assert len(found) == TABLE_K + 5
    assert found["score"].is_monotonic_decreasing
    assert (
        found["track_id"].head(TABLE_K).tolist()
        == engine.similar_tracks(track, TABLE_K, "audio")["track_id"].tolist()
    )


@pytest.mark.parametrize("kind", ["tracks", "artists"])
def test_the_api_bytes_from_the_table_are_the_slow_answer(engine: Engine, kind: str) -> None:
    for item in _sample(engine, kind)[:10]:
        for model in ("audio", HYBRID):
            data = fast.similar(engine, "b1", kind, item, 7, model)
            assert data is not None
            slow = slow_similar(engine, kind, item, 7, model)
            slow["build_id"] = "b1"
            assert json.loads(data) == json.loads(dumps(slow))


def test_the_api_fast_path_refuses_what_the_engine_refuses(engine: Engine) -> None:
    track = _sample(engine, "tracks")[0]
    with pytest.raises(InputError):
        fast.similar(engine, "b1", "tracks", track, 0, "audio")
    with pytest.raises(InputError):
        fast.similar(engine, "b1", "tracks", track, 5, "nonsense")
    with pytest.raises(UnknownIdError):
        fast.similar(engine, "b1", "tracks", "no-such-track", 5, "audio")
    assert fast.similar(engine, "b1", "tracks", track, TABLE_K + 1, "audio") is None


def _copy(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "table"
    shutil.copytree(folder, target)
    return target


def test_a_table_that_does_not_fit_the_catalog_is_refused(
    synthetic_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    build = store.open_current(Path(synthetic_dir) / "indexes")
    params = build.components[TABLE]["params"]
    counts = {kind: len(engine.context.lookup.table(kind)) for kind in ("tracks", "artists")}
    folder = _copy(build.component_dir(TABLE), tmp_path)
    NeighbourTable.load(folder, params, counts)  # as built: fine
    with pytest.raises(ArtifactError, match="expected"):
        NeighbourTable.load(folder, params, {**counts, "tracks": counts["tracks"] + 1})
    rows = np.load(folder / "artists.rows.npy")
    rows[0, 0, 0] = counts["artists"]  # a position past the catalog
    np.save(folder / "artists.rows.npy", rows)
    with pytest.raises(ArtifactError, match="outside"):
        NeighbourTable.load(folder, params, counts)
    np.save(folder / "artists.rows.npy", rows.astype(np.int64))
    with pytest.raises(ArtifactError, match="int32"):
        NeighbourTable.load(folder, params, counts)
    (folder / "tracks.scores.npy").write_bytes(b"not an array")
    with pytest.raises(ArtifactError):
        NeighbourTable.load(folder, params, counts)


def test_a_changed_table_file_fails_the_build_check(synthetic_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(synthetic_dir, data)
    build = store.open_current(data / "indexes")
    path = build.component_dir(TABLE) / "tracks.scores.npy"
    scores = np.load(path)
    scores[0, 0, 0] += 1.0
    np.save(path, scores)
    with pytest.raises(ArtifactError, match="sha256"):
        Engine.load(data)


def test_a_staged_build_leaves_the_table_out_and_a_table_build_adds_it(
    synthetic_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(synthetic_dir, data)
    settings = Settings(data_dir=data)
    staged = build_indexes(settings, only=("audio",), progress=False, defer=(TABLE,))
    assert TABLE not in staged.components  # never carried over from a build of other indexes
    assert Engine.load(data).context.table is None
    steps = []
    added = build_indexes(
        settings, only=(TABLE,), progress=False, on_progress=lambda s, d, t: steps.append(s)
    )
    assert TABLE in added.components and set(steps) == {TABLE}
    assert {m for m in added.components if m != TABLE} == {
        m for m in staged.components
    }  # every index carried over, none rebuilt
    assert all(
        added.components[m]["built_in"] == staged.components[m]["built_in"]
        for m in staged.components
    )
    assert Engine.load(data).context.table is not None
