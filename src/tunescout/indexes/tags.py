"""Tag index: artists described by their Last.fm tags and genres as tf-idf vectors (cosine).

An artist's terms are its Last.fm tags (weighted by how many listeners applied them) and its
genres (weight 1 each), casefolded into one vocabulary, so an artist known only from Spotify's
genres and one known only from Last.fm's tags meet where their words do ("indie rock"). Each term
weighs ``log1p(count · idf)`` with ``idf = log((1 + n) / (1 + df))``; rows are L2-normalised, so a
profile (the weighted mean of rated artists' rows) scores candidates by cosine. Artists without
listening still have tags, so this model carries the items co-listening cannot score.

Tracks are held through their artist (a track's vector is its artist's row: tags describe
artists), which costs four bytes per track rather than a copy of the rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tunescout.catalog import Catalog, as_list
from tunescout.errors import ArtifactError
from tunescout.indexes.base import ComponentInfo, Index, register
from tunescout.indexes.sparsevectors import Keyed, SparseVectors
from tunescout.vocabulary import KINDS, Kind

MODEL = "tags"
PARAMS_FILE = "tags.json"
GENRE_COUNT = 1.0  # a genre counts as one listener applying it as a tag
_REBUILD = f"rebuild it with `python scripts/build.py --only {MODEL}`"


def term_counts(artists: pd.DataFrame) -> pd.DataFrame:
    """One row per artist and term: ``artist_id, term, count`` (tags' counts, genres 1; summed)."""
    rows = []
    for artist, tags, genres in zip(
        artists["artist_id"], artists["tags"], artists["genres"], strict=True
    ):
        for t in as_list(tags):
            if t is not None and t.get("tag"):
                rows.append((artist, str(t["tag"]).casefold().strip(), float(t.get("weight") or 1)))
        for g in as_list(genres):
            if g:
                rows.append((artist, str(g).casefold().strip(), GENRE_COUNT))
    frame = pd.DataFrame(rows, columns=["artist_id", "term", "count"])
    frame = frame[frame["term"] != ""]
    return frame.groupby(["artist_id", "term"], as_index=False, sort=False)["count"].sum()


def tfidf(counts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    """``(artist ids, terms, rows)``: ``log1p(count · idf)`` per artist and term."""
    artists, artist_ids = pd.factorize(counts["artist_id"], sort=True)
    terms, term_names = pd.factorize(counts["term"], sort=True)
    m = sp.csr_matrix(
        (counts["count"].to_numpy(np.float64), (artists, terms)),
        shape=(len(artist_ids), len(term_names)),
    )
    df = np.diff(m.tocsc().indptr)
    idf = np.log((1.0 + m.shape[0]) / (1.0 + df))
    m = sp.csr_matrix(m.multiply(idf[None, :]))
    m.data = np.log1p(m.data)
    m.eliminate_zeros()
    return np.asarray(artist_ids, dtype=str), np.asarray(term_names, dtype=str), m


class TrackRows(Keyed):
    """Tracks whose vectors are their artists' rows of a :class:`SparseVectors`."""

    def __init__(self, ids: Sequence[str], artist_rows: np.ndarray, artists: SparseVectors) -> None:
        super().__init__(ids)
        self.artist_rows = np.asarray(artist_rows, dtype=np.int32)
        self.artists = artists

    def mean_vector(self, ids: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        rows = self.artist_rows[self.rows(ids)]
        w = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
        vector = np.asarray(self.artists.matrix[rows].T @ w).ravel()
        norm = np.linalg.norm(vector)
        return (vector / norm if norm > 0 else vector).astype(np.float32)

    def all_scores(self, query: np.ndarray) -> np.ndarray:
        return self.artists.all_scores(query)[self.artist_rows]

    def scores(self, query: np.ndarray, candidate_ids: Sequence[str]) -> np.ndarray:
        rows = self.lookup(candidate_ids)
        out = np.full(len(rows), np.nan, dtype=np.float32)
        known = rows >= 0
        if known.any():
            query = np.asarray(query, dtype=np.float32).ravel()
            norm = np.linalg.norm(query)
            matrix = self.artists.matrix[self.artist_rows[rows[known]]]
            out[known] = matrix @ (query / norm if norm > 0 else query)
        return out

    def search(
        self, query: np.ndarray, k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.best(self.all_scores(query), k, mask)

    def similar(
        self,
        ids: Sequence[str],
        k: int,
        weights: Sequence[float] | None = None,
        mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        query = self.mean_vector(ids, weights)
        allowed = np.ones(len(self), dtype=bool) if mask is None else self.align(mask).copy()
        allowed[self.rows(ids)] = False
        return self.search(query, k, allowed)


@register
class TagIndex(Index):
    """Artists (and, through them, tracks) as tf-idf vectors of their tags and genres."""

    model = MODEL

    def __init__(self, artists: SparseVectors | None, tracks: TrackRows | None, terms: np.ndarray):
        vectors = {k: v for k, v in (("artists", artists), ("tracks", tracks)) if v is not None}
        rows = {kind: len(v) for kind, v in vectors.items()}
        super().__init__(vectors, {"terms": int(len(terms)), "genre_count": GENRE_COUNT}, rows)
        self.terms = np.asarray(terms, dtype=str)

    @classmethod
    def build(
        cls, catalog: Catalog, previous: TagIndex | None = None, progress: bool = False
    ) -> Self:
        """Weigh every artist's tags and genres; tracks follow their artist.

        ``previous`` and ``progress`` are unused (a build takes about a second). A catalog
        without any tag or genre gives an index that holds nothing.
        """
        counts = term_counts(catalog.artists)
        if counts.empty:
            return cls(None, None, np.array([], dtype=str))
        ids, terms, matrix = tfidf(counts)
        artists = SparseVectors(ids, matrix)
        rows = artists.lookup(catalog.tracks["artist_id"].astype(str))
        held = rows >= 0
        tracks = (
            TrackRows(catalog.tracks["track_id"].to_numpy(dtype=str)[held], rows[held], artists)
            if held.any()
            else None
        )
        return cls(artists, tracks, terms)

    def all_scores(self, vector: np.ndarray, kind: Kind = "artists") -> np.ndarray:
        """Cosine of ``vector`` to every held item of ``kind``."""
        if not self.covers(kind):
            return np.array([], dtype=np.float32)
        return self._vectors[kind].all_scores(vector)

    def similarities(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Cosine of every artist of ``a`` to every artist of ``b`` (0 where one is not held)."""
        out = np.zeros((len(a), len(b)), dtype=np.float32)
        if not self.covers("artists") or not len(a) or not len(b):
            return out
        artists: SparseVectors = self._vectors["artists"]
        ra, rb = artists.lookup(a), artists.lookup(b)
        ia, ib = np.flatnonzero(ra >= 0), np.flatnonzero(rb >= 0)
        if len(ia) and len(ib):
            block = artists.matrix[ra[ia]] @ artists.matrix[rb[ib]].T
            out[np.ix_(ia, ib)] = block.toarray()
        return out

    def shared_terms(
        self, vector: np.ndarray, item: str, kind: Kind = "artists", n: int = 3
    ) -> list[str]:
        """The terms that contribute most to ``item``'s cosine with a profile ``vector``."""
        if not self.holds(item, kind):
            return []
        artists: SparseVectors = self._vectors["artists"]
        row = (
            artists.rows([item])[0]
            if kind == "artists"
            else self._vectors["tracks"].artist_rows[self._vectors["tracks"].rows([item])[0]]
        )
        r = artists.matrix[row]
        contrib = r.data * np.asarray(vector, dtype=np.float32)[r.indices]
        order = np.argsort(-contrib, kind="stable")
        return [str(self.terms[r.indices[i]]) for i in order[:n] if contrib[i] > 0]

    def top_terms(self, item: str, n: int = 3) -> list[str]:
        """An artist's heaviest terms."""
        if not self.holds(item, "artists"):
            return []
        artists: SparseVectors = self._vectors["artists"]
        r = artists.matrix[artists.rows([item])[0]]
        order = np.argsort(-r.data, kind="stable")[:n]
        return [str(self.terms[r.indices[i]]) for i in order]

    def save(self, folder: Path) -> ComponentInfo:
        """Write the artist rows, the terms, the tracks' artist rows and ``tags.json``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        if self.covers("artists"):
            files += [p.name for p in self._vectors["artists"].save(folder, "artists")]
        if self.covers("tracks"):
            tracks: TrackRows = self._vectors["tracks"]
            files.append(tracks.save_ids(folder, "tracks").name)
            np.save(folder / "tracks.artist_rows.npy", tracks.artist_rows, allow_pickle=False)
            files.append("tracks.artist_rows.npy")
        np.save(folder / "terms.npy", self.terms, allow_pickle=False)
        state = {"params": self.params, "rows": self.rows, "files": [*files, "terms.npy"]}
        (folder / PARAMS_FILE).write_text(json.dumps(state, indent=2))
        return {"params": dict(self.params), "rows": dict(self.rows)}

    @classmethod
    def load(cls, folder: Path) -> Self:
        """Read what :meth:`save` wrote.

        Raises:
            ArtifactError: A file is missing or unreadable.
        """
        folder = Path(folder)
        try:
            state = json.loads((folder / PARAMS_FILE).read_text())
            terms = np.load(folder / "terms.npy", allow_pickle=False)
            covered = {k for k in KINDS if state["rows"].get(k)}
            artists = SparseVectors.load(folder, "artists") if "artists" in covered else None
            tracks = None
            if "tracks" in covered and artists is not None:
                rows = np.load(folder / "tracks.artist_rows.npy", allow_pickle=False)
                tracks = TrackRows(Keyed.load_ids(folder, "tracks"), rows, artists)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ArtifactError(f"tag index in {folder} is unreadable ({exc}): {_REBUILD}") from exc
        return cls(artists, tracks, terms)
