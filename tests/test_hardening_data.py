"""Data files as they may be found on disk (issue #15, items 3, 4, 5 and 9): a catalog or an index
build that is truncated, garbled, swapped, forged, deeply nested or a symbolic link out of the data
dir; a catalog read while another process rewrites it; a zip bomb instead of the HetRec archive.

Each is one :class:`~tunescout.errors.TunescoutError` line naming the file, never a raw exception,
and reading changes nothing on disk (every file's sha256 is compared before and after).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.fakes import serve
from tests.test_hardening_faults import tree_digest
from tests.test_source_public import FileHandler, hetrec_zip
from tunescout import catalog
from tunescout.catalog.io import exclusive, parse_json
from tunescout.collect.sources import public
from tunescout.config import Settings
from tunescout.errors import ArtifactError, DataMissingError, SourceError, TunescoutError
from tunescout.indexes import store
from tunescout.serving.engine import Engine
from tunescout.serving.ratings import RatingsStore

pytestmark = pytest.mark.hardening

ROOT = Path(__file__).resolve().parents[1]
REBUILD = "rebuild with: python scripts/build.py"


@pytest.fixture
def data(synthetic_dir: Path, tmp_path: Path) -> Path:
    """A copy of the synthetic data dir (catalog, raw snapshots and one index build)."""
    copy = tmp_path / "data"
    shutil.copytree(synthetic_dir, copy, ignore=shutil.ignore_patterns("ratings.sqlite*", "jobs"))
    return copy


def refused(path: Path, call: Callable[[], object], error: type, message: str) -> str:
    """``call()`` raises ``error`` with ``message`` in one line; nothing under ``path`` changed."""
    before = tree_digest(path)
    with pytest.raises(error) as raised:
        call()
    text = str(raised.value)
    assert message in text, text
    assert "\n" not in text and str(path.resolve()) not in text
    assert tree_digest(path) == before
    return text


# ---- item 3: the catalog is verified against its manifest on load --------------------------------


def rewrite_manifest(folder: Path, change: Callable[[dict], object]) -> None:
    path = folder / "manifest.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def shorter_tracks(folder: Path) -> None:
    """A valid tracks file 3,000 rows shorter (the issue's case: it loaded, then KeyErrors)."""
    table = pq.read_table(folder / "tracks.parquet")
    pq.write_table(table.slice(0, table.num_rows - 3000), folder / "tracks.parquet")


def deep(levels: int) -> str:
    return '{"sha256": ' + "[" * levels + "]" * levels + "}"


CATALOG_DAMAGE: dict[str, tuple[Callable[[Path], object], str]] = {
    "tracks truncated": (
        lambda f: (f / "tracks.parquet").write_bytes((f / "tracks.parquet").read_bytes()[:5000]),
        "catalog/tracks.parquet is corrupt (sha256 mismatch)",
    ),
    "artists garbage": (
        lambda f: (f / "artists.parquet").write_bytes(os.urandom(4096)),
        "catalog/artists.parquet is corrupt (sha256 mismatch)",
    ),
    "tracks 3,000 rows shorter": (shorter_tracks, "catalog/tracks.parquet is corrupt (sha256"),
    "interactions deleted": (
        lambda f: (f / "interactions.parquet").unlink(),
        "catalog/interactions.parquet is missing",
    ),
    "artist_map a directory": (
        lambda f: ((f / "artist_map.parquet").unlink(), (f / "artist_map.parquet").mkdir()),
        "catalog/artist_map.parquet",
    ),
    "manifest {}": (
        lambda f: (f / "manifest.json").write_text("{}"),
        "catalog/manifest.json is corrupt (no sha256 of the tables)",
    ),
    "manifest a list": (
        lambda f: (f / "manifest.json").write_text("[1, 2]"),
        "catalog/manifest.json is corrupt (holds a list)",
    ),
    "manifest null": (
        lambda f: (f / "manifest.json").write_text("null"),
        "catalog/manifest.json is corrupt (holds a NoneType)",
    ),
    "manifest truncated": (
        lambda f: (f / "manifest.json").write_text((f / "manifest.json").read_text()[:40]),
        "catalog/manifest.json is corrupt (not valid JSON",
    ),
    "manifest empty": (
        lambda f: (f / "manifest.json").write_bytes(b""),
        "catalog/manifest.json is corrupt (not valid JSON",
    ),
    "manifest not utf-8": (
        lambda f: (f / "manifest.json").write_bytes(b"\xff\xfe{}"),
        "catalog/manifest.json is corrupt (not valid JSON",
    ),
    "manifest nested 100,000 deep": (
        lambda f: (f / "manifest.json").write_text(deep(100_000)),
        "catalog/manifest.json is corrupt (nested deeper than 64 levels)",
    ),
    "manifest of 20 MB": (
        lambda f: (f / "manifest.json").write_text('{"x": "' + "a" * 20_000_000 + '"}'),
        "catalog/manifest.json is corrupt (larger than",
    ),
    "manifest deleted": (lambda f: (f / "manifest.json").unlink(), "no catalog yet"),
    "a table's digest changed": (
        lambda f: rewrite_manifest(
            f, lambda m: m | {"sha256": m["sha256"] | {"tracks.parquet": "0" * 64}}
        ),
        "catalog/manifest.json is corrupt (its catalog_hash does not match its files)",
    ),
    "a digest that is not hex": (
        lambda f: rewrite_manifest(
            f, lambda m: m | {"sha256": m["sha256"] | {"artists.parquet": "<script>"}}
        ),
        "catalog/manifest.json is corrupt (no sha256 of artists.parquet)",
    ),
    "row counts that lie": (
        lambda f: rewrite_manifest(f, lambda m: m | {"rows": m["rows"] | {"tracks": 1}}),
        "rows, its manifest says 1); rebuild",
    ),
    "rows missing": (
        lambda f: rewrite_manifest(f, lambda m: {k: v for k, v in m.items() if k != "rows"}),
        "catalog/manifest.json is corrupt (no row count of each table)",
    ),
    "tracks a link outside": (
        lambda f: (
            shutil.copy(f / "tracks.parquet", f.parent.parent / "outside.parquet"),
            (f / "tracks.parquet").unlink(),
            (f / "tracks.parquet").symlink_to(f.parent.parent / "outside.parquet"),
        ),
        "catalog/tracks.parquet is a symbolic link",
    ),
    "the catalog a link outside": (
        lambda f: (
            shutil.move(f, f.parent.parent / "elsewhere"),
            f.symlink_to(f.parent.parent / "elsewhere", target_is_directory=True),
        ),
        "catalog/ is a symbolic link",
    ),
}


@pytest.mark.parametrize("damage", list(CATALOG_DAMAGE))
def test_a_damaged_catalog_is_one_error_naming_the_file(data: Path, damage: str) -> None:
    make, message = CATALOG_DAMAGE[damage]
    make(data / "catalog")
    error = DataMissingError if damage == "manifest deleted" else ArtifactError
    text = refused(data, lambda: Engine.load(data), error, message)
    if error is ArtifactError:
        assert text.endswith(REBUILD)
    refused(data, lambda: catalog.read_catalog(data / "catalog"), error, message)
    if "manifest" in damage or damage == "the catalog a link outside":
        refused(data, lambda: catalog.read_manifest(data / "catalog"), error, message)


def test_the_catalog_read_is_the_catalog_written(data: Path, engine: Engine) -> None:
    back = catalog.read_catalog(data / "catalog")
    for name, frame in back.tables().items():
        pd.testing.assert_frame_equal(frame, engine.catalog.tables()[name], check_categorical=False)
    assert back.manifest == catalog.read_manifest(data / "catalog")


def test_json_depth_is_measured_outside_strings() -> None:
    assert parse_json('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')
    assert parse_json(b'{"a": [[["\\"]]]]]]]]]"]]]}') == {"a": [[['"]]]]]]]]]']]]}
    with pytest.raises(ValueError, match="deeper than 3"):
        parse_json("[[[[1]]]]", max_depth=3)


# ---- item 3: index builds with deep or forged manifests --------------------------------------------


def current_build(data: Path) -> Path:
    return data / "indexes" / (data / "indexes" / "CURRENT").read_text().strip()


def forge(build: Path, change: Callable[[dict], object]) -> None:
    """Rewrite the manifest with a digest that matches again (a forgery, not a bit flip)."""
    manifest = json.loads((build / "manifest.json").read_text())
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    store.write_manifest(build, change(body))


BUILD_DAMAGE: dict[str, tuple[Callable[[Path], object], str]] = {
    "nested 100,000 deep": (
        lambda b: (b / "manifest.json").write_text(deep(100_000)),
        "manifest.json is corrupt (nested deeper than 64 levels)",
    ),
    "nested in a string only": (
        lambda b: (b / "manifest.json").write_text('{"x": "' + "[" * 5000 + '"}'),
        "manifest.json is corrupt (sha256 mismatch)",
    ),
    "forged: files a list": (
        lambda b: forge(b, lambda m: m | {"files": []}),
        "manifest.json is corrupt (no file list)",
    ),
    "forged: a file without its size": (
        lambda b: forge(
            b, lambda m: m | {"files": {k: {"sha256": v["sha256"]} for k, v in m["files"].items()}}
        ),
        "manifest.json is corrupt (no size and sha256 for",
    ),
    "forged: components a string": (
        lambda b: forge(b, lambda m: m | {"components": "audio"}),
        "manifest.json is corrupt (no components)",
    ),
    "forged: no catalog hash": (
        lambda b: forge(b, lambda m: {k: v for k, v in m.items() if k != "catalog_hash"}),
        "manifest.json is corrupt (no catalog hash)",
    ),
    "forged: libraries a list": (
        lambda b: forge(b, lambda m: m | {"libraries": ["numpy"]}),
        "manifest.json is corrupt (libraries are not a mapping)",
    ),
}


@pytest.mark.parametrize("damage", list(BUILD_DAMAGE))
def test_a_damaged_build_manifest_is_one_error(data: Path, damage: str) -> None:
    make, message = BUILD_DAMAGE[damage]
    build = current_build(data)
    make(build)
    text = refused(data, lambda: Engine.load(data), ArtifactError, message)
    assert text.startswith(f"indexes/{build.name}/manifest.json")
    refused(data, lambda: store.open_build(data / "indexes", build.name), ArtifactError, message)
    assert build.name in store.list_builds(data / "indexes")  # listing reads within bounds too


# ---- item 9: paths are resolved and kept inside the data dir ---------------------------------------


def link_out(path: Path, outside: Path) -> None:
    """Move ``path`` out of the data dir and leave a symbolic link to it in its place."""
    target = outside / path.name
    shutil.move(path, target)
    path.symlink_to(target, target_is_directory=target.is_dir())


LINKS: dict[str, Callable[[Path, Path], str]] = {
    "a build file": lambda d, o: (link_out(current_build(d) / "audio" / "tracks.faiss", o), "audio/tracks.faiss")[1],
    "a component folder": lambda d, o: (link_out(current_build(d) / "semantic", o), "semantic/")[1],
    "the whole build": lambda d, o: (link_out(current_build(d), o), current_build(d).name)[1],
    "the build's manifest": lambda d, o: (link_out(current_build(d) / "manifest.json", o), "manifest.json")[1],
    "indexes/": lambda d, o: (link_out(d / "indexes", o), "indexes")[1],
    "CURRENT": lambda d, o: (link_out(d / "indexes" / "CURRENT", o), "indexes/CURRENT")[1],
}  # fmt: skip


@pytest.mark.parametrize("what", list(LINKS))
def test_a_link_out_of_the_data_dir_is_not_followed(data: Path, tmp_path: Path, what: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shown = LINKS[what](data, outside)
    text = refused(data, lambda: Engine.load(data), ArtifactError, "leads outside the data dir")
    assert shown in text


def test_links_inside_the_data_dir_are_fine(data: Path, engine: Engine) -> None:
    """A link that stays inside (say, a build moved and linked back) is read as usual."""
    build = current_build(data)
    moved = data / "indexes" / "moved-aside"
    shutil.move(build, moved)
    build.symlink_to(moved, target_is_directory=True)
    answer = Engine.load(data).search_mood("rainy heartbreak", k=5)
    pd.testing.assert_frame_equal(answer, engine.search_mood("rainy heartbreak", k=5))


@pytest.mark.parametrize("side", ["", "-wal", "-shm", "-journal"])
def test_the_ratings_database_is_never_written_through_a_link(tmp_path: Path, side: str) -> None:
    data, outside = tmp_path / "data", tmp_path / "outside.sqlite"
    data.mkdir()
    RatingsStore(outside).rate("ana", "ar1", 5)  # a real database elsewhere, to be left alone
    before = tree_digest(tmp_path)
    (data / f"ratings.sqlite{side}").symlink_to(outside.with_name(outside.name + side))
    with pytest.raises(Exception) as raised:
        RatingsStore(data / "ratings.sqlite").rate("ana", "ar2", 4)
    assert isinstance(raised.value, TunescoutError)
    assert f"ratings.sqlite{side} is a symbolic link" in str(raised.value)
    assert str(outside) not in str(raised.value)
    after = {k: v for k, v in tree_digest(tmp_path).items() if not k.startswith("data/")}
    assert after == before
    assert RatingsStore(outside).ratings("ana") == {"ar1": 5}


# ---- item 4: reading never races a writer ------------------------------------------------------------


def small_catalog(seed: int, n_tracks: int) -> catalog.Catalog:
    from tunescout.catalog.assemble import assemble
    from tunescout.collect.sources.synthetic import generate

    return assemble([generate(n_tracks=n_tracks, n_users=20, seed=seed, progress=False)])


def test_a_reader_waits_for_a_live_writer_between_its_renames(tmp_path: Path) -> None:
    """The issue's race, made deterministic: a writer holds its lock between ``catalog`` →
    ``catalog.old`` and ``catalog.new`` → ``catalog``. A reader arriving then must not rename
    ``catalog.old`` back (the writer's second rename would fail); it waits and reads the new one."""
    folder = tmp_path / "catalog"
    catalog.write_catalog(small_catalog(1, 120), folder)
    catalog.write_catalog(small_catalog(2, 150), tmp_path / "other")
    (tmp_path / "other").rename(tmp_path / "catalog.new")
    new_hash = catalog.read_manifest(tmp_path / "catalog.new")["catalog_hash"]
    read: list[catalog.Catalog] = []
    with exclusive(folder) as held:
        assert held
        folder.rename(tmp_path / "catalog.old")  # the writer's first rename
        reader = threading.Thread(target=lambda: read.append(catalog.read_catalog(folder)))
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive(), "the reader did not wait for the writer"
        assert not folder.exists() and (tmp_path / "catalog.old").exists()
        (tmp_path / "catalog.new").rename(folder)  # the writer's second rename: no race
        shutil.rmtree(tmp_path / "catalog.old")
    reader.join(timeout=30)
    assert read and read[0].manifest["catalog_hash"] == new_hash and len(read[0].tracks) == 150


def test_a_dead_writer_is_recovered_by_the_next_reader(tmp_path: Path) -> None:
    """No process holds the lock (the kernel drops a killed writer's): the reader restores."""
    folder = tmp_path / "catalog"
    catalog.write_catalog(small_catalog(1, 120), folder)
    digest = tree_digest(folder)
    folder.rename(tmp_path / "catalog.old")
    assert len(catalog.read_catalog(folder).tracks) == 120
    assert tree_digest(folder) == digest and not (tmp_path / "catalog.old").exists()


REWRITES = 150
REWRITER = """
import sys
from pathlib import Path
from tests.test_hardening_data import small_catalog
from tunescout import catalog
folder, rounds = Path(sys.argv[1]), int(sys.argv[2])
versions = [small_catalog(1, 120), small_catalog(2, 150)]
for i in range(rounds):
    catalog.write_catalog(versions[i % 2], folder)
print("done", rounds)
"""
READER = """
import sys, time
from pathlib import Path
from tunescout import catalog
folder, stop = Path(sys.argv[1]), Path(sys.argv[2])
reads, raw, odd = 0, [], []
while not stop.exists():
    try:
        if reads % 2:
            cat = catalog.read_catalog(folder)
            seen = (len(cat.tracks), cat.manifest["rows"]["tracks"])
        else:
            rows = catalog.read_manifest(folder)["rows"]["tracks"]
            seen = (rows, rows)
        if seen not in ((120, 120), (150, 150)):
            odd.append(seen)
        reads += 1
    except Exception as exc:
        raw.append(type(exc).__name__ + ": " + str(exc)[:200])
print(reads, len(raw), len(odd))
for line in raw[:5]:
    print(line)
"""


def test_readers_never_fail_while_a_writer_rewrites_the_catalog(tmp_path: Path) -> None:
    """One process rewrites the catalog 150 times (two versions in turn) while two others read it
    as fast as they can: every rewrite completes and every read is whole (one version or the
    other, its rows as its manifest says), with no error at all."""
    folder, stop = tmp_path / "catalog", tmp_path / "stop"
    catalog.write_catalog(small_catalog(1, 120), folder)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(folder), str(stop)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    try:
        writer = subprocess.run(
            [sys.executable, "-c", REWRITER, str(folder), str(REWRITES)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        stop.touch()
    results = [proc.communicate(timeout=120)[0].splitlines() for proc in readers]
    assert writer.returncode == 0, writer.stderr[-2000:]
    assert writer.stdout.split() == ["done", str(REWRITES)]
    for lines in results:
        reads, raw, odd = map(int, lines[0].split())
        assert (raw, odd) == (0, 0), lines[1:]
        assert reads > 0
    assert not (tmp_path / "catalog.old").exists() and not (tmp_path / "catalog.new").exists()
    assert len(catalog.read_catalog(folder).tracks) == (120 if REWRITES % 2 else 150)
    print("catalog reads during the rewrites:", [int(lines[0].split()[0]) for lines in results])


# ---- item 5: archives are read streamed, capped and checked ------------------------------------------


def bomb(inflated: int, lie: int | None = None) -> bytes:
    """A HetRec-shaped zip whose ``artists.dat`` inflates to ``inflated`` bytes of zeros (about a
    thousandth of that on the wire); with ``lie``, its headers claim that size instead."""
    good = zipfile.ZipFile(io.BytesIO(hetrec_zip()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("artists.dat", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(inflated >> 20):
                member.write(chunk)
        for name in good.namelist():
            if name != "artists.dat":
                zf.writestr(name, good.read(name))
    data = bytearray(buffer.getvalue())
    if lie is not None:  # the central directory's uncompressed size of artists.dat
        at = data.find(b"PK\x01\x02")
        assert data[at + 46 : at + 57] == b"artists.dat"
        data[at + 24 : at + 28] = lie.to_bytes(4, "little")
    return bytes(data)


ZIP_DRIVER = """
import json, resource, sys
from pathlib import Path
from tunescout.collect.sources.public import download_hetrec
from tunescout.errors import SourceError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    download_hetrec(Path(sys.argv[1]), sys.argv[2], progress=False, sha256=sys.argv[3] or None)
    outcome = "downloaded"
except SourceError as exc:
    outcome = str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "grew_mb": (after - before) / 1024}))
"""


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {
        "/bomb.zip": bomb(1 << 30),  # 1 GiB of zeros, about 1 MB of zip
        "/liar.zip": bomb(64 << 20, lie=1000),
    }


@pytest.mark.parametrize(
    ("path", "pinned", "message"),
    [
        ("/bomb.zip", False, "artists.dat inflates to more than 16 MB"),
        ("/liar.zip", False, "is not a readable zip archive"),
        ("/bomb.zip", True, "is not the expected"),  # the pinned checksum stops it unopened
    ],
    ids=["1 GiB member", "member lying about its size", "pinned checksum"],
)
def test_a_zip_bomb_is_refused_in_constant_memory(bombs, tmp_path, path, pinned, message) -> None:
    with serve(FileHandler, files=dict(bombs), requests=[], truncated=set()) as server:
        pin = public.PINNED_ARCHIVES[public.HETREC_URL] if pinned else ""
        done = subprocess.run(
            [sys.executable, "-c", ZIP_DRIVER, str(tmp_path / "dl"), server.url + path, pin],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert message in result["outcome"], result
    assert result["grew_mb"] < 64, result  # it was 2.1 GiB: the member read whole, then copied
    assert not (tmp_path / "dl" / public.HETREC_DIR).exists()
    assert list((tmp_path / "dl").glob("*")) == []


def test_a_download_larger_than_the_cap_is_refused(tmp_path: Path) -> None:
    with (
        serve(
            FileHandler, files={"/big.csv": bytes(3 << 20)}, requests=[], truncated=set()
        ) as server,
        pytest.raises(SourceError, match="larger than 1 MB"),
    ):
        public.fetch_verified(
            server.url + "/big.csv", tmp_path / "big.csv", progress=False, max_bytes=1 << 20
        )
    assert list(tmp_path.iterdir()) == []


def test_the_hetrec_archive_checksum_is_pinned() -> None:
    assert len(public.PINNED_ARCHIVES[public.HETREC_URL]) == 64
    assert public.TIDYTUESDAY_SHA256 and len(public.HETREC_SHA256) == 5


def test_the_real_hetrec_zip_shape_still_extracts(tmp_path: Path) -> None:
    with serve(FileHandler, files={"/h.zip": hetrec_zip()}, requests=[], truncated=set()) as server:
        folder = public.download_hetrec(tmp_path, server.url + "/h.zip", progress=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(public.HETREC_SHA256)


def test_settings_paths_stay_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    for path in (settings.raw_dir, settings.catalog_dir, settings.index_dir, settings.ratings_db):
        assert path.is_relative_to(settings.data_dir)
