"""Catalog facts that judge a result against a request: years, genres, tags, feature percentiles,
artists' feature means and HetRec co-listening lift — computed once from the catalog, never from
the search system."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tunescout.catalog import Catalog, as_list
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.domain.songs import song_key, song_keys
from tunescout.research.requests import (
    ABSOLUTE,
    HIGH,
    LOW,
    MIN_LIFT,
    MIN_SHARED,
    STEP,
    Request,
    request_error,
)

log = logging.getLogger(__name__)


def percentiles(values: pd.DataFrame) -> pd.DataFrame:
    """Mid-rank percentile of every column: (rows below + half the rows equal) / rows.

    Args:
        values: One column per feature.

    Returns:
        The same shape, values in (0, 1); ties share a value.
    """
    return (values.rank(method="average") - 0.5) / len(values)


def colistening_lift(
    interactions: pd.DataFrame, min_shared: int = MIN_SHARED
) -> tuple[sp.csr_matrix, pd.Index]:
    """Lift between every pair of HetRec artists sharing at least ``min_shared`` listeners.

    With U the HetRec users and L(a) the users listing artist a, lift(a, b) =
    (|L(a) ∩ L(b)| / |L(a)|) / (|L(b)| / |U|), which is symmetric.

    Args:
        interactions: The catalog's interactions (only rows with source "hetrec" are used).
        min_shared: Pairs with fewer shared listeners are left out.

    Returns:
        ``(lift, artist_ids)``: a sparse artist x artist matrix of lifts (zero diagonal) and the
        artist id of each row and column.
    """
    hetrec = interactions[interactions["source"].astype(str) == "hetrec"]
    users = pd.Categorical(hetrec["user_id"].astype(str))
    artists = pd.Categorical(hetrec["artist_id"].astype(str))
    n_users, n_artists = len(users.categories), len(artists.categories)
    listens = sp.csr_matrix(
        (np.ones(len(hetrec), dtype=np.float32), (users.codes, artists.codes)),
        shape=(n_users, n_artists),
    )
    listens.data[:] = 1.0  # a user listed an artist (duplicate rows summed above)
    shared = (listens.T @ listens).tocoo()
    size = np.asarray(listens.sum(axis=0)).ravel()
    keep = (shared.data >= min_shared) & (shared.row != shared.col)
    rows, cols = shared.row[keep], shared.col[keep]
    lift = shared.data[keep] * n_users / (size[rows] * size[cols])
    matrix = sp.csr_matrix((lift, (rows, cols)), shape=(n_artists, n_artists))
    return matrix, pd.Index(artists.categories)


def _positions_by_label(labels: Sequence[Iterable[str]]) -> dict[str, np.ndarray]:
    index: dict[str, list[int]] = {}
    for row, values in enumerate(labels):
        for value in values:
            index.setdefault(value, []).append(row)
    return {key: np.asarray(rows) for key, rows in index.items()}


@dataclass
class Facts:
    """Per-track facts from the catalog that constraints are checked against (built once)."""

    tracks: pd.DataFrame  # track_id, name, artist_id, artist_name, release_year, song
    values: pd.DataFrame  # raw audio features, one row per track (same order)
    pct: pd.DataFrame  # mid-rank percentiles of ``values``
    artist_means: pd.DataFrame  # mean features over each artist's catalog tracks
    genre_rows: dict[str, np.ndarray]  # label -> rows whose track or artist carries it
    tag_rows: dict[str, np.ndarray]  # casefolded artist tag -> rows
    artist_by_name: dict[str, str]
    lift: sp.csr_matrix
    lift_artists: pd.Index
    row_of: pd.Index  # track ids, for positions

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> Facts:
        """Precompute years, genre and tag sets, percentiles, artist means and co-listening lift.

        Args:
            catalog: The built catalog.

        Returns:
            The facts.
        """
        tracks = catalog.tracks.reset_index(drop=True)
        artists = catalog.artists.set_index("artist_id")
        artist_genres = {a: set(as_list(g)) for a, g in artists["genres"].items()}
        artist_tags = {
            a: {str(t["tag"]).casefold() for t in as_list(tags)}
            for a, tags in artists["tags"].items()
        }
        genres = [
            set(as_list(own)) | artist_genres.get(a, set())
            for own, a in zip(tracks["genres"], tracks["artist_id"], strict=True)
        ]
        tags = [artist_tags.get(a, set()) for a in tracks["artist_id"]]
        values = tracks[AUDIO_FEATURES].astype(float).reset_index(drop=True)
        lift, lift_artists = colistening_lift(catalog.interactions)
        frame = tracks[["track_id", "name", "artist_id", "artist_name"]].copy()
        frame["year"] = (
            tracks["release_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        )
        frame["song"] = song_keys(tracks["artist_name"], tracks["name"])
        return cls(
            tracks=frame,
            values=values,
            pct=percentiles(values),
            artist_means=values.groupby(tracks["artist_id"].to_numpy()).mean(),
            genre_rows=_positions_by_label(genres),
            tag_rows=_positions_by_label(tags),
            artist_by_name=dict(
                zip(catalog.artists["name"], catalog.artists["artist_id"], strict=True)
            ),
            lift=lift,
            lift_artists=lift_artists,
            row_of=pd.Index(tracks["track_id"]),
        )

    # ----------------------------------------------------------------- references

    def _artist(self, request: Request, name: str, what: str) -> str:
        if name not in self.artist_by_name:
            raise request_error(request.id, f"{what} {name!r} is not an artist name in the catalog")
        return self.artist_by_name[name]

    def _reference_rows(self, request: Request) -> np.ndarray:
        """Rows of the like_track reference: exact title and artist, else the same song key."""
        title, artist = request.constraints.like_track
        t = self.tracks
        rows = np.flatnonzero(((t["name"] == title) & (t["artist_name"] == artist)).to_numpy())
        if not len(rows):  # "Bohemian Rhapsody" names the song of "... - Remastered 2011" too
            rows = np.flatnonzero((t["song"] == song_key(artist, title)).to_numpy())
        if not len(rows):
            raise request_error(
                request.id, f"like_track {title!r} by {artist!r} is not in the catalog"
            )
        return rows

    def colistened(self, artist_id: str) -> np.ndarray:
        """Artists that HetRec listeners co-listen with ``artist_id`` (shared >= 3, lift >= 2).

        Args:
            artist_id: A canonical artist id.

        Returns:
            Their artist ids (empty when the artist has no HetRec listeners).
        """
        pos = self.lift_artists.get_indexer([artist_id])[0]
        if pos < 0:
            return np.array([], dtype=object)
        row = self.lift.getrow(pos)
        return self.lift_artists[row.indices[row.data >= MIN_LIFT]].to_numpy(dtype=object)

    def check(self, request: Request) -> None:
        """Raise :class:`InputError` naming the request when it names something the catalog lacks.

        Args:
            request: A parsed request.
        """
        c = request.constraints
        for name in ("genres", "not_genres"):
            unknown = sorted(set(getattr(c, name)) - set(self.genre_rows))
            if unknown:
                raise request_error(request.id, f"{name}: {unknown} are not catalog genre labels")
        unknown = sorted(c.tags - set(self.tag_rows))
        if unknown:
            raise request_error(request.id, f"tags: {unknown} are on no artist with catalog tracks")
        for name in c.not_artists:
            self._artist(request, name, "not_artists")
        if c.like:
            artist = self._artist(request, c.like, "like")
            if c.relative and not c.like_track and artist not in self.artist_means.index:
                raise request_error(
                    request.id, f"like {c.like!r} has no catalog tracks to compare with"
                )
        if c.like_track:
            self._reference_rows(request)

    # ----------------------------------------------------------------- constraint masks

    def _rows_with(self, index: dict[str, np.ndarray], labels: Iterable[str]) -> np.ndarray:
        mask = np.zeros(len(self.tracks), dtype=bool)
        for label in labels:
            mask[index.get(label, [])] = True
        return mask

    def _like_mask(self, artist_id: str) -> np.ndarray:
        others = self.colistened(artist_id)
        return self.tracks["artist_id"].isin(others).to_numpy() & (
            self.tracks["artist_id"].to_numpy() != artist_id
        )

    def _relative_mask(self, request: Request) -> np.ndarray:
        c = request.constraints
        if c.like_track:
            reference = self.values.iloc[self._reference_rows(request)].mean()
        else:
            reference = self.artist_means.loc[self.artist_by_name[c.like]]
        mask = np.ones(len(self.tracks), dtype=bool)
        for feature, direction in c.relative.items():
            delta = self.values[feature].to_numpy() - reference[feature]
            step = STEP[feature]
            mask &= delta >= step if direction == "higher" else delta <= -step
        return mask

    def masks(self, request: Request) -> dict[str, np.ndarray]:
        """For each constraint of the request, which catalog tracks meet it.

        Args:
            request: A request whose names :meth:`check` accepts.

        Returns:
            Constraint name -> boolean mask over the catalog tracks (in catalog order).

        Raises:
            InputError: The request names something the catalog lacks.
        """
        self.check(request)
        c = request.constraints
        out: dict[str, np.ndarray] = {}
        if c.years is not None:
            year = self.tracks["year"].to_numpy()
            out["years"] = (year >= c.years[0]) & (year <= c.years[1])
        if c.genres:
            out["genres"] = self._rows_with(self.genre_rows, c.genres)
        if c.not_genres:
            out["not_genres"] = ~self._rows_with(self.genre_rows, c.not_genres)
        if c.tags:
            out["tags"] = self._rows_with(self.tag_rows, c.tags)
        if c.like:
            out["like"] = self._like_mask(self.artist_by_name[c.like])
        if c.like_track:
            rows = self._reference_rows(request)
            artist = self.tracks["artist_id"].iloc[rows[0]]
            same_song = self.tracks["song"].isin(self.tracks["song"].iloc[rows]).to_numpy()
            out["like_track"] = self._like_mask(artist) & ~same_song
        if c.relative:
            out["relative"] = self._relative_mask(request)
        if c.features:
            mask = np.ones(len(self.tracks), dtype=bool)
            for feature, level in c.features.items():
                if feature in ABSOLUTE:  # near-binary features: Spotify's own thresholds
                    values = self.values[feature].to_numpy(dtype=float)
                    cut = ABSOLUTE[feature]
                    mask &= values >= cut if level == "high" else values < cut
                else:
                    pct = self.pct[feature].to_numpy()
                    mask &= pct >= HIGH if level == "high" else pct <= LOW
            out["features"] = mask
        if c.not_artists:
            banned = [self.artist_by_name[n] for n in c.not_artists]
            out["not_artists"] = ~self.tracks["artist_id"].isin(banned).to_numpy()
        return out

    def rows(self, track_ids: Iterable[str]) -> np.ndarray:
        """Catalog row of each track id, -1 where the catalog lacks it."""
        return self.row_of.get_indexer(pd.Index(list(track_ids), dtype=object))

    def failures(self, request: Request, track_ids: Iterable[str]) -> pd.DataFrame:
        """Which constraints each given track meets, and why it fails.

        Args:
            request: The request.
            track_ids: Result track ids, in list order.

        Returns:
            One row per track id: ``track_id``, one boolean column per constraint (True = met),
            ``meets`` (all met) and ``failed`` (the failing constraint names, comma-separated;
            "not in catalog" for an unknown id).
        """
        ids = list(track_ids)
        rows = self.rows(ids)
        known = rows >= 0
        frame = pd.DataFrame({"track_id": ids})
        for name, mask in self.masks(request).items():
            frame[name] = known & mask[np.where(known, rows, 0)]
        names = [n for n in frame.columns if n != "track_id"]
        met = frame[names].to_numpy(dtype=bool).reshape(len(ids), len(names))
        frame["meets"] = known & met.all(axis=1)
        frame["failed"] = [
            ", ".join(n for n, ok in zip(names, row, strict=True) if not ok)
            if k
            else "not in catalog"
            for row, k in zip(met, known, strict=True)
        ]
        return frame

    def meets(self, request: Request, track_ids: Iterable[str]) -> np.ndarray:
        """Whether each track meets every constraint of the request (unknown ids do not).

        Args:
            request: The request.
            track_ids: Track ids.

        Returns:
            A boolean array, one value per id.
        """
        rows = self.rows(track_ids)
        ok = rows >= 0
        for mask in self.masks(request).values():
            ok &= mask[np.where(rows >= 0, rows, 0)]
        return ok

    def songs_meeting(self, request: Request) -> int:
        """How many distinct catalog songs (artist + title up to versions) meet every constraint.

        Args:
            request: The request.

        Returns:
            The count; a usable request has at least :data:`MIN_SONGS`.
        """
        ok = np.ones(len(self.tracks), dtype=bool)
        for mask in self.masks(request).values():
            ok &= mask
        return int(self.tracks["song"][ok].nunique())

    def song_of(self, track_ids: Iterable[str]) -> list[str]:
        """The song key of each track id (the id itself where the catalog lacks it)."""
        ids = list(track_ids)
        songs = self.tracks["song"].to_numpy()
        return [songs[r] if r >= 0 else f"?{t}" for r, t in zip(self.rows(ids), ids, strict=True)]


# --------------------------------------------------------------------------- list metrics
