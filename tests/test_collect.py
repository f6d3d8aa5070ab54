"""Source selection: `auto` falls through APIs, downloads and files to synthetic data, saying why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tunescout import catalog
from tunescout.catalog import snapshots as raw
from tunescout.catalog.assemble import build_catalog, choose_snapshots
from tunescout.collect import runner as collect
from tunescout.config import Settings
from tunescout.errors import DataMissingError, SourceError

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = {
    "tidytuesday_url": "http://127.0.0.1:9/songs.csv",
    "hetrec_url": "http://127.0.0.1:9/h.zip",
}


def test_auto_offline_ends_on_synthetic_and_says_why(settings: Settings) -> None:
    opts = collect.Options(synthetic_tracks=2_000, synthetic_users=100, public=OFFLINE)
    outcome = collect.collect(settings, "auto", opts)
    assert outcome.source == "synthetic"
    assert "spotify skipped: no SPOTIFY_CLIENT_ID" in outcome.message
    assert "lastfm skipped: no LASTFM_API_KEY" in outcome.message
    assert "public failed" in outcome.message and "files failed" in outcome.message
    cat = build_catalog(settings)
    assert len(cat.tracks) == 2_000
    assert catalog.read_manifest(settings.catalog_dir)["synthetic"] is True


def test_auto_prefers_files_under_the_data_dir(settings: Settings, shared_data: Path) -> None:
    target = settings.data_dir / "files"
    target.mkdir(parents=True)
    (target / "data_w_genres.csv").symlink_to(
        shared_data / "spotify-1921-2020-artists" / "data_w_genres.csv"
    )
    outcome = collect.collect(settings, "auto", collect.Options(public=OFFLINE))
    assert outcome.source == "files"
    assert [p.parent.name for p in outcome.snapshots] == ["spotify1921"]


def test_synthetic_is_not_mixed_into_real_data(settings: Settings, shared_data: Path) -> None:
    collect.collect(
        settings, "synthetic", collect.Options(synthetic_tracks=500, synthetic_users=20)
    )
    paths = {"spotify1921": shared_data / "spotify-1921-2020-artists" / "data_w_genres.csv"}
    collect.collect(settings, "files", collect.Options(file_paths=paths))
    assert set(choose_snapshots(settings.raw_dir)) == {"spotify1921"}
    assert set(choose_snapshots(settings.raw_dir, ["synthetic"])) == {"synthetic"}


def test_failures_name_what_to_do(settings: Settings) -> None:
    with pytest.raises(SourceError, match="no data files given"):
        collect.collect(settings, "files")
    with pytest.raises(SourceError, match="unknown source"):
        collect.collect(settings, "myspace")
    with pytest.raises(DataMissingError, match="scripts/collect.py"):
        build_catalog(settings)
    assert raw.latest_sources(settings.raw_dir) == {}


def test_cli_help_and_failure_exit_codes(tmp_path: Path) -> None:
    for script in ("collect.py", "build.py"):
        done = subprocess.run(
            [sys.executable, f"scripts/{script}", "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0 and "--data-dir" in done.stdout
    done = subprocess.run(
        [sys.executable, "scripts/build.py", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: no raw data")
