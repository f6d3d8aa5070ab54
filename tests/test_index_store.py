"""Index builds on disk: round trip, corruption and version checks, atomic switch, carry-over."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunescout import catalog
from tunescout.domain.features import UNIT_FEATURES
from tunescout.errors import ArtifactError, DataMissingError
from tunescout.indexes import store, writer
from tunescout.indexes.content import ContentIndex
from tunescout.indexes.store import open_current
from tunescout.indexes.writer import BuildWriter

CATALOG_HASH = "c" * 64
# Every file a build made by _build holds; test_parametrised_files_are_every_file keeps this honest.
FILES = [
    "content/artists.faiss",
    "content/artists.ids.npy",
    "content/tracks.faiss",
    "content/tracks.ids.npy",
    "content/transform.json",
    "extra/info.json",
    "extra/values.npy",
    "manifest.json",
]


@functools.cache
def _catalog(n: int = 40, seed: int = 0) -> catalog.Catalog:
    rng = np.random.default_rng(seed)
    ids = [f"t{i}" for i in range(n)]
    artists = [f"ar{i % 5}" for i in range(n)]
    tracks = pd.DataFrame(rng.uniform(0, 1, (n, 7)), columns=UNIT_FEATURES).assign(
        track_id=ids,
        name=ids,
        artist_id=artists,
        artist_name=artists,
        album=None,
        release_year=2001,
        popularity=10.0,
        duration_ms=1000,
        genres=[["pop"]] * n,
        tempo=rng.uniform(60, 180, n),
        loudness=rng.uniform(-30, -2, n),
        key=rng.integers(0, 12, n),
        mode=rng.integers(0, 2, n),
        features_source="synthetic",
        source="test",
    )
    names = sorted(set(artists))
    frame = pd.DataFrame({"artist_id": names, "name": names, "track_count": 8, "source": "test"})
    artist_table = frame.reindex(columns=[c.name for c in catalog.SCHEMAS["artists"]])
    artist_table["genres"] = [[] for _ in names]
    artist_table["tags"] = pd.Series([None] * len(names), dtype=object)
    return catalog.Catalog(
        tracks=catalog.validate("tracks", tracks),
        artists=catalog.validate("artists", artist_table),
        artist_map=catalog.empty("artist_map"),
        interactions=catalog.empty("interactions"),
    )


@functools.cache
def _content() -> ContentIndex:
    return ContentIndex.build(_catalog())


def _write_extra(folder: Path, value: float) -> dict:
    np.save(folder / "values.npy", np.full(4, value), allow_pickle=False)
    (folder / "info.json").write_text(json.dumps({"value": value}))
    return {"params": {"value": value}, "rows": {"values": 4}}


def _build(
    index_dir: Path,
    only: tuple[str, ...] = ("content", "extra"),
    base: store.Build | None = None,
    value: float = 1.0,
    catalog_hash: str = CATALOG_HASH,
    keep: int = store.KEEP,
) -> store.Build:
    with BuildWriter(index_dir, catalog_hash, base=base, keep=keep) as build:
        if "content" in only:
            info = _content().save(build.component_dir("content"))
            build.add_component("content", info)
        if "extra" in only:
            build.add_component("extra", _write_extra(build.component_dir("extra"), value))
    assert build.result is not None
    return build.result


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "indexes"


@pytest.fixture
def built(index_dir: Path) -> store.Build:
    return _build(index_dir)


def _error(index_dir: Path) -> str:
    with pytest.raises(ArtifactError) as info:
        open_current(index_dir)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_round_trip(index_dir: Path, built: store.Build) -> None:
    opened = open_current(index_dir, catalog_hash=CATALOG_HASH)
    assert opened.id == built.id == store.current_id(index_dir)
    assert opened.manifest == built.manifest
    manifest = opened.manifest
    assert manifest["catalog_hash"] == CATALOG_HASH
    assert manifest["schema_version"] == store.SCHEMA_VERSION
    assert set(manifest["libraries"]) == set(store.LIBRARIES)
    assert manifest["libraries"]["numpy"] == np.__version__
    assert manifest["components"]["content"]["rows"]["tracks"] == 40
    assert manifest["components"]["extra"]["params"] == {"value": 1.0}
    assert manifest["components"]["extra"]["built_in"] == built.id
    for relative, entry in manifest["files"].items():
        assert entry["size"] == (opened.folder / relative).stat().st_size
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
    content = ContentIndex.load(opened.component_dir("content"))
    fresh = ContentIndex.build(_catalog())
    assert content.similar(["t0"], k=5)[0].tolist() == fresh.similar(["t0"], k=5)[0].tolist()
    assert (
        np.load(opened.component_dir("extra") / "values.npy", allow_pickle=False).tolist()
        == [1.0] * 4
    )


def test_parametrised_files_are_every_file(built: store.Build) -> None:
    found = sorted(p.relative_to(built.folder).as_posix() for p in built.folder.rglob("*"))
    assert [f for f in found if "." in f] == FILES
    assert sorted(built.manifest["files"]) == [f for f in FILES if f != store.MANIFEST]


def _rebuild_command(relative: str) -> str:
    component = relative.split("/")[0]
    suffix = f" --only {component}" if component in ("content", "extra") else ""
    return f"python scripts/build.py{suffix}"


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("relative", FILES)
def test_a_flipped_bit_in_any_file_is_named(
    index_dir: Path, built: store.Build, relative: str, where: str
) -> None:
    path = built.folder / relative
    data = bytearray(path.read_bytes())
    position = {"first": 0, "middle": len(data) // 2, "last": len(data) - 1}[where]
    data[position] ^= 0x01
    path.write_bytes(bytes(data))
    message = _error(index_dir)
    expected = rf"indexes/{built.id}/{re.escape(relative)} is corrupt \([^)]+\); rebuild with: "
    assert re.fullmatch(expected + re.escape(_rebuild_command(relative)), message), message


def test_the_promised_message_for_a_corrupt_index(index_dir: Path, built: store.Build) -> None:
    path = built.folder / "content" / "tracks.faiss"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    assert _error(index_dir) == (
        f"indexes/{built.id}/content/tracks.faiss is corrupt (sha256 mismatch); "
        "rebuild with: python scripts/build.py --only content"
    )


def test_a_truncated_file_is_named_with_its_size(index_dir: Path, built: store.Build) -> None:
    path = built.folder / "extra" / "values.npy"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:10])
    assert _error(index_dir) == (
        f"indexes/{built.id}/extra/values.npy is corrupt (10 bytes, expected {size}); "
        "rebuild with: python scripts/build.py --only extra"
    )


@pytest.mark.parametrize("relative", FILES)
def test_a_missing_file_is_named(index_dir: Path, built: store.Build, relative: str) -> None:
    (built.folder / relative).unlink()
    assert _error(index_dir) == (
        f"indexes/{built.id}/{relative} is missing; rebuild with: {_rebuild_command(relative)}"
    )


def _forge(build: store.Build, **changes: object) -> None:
    """Rewrite a build's manifest as an older or other installation would have written it."""
    manifest = {k: v for k, v in build.manifest.items() if k != "manifest_sha256"}
    libraries = {**manifest["libraries"], **changes.pop("libraries", {})}
    store.write_manifest(build.folder, {**manifest, "libraries": libraries, **changes})


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"libraries": {"numpy": "1.26.4"}}, "was built with numpy 1.26.4 but"),
        ({"libraries": {"faiss": "2.0.0"}}, "was built with faiss 2.0.0 but"),
        (
            {"schema_version": 0},
            f"has artifact schema 0, this tunescout reads {store.SCHEMA_VERSION}",
        ),
    ],
)
def test_an_incompatible_manifest_is_refused(
    index_dir: Path, built: store.Build, changes: dict, problem: str
) -> None:
    _forge(built, **changes)
    message = _error(index_dir)
    assert message.startswith(f"indexes/{built.id}/manifest.json {problem}")
    assert message.endswith("; rebuild with: python scripts/build.py")


def test_compatible_versions_still_open(index_dir: Path, built: store.Build) -> None:
    installed = store.library_versions()
    major = installed["numpy"].split(".")[0]
    _forge(built, libraries={"numpy": f"{major}.0.0", "tunescout": "9.9.9", "torch": None})
    assert open_current(index_dir).manifest["libraries"]["numpy"] == f"{major}.0.0"


def test_another_catalog_is_refused(index_dir: Path, built: store.Build) -> None:
    with pytest.raises(ArtifactError, match="was built from another catalog"):
        open_current(index_dir, catalog_hash="d" * 64)


def test_nothing_built_yet(index_dir: Path) -> None:
    with pytest.raises(DataMissingError, match="python scripts/build.py"):
        open_current(index_dir)


def test_a_bad_pointer_is_named(index_dir: Path, built: store.Build) -> None:
    (index_dir / store.CURRENT).write_text("../../etc\n")
    assert _error(index_dir).startswith("indexes/CURRENT is corrupt")
    (index_dir / store.CURRENT).write_text("20000101T000000Z\n")
    assert _error(index_dir) == (
        "indexes/20000101T000000Z is missing; rebuild with: python scripts/build.py"
    )


def test_an_interrupted_build_changes_nothing(index_dir: Path, built: store.Build) -> None:
    with pytest.raises(RuntimeError, match="power cut"), BuildWriter(index_dir, CATALOG_HASH) as b:
        ContentIndex.build(_catalog(seed=1)).save(b.component_dir("content"))
        b.add_component("content", {"rows": {}})
        raise RuntimeError("power cut")
    assert b.result is None
    assert store.current_id(index_dir) == built.id
    assert sorted(p.name for p in index_dir.iterdir()) == sorted([built.id, store.CURRENT])
    assert open_current(index_dir).manifest == built.manifest


def test_a_component_never_added_fails_the_build(index_dir: Path, built: store.Build) -> None:
    never_added = r"\['extra'\] wrote files but were never added"
    with pytest.raises(ArtifactError, match=never_added), BuildWriter(index_dir, CATALOG_HASH) as b:
        _write_extra(b.component_dir("extra"), 2.0)
    assert store.current_id(index_dir) == built.id
    assert not list(index_dir.glob("*.partial"))


def test_a_stale_partial_folder_is_cleared(index_dir: Path, built: store.Build) -> None:
    stale = index_dir / "20000101T000000Z.partial"
    (stale / "content").mkdir(parents=True)
    _build(index_dir, only=("extra",))
    assert not stale.exists()


def test_base_carries_over_components_not_rebuilt(index_dir: Path, built: store.Build) -> None:
    new = _build(index_dir, only=("extra",), base=open_current(index_dir), value=2.0)
    assert store.current_id(index_dir) == new.id != built.id
    opened = open_current(index_dir)
    assert set(opened.components) == {"content", "extra"}
    assert opened.components["content"] == built.components["content"]
    assert opened.components["content"]["built_in"] == built.id
    assert opened.components["extra"]["params"] == {"value": 2.0}
    for relative in FILES[:5]:  # the content files, shared with the base build
        assert (opened.folder / relative).read_bytes() == (built.folder / relative).read_bytes()
        assert opened.manifest["files"][relative] == built.manifest["files"][relative]
    assert np.load(opened.component_dir("extra") / "values.npy", allow_pickle=False)[0] == 2.0
    ContentIndex.load(opened.component_dir("content"))


def test_base_from_another_catalog_cannot_be_carried(index_dir: Path, built: store.Build) -> None:
    with pytest.raises(ArtifactError, match=r"content was built from another catalog"):
        _build(index_dir, only=("extra",), base=built, catalog_hash="e" * 64)
    assert store.current_id(index_dir) == built.id


def test_a_missing_component_names_its_rebuild(index_dir: Path) -> None:
    build = _build(index_dir, only=("extra",))
    with pytest.raises(
        ArtifactError, match=r"has no content index; rebuild with: .* --only content"
    ):
        build.component_dir("content")


def test_only_the_last_builds_are_kept(index_dir: Path) -> None:
    ids = [_build(index_dir, only=("extra",), value=float(i), keep=3).id for i in range(5)]
    assert len(set(ids)) == 5
    assert store.list_builds(index_dir) == ids[-3:]
    assert store.current_id(index_dir) == ids[-1]


def test_pruning_never_deletes_the_current_build(index_dir: Path) -> None:
    ids = [_build(index_dir, only=("extra",), value=float(i)).id for i in range(3)]
    (index_dir / store.CURRENT).write_text(ids[0] + "\n")  # e.g. rolled back by hand
    assert writer.prune(index_dir, keep=1) == [ids[1]]
    assert store.list_builds(index_dir) == [ids[0], ids[2]]
    assert open_current(index_dir).id == ids[0]


def test_components_are_found_by_model_name(built: store.Build) -> None:
    """Builds made before the vocabulary was settled store the audio model as ``content``."""
    assert built.models == {"audio": "content", "extra": "extra"}
    assert (
        built.component_dir("audio") == built.component_dir("content") == built.folder / "content"
    )
    ContentIndex.load(built.component_dir("audio"))


def test_a_model_rebuilt_under_its_new_name_replaces_the_old_one(
    index_dir: Path, built: store.Build
) -> None:
    with BuildWriter(index_dir, CATALOG_HASH, base=open_current(index_dir)) as build:
        build.add_component("audio", _content().save(build.component_dir("audio")))
    opened = open_current(index_dir)
    assert set(opened.components) == {"audio", "extra"}  # "content" is not carried over too
    assert opened.models == {"audio": "audio", "extra": "extra"}
    assert not (opened.folder / "content").exists()
