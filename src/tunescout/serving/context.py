"""What every serving function works on: the catalog, the indexes, lookups, filter tables and the
mood model, with the mask, profile, signal and catalog-fact helpers the serving functions share."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog, as_list
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.indexes.base import Index
from tunescout.serving import checks, profiles, ranking
from tunescout.serving.filters import Filters, FilterTable
from tunescout.serving.lookup import Lookup
from tunescout.serving.mood import Moods
from tunescout.serving.names import Reference, Vocabulary
from tunescout.serving.pipeline import Signal
from tunescout.vocabulary import Kind

# Which model finds a reference's nearest artists: the first that holds the artist, co-listening
# first (the same neighbours the Similar page shows).
REFERENCE_MODELS = ("coplay", "als", "tags", "semantic", "audio")


@dataclass
class Context:
    """The loaded data a request is answered from (built once by the engine, never mutated)."""

    catalog: Catalog
    indexes: dict[str, Index]
    lookup: Lookup
    filters: dict[Kind, FilterTable]
    moods: Moods
    # Every item's neighbours from the build (a NeighbourTable), when the build has them.
    table: Any = None

    @property
    def audio(self) -> Index:
        return self.indexes["audio"]

    @property
    def semantic(self) -> Index | None:
        """The MiniLM index (``None`` while a first build is still making it)."""
        return self.indexes.get("semantic")

    @property
    def space(self) -> Index:
        """The space where artists are described alike: MiniLM, else audio."""
        return self.semantic if self.semantic is not None else self.audio

    @property
    def als(self) -> Index | None:
        return self.indexes.get("als")

    def described(self, ids: Sequence[str], kind: Kind = "artists") -> np.ndarray:
        """Unit vectors of ``ids`` in :attr:`space` (zeros for ids it does not hold), for MMR."""
        vectors = self.space.vectors(kind)
        rows = vectors.rows(ids, missing="mark")
        out = np.zeros((len(rows), vectors.dim), dtype=np.float32)
        out[rows >= 0] = vectors.vectors_at(rows[rows >= 0])
        return out

    def memo(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per context (the context itself never changes)."""
        store = self.__dict__.setdefault("_memo", {})
        if key not in store:
            store[key] = make()
        return store[key]

    def id_index(self, model: str, kind: Kind) -> pd.Index:
        """A model's ids of ``kind`` as one kept :class:`pandas.Index` (its hash table is built
        once, not on every lookup into a Series over them)."""
        return self.memo(("ids", model, kind), lambda: pd.Index(self.indexes[model].ids(kind)))

    @property
    def signal_names(self) -> tuple[str, ...]:
        """Every weight a caller may set: each index and popularity."""
        return (*self.indexes, "popularity")

    # ---- masks -------------------------------------------------------------------------------

    def table_mask(self, kind: Kind, filters: Filters | Mapping | None) -> np.ndarray | None:
        """Rows of the ``kind`` table that pass ``filters`` (``None``: no filter)."""
        return self.filters[kind].mask(checks.filters(filters))

    def index_mask(
        self, index: Index, kind: Kind, mask: np.ndarray | None, exclude: Sequence[str] = ()
    ) -> np.ndarray | None:
        """``mask`` (table order) over ``index``'s rows of ``kind``, ``exclude`` switched off."""
        vectors = index.vectors(kind)
        aligned = self.filters[kind].align(mask, vectors.ids)
        drop = vectors.rows(list(exclude), missing="drop") if exclude else []
        if len(drop):
            aligned = np.ones(len(vectors), dtype=bool) if aligned is None else aligned.copy()
            aligned[drop] = False
        return aligned

    def passes(self, kind: Kind, mask: np.ndarray | None) -> Callable[[list[str]], np.ndarray]:
        """Ids → which pass ``mask`` (table order); all pass when ``mask`` is ``None``."""
        if mask is None:
            return lambda ids: np.ones(len(ids), dtype=bool)
        passing = pd.Series(mask, index=self.filters[kind].ids)
        return lambda ids: passing.reindex(ids, fill_value=False).to_numpy(dtype=bool)

    # ---- profiles and signals ------------------------------------------------------------------

    def mood_vectors(self, mood: str | None) -> dict[str, np.ndarray]:
        """The mood as a query in each space that can read it: audio targets and MiniLM text."""
        if not mood:
            return {}
        out = {"semantic": self.moods.encoder.encode([mood.strip()])[0]} if self.semantic else {}
        targets = self.moods.intent(mood).targets
        if targets:
            out["audio"] = self.audio.transform(pd.DataFrame([targets]))[0]
        return out

    def profile(self, ratings: Mapping[str, int | float], mood: str | None) -> profiles.Profile:
        """A survey profile: star ratings of artists (and a mood) in every model's space."""
        conf = ranking.confidences(checks.ratings(ratings))
        self.lookup.known(list(conf), "artists")
        return profiles.build(self.indexes, conf, "artists", self.mood_vectors(mood), mood)

    def signals(
        self,
        profile: profiles.Profile,
        kind: Kind,
        mask: np.ndarray | None,
        exclude: Sequence[str] = (),
        propose: Sequence[str] | None = None,
    ) -> list[Signal]:
        """A signal per model with a taste vector: it proposes its best ``kind`` items under
        ``mask`` (only the models in ``propose``, when given) and scores any candidate."""
        signals = []
        for name, vector in profile.vectors.items():
            index = self.indexes[name]
            if not index.covers(kind) or (kind != profile.kind and not index.shared_space):
                continue
            index_mask = self.index_mask(index, kind, mask, exclude)

            def proposes(n, index=index, vector=vector, index_mask=index_mask) -> Sequence[str]:
                return index.search_vector(vector, n, kind, index_mask)[0]

            signals.append(
                Signal(
                    name,
                    lambda ids, index=index, vector=vector: index.score(vector, ids, kind),
                    proposes if propose is None or name in propose else None,
                )
            )
        return signals

    def popularity(self, kind: Kind, mask: np.ndarray | None, propose: bool = True) -> Signal:
        """Catalog popularity as a signal (proposing the most popular items under ``mask``)."""
        return Signal(
            "popularity",
            lambda ids: self.lookup.popularity(ids, kind),
            (lambda n: self.lookup.most_popular(kind, n, mask)) if propose else None,
        )

    def by_artist(self, name: str, scores: pd.Series, proposals: list[str] | None) -> Signal:
        """Artist-level ``scores`` lifted onto tracks through each track's artist."""
        return Signal(
            name,
            lambda ids: pd.Series(self.lookup.artist_of(ids)).map(scores).to_numpy(float),
            None if proposals is None else (lambda n: proposals),
        )

    # ---- catalog facts for mood search and reasons ----------------------------------------------

    @functools.cached_property
    def vocabulary(self) -> Vocabulary:
        """Catalog names that requests are parsed against (built on the first search)."""
        return Vocabulary(self.catalog.tracks, self.catalog.artists)

    @functools.cached_property
    def _track_artist_rows(self) -> np.ndarray:
        return self.lookup.artists.index.get_indexer(self.lookup.tracks["artist_id"])

    @functools.cached_property
    def _artist_tags(self) -> list[frozenset[str]]:
        return [
            frozenset(str(t["tag"]).casefold() for t in as_list(tags) if t and t.get("tag"))
            for tags in self.lookup.artists["tags"]
        ]

    def table_rows(self, track_ids: Sequence[str]) -> np.ndarray:
        """Rows of the tracks table of ``track_ids``."""
        return self.lookup.tracks.index.get_indexer(list(track_ids))

    @functools.cached_property
    def _semantic_rows(self) -> np.ndarray:
        """The semantic index's row of each tracks-table row (the same order unless rebuilt
        apart)."""
        index = self.semantic.vectors("tracks")
        rows = self.filters["tracks"].rows_of(index.ids)
        if rows is None:
            return np.arange(len(index))
        out = np.full(len(self.lookup.tracks), -1, dtype=np.int64)
        out[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
        return out

    def semantic_rows(self, rows: np.ndarray) -> np.ndarray:
        """Semantic index rows of tracks-table ``rows``."""
        return self._semantic_rows[rows]

    @functools.cached_property
    def _unlabelled_tracks(self) -> np.ndarray:
        matrix = self.filters["tracks"].genre_matrix
        return np.asarray(matrix.sum(axis=1)).ravel() == 0

    def genre_hits(self, labels: Sequence[str], loose: bool = False) -> np.ndarray:
        """Tracks carrying any of the genre ``labels``: by their own labels, or by their artist's
        for a track that has none (an artist's genres gather all its tracks', too loose to say
        what one track is); ``loose`` counts the artist's labels for every track, as leaving a
        genre out wants ("not latin": no artist listed as latin either)."""
        by_artist = self.filters["artists"].genre_hits(labels)[self._track_artist_rows]
        if not loose:
            by_artist &= self._unlabelled_tracks
        return self.filters["tracks"].genre_hits(labels) | by_artist

    @functools.cached_property
    def _tag_artists(self) -> dict[str, np.ndarray]:
        rows: dict[str, list[int]] = {}
        for row, tags in enumerate(self._artist_tags):
            for tag in tags:
                rows.setdefault(tag, []).append(row)
        return {tag: np.array(r, dtype=np.int64) for tag, r in rows.items()}

    @functools.cached_property
    def track_artists(self) -> np.ndarray:
        """Each track's artist id, in tracks-table order."""
        return self.lookup.tracks["artist_id"].to_numpy(dtype=str)

    def tag_hits(self, tags: Sequence[str]) -> np.ndarray:
        """Tracks whose artist listeners tag with any of ``tags``."""
        by_artist = np.zeros(len(self._artist_tags), dtype=bool)
        for tag in tags:
            by_artist[self._tag_artists.get(tag, [])] = True
        return by_artist[self._track_artist_rows]

    def tag_match(self, rows: np.ndarray, words: Sequence[str]) -> np.ndarray:
        """For track ``rows``: whether their artist is tagged with one of ``words`` or a pair
        of neighbouring words ("road trip")."""
        phrases = set(words) | {" ".join(p) for p in zip(words, words[1:], strict=False)}
        artist_rows = self._track_artist_rows[rows]
        return np.fromiter((bool(self._artist_tags[a] & phrases) for a in artist_rows), bool)

    def matched_tags(self, row: int, words: Sequence[str]) -> list[str]:
        """The tags of track ``row``'s artist among ``words`` and their pairs."""
        phrases = set(words) | {" ".join(p) for p in zip(words, words[1:], strict=False)}
        return sorted(self._artist_tags[self._track_artist_rows[row]] & phrases)

    def artist_means(self, reference: Reference) -> dict[str, float]:
        """A reference's audio features: the track's own, or its artist's mean over catalog
        tracks (else the artist's own aggregate); empty when unknown."""
        tracks = self.lookup.tracks
        if reference.kind == "tracks":
            row = tracks.loc[reference.id, AUDIO_FEATURES]
        else:
            own = tracks[tracks["artist_id"] == reference.artist_id]
            row = (
                own[AUDIO_FEATURES].astype(float).mean()
                if len(own)
                else self.lookup.artists.loc[reference.artist_id, AUDIO_FEATURES]
            )
        return {f: float(v) for f, v in row.items() if pd.notna(v)}

    def shared_listeners(self, artist_id: str, others: Sequence[str]) -> np.ndarray:
        """Listeners ``artist_id`` shares with each of ``others`` (zeros without listening)."""
        coplay = self.indexes.get("coplay")
        if coplay is None:
            return np.zeros(len(others), dtype=np.int64)
        return coplay.shared_listeners(artist_id, list(others))

    def association(self, artist_id: str, others: Sequence[str]) -> np.ndarray:
        """How much more often ``artist_id``'s listeners play each of ``others`` than listeners at
        large do (lift), as a weight: 0 at chance or below, rising to 1 at twice chance
        (``log2`` of the lift, clipped). 1 everywhere without listening data."""
        coplay = self.indexes.get("coplay")
        part = None if coplay is None else coplay.part("artists")
        if part is None:
            return np.ones(len(others))
        shared = coplay.shared_listeners(artist_id, list(others)).astype(float)
        own = float(coplay.listeners([artist_id])[0])
        theirs = coplay.listeners(list(others)).astype(float)
        users = part.listeners.shape[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = shared * users / (own * theirs)
            weight = np.clip(np.log2(lift), 0.0, 1.0)
        return np.nan_to_num(weight, nan=0.0)

    def reference_neighbours(self, reference: Reference | None, n: int) -> pd.Series:
        """Artist id → closeness (0–1) of the ``n`` artists nearest a reference's artist, by the
        first model of :data:`REFERENCE_MODELS` that knows it; empty without a reference."""
        if reference is None:
            return pd.Series(dtype=float)
        artist = reference.artist_id
        for name in REFERENCE_MODELS:
            index = self.indexes.get(name)
            if index is None or not index.holds(artist, "artists"):
                continue
            ids, scores = index.similar([artist], n, "artists")
            if len(ids):
                scores = np.asarray(scores, dtype=float)
                spread = scores.max() - scores.min()
                scaled = (scores - scores.min()) / spread if spread > 0 else np.ones(len(ids))
                if name == "coplay":  # listened together more than by chance, not merely popular
                    scaled = scaled * self.association(artist, ids)
                return pd.Series(scaled, index=ids, name=name).sort_values(ascending=False)
        return pd.Series(dtype=float)
