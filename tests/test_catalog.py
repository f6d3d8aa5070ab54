"""The catalog schema: validation messages name the column and the count, and I/O round-trips."""

from __future__ import annotations

import pandas as pd
import pytest

from tunescout import catalog
from tunescout.catalog import Catalog
from tunescout.domain.features import AUDIO_FEATURES, UNIT_FEATURES
from tunescout.errors import CatalogError, DataMissingError


def track(track_id: str = "t1", artist_id: str = "a1", **overrides: object) -> dict:
    row = {
        "track_id": track_id,
        "name": "Song",
        "artist_id": artist_id,
        "artist_name": "Artist",
        "album": "Album",
        "release_year": 1999,
        "popularity": 50.0,
        "duration_ms": 200_000,
        "genres": ["rock"],
        **{f: 0.5 for f in UNIT_FEATURES},
        "tempo": 120.0,
        "loudness": -7.0,
        "key": 5,
        "mode": 1,
        "features_source": "measured",
        "source": "test",
    }
    return row | overrides


def artist(artist_id: str = "a1", **overrides: object) -> dict:
    row = {
        "artist_id": artist_id,
        "name": "Artist",
        "genres": ["rock"],
        "tags": [{"tag": "rock", "weight": 3.0}],
        "popularity": 40.0,
        "listeners": 10,
        **{f: 0.5 for f in AUDIO_FEATURES},
        "features_source": "measured",
        "track_count": 1,
        "source": "test",
    }
    return row | overrides


def tiny_catalog() -> Catalog:
    return Catalog(
        tracks=catalog.validate("tracks", pd.DataFrame([track()])),
        artists=catalog.validate("artists", pd.DataFrame([artist()])),
        artist_map=catalog.validate(
            "artist_map",
            pd.DataFrame(
                [
                    {
                        "source": "test",
                        "source_id": "1",
                        "source_name": "Artist",
                        "artist_id": "a1",
                        "method": "canonical",
                        "confidence": 1.0,
                    }
                ]
            ),
        ),
        interactions=catalog.validate(
            "interactions",
            pd.DataFrame(
                [
                    {
                        "user_id": "test:1",
                        "artist_id": "a1",
                        "track_id": "t1",
                        "weight": 3.0,
                        "timestamp": pd.Timestamp("2024-01-01", tz="UTC"),
                        "source": "test",
                    }
                ]
            ),
        ),
    )


def test_valid_rows_keep_their_types() -> None:
    df = catalog.validate("tracks", pd.DataFrame([track(release_year=None), track("t2")]))
    assert str(df["release_year"].dtype) == "Int32"
    assert df["release_year"].isna().tolist() == [True, False]
    assert list(df["genres"].iloc[0]) == ["rock"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [track(popularity=140.0), track("t2", popularity=-1.0)],
            "tracks.popularity: 2 rows outside",
        ),
        ([track(energy=1.5)], "tracks.energy: 1 rows outside"),
        ([track(artist_id=None)], "tracks.artist_id: 1 rows are null"),
        ([track(), track()], "tracks.track_id: 1 rows repeat a key"),
        ([track(features_source="guessed")], "tracks.features_source: 1 rows not in"),
        ([track(duration_ms="long")], "tracks.duration_ms"),
    ],
)
def test_bad_rows_are_named_with_their_count(rows: list[dict], message: str) -> None:
    with pytest.raises(CatalogError, match=message.replace("(", r"\(")):
        catalog.validate("tracks", pd.DataFrame(rows))


def test_missing_columns_are_listed() -> None:
    with pytest.raises(CatalogError, match=r"tracks: missing columns \['album'"):
        catalog.validate("tracks", pd.DataFrame([track()]).drop(columns=["album", "mode"]))


def test_round_trip_and_manifest(tmp_path) -> None:
    cat = tiny_catalog()
    catalog.write_catalog(cat, tmp_path / "catalog", {"sources": {"test": "x"}})
    back = catalog.read_catalog(tmp_path / "catalog")
    for name, df in cat.tables().items():
        read = getattr(back, name)
        if name == "interactions":  # ids come back as categories (a tenth of the memory at 3M rows)
            labels = ["user_id", "artist_id", "track_id", "source"]
            assert all(isinstance(read[c].dtype, pd.CategoricalDtype) for c in labels)
            read = read.astype({c: df[c].dtype for c in labels})
        pd.testing.assert_frame_equal(read, df, check_dtype=True)
    manifest = catalog.read_manifest(tmp_path / "catalog")
    assert manifest["rows"] == {"tracks": 1, "artists": 1, "artist_map": 1, "interactions": 1}
    assert manifest["sources"] == {"test": "x"} and len(manifest["catalog_hash"]) == 64


def test_a_failed_write_keeps_the_previous_catalog(tmp_path) -> None:
    cat = tiny_catalog()
    catalog.write_catalog(cat, tmp_path / "catalog")
    broken = Catalog(
        **(
            cat.tables()
            | {"tracks": catalog.validate("tracks", pd.DataFrame([track(artist_id="nobody")]))}
        )
    )
    with pytest.raises(CatalogError, match="tracks.artist_id: 1 rows name an artist missing"):
        catalog.write_catalog(broken, tmp_path / "catalog")
    assert catalog.read_catalog(tmp_path / "catalog").tracks["artist_id"].tolist() == ["a1"]


def test_reading_nothing_says_what_to_run(tmp_path) -> None:
    with pytest.raises(DataMissingError, match="scripts/collect.py"):
        catalog.read_catalog(tmp_path / "nope")
