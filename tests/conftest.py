"""Shared fixtures: paths to the real data sets in ../shared/data and fresh data directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunescout.config import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


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
    from tunescout.assemble import build_catalog
    from tunescout.collect import Options, collect
    from tunescout.indexes.build import build_indexes

    settings = Settings(data_dir=tmp_path_factory.mktemp("synthetic") / "data")
    # Big enough for ALS to learn genre structure from co-listening (150 users are too few).
    collect(settings, "synthetic", Options(synthetic_tracks=4000, synthetic_users=800))
    build_catalog(settings)
    build_indexes(settings, progress=False)
    return settings.data_dir


@pytest.fixture(scope="session")
def engine(synthetic_dir: Path):
    """The engine over :func:`synthetic_dir` (loaded once; tests must not mutate it)."""
    from tunescout.engine import Engine

    return Engine.load(synthetic_dir)
