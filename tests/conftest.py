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
