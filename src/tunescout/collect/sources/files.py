"""Read the public data sets from disk into raw bundles: TidyTuesday 30k songs, Kaggle 114k tracks,
the Spotify 1921–2020 artist profiles and HetRec 2011 Last.fm 2K.

Each reader knows its file's quirks (see the PROVENANCE notes): track–playlist duplicate rows, mixed
date precisions, Latin-1 ``tags.dat``, ``"Weird Al" Yankovic`` quoting, tags on unknown artists.
"""

from __future__ import annotations

import ast
import csv
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from tunescout import catalog
from tunescout.catalog.snapshots import RawBundle
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.errors import SourceError

log = logging.getLogger(__name__)

HETREC_LICENCE = (
    "HetRec 2011 Last.fm 2K is made available for non-commercial use only; commercial use needs "
    "Last.fm's consent. Cite Last.fm and the HetRec 2011 workshop (Cantador, Brusilovsky, Kuflik)."
)
TOP_TAGS = 20
UNKNOWN_ARTIST = "Unknown artist"
_FEATURE_COLUMNS = [*AUDIO_FEATURES, "key", "mode"]


def _read_csv(path: Path, required: Iterable[str], **kwargs: object) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, **kwargs)
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise SourceError(f"{path}: cannot be read as CSV ({exc})") from exc
    missing = sorted(set(required) - set(frame.columns))
    if missing:
        raise SourceError(f"{path}: missing columns {missing}")
    return frame


def _year(dates: pd.Series) -> pd.Series:
    """Release year from dates of mixed precision (YYYY-MM-DD, YYYY-MM, YYYY)."""
    years = pd.to_numeric(dates.astype("string").str.slice(0, 4), errors="coerce")
    return years.where(years.between(1800, 2100)).astype("Int32")


def _artists_from_tracks(tracks: pd.DataFrame, source: str) -> pd.DataFrame:
    """One row per artist of ``tracks``: genres by frequency, peak popularity, mean features."""
    exploded = tracks[["artist_id", "genres"]].explode("genres").dropna()
    genres = (
        exploded.groupby(["artist_id", "genres"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["artist_id", "n"], ascending=[True, False])
        .groupby("artist_id")["genres"]
        .agg(list)
    )
    grouped = tracks.groupby("artist_id")
    artists = grouped[AUDIO_FEATURES].mean()
    artists["name"] = grouped["artist_name"].first()
    artists["popularity"] = grouped["popularity"].max()
    artists["track_count"] = grouped.size()
    artists = artists.reset_index()
    artists["genres"] = (
        artists["artist_id"].map(genres).map(lambda g: g if isinstance(g, list) else [])
    )
    artists["tags"] = [[] for _ in range(len(artists))]
    artists["listeners"] = pd.NA
    artists["features_source"] = tracks.groupby("artist_id")["features_source"].first().values
    artists["source"] = source
    return catalog.validate("artists", artists)


def read_tidytuesday(csv_path: Path) -> RawBundle:
    """TidyTuesday 2020-01-21 ``spotify_songs.csv``: 32,833 (track, playlist) rows → 28,356 tracks.

    A track's genres are the union of its playlists' genre and sub-genre labels.
    """
    raw = _read_csv(
        csv_path,
        ["track_id", "track_artist", "playlist_genre", "playlist_subgenre", *AUDIO_FEATURES],
    )
    notes = []
    raw = raw.dropna(subset=["track_id"])
    unnamed = raw["track_artist"].isna()
    if unnamed.any():
        # Real tracks with measured features but no credits: keep them, labelled plainly.
        notes.append(
            f"tidytuesday: {int(unnamed.sum())} rows without artist kept as {UNKNOWN_ARTIST!r}"
        )
        raw = raw.assign(
            track_artist=raw["track_artist"].fillna(UNKNOWN_ARTIST),
            track_name=raw["track_name"].fillna("Untitled"),
        )
    genres = (
        raw.melt(id_vars="track_id", value_vars=["playlist_genre", "playlist_subgenre"])
        .dropna()
        .drop_duplicates(["track_id", "value"])
        .groupby("track_id", sort=False)["value"]
        .agg(list)
    )
    first = raw.drop_duplicates("track_id").copy()
    tracks = pd.DataFrame(
        {
            "track_id": first["track_id"],
            "name": first["track_name"],
            "artist_id": first["track_artist"],
            "artist_name": first["track_artist"],
            "album": first["track_album_name"],
            "release_year": _year(first["track_album_release_date"]),
            "popularity": first["track_popularity"],
            "duration_ms": first["duration_ms"],
            "genres": first["track_id"].map(genres),
            **{c: first[c] for c in _FEATURE_COLUMNS},
            "features_source": "measured",
            "source": "tidytuesday",
        }
    )
    tracks = catalog.validate("tracks", tracks)
    notes.append(f"tidytuesday: {len(raw)} playlist rows → {len(tracks)} unique tracks")
    return RawBundle(
        "tidytuesday",
        tracks=tracks,
        artists=_artists_from_tracks(tracks, "tidytuesday"),
        params={"path": str(csv_path)},
        notes=notes,
    )


def read_kaggle_tracks(csv_path: Path) -> RawBundle:
    """Kaggle "Spotify Tracks Dataset" (114k rows, ``track_genre``; ``artists`` joined by ``;``)."""
    raw = _read_csv(csv_path, ["track_id", "artists", "track_genre", *AUDIO_FEATURES])
    raw = raw.dropna(subset=["track_id", "artists"])
    genres = (
        raw.drop_duplicates(["track_id", "track_genre"])
        .groupby("track_id", sort=False)["track_genre"]
        .agg(list)
    )
    first = raw.drop_duplicates("track_id")
    primary = first["artists"].str.split(";").str[0].str.strip()
    tracks = pd.DataFrame(
        {
            "track_id": first["track_id"],
            "name": first.get("track_name"),
            "artist_id": primary,
            "artist_name": primary,
            "album": first.get("album_name"),
            "release_year": pd.array([pd.NA] * len(first), dtype="Int32"),
            "popularity": first.get("popularity"),
            "duration_ms": first.get("duration_ms"),
            "genres": first["track_id"].map(genres),
            **{c: first[c] for c in _FEATURE_COLUMNS},
            "features_source": "measured",
            "source": "kaggle",
        }
    )
    tracks = catalog.validate("tracks", tracks)
    return RawBundle(
        "kaggle",
        tracks=tracks,
        artists=_artists_from_tracks(tracks, "kaggle"),
        params={"path": str(csv_path)},
        notes=[f"kaggle: {len(raw)} rows → {len(tracks)} tracks"],
    )


def _literal_list(text: object) -> list[str]:
    if not isinstance(text, str) or not text.startswith("["):
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def read_artist_profiles(csv_path: Path) -> RawBundle:
    """Spotify 1921–2020 ``data_w_genres.csv``: per-artist mean audio features and genres."""
    raw = _read_csv(csv_path, ["artists", "genres", *AUDIO_FEATURES]).dropna(subset=["artists"])
    raw = raw.drop_duplicates("artists")
    artists = pd.DataFrame(
        {
            "artist_id": raw["artists"],
            "name": raw["artists"],
            "genres": raw["genres"].map(_literal_list),
            "tags": [[] for _ in range(len(raw))],
            "popularity": raw["popularity"].clip(0, 100),
            "listeners": pd.NA,
            **{c: raw[c] for c in AUDIO_FEATURES},
            "features_source": "measured",
            "track_count": 0,
            "source": "spotify1921",
        }
    )
    artists = catalog.validate("artists", artists)
    return RawBundle(
        "spotify1921",
        artists=artists,
        params={"path": str(csv_path)},
        notes=[f"spotify1921: {len(artists)} artist profiles"],
    )


def _hetrec_tags(directory: Path, known: set[str]) -> tuple[pd.Series, int]:
    """Per artist, its top tags as ``[{"tag", "weight"}]`` weighted by how many users applied them."""
    tags = pd.read_csv(directory / "tags.dat", sep="\t", encoding="latin-1", dtype={"tagID": str})
    tagged = pd.read_csv(directory / "user_taggedartists.dat", sep="\t", dtype=str)
    unknown = int((~tagged["artistID"].isin(known)).sum())
    tagged = tagged[tagged["artistID"].isin(known)]
    counts = (
        tagged.merge(tags, on="tagID")
        .groupby(["artistID", "tagValue"])
        .size()
        .rename("weight")
        .reset_index()
        .sort_values(["artistID", "weight"], ascending=[True, False])
    )
    counts = counts.groupby("artistID").head(TOP_TAGS)
    records = [
        {"tag": t, "weight": float(w)}
        for t, w in zip(counts["tagValue"], counts["weight"], strict=True)
    ]
    counts = counts.assign(record=records)
    return counts.groupby("artistID", sort=False)["record"].agg(list), unknown


def read_hetrec(directory: Path) -> RawBundle:
    """HetRec 2011 Last.fm 2K: 17,632 artists with tags, 92,834 user–artist play counts."""
    directory = Path(directory)
    needed = ["artists.dat", "user_artists.dat", "tags.dat", "user_taggedartists.dat"]
    missing = [n for n in needed if not (directory / n).is_file()]
    if missing:
        raise SourceError(f"{directory}: not a HetRec Last.fm 2K folder (missing {missing})")
    # QUOTE_NONE keeps '"Weird Al" Yankovic' intact.
    names = pd.read_csv(
        directory / "artists.dat", sep="\t", quoting=csv.QUOTE_NONE, dtype=str, encoding="utf-8"
    )
    plays = pd.read_csv(
        directory / "user_artists.dat", sep="\t", dtype={"userID": str, "artistID": str}
    )
    tags, unknown = _hetrec_tags(directory, set(names["id"]))
    listeners = plays.groupby("artistID")["userID"].nunique()
    artists = pd.DataFrame(
        {
            "artist_id": names["id"],
            "name": names["name"],
            "genres": [[] for _ in range(len(names))],
            "tags": names["id"].map(tags).map(lambda t: t if isinstance(t, list) else []),
            "popularity": np.nan,
            "listeners": names["id"].map(listeners).fillna(0).astype("int64"),
            **{c: np.nan for c in AUDIO_FEATURES},
            "features_source": None,
            "track_count": 0,
            "source": "hetrec",
        }
    )
    interactions = pd.DataFrame(
        {
            "user_id": "hetrec:" + plays["userID"],
            "artist_id": plays["artistID"],
            "track_id": None,
            "weight": plays["weight"],
            "timestamp": pd.NaT,
            "source": "hetrec",
        }
    )
    notes = [
        HETREC_LICENCE,
        f"hetrec: {unknown} tag assignments name artists missing from artists.dat and were dropped",
    ]
    log.info(HETREC_LICENCE)
    return RawBundle(
        "hetrec",
        artists=catalog.validate("artists", artists),
        interactions=catalog.validate("interactions", interactions),
        params={"path": str(directory)},
        notes=notes,
    )


_KNOWN_FILES = {
    "spotify_songs.csv": read_tidytuesday,
    "data_w_genres.csv": read_artist_profiles,
}


def find_files(root: Path) -> dict[str, Path]:
    """Data set files found below ``root``, keyed by reader name (``tidytuesday``, ``hetrec``, …)."""
    found: dict[str, Path] = {}
    root = Path(root)
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*")):
        if "raw" in path.relative_to(root).parts[:1]:
            continue
        if path.name == "spotify_songs.csv":
            found.setdefault("tidytuesday", path)
        elif path.name == "data_w_genres.csv":
            found.setdefault("spotify1921", path)
        elif path.name == "user_artists.dat":
            found.setdefault("hetrec", path.parent)
        elif path.suffix == ".csv" and path.name == "dataset.csv":
            found.setdefault("kaggle", path)
    return found


READERS = {
    "tidytuesday": read_tidytuesday,
    "kaggle": read_kaggle_tracks,
    "spotify1921": read_artist_profiles,
    "hetrec": read_hetrec,
}


def read_files(paths: dict[str, Path]) -> list[RawBundle]:
    """Read every data set in ``paths`` (reader name → file or folder)."""
    unknown = sorted(set(paths) - set(READERS))
    if unknown:
        raise SourceError(f"unknown file kinds {unknown}; known: {sorted(READERS)}")
    return [READERS[kind](path) for kind, path in paths.items()]
