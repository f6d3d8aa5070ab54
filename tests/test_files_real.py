"""The `files` path on the real data sets in ../shared/data, through the documented CLI form."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tunescout import catalog
from tunescout.collect.sources import files


@pytest.fixture(scope="module")
def built(real_dir: Path) -> Path:
    """The data dir that `scripts/collect.py --source files` and `scripts/build.py` made."""
    return real_dir


@pytest.mark.slow
def test_every_track_artist_and_play_survives(built: Path, shared_data: Path) -> None:
    cat = catalog.read_catalog(built / "catalog")
    assert len(cat.tracks) == 28_356 and cat.tracks["track_id"].is_unique
    hetrec = cat.artist_map[cat.artist_map["source"] == "hetrec"]
    assert hetrec["source_id"].nunique() == 17_632
    plays = pd.read_csv(shared_data / "hetrec2011-lastfm-2k" / "user_artists.dat", sep="\t")
    assert len(plays) == 92_834
    # Merged case variants add up one user's plays of one band; no play is lost.
    mine = cat.interactions[cat.interactions["source"] == "hetrec"]
    assert mine["weight"].sum() == pytest.approx(plays["weight"].sum())
    assert mine["user_id"].nunique() == plays["userID"].nunique() == 1892
    lookup = hetrec.set_index("source_id")["artist_id"]
    pairs = set(
        zip(
            "hetrec:" + plays["userID"].astype(str),
            plays["artistID"].astype(str).map(lookup),
            strict=True,
        )
    )
    assert pairs == set(zip(mine["user_id"], mine["artist_id"], strict=True))


@pytest.mark.slow
def test_quirks_are_handled(built: Path) -> None:
    cat = catalog.read_catalog(built / "catalog")
    names = set(cat.artist_map["source_name"])
    assert '"Weird Al" Yankovic' in names
    korol = cat.artist_map[cat.artist_map["source_name"].isin(["Король И Шут", "Король и Шут"])]
    assert len(korol) == 2 and korol["artist_id"].nunique() == 1
    assert cat.tracks["release_year"].between(1950, 2020).mean() > 0.99
    years = cat.tracks.set_index("track_id")["release_year"]
    assert years["6f807x0ima9a1j3VPbc7VN"] == 2019
    assert all(len(g) >= 2 for g in cat.tracks["genres"])  # playlist genre + sub-genre
    tags = cat.artists.loc[cat.artists["name"] == "Radiohead", "tags"].iloc[0]
    assert [t["tag"] for t in tags[:3]] == ["alternative", "rock", "alternative rock"]


@pytest.mark.slow
def test_identity_beats_plain_casefold_matching(built: Path) -> None:
    manifest = catalog.read_manifest(built / "catalog")
    assert manifest["coverage"]["weight_share"] > 0.644  # plain casefold: 64.4% of HetRec plays


def test_find_files_recognises_the_shared_layout(shared_data: Path) -> None:
    found = files.find_files(shared_data)
    assert set(found) == {"tidytuesday", "hetrec", "spotify1921"}


def test_bad_files_fail_with_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "spotify_songs.csv"
    bad.write_text("track_id,name\n1,x\n")
    with pytest.raises(files.SourceError, match="missing columns"):
        files.read_tidytuesday(bad)
    with pytest.raises(files.SourceError, match="not a HetRec"):
        files.read_hetrec(tmp_path)


def test_kaggle_tracks_format(tmp_path: Path) -> None:
    row = "0,{id},Artist A;Artist B,Album,Song,50,200000,False,0.5,0.6,5,-6.0,1,0.05,0.1,0.0,0.1,0.4,120.0,4,{genre}\n"
    header = (
        ",track_id,artists,album_name,track_name,popularity,duration_ms,explicit,danceability,"
        "energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,"
        "tempo,time_signature,track_genre\n"
    )
    path = tmp_path / "dataset.csv"
    path.write_text(
        header + row.format(id="x1", genre="acoustic") + row.format(id="x1", genre="folk")
    )
    bundle = files.read_kaggle_tracks(path)
    assert bundle.tracks["track_id"].tolist() == ["x1"]
    assert list(bundle.tracks["genres"].iloc[0]) == ["acoustic", "folk"]
    assert bundle.tracks["artist_id"].tolist() == ["Artist A"]
