"""Shared fixtures: paths to the real data sets in ../shared/data and fresh data directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunescout.config import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SYNTHETIC_TRACKS, SYNTHETIC_USERS = 4000, 800


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data sets (CI has them beside the repository)."""
    assert (SHARED / "hetrec2011-lastfm-2k" / "user_artists.dat").is_file(), (
        f"the real data sets are expected under {SHARED}"
    )
    return SHARED


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with an empty data directory and no credentials."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic data dir with a catalog and a complete index build (built once)."""
    from tunescout.catalog.assemble import build_catalog
    from tunescout.collect.runner import Options, collect
    from tunescout.indexes.build import build_indexes

    settings = Settings(data_dir=tmp_path_factory.mktemp("synthetic") / "data")
    # Big enough for ALS to learn genre structure from co-listening (150 users are too few).
    collect(
        settings,
        "synthetic",
        Options(synthetic_tracks=SYNTHETIC_TRACKS, synthetic_users=SYNTHETIC_USERS),
    )
    build_catalog(settings)
    build_indexes(settings, progress=False)
    return settings.data_dir


@pytest.fixture(scope="session")
def engine(synthetic_dir: Path):
    """The engine over :func:`synthetic_dir` (loaded once; tests must not mutate it)."""
    from tunescout.serving.engine import Engine

    return Engine.load(synthetic_dir)


@pytest.fixture(scope="session")
def real_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real 30k songs + HetRec data through the documented commands: collect, then build all."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    data_dir = tmp_path_factory.mktemp("real") / "data"
    collect = [
        sys.executable, "scripts/collect.py", "--source", "files",
        "--spotify-csv", str(shared_data / "spotify-tracks" / "spotify_songs.csv"),
        "--lastfm-dir", str(shared_data / "hetrec2011-lastfm-2k"), "--data-dir", str(data_dir),
    ]  # fmt: skip
    for cmd in (collect, [sys.executable, "scripts/build.py", "--data-dir", str(data_dir)]):
        done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=3000)
        assert done.returncode == 0, done.stderr[-3000:]
    return data_dir


@pytest.fixture(scope="session")
def real_engine(real_dir: Path):
    """The engine over the real data build."""
    from tunescout.serving.engine import Engine

    return Engine.load(real_dir)
