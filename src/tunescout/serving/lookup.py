"""Catalog lookups for serving: rows of tracks and artists by id, and the one name search.

Every page and the engine find items by name through :func:`find`, which folds case, accents and
punctuation the way artist identities are matched.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog
from tunescout.catalog.identity import normalize_name
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.domain.songs import first_per_song, song_keys
from tunescout.errors import UnknownIdError
from tunescout.vocabulary import Kind

TRACK_COLUMNS = [
    "track_id",
    "name",
    "artist_id",
    "artist_name",
    "album",
    "release_year",
    "popularity",
    "genres",
    *AUDIO_FEATURES,
]
ARTIST_COLUMNS = ["artist_id", "name", "genres", "popularity", "listeners", "track_count"]


class Lookup:
    """The catalog's tracks and artists indexed by id.

    Args:
        catalog: The loaded catalog.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.tracks = catalog.tracks.set_index("track_id", drop=False)
        self.artists = catalog.artists.set_index("artist_id", drop=False)

    def table(self, kind: Kind) -> pd.DataFrame:
        """The tracks or artists table, indexed by id."""
        return self.tracks if kind == "tracks" else self.artists

    def rows(self, ids: Sequence[str], kind: Kind) -> pd.DataFrame:
        """The catalog details of ``ids`` in order (raises :class:`UnknownIdError`)."""
        rows = self.table(kind).index.get_indexer([str(i) for i in ids])
        if (rows < 0).any():
            raise UnknownIdError(f"unknown ids: {np.asarray(ids)[rows < 0][:5].tolist()}")
        return self.rows_at(rows, kind)

    def rows_at(self, positions: np.ndarray, kind: Kind) -> pd.DataFrame:
        """The catalog details of the items at table ``positions``, in order."""
        columns = TRACK_COLUMNS if kind == "tracks" else ARTIST_COLUMNS
        frame = self.table(kind)
        return frame.iloc[positions, frame.columns.get_indexer(columns)].reset_index(drop=True)

    def position(self, item_id: str, kind: Kind) -> int:
        """The table position of a known id."""
        return int(self.table(kind).index.get_loc(item_id))

    @functools.cached_property
    def top_track(self) -> pd.Series:
        """Each artist's most popular track id (ties: the first in the catalog), the track an
        artist-only model answers with for "similar tracks"."""
        ordered = self.tracks.reset_index(drop=True)
        ordered = ordered.sort_values("popularity", ascending=False, kind="stable")
        return ordered.drop_duplicates("artist_id").set_index("artist_id")["track_id"]

    def known(self, ids: Sequence[str], kind: Kind) -> list[str]:
        """``ids`` as strings, after checking that the catalog holds every one."""
        ids = [str(i) for i in ids]
        index = self.table(kind).index
        unknown = [i for i in ids if i not in index]
        if unknown:
            raise UnknownIdError(f"unknown ids: {unknown[:5]}")
        return ids

    @functools.cached_property
    def _song_keys(self) -> np.ndarray:
        return np.asarray(song_keys(self.tracks["artist_name"], self.tracks["name"]), dtype=object)

    @functools.cached_property
    def _songs(self) -> pd.Series:
        return pd.Series(self._song_keys, index=self.tracks.index, dtype=object)

    @functools.cached_property
    def song_codes(self) -> np.ndarray:
        """Each tracks-table row's song as an integer code (recordings of a song share it)."""
        return pd.factorize(pd.Series(self._song_keys, dtype=object), use_na_sentinel=False)[0]

    def songs_at(self, rows: np.ndarray) -> np.ndarray:
        """The song key of each tracks-table row (see :meth:`song_of`)."""
        return self._song_keys[rows]

    def song_of(self, track_ids: Sequence[str]) -> np.ndarray:
        """One key per song for each track: same artist and title up to version suffixes
        (:func:`~tunescout.domain.songs.song_key`), so lists show one recording per song."""
        return self._songs.reindex(list(track_ids)).to_numpy()

    @functools.cached_property
    def _recordings(self) -> pd.Series:
        return pd.Series(self._songs.index.to_numpy(), index=self._songs.to_numpy())

    def same_song(self, *track_ids: str) -> set[str]:
        """Every recording of the songs of ``track_ids`` (the tracks themselves included)."""
        found = self._recordings.loc[self._songs.reindex(list(track_ids)).dropna().unique()]
        return set(found.to_numpy().ravel()) | set(track_ids)

    def artist_of(self, track_ids: Sequence[str]) -> np.ndarray:
        """The artist id of each track."""
        return self.tracks["artist_id"].reindex(list(track_ids)).to_numpy()

    def popularity(self, ids: Sequence[str], kind: Kind) -> np.ndarray:
        """Catalog popularity (0–100, NaN where unknown) of each id."""
        return self.table(kind)["popularity"].reindex(list(ids)).to_numpy(dtype=float)

    def tracks_by(self, artist_ids: Sequence[str]) -> list[str]:
        """Every track of the given artists, in catalog order."""
        return self.tracks.index[self.tracks["artist_id"].isin(list(artist_ids))].tolist()

    def most_popular(self, kind: Kind, n: int, mask: np.ndarray | None = None) -> list[str]:
        """The ``n`` most popular ids of ``kind`` among rows where ``mask`` (table order) holds."""
        frame = self.table(kind)
        if mask is not None:
            frame = frame[mask]
        return frame.nlargest(n, "popularity").index.tolist()

    def name(self, artist_id: str) -> str:
        """An artist's name."""
        return str(self.artists.at[artist_id, "name"])

    @functools.cached_property
    def _keys(self) -> dict[Kind, pd.Series]:
        return {"tracks": search_keys(self.tracks), "artists": search_keys(self.artists)}

    def find(self, text: str, k: int, kind: Kind) -> pd.DataFrame:
        """Tracks (by title or artist) or artists (by name) matching ``text``, most popular first."""
        columns = TRACK_COLUMNS if kind == "tracks" else ARTIST_COLUMNS
        if kind == "artists":
            return find(self.artists, text, k, keys=self._keys[kind])[columns].reset_index(
                drop=True
            )
        hits = find(self.tracks, text, k * 4, keys=self._keys[kind])  # best known recording first
        hits = hits[first_per_song(self.song_of(hits.index))]
        return hits[columns].head(k).reset_index(drop=True)


def search_keys(frame: pd.DataFrame) -> pd.Series:
    """What :func:`find` matches against: the folded name, and the artist's name where present."""
    keys = frame["name"].fillna("").astype(str).map(normalize_name)
    if "artist_name" in frame:
        keys = keys + " | " + frame["artist_name"].fillna("").astype(str).map(normalize_name)
    elif "artist" in frame:
        keys = keys + " | " + frame["artist"].fillna("").astype(str).map(normalize_name)
    return keys


def find(
    frame: pd.DataFrame, text: str, limit: int = 20, keys: pd.Series | None = None
) -> pd.DataFrame:
    """Rows whose name (or artist name) contains ``text`` ignoring case, accents and punctuation,
    most popular first.

    Args:
        frame: A table with ``name`` (and ``artist_name`` or ``artist``) and ``popularity``.
        text: What the user typed.
        limit: How many rows at most.
        keys: :func:`search_keys` of ``frame`` when the caller keeps them.
    """
    needle = normalize_name(text.strip()) if text.strip() else ""
    if not needle:
        return frame.iloc[:0]
    keys = search_keys(frame) if keys is None else keys
    hits = frame[keys.str.contains(needle, regex=False).to_numpy()]
    return hits.sort_values("popularity", ascending=False, na_position="last").head(limit)
